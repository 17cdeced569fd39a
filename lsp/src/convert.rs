//! Between the compiler's byte spans and the protocol's positions (lines and
//! UTF-16 columns), and from the compiler's diagnostics to LSP diagnostics.

use flowc_compiler::{Diagnostic, LineIndex, Severity};
use flowc_grammar::ast::Span;
use tower_lsp_server::ls_types as lsp;

/// A file's text with its line index: everything position conversion needs.
#[derive(Clone, Copy)]
pub struct TextRef<'a> {
    pub text: &'a str,
    pub index: &'a LineIndex,
}

impl<'a> TextRef<'a> {
    pub fn position(&self, offset: u32) -> lsp::Position {
        let (line, character) = self.index.line_col_utf16(self.text, offset);
        lsp::Position { line, character }
    }

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

    pub fn span(&self, range: lsp::Range) -> Span {
        let start = self.offset(range.start);
        let end = self.offset(range.end).max(start);
        Span::new(start, end)
    }
}

/// Where a diagnostic code's page lives.
pub fn docs_url(code: &str) -> String {
    format!("https://github.com/flowc-dev/flowc/blob/main/docs/diagnostics/{code}.md")
}

/// One compiler diagnostic as the protocol shows it. `locate` turns a path
/// (the file the diagnostic or a related location is in) into its URI and
/// text; a related location in a file the server does not know is dropped.
pub fn diagnostic<'a>(
    d: &Diagnostic,
    here: TextRef<'_>,
    locate: &dyn Fn(&str) -> Option<(lsp::Uri, TextRef<'a>)>,
) -> lsp::Diagnostic {
    let mut message = d.message.clone();
    if let Some(help) = &d.help {
        message.push_str("\nhelp: ");
        message.push_str(help);
    }
    let related: Vec<lsp::DiagnosticRelatedInformation> = d
        .related
        .iter()
        .filter_map(|r| {
            let (uri, text) = locate(&r.path)?;
            Some(lsp::DiagnosticRelatedInformation {
                location: lsp::Location { uri, range: text.range(r.span) },
                message: r.message.clone(),
            })
        })
        .collect();
    let href = docs_url(d.code.as_str()).parse::<lsp::Uri>().ok();
    lsp::Diagnostic {
        range: here.range(d.span),
        severity: Some(match d.severity {
            Severity::Error => lsp::DiagnosticSeverity::ERROR,
            Severity::Warning => lsp::DiagnosticSeverity::WARNING,
        }),
        code: Some(lsp::NumberOrString::String(d.code.as_str().to_string())),
        code_description: href.map(|href| lsp::CodeDescription { href }),
        source: Some("flowc".to_string()),
        message,
        related_information: if related.is_empty() { None } else { Some(related) },
        tags: if d.code == flowc_compiler::Code::Unused { Some(vec![lsp::DiagnosticTag::UNNECESSARY]) } else { None },
        data: None,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(line: u32, character: u32) -> lsp::Position {
        lsp::Position { line, character }
    }

    #[test]
    fn incremental_changes_apply_in_utf16_units() {
        let mut text = "a😀b\ncd\n".to_string();
        let change = |l0, c0, l1, c1, t: &str| lsp::TextDocumentContentChangeEvent {
            range: Some(lsp::Range { start: pos(l0, c0), end: pos(l1, c1) }),
            range_length: None,
            text: t.to_string(),
        };
        apply_change(&mut text, None, &change(0, 3, 0, 4, "X"));
        assert_eq!(text, "a😀X\ncd\n");
        apply_change(&mut text, None, &change(0, 4, 1, 1, ""));
        assert_eq!(text, "a😀Xd\n");
        // Past the end of a line or the file: clamped, never a panic.
        apply_change(&mut text, None, &change(0, 99, 0, 99, "!"));
        assert_eq!(text, "a😀Xd!\n");
        apply_change(&mut text, None, &change(7, 0, 9, 9, "?"));
        assert_eq!(text, "a😀Xd!\n?");
        // A position inside a surrogate pair does not split the character.
        apply_change(&mut text, None, &change(0, 2, 0, 2, "_"));
        assert_eq!(text, "a😀_Xd!\n?");
    }
}
