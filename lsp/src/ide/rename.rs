//! Rename a step, group, declaration, set, key or input everywhere the
//! project names it: headers, `after` lists, arms, holes and backtick
//! expressions, in every file.

use std::collections::HashMap;

use flowc_grammar::ast::DeclKind;
use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types as lsp;

use super::index::Sym;
use super::navigate::{occurrences, symbol_at};
use super::{FileCx, is_identifier};
use crate::state::Snapshot;

pub fn prepare(snap: &Snapshot, uri: &lsp::Uri, pos: lsp::Position) -> Option<lsp::PrepareRenameResponse> {
    let cx = FileCx::new(snap, uri)?;
    let occ = symbol_at(&cx, pos)?;
    Some(lsp::PrepareRenameResponse::RangeWithPlaceholder {
        range: cx.text.range(occ.span),
        placeholder: cx.text.text.get(occ.span.range())?.to_string(),
    })
}

pub fn rename(snap: &Snapshot, uri: &lsp::Uri, pos: lsp::Position, new_name: &str) -> Result<Option<lsp::WorkspaceEdit>> {
    let Some(cx) = FileCx::new(snap, uri) else { return Ok(None) };
    let Some(occ) = symbol_at(&cx, pos) else { return Ok(None) };
    if !is_identifier(new_name) {
        return Err(Error::invalid_params(format!("`{new_name}` is not a name: names are letters, digits and `_`, not starting with a digit")));
    }
    if matches!(occ.sym, Sym::Decl(DeclKind::Resource, _)) && !new_name.starts_with(|c: char| c.is_ascii_uppercase()) {
        return Err(Error::invalid_params(format!("`{new_name}` cannot name a resource kind: kinds start with a capital letter")));
    }
    let mut changes: HashMap<lsp::Uri, Vec<lsp::TextEdit>> = HashMap::new();
    for (file, span, _) in occurrences(&cx, &occ.sym) {
        let range = snap.text_ref(file).range(span);
        changes.entry(file.uri.clone()).or_default().push(lsp::TextEdit { range, new_text: new_name.to_string() });
    }
    Ok(Some(lsp::WorkspaceEdit { changes: Some(changes), ..Default::default() }))
}
