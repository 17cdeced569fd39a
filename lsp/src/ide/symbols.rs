//! The outline: declarations, and inside a workflow its inputs, invariants,
//! groups (nested) and steps, from the whole-file tree (a broken file still
//! has one: parsing recovers statement by statement).

use flowc_grammar::ast::{self, Decl, GroupMember, Name, Span, WorkflowStmtKind};

use super::{File, FileCx, World};

/// What an outline entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SymbolKind {
    /// `workflow NAME`: its children are its inputs, outputs, invariants, groups and steps.
    Workflow,
    /// `agent NAME`.
    Agent,
    /// `env NAME`, a reusable env set.
    Env,
    /// `secrets NAME`, a secret set.
    Secrets,
    /// `store NAME`.
    Store,
    /// `policy NAME`.
    Policy,
    /// `resource Kind`, a resource kind's declaration.
    Resource,
    /// `template NAME`.
    Template,
    /// `Kind name { … }`, an instance of a resource kind.
    Instance,
    /// `test "NAME" { … }`.
    Test,
    /// A workflow's `input NAME: TYPE`.
    Input,
    /// A workflow's `output NAME = …`.
    Output,
    /// A workflow's `invariant NAME { … }`.
    Invariant,
    /// A step, in a workflow or a group.
    Step,
    /// A `parallel` or `phase` group: its children are its members.
    Group,
}

/// One entry of the outline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Symbol {
    /// The declared name; never empty.
    pub name: String,
    /// A word or two after the name (`agent`, `step: run`, …).
    pub detail: Option<String>,
    /// What the entry is.
    pub kind: SymbolKind,
    /// The whole item, name included.
    pub span: Span,
    /// The name, inside `span`.
    pub name_span: Span,
    /// The entries inside it (a workflow's steps, a group's members).
    pub children: Vec<Symbol>,
}

/// The outline of a file: its declarations, with what they hold.
pub fn document_symbols(world: &World, file: &File) -> Vec<Symbol> {
    let cx = FileCx::new(world, file);
    cx.parse().file.decls.iter().filter_map(decl_symbol).collect()
}

fn symbol(name: &Name, detail: Option<String>, kind: SymbolKind, span: Span, children: Vec<Symbol>) -> Option<Symbol> {
    // The protocol needs a non-empty name, and a selection inside the range.
    if name.text.is_empty() {
        return None;
    }
    Some(Symbol { name: name.text.clone(), detail, kind, span: span.cover(name.span), name_span: name.span, children })
}

fn decl_symbol(decl: &Decl) -> Option<Symbol> {
    let (kind, detail) = match decl {
        Decl::Workflow(w) => return workflow_symbol(w),
        Decl::Agent(_) => (SymbolKind::Agent, "agent".to_string()),
        Decl::Env(_) => (SymbolKind::Env, "env".to_string()),
        Decl::Secrets(_) => (SymbolKind::Secrets, "secrets".to_string()),
        Decl::Store(_) => (SymbolKind::Store, "store".to_string()),
        Decl::Policy(_) => (SymbolKind::Policy, "policy".to_string()),
        Decl::Resource(_) => (SymbolKind::Resource, "resource".to_string()),
        Decl::Template(_) => (SymbolKind::Template, "template".to_string()),
        Decl::Instance(i) => (SymbolKind::Instance, i.kind.text.clone()),
        Decl::Test(_) => (SymbolKind::Test, "test".to_string()),
    };
    symbol(decl.name(), Some(detail), kind, decl.span(), Vec::new())
}

fn workflow_symbol(w: &ast::Workflow) -> Option<Symbol> {
    let mut children = Vec::new();
    for stmt in &w.body {
        let child = match &stmt.kind {
            WorkflowStmtKind::Input(i) => symbol(&i.name, Some("input".into()), SymbolKind::Input, stmt.span, Vec::new()),
            WorkflowStmtKind::Output(o) => symbol(&o.name, Some("output".into()), SymbolKind::Output, stmt.span, Vec::new()),
            WorkflowStmtKind::Invariant(i) => symbol(&i.name, Some("invariant".into()), SymbolKind::Invariant, stmt.span, Vec::new()),
            WorkflowStmtKind::Step(s) => step_symbol(s),
            WorkflowStmtKind::Group(g) => group_symbol(g),
            _ => None,
        };
        children.extend(child);
    }
    symbol(&w.name, Some("workflow".into()), SymbolKind::Workflow, w.span, children)
}

fn step_symbol(s: &ast::Step) -> Option<Symbol> {
    let detail = match s.kind.target() {
        Some(t) => format!("{} {}", s.kind.keyword(), t.text),
        None => s.kind.keyword().to_string(),
    };
    symbol(&s.name, Some(detail), SymbolKind::Step, s.span, Vec::new())
}

fn group_symbol(g: &ast::Group) -> Option<Symbol> {
    let children = g
        .members
        .iter()
        .filter_map(|m| match m {
            GroupMember::Step(s) => step_symbol(s),
            GroupMember::Group(inner) => group_symbol(inner),
        })
        .collect();
    symbol(&g.name, Some(g.kind.keyword().into()), SymbolKind::Group, g.span, children)
}
