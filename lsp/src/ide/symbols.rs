//! The outline: declarations, and inside a workflow its inputs, invariants,
//! groups (nested) and steps, from the whole-file tree (a broken file still
//! has one: parsing recovers statement by statement).

use flowc_grammar::ast::{self, Decl, GroupMember, Name, Span, WorkflowStmtKind};
use tower_lsp_server::ls_types as lsp;

use super::FileCx;
use crate::convert::TextRef;
use crate::state::Snapshot;

pub fn document_symbols(snap: &Snapshot, uri: &lsp::Uri) -> Option<lsp::DocumentSymbolResponse> {
    let cx = FileCx::new(snap, uri)?;
    let text = cx.text;
    let symbols = cx.parse().file.decls.iter().filter_map(|d| decl_symbol(text, d)).collect();
    Some(lsp::DocumentSymbolResponse::Nested(symbols))
}

#[allow(deprecated)] // `deprecated` is a required field of the struct.
fn symbol(text: TextRef<'_>, name: &Name, detail: Option<String>, kind: lsp::SymbolKind, span: Span, children: Vec<lsp::DocumentSymbol>) -> Option<lsp::DocumentSymbol> {
    // The protocol needs a non-empty name, and a selection inside the range.
    if name.text.is_empty() {
        return None;
    }
    let range = span.cover(name.span);
    Some(lsp::DocumentSymbol {
        name: name.text.clone(),
        detail,
        kind,
        tags: None,
        deprecated: None,
        range: text.range(range),
        selection_range: text.range(name.span),
        children: if children.is_empty() { None } else { Some(children) },
    })
}

fn decl_symbol(text: TextRef<'_>, decl: &Decl) -> Option<lsp::DocumentSymbol> {
    let (kind, detail) = match decl {
        Decl::Workflow(w) => return workflow_symbol(text, w),
        Decl::Agent(_) => (lsp::SymbolKind::CLASS, "agent".to_string()),
        Decl::Env(_) => (lsp::SymbolKind::VARIABLE, "env".to_string()),
        Decl::Secrets(_) => (lsp::SymbolKind::KEY, "secrets".to_string()),
        Decl::Store(_) => (lsp::SymbolKind::STRUCT, "store".to_string()),
        Decl::Policy(_) => (lsp::SymbolKind::INTERFACE, "policy".to_string()),
        Decl::Resource(_) => (lsp::SymbolKind::CLASS, "resource".to_string()),
        Decl::Template(_) => (lsp::SymbolKind::FUNCTION, "template".to_string()),
        Decl::Instance(i) => (lsp::SymbolKind::OBJECT, i.kind.text.clone()),
    };
    symbol(text, decl.name(), Some(detail), kind, decl.span(), Vec::new())
}

fn workflow_symbol(text: TextRef<'_>, w: &ast::Workflow) -> Option<lsp::DocumentSymbol> {
    let mut children = Vec::new();
    for stmt in &w.body {
        let child = match &stmt.kind {
            WorkflowStmtKind::Input(i) => symbol(text, &i.name, Some("input".into()), lsp::SymbolKind::FIELD, stmt.span, Vec::new()),
            WorkflowStmtKind::Output(o) => symbol(text, &o.name, Some("output".into()), lsp::SymbolKind::PROPERTY, stmt.span, Vec::new()),
            WorkflowStmtKind::Invariant(i) => symbol(text, &i.name, Some("invariant".into()), lsp::SymbolKind::EVENT, stmt.span, Vec::new()),
            WorkflowStmtKind::Step(s) => step_symbol(text, s),
            WorkflowStmtKind::Group(g) => group_symbol(text, g),
            _ => None,
        };
        children.extend(child);
    }
    symbol(text, &w.name, Some("workflow".into()), lsp::SymbolKind::MODULE, w.span, children)
}

fn step_symbol(text: TextRef<'_>, s: &ast::Step) -> Option<lsp::DocumentSymbol> {
    let detail = match s.kind.target() {
        Some(t) => format!("{} {}", s.kind.keyword(), t.text),
        None => s.kind.keyword().to_string(),
    };
    symbol(text, &s.name, Some(detail), lsp::SymbolKind::FUNCTION, s.span, Vec::new())
}

fn group_symbol(text: TextRef<'_>, g: &ast::Group) -> Option<lsp::DocumentSymbol> {
    let children = g
        .members
        .iter()
        .filter_map(|m| match m {
            GroupMember::Step(s) => step_symbol(text, s),
            GroupMember::Group(inner) => group_symbol(text, inner),
        })
        .collect();
    symbol(text, &g.name, Some(g.kind.keyword().into()), lsp::SymbolKind::NAMESPACE, g.span, children)
}
