//! Go to definition, find references and document highlights: all three
//! are "the occurrences of the symbol under the cursor", across the files
//! of the project.

use flowc_compiler::model::item_index;
use flowc_grammar::ast::{Decl, DeclKind, EnvEntryKind, Span};
use tower_lsp_server::ls_types as lsp;

use super::FileCx;
use super::index::{Occ, Sym, file_index};
use crate::state::{FileEntry, Snapshot};

/// The symbol under the cursor.
pub fn symbol_at(cx: &FileCx<'_>, pos: lsp::Position) -> Option<Occ> {
    let offset = cx.offset(pos);
    file_index(&cx.snap.db, cx.file.source).at(offset).cloned()
}

/// Every occurrence of `sym` in the project, as (file, span, is-definition).
pub fn occurrences<'a>(cx: &FileCx<'a>, sym: &Sym) -> Vec<(&'a FileEntry, Span, bool)> {
    let snap = cx.snap;
    let mut out = Vec::new();
    for uri in &snap.projects[cx.file.project].members {
        let Some(file) = snap.file(uri) else { continue };
        for occ in &file_index(&snap.db, file.source).occs {
            if &occ.sym == sym {
                out.push((file, occ.span, occ.def));
            }
        }
    }
    out
}

fn location(snap: &Snapshot, file: &FileEntry, span: Span) -> lsp::Location {
    lsp::Location { uri: file.uri.clone(), range: snap.text_ref(file).range(span) }
}

/// The definitions of a symbol. A key of an env set may be defined in a set
/// the set `use`s.
pub fn definitions<'a>(cx: &FileCx<'a>, sym: &Sym) -> Vec<(&'a FileEntry, Span)> {
    let direct: Vec<_> = occurrences(cx, sym).into_iter().filter(|(_, _, def)| *def).map(|(f, s, _)| (f, s)).collect();
    if !direct.is_empty() {
        return direct;
    }
    if let Sym::Key { set, key } = sym {
        for used in used_sets(cx, set) {
            let found = definitions(cx, &Sym::Key { set: used, key: key.clone() });
            if !found.is_empty() {
                return found;
            }
        }
    }
    Vec::new()
}

/// The env sets an env set imports with `use`, in order.
fn used_sets(cx: &FileCx<'_>, set: &str) -> Vec<String> {
    let db = &cx.snap.db;
    let Some(def) = item_index(db, cx.project).other(DeclKind::Env, set) else { return Vec::new() };
    match &**def.ast(db) {
        Decl::Env(env) => env
            .body
            .entries
            .iter()
            .filter_map(|e| match &e.kind {
                EnvEntryKind::Use(n) if n.text != set => Some(n.text.clone()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

pub fn definition(snap: &Snapshot, uri: &lsp::Uri, pos: lsp::Position) -> Option<lsp::GotoDefinitionResponse> {
    let cx = FileCx::new(snap, uri)?;
    let occ = symbol_at(&cx, pos)?;
    let defs: Vec<lsp::Location> = definitions(&cx, &occ.sym).into_iter().map(|(f, s)| location(snap, f, s)).collect();
    match defs.len() {
        0 => None,
        1 => defs.into_iter().next().map(lsp::GotoDefinitionResponse::Scalar),
        _ => Some(lsp::GotoDefinitionResponse::Array(defs)),
    }
}

pub fn references(snap: &Snapshot, uri: &lsp::Uri, pos: lsp::Position, include_declaration: bool) -> Option<Vec<lsp::Location>> {
    let cx = FileCx::new(snap, uri)?;
    let occ = symbol_at(&cx, pos)?;
    let refs: Vec<lsp::Location> = occurrences(&cx, &occ.sym)
        .into_iter()
        .filter(|(_, _, def)| include_declaration || !def)
        .map(|(f, s, _)| location(snap, f, s))
        .collect();
    Some(refs)
}

pub fn highlight(snap: &Snapshot, uri: &lsp::Uri, pos: lsp::Position) -> Option<Vec<lsp::DocumentHighlight>> {
    let cx = FileCx::new(snap, uri)?;
    let occ = symbol_at(&cx, pos)?;
    let here = file_index(&snap.db, cx.file.source);
    Some(
        here.occs
            .iter()
            .filter(|o| o.sym == occ.sym)
            .map(|o| lsp::DocumentHighlight {
                range: cx.text.range(o.span),
                kind: Some(if o.def { lsp::DocumentHighlightKind::WRITE } else { lsp::DocumentHighlightKind::READ }),
            })
            .collect(),
    )
}
