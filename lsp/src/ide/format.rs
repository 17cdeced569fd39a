//! Formatting: the formatter's output as one whole-document edit, exactly
//! what `flowc fmt` writes. A file with syntax errors is left alone (the
//! formatter refuses it), as `flowc fmt` leaves it.

use flowc_grammar::ast::Span;
use flowc_grammar::format::format_parsed;

use super::{FileCx, TextEdit};
use crate::snapshot::{FileEntry, Snapshot};

/// The edits that format the file: none when it is formatted already, one
/// replacing the whole text otherwise; `None` when it cannot be formatted.
pub fn format(snap: &Snapshot, file: &FileEntry) -> Option<Vec<TextEdit>> {
    let cx = FileCx::new(snap, file);
    let text = cx.text.text;
    let formatted = format_parsed(text, cx.parse()).ok()?;
    if formatted == text {
        return Some(Vec::new());
    }
    Some(vec![TextEdit { span: Span::new(0, text.len() as u32), new_text: formatted }])
}
