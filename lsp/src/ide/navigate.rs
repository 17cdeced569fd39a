//! Go to definition, find references and document highlights: all three
//! are "the occurrences of the symbol under the cursor", across the files
//! of the project.

use flowc_compiler::model::item_index;
use flowc_compiler::name_index::{Occ, Sym, name_index};
use flowc_grammar::ast::{Decl, DeclKind, EnvEntryKind, Span};

use super::{File, FileCx, FileSpan, World};

/// One occurrence of the symbol under the cursor in its own file, for
/// document highlights.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Highlight {
    /// Where the name is.
    pub span: Span,
    /// Whether this occurrence defines the symbol (shown as a write).
    pub def: bool,
}

/// The symbol under the cursor.
pub fn symbol_at(cx: &FileCx<'_>, offset: u32) -> Option<Occ> {
    name_index(&cx.world.db, cx.file.source).at(offset).cloned()
}

/// Every occurrence of `sym` in the project, as (file, span, is-definition).
pub fn occurrences<'a>(cx: &FileCx<'a>, sym: &Sym) -> Vec<(&'a File, Span, bool)> {
    let world = cx.world;
    let mut out = Vec::new();
    for file in world.members(cx.file) {
        for occ in &name_index(&world.db, file.source).occs {
            if &occ.sym == sym {
                out.push((file, occ.span, occ.def));
            }
        }
    }
    out
}

fn location(file: &File, span: Span) -> FileSpan {
    FileSpan { path: file.path.clone(), span }
}

/// The definitions of a symbol. A key of an env set may be defined in a set
/// the set `use`s.
pub fn definitions<'a>(cx: &FileCx<'a>, sym: &Sym) -> Vec<(&'a File, Span)> {
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
    let db = &cx.world.db;
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

/// Where the symbol under the cursor is defined; `None` when nothing is
/// under it or its definition is nowhere in the project.
pub fn definition(world: &World, file: &File, offset: u32) -> Option<Vec<FileSpan>> {
    let cx = FileCx::new(world, file);
    let occ = symbol_at(&cx, offset)?;
    let defs: Vec<FileSpan> = definitions(&cx, &occ.sym).into_iter().map(|(f, s)| location(f, s)).collect();
    (!defs.is_empty()).then_some(defs)
}

/// Every occurrence of the symbol under the cursor in the project; the
/// definitions too when `include_declaration`.
pub fn references(world: &World, file: &File, offset: u32, include_declaration: bool) -> Option<Vec<FileSpan>> {
    let cx = FileCx::new(world, file);
    let occ = symbol_at(&cx, offset)?;
    let refs: Vec<FileSpan> = occurrences(&cx, &occ.sym)
        .into_iter()
        .filter(|(_, _, def)| include_declaration || !def)
        .map(|(f, s, _)| location(f, s))
        .collect();
    Some(refs)
}

/// The occurrences of the symbol under the cursor in its own file.
pub fn highlight(world: &World, file: &File, offset: u32) -> Option<Vec<Highlight>> {
    let cx = FileCx::new(world, file);
    let occ = symbol_at(&cx, offset)?;
    let here = name_index(&world.db, cx.file.source);
    Some(here.occs.iter().filter(|o| o.sym == occ.sym).map(|o| Highlight { span: o.span, def: o.def }).collect())
}
