//! Formatting: the formatter's output as one whole-document edit, exactly
//! what `flowc fmt` writes. A file with syntax errors is left alone (the
//! formatter refuses it), as `flowc fmt` leaves it.

use flowc_grammar::ast::Span;
use flowc_grammar::format::format_parsed;
use tower_lsp_server::ls_types as lsp;

use super::FileCx;
use crate::state::Snapshot;

pub fn format(snap: &Snapshot, uri: &lsp::Uri) -> Option<Vec<lsp::TextEdit>> {
    let cx = FileCx::new(snap, uri)?;
    let text = cx.text.text;
    let formatted = format_parsed(text, cx.parse()).ok()?;
    if formatted == text {
        return Some(Vec::new());
    }
    let whole = cx.text.range(Span::new(0, text.len() as u32));
    Some(vec![lsp::TextEdit { range: whole, new_text: formatted }])
}
