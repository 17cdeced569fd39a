//! Rename a step, group, declaration, set, key or input everywhere the
//! project names it: headers, `after` lists, arms, holes and backtick
//! expressions, in every file.

use flowc_compiler::name_index::Sym;
use flowc_grammar::ast::{DeclKind, Span};

use super::navigate::{occurrences, symbol_at};
use super::{File, FileCx, FileEdits, TextEdit, World, is_identifier, push_edit};

/// The name under the cursor that a rename would change, and its text.
pub fn prepare(world: &World, file: &File, offset: u32) -> Option<(Span, String)> {
    let cx = FileCx::new(world, file);
    let occ = symbol_at(&cx, offset)?;
    Some((occ.span, cx.text.get(occ.span.range())?.to_string()))
}

/// The edits renaming the symbol under the cursor to `new_name` in every
/// file of the project; `Ok(None)` where there is no symbol, `Err` with the
/// reason when `new_name` cannot name it.
pub fn rename(world: &World, file: &File, offset: u32, new_name: &str) -> Result<Option<FileEdits>, String> {
    let cx = FileCx::new(world, file);
    let Some(occ) = symbol_at(&cx, offset) else { return Ok(None) };
    if !is_identifier(new_name) {
        return Err(format!("`{new_name}` is not a name: names are letters, digits and `_`, not starting with a digit"));
    }
    if matches!(occ.sym, Sym::Decl(DeclKind::Resource, _)) && !new_name.starts_with(|c: char| c.is_ascii_uppercase()) {
        return Err(format!("`{new_name}` cannot name a resource kind: kinds start with a capital letter"));
    }
    let mut edits = FileEdits::new();
    for (file, span, _) in occurrences(&cx, &occ.sym) {
        push_edit(&mut edits, &file.path, TextEdit { span, new_text: new_name.to_string() });
    }
    Ok(Some(edits))
}
