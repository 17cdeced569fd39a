//! Formatting: the formatter's output as one whole-document edit, exactly
//! what `flowc fmt` writes. A file with syntax errors is left alone (the
//! formatter refuses it), as `flowc fmt` leaves it.

use flowc_grammar::ast::Span;
use flowc_grammar::format::format_parsed;

use super::{File, FileCx, TextEdit, World};

/// The edits that format the file: none when it is formatted already, one
/// replacing the whole text otherwise; `None` when it cannot be formatted.
pub fn format(world: &World, file: &File) -> Option<Vec<TextEdit>> {
    let cx = FileCx::new(world, file);
    let text = cx.text;
    let formatted = format_parsed(text, cx.parse()).ok()?;
    if formatted == text {
        return Some(Vec::new());
    }
    Some(vec![TextEdit { span: Span::new(0, text.len() as u32), new_text: formatted }])
}
