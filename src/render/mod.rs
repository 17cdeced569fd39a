//! Renderers of diagnostics: one module per output format.

pub mod github;
pub mod human;
pub mod json;
pub mod sarif;

use flowc_compiler::{Diagnostic, LineIndex};

use crate::check::Sources;

/// 1-based (line, column) of the start and end of a diagnostic's span.
pub fn positions(d: &Diagnostic, sources: &Sources) -> ((usize, usize), (usize, usize)) {
    let text = sources.get(&d.path).map(String::as_str).unwrap_or("");
    let index = LineIndex::new(text);
    (index.line_col(text, d.span.start), index.line_col(text, d.span.end))
}
