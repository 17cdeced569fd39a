//! The output buffer: lines, indentation and spacing.
//!
//! Printers never write spaces or indentation themselves. They say what comes
//! next (`word`, `punct`, `comment`) and whether a space may separate it from
//! what came before (`space`); the buffer turns that into text. This keeps two
//! rules true everywhere, whatever order the printers call in:
//! - no line has trailing spaces, and no line starts with a stray space;
//! - nothing is ever written after a `//` comment on the same line (it would
//!   become part of the comment): the next word goes on a continuation line.

/// The width that lists and data literals are wrapped at.
pub const WIDTH: usize = 100;
/// One level of block indentation.
pub(super) const INDENT: usize = 2;
/// The extra indentation of a line that continues a statement (a wrapped
/// `after` list, or code after a `//` comment inside a statement). It differs
/// from `INDENT` so a continued header never lines up with the block's body.
pub(super) const CONTINUATION: usize = 4;

pub(super) struct Out {
    buf: String,
    /// The indentation of the lines of the current block.
    pub(super) indent: usize,
    /// Characters on the current line so far (indentation included).
    col: usize,
    at_line_start: bool,
    /// The current line is a continuation of the previous one.
    continuation: bool,
    /// The next `word` is preceded by a space.
    pending_space: bool,
    /// The current line ends in a `//` comment.
    after_line_comment: bool,
}

impl Out {
    pub(super) fn with_capacity(capacity: usize) -> Self {
        Out {
            buf: String::with_capacity(capacity),
            indent: 0,
            col: 0,
            at_line_start: true,
            continuation: false,
            pending_space: false,
            after_line_comment: false,
        }
    }

    pub(super) fn finish(self) -> String {
        self.buf
    }

    /// The column the next character would be written at, if no space is added.
    pub(super) fn col(&self) -> usize {
        if self.fresh_line() { self.line_indent() } else { self.col }
    }

    fn line_indent(&self) -> usize {
        self.indent + if self.continuation || self.after_line_comment { CONTINUATION } else { 0 }
    }

    pub(super) fn after_line_comment(&self) -> bool {
        self.after_line_comment
    }

    /// Whether the next text starts a line.
    pub(super) fn fresh_line(&self) -> bool {
        self.at_line_start || self.after_line_comment
    }

    /// The width of the space the next `word` would be preceded by.
    pub(super) fn space_width(&self) -> usize {
        usize::from(self.pending_space && !self.fresh_line())
    }

    /// The next word is separated from the previous one by a space.
    pub(super) fn space(&mut self) {
        self.pending_space = true;
    }

    /// Text that is separated from the previous text when `space` was called.
    pub(super) fn word(&mut self, s: &str) {
        self.text(s, true);
    }

    /// Text that sticks to what precedes it (`,`, `:`, `)`, …).
    pub(super) fn punct(&mut self, s: &str) {
        self.text(s, false);
    }

    /// A comment inside a line: separated by spaces on both sides, except
    /// right after an opening bracket.
    pub(super) fn comment(&mut self, s: &str, is_line: bool) {
        let after_open = self.buf.ends_with(['(', '[']);
        self.pending_space = !after_open;
        self.text(s, true);
        self.pending_space = true;
        if is_line {
            self.after_line_comment = true;
        }
    }

    fn text(&mut self, s: &str, spaced: bool) {
        if self.after_line_comment {
            self.newline();
            self.continuation = true;
        }
        if self.at_line_start {
            let n = self.line_indent();
            self.buf.extend(std::iter::repeat_n(' ', n));
            self.col = n;
            self.at_line_start = false;
        } else if spaced && self.pending_space {
            self.buf.push(' ');
            self.col += 1;
        }
        self.pending_space = false;
        self.buf.push_str(s);
        // Verbatim text (strings, expressions, block comments) may span lines.
        match s.rfind('\n') {
            Some(i) => self.col = s[i + 1..].chars().count(),
            None => self.col += s.chars().count(),
        }
    }

    pub(super) fn newline(&mut self) {
        self.buf.push('\n');
        self.col = 0;
        self.at_line_start = true;
        self.continuation = false;
        self.pending_space = false;
        self.after_line_comment = false;
    }

    /// Ends the current line unless nothing has been written on it yet.
    pub(super) fn ensure_line_start(&mut self) {
        if !self.at_line_start {
            self.newline();
        }
    }

    /// Continues the statement on the next line, indented by `CONTINUATION`.
    pub(super) fn break_continuation(&mut self) {
        self.newline();
        self.continuation = true;
    }

    /// An empty line before the next one (never at the start of the output,
    /// never two in a row). Call at the start of a line.
    pub(super) fn blank_line(&mut self) {
        if !self.buf.is_empty() && !self.buf.ends_with("\n\n") {
            self.buf.push('\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_spaced_only_when_asked() {
        let mut out = Out::with_capacity(0);
        out.word("a");
        out.punct(":");
        out.space();
        out.word("b");
        out.word("c");
        assert_eq!(out.finish(), "a: bc");
    }

    #[test]
    fn nothing_follows_a_line_comment_on_its_line() {
        let mut out = Out::with_capacity(0);
        out.indent = 2;
        out.word("after");
        out.comment("// why", true);
        out.word("b");
        assert_eq!(out.finish(), "  after // why\n      b");
    }

    #[test]
    fn blank_lines_never_double() {
        let mut out = Out::with_capacity(0);
        out.blank_line();
        out.word("a");
        out.newline();
        out.blank_line();
        out.blank_line();
        out.word("b");
        assert_eq!(out.finish(), "a\n\nb");
    }
}
