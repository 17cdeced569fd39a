//! The canonical layout of a `.flow` file (`flowc fmt`).
//!
//! [`format()`] prints a file back from its syntax tree, so the layout depends
//! on what the file says, not on how it was spaced. Only three things of the
//! source layout survive: blank lines (at most one), whether a comment was at
//! the end of a line or on its own, and the text of the few values kept whole.
//! The rules are written down for users in `docs/formatting.md`.
//!
//! What this module must never do:
//! - change meaning: the tree of the output equals the tree of the input
//!   (spans aside). Literal text — strings, templates, numbers, durations and
//!   CEL — is copied from the source byte for byte, so escapes and spellings
//!   survive; only the space between tokens is decided here.
//! - drop, duplicate or reorder a comment (see `comments.rs` for how they are
//!   re-inserted);
//! - format a file with syntax errors: a partial tree would lose the text the
//!   parser skipped.
//!
//! The tests that hold it to this (idempotence, same tree, same comments over
//! every example and fixture) live in the workspace's `tests/fmt.rs`.

mod comments;
mod decls;
mod out;
mod stmts;
mod values;

use crate::ast::{SourceFile, Span};
use crate::errors::SyntaxError;
use crate::lexer::Lexed;
use crate::parser::Parse;
use comments::{Comment, Comments};
use out::{INDENT, Out};

pub use out::WIDTH;

/// Formats a whole file in the canonical layout.
///
/// Returns the syntax errors instead when the file does not parse cleanly: a
/// file with errors is never rewritten.
pub fn format(src: &str) -> Result<String, Vec<SyntaxError>> {
    let (parsed, lexed) = crate::parser::parse_lexed(src);
    if !parsed.errors.is_empty() {
        return Err(parsed.errors);
    }
    Ok(format_tree(src, &parsed.file, &lexed))
}

/// Formats a file that has already been parsed (`parse` must be `src`'s),
/// for callers that keep the tree, like the language server.
pub fn format_parsed(src: &str, parse: &Parse) -> Result<String, Vec<SyntaxError>> {
    if !parse.errors.is_empty() {
        return Err(parse.errors.clone());
    }
    Ok(format_tree(src, &parse.file, &crate::lexer::lex(src)))
}

/// Prints a tree parsed without errors from `src`.
fn format_tree(src: &str, file: &SourceFile, lexed: &Lexed) -> String {
    let mut p = Printer {
        src,
        out: Out::with_capacity(src.len() + src.len() / 8),
        comments: Comments::new(lexed),
        printed_to: 0,
    };
    p.file(file);
    p.out.finish()
}

pub(super) struct Printer<'s> {
    src: &'s str,
    out: Out,
    comments: Comments,
    /// The source offset up to which punctuation and comments outside the
    /// tree's spans have been printed.
    printed_to: u32,
}

/// Where a list of lines (a block's statements, a file's declarations, the
/// entries of a data literal written across lines) stands while it is printed.
struct ListState {
    /// The source end of the last thing printed (the opening delimiter, an
    /// item or a comment): the text between it and the next thing tells
    /// whether they were on one line and whether a blank line separated them.
    last_end: u32,
    /// Nothing has been printed inside the list yet.
    empty: bool,
    /// An item or a comment has been printed on its own line: from then on,
    /// a blank line the user left is kept (there is none after `{`).
    started: bool,
    /// A comment that follows on the same source line may stay on the current
    /// output line (false only at the very start of a file).
    open_line: bool,
}

