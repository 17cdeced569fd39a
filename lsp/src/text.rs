//! Positions in a text: between the compiler's byte spans and the protocol's lines and UTF-16 columns, and the editor's changes applied to a text.

use flowc_compiler::LineIndex;
use flowc_grammar::ast::Span;
use tower_lsp_server::ls_types as lsp;

/// A file's text with its line index: everything position conversion needs.
#[derive(Clone, Copy)]
pub struct TextRef<'a> {
    /// The file's text.
    pub text: &'a str,
    /// Where each of its lines starts.
    pub index: &'a LineIndex,
}

impl<'a> TextRef<'a> {
    /// The line and UTF-16 column of a byte offset.
    pub fn position(&self, offset: u32) -> lsp::Position {
        let (line, character) = self.index.line_col_utf16(self.text, offset);
        lsp::Position { line, character }
    }

    /// A byte span as a protocol range (an inverted span is empty).
    pub fn range(&self, span: Span) -> lsp::Range {
        lsp::Range { start: self.position(span.start), end: self.position(span.end.max(span.start)) }
    }

    /// The byte offset of a position, clamped into the text: a client may
    /// send a position past the end of a line (it means the line's end, not
    /// the next line) or of the file, or inside a surrogate pair.
    pub fn offset(&self, pos: lsp::Position) -> u32 {
        if pos.line as usize >= self.index.line_count() {
            return self.text.len() as u32;
        }
        let start = self.index.line_start(pos.line as usize) as usize;
        let line = &self.text[start..];
        let line = &line[..line.find('\n').unwrap_or(line.len())];
        let mut units = 0u32;
        for (i, ch) in line.char_indices() {
            if units >= pos.character {
                return (start + i) as u32;
            }
            units += ch.len_utf16() as u32;
        }
        (start + line.len()) as u32
    }

    /// A protocol range as a byte span, clamped as [`TextRef::offset`] is.
    pub fn span(&self, range: lsp::Range) -> Span {
        let start = self.offset(range.start);
        let end = self.offset(range.end).max(start);
        Span::new(start, end)
    }
}

/// Applies one content change of `didChange` to a text. `index` is the
/// text's line index when the caller has it (the first change of a batch:
/// the index of the text as it is); later changes need a fresh one.
pub fn apply_change(text: &mut String, index: Option<&LineIndex>, change: &lsp::TextDocumentContentChangeEvent) {
    match change.range {
        None => *text = change.text.clone(),
        Some(range) => {
            let fresh;
            let index = match index {
                Some(i) => i,
                None => {
                    fresh = LineIndex::new(text);
                    &fresh
                }
            };
            let span = TextRef { text, index }.span(range);
            text.replace_range(span.range(), &change.text);
        }
    }
}

// ------------------------------------------------- editor features' answers