impl<'s> Printer<'s> {
    fn slice(&self, span: Span) -> &'s str {
        self.src.get(span.range()).unwrap_or("")
    }

    fn comment_text(&self, c: Comment) -> &'s str {
        let text = self.slice(c.span);
        // A `//` comment runs to the end of the line, `\r` and trailing
        // spaces included; those are line-ending noise, not comment text.
        if c.is_line { text.trim_end() } else { text }
    }

    /// Prints, inside the current line, every comment that starts before `pos`.
    fn flush_inline(&mut self, pos: u32) {
        while let Some(c) = self.comments.next_before(pos) {
            self.comments.advance();
            let text = self.comment_text(c);
            self.out.comment(text, c.is_line);
            self.printed_to = self.printed_to.max(c.span.end);
        }
    }

    /// Prints a token exactly as written in the source.
    fn verbatim(&mut self, span: Span) {
        self.flush_inline(span.start);
        self.out.word(self.slice(span));
        // Only a value kept whole (an inline secret) can hold comments; they
        // are printed as part of its text.
        self.comments.skip_before(span.end);
    }

    fn kw(&mut self, keyword: &str) {
        self.out.space();
        self.out.word(keyword);
    }

    /// A keyword the tree records no position for: the first token after
    /// `prev_end`. Comments before it are printed before it. Returns its end.
    fn kw_after(&mut self, prev_end: u32, keyword: &str) -> u32 {
        let at = self.next_token_start(prev_end);
        self.flush_inline(at);
        self.kw(keyword);
        at + keyword.len() as u32
    }

    /// Punctuation the tree records no position for, like `kw_after`.
    ///
    /// A `//` comment before it stays before it too, which puts it at the
    /// start of a continuation line. Moving the comment after it instead
    /// would not be stable: in `name?:`, a comment moved after the `?` is
    /// then before the `:`, and would move again on the next run.
    fn punct_after(&mut self, prev_end: u32, text: &str) -> u32 {
        let at = self.next_token_start(prev_end);
        self.flush_inline(at);
        self.out.punct(text);
        at + text.len() as u32
    }

    /// Prints the comments before `pos` up to the first `//` one.
    fn block_comments_before(&mut self, pos: u32) {
        while let Some(c) = self.comments.next_before(pos) {
            if c.is_line {
                break;
            }
            self.flush_inline(c.span.end);
        }
    }

    /// Before the comma after a list item: the `/* … */` comments between the
    /// item and the comma, if the source has one there (commas are optional
    /// in data literals). A `//` comment there follows the comma instead.
    fn comments_before_comma(&mut self, item_end: u32) {
        let at = self.next_token_start(item_end);
        if self.src.as_bytes().get(at as usize) == Some(&b',') {
            self.block_comments_before(at);
            if self.comments.next_before(at).is_none() {
                self.printed_to = self.printed_to.max(at + 1);
            }
        }
    }

    /// The next token at or after `pos`, skipping blanks and comments. Used to
    /// find punctuation the tree does not record, such as a block's `{`.
    fn next_token_start(&self, mut pos: u32) -> u32 {
        let bytes = self.src.as_bytes();
        loop {
            while let Some(b) = bytes.get(pos as usize) {
                if b.is_ascii_whitespace() {
                    pos += 1;
                } else if self.src[pos as usize..].starts_with('\u{FEFF}') {
                    pos += '\u{FEFF}'.len_utf8() as u32;
                } else {
                    break;
                }
            }
            match self.comments.starting_at(pos) {
                Some(c) => pos = c.span.end,
                None => return pos,
            }
        }
    }

    /// Whether the source has an empty line between two offsets.
    fn blank_between(&self, from: u32, to: u32) -> bool {
        let gap = self.src.get(from as usize..to as usize).unwrap_or("");
        gap.bytes().filter(|&b| b == b'\n').count() >= 2
    }

    fn same_line(&self, from: u32, to: u32) -> bool {
        from <= to && !self.src.get(from as usize..to as usize).unwrap_or("\n").contains('\n')
    }

    /// Prints the comments that start before `limit`, between the items of a
    /// list: a comment on the line of what precedes it stays at the end of
    /// that line, any other goes on its own line.
    fn list_comments(&mut self, limit: u32, st: &mut ListState) {
        while let Some(c) = self.comments.next_before(limit) {
            self.comments.advance();
            let trailing = st.open_line && !self.out.after_line_comment() && self.same_line(st.last_end, c.span.start);
            if !trailing {
                self.out.ensure_line_start();
                if st.started && self.blank_between(st.last_end, c.span.start) {
                    self.out.blank_line();
                }
                st.started = true;
            }
            let text = self.comment_text(c);
            self.out.comment(text, c.is_line);
            st.last_end = c.span.end;
            st.empty = false;
            st.open_line = true;
        }
    }

    /// Starts an item of a list on its own line.
    fn list_item_start(&mut self, item: Span, st: &mut ListState) {
        self.list_comments(item.start, st);
        self.out.ensure_line_start();
        if st.started && self.blank_between(st.last_end, item.start) {
            self.out.blank_line();
        }
    }

    fn list_item_end(&mut self, item: Span, st: &mut ListState) {
        self.flush_inline(item.end);
        // What follows the item on its line (a comma, comments before it)
        // was printed with it.
        st.last_end = item.end.max(self.printed_to);
        st.empty = false;
        st.started = true;
        st.open_line = true;
    }

    /// The items of a block, one per line and indented, with the comments
    /// around them, then the closing delimiter. The caller has printed the
    /// opening delimiter, which ends at `open_end`; `close` is where the
    /// closing one is. `deferred` are comments found just before the opening
    /// delimiter, from a `//` one on: they move after it, so that it stays on
    /// its line.
    fn list<T>(
        &mut self,
        open_end: u32,
        close: u32,
        close_text: &str,
        deferred: Vec<Comment>,
        items: &[(Span, T)],
        mut each: impl FnMut(&mut Self, &T),
    ) {
        self.out.indent += INDENT;
        let mut st = ListState { last_end: open_end, empty: true, started: false, open_line: true };
        for c in deferred {
            if self.out.after_line_comment() {
                self.out.ensure_line_start();
                st.started = true;
            }
            let text = self.comment_text(c);
            self.out.comment(text, c.is_line);
            st.empty = false;
        }
        for (span, item) in items {
            self.list_item_start(*span, &mut st);
            each(self, item);
            self.list_item_end(*span, &mut st);
        }
        self.list_comments(close, &mut st);
        self.out.indent -= INDENT;
        if st.started || self.out.after_line_comment() {
            self.out.ensure_line_start();
            self.out.punct(close_text);
        } else if close_text == "}" {
            // `{}`, or `{ /* a comment */ }`
            self.out.word(close_text);
        } else {
            self.out.punct(close_text);
        }
    }

    /// A `{ … }` block of statements whose `{` is the first token after
    /// `header_end` and whose `}` ends `span`.
    fn block<T>(&mut self, header_end: u32, span: Span, items: &[(Span, T)], each: impl FnMut(&mut Self, &T)) {
        let brace = self.next_token_start(header_end);
        self.braced_list(brace, span.end.saturating_sub(1), items, each);
    }

    /// Lines between the `{` at `open` and the `}` at `close`.
    fn braced_list<T>(&mut self, open: u32, close: u32, items: &[(Span, T)], each: impl FnMut(&mut Self, &T)) {
        // A `/* … */` before the `{` stays in place; a `//` one would push the
        // `{` onto a line of its own, so it moves just after it instead, and
        // so do the comments after it (comments never change order).
        self.block_comments_before(open);
        let mut deferred = Vec::new();
        while let Some(c) = self.comments.next_before(open) {
            self.comments.advance();
            deferred.push(c);
        }
        self.out.space();
        self.out.word("{");
        self.list(open + 1, close, "}", deferred, items, each);
    }

    fn file(&mut self, file: &SourceFile) {
        let mut st = ListState { last_end: 0, empty: true, started: false, open_line: false };
        for decl in &file.decls {
            let span = decl.span();
            self.list_item_start(span, &mut st);
            self.decl(decl);
            self.list_item_end(span, &mut st);
        }
        self.list_comments(u32::MAX, &mut st);
        if !st.empty {
            self.out.newline();
        }
    }
}

#[cfg(test)]
mod tests;
