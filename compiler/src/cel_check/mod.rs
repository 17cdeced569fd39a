//! The static checker for CEL expressions: backtick expressions and the
//! `${…}` / `$a.b` holes of template strings.
//!
//! [`check_expr`] parses one expression, resolves its names through a
//! [`Scope`] the caller builds (inputs, upstream steps, `item`, `event`, …),
//! infers its type bottom-up and reports what is wrong: unknown names and
//! fields, operations on the wrong types, conditions that are not `bool`.
//!
//! What this module must never do: know what a workflow is. Which names are
//! in scope, and why one is not (a step that is not upstream, `item` outside
//! a `for each` step), is the analysis's to say through [`Binding`]s; the
//! checker only turns them into diagnostics at the right spans.
//!
//! `dyn` is never flagged: a value whose type is not known statically can be
//! anything at run time, so any operation on it is accepted.

mod check;
mod convert;
mod fast;
pub mod lexer;
pub mod parse;
pub mod syntax;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::Arc;

use flowc_grammar::ast::{Expr, Span};

use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Fix};
use crate::types::Ty;

pub use parse::ParseFailure;
pub use syntax::Node;

/// What a name means where an expression uses it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Binding {
    /// A value of this type.
    Value(Ty),
    /// A step of the workflow that does not run before this expression
    /// (E0402). `help` and `fix` say how to make it upstream.
    NotUpstream { step: String, help: String, fix: Option<Fix> },
    /// A name that exists in the language but not here (`item` outside a
    /// `for each` step, `event` outside a trigger): reported with `code`.
    OutOfContext { name: String, code: Code, message: String, help: String },
}

/// The names an expression can use.
pub trait Scope {
    fn lookup(&self, name: &str) -> Option<Binding>;
    /// Every name in scope, for "did you mean" (only called on an error).
    fn names(&self) -> Vec<String>;
    /// Why step `name`'s output may be empty where the expression runs (the
    /// step may not have completed then), as words for a warning; `None`
    /// when it is certainly there or `name` is no step.
    fn output_may_be_empty(&self, _name: &str) -> Option<String> {
        None
    }
}

/// A scope held in a map: for tests, and for callers that build scopes
/// eagerly.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MapScope {
    pub bindings: BTreeMap<String, Binding>,
}

impl MapScope {
    pub fn new() -> Self {
        MapScope::default()
    }
    pub fn with(mut self, name: impl Into<String>, binding: Binding) -> Self {
        self.bindings.insert(name.into(), binding);
        self
    }
    pub fn with_value(self, name: impl Into<String>, ty: Ty) -> Self {
        self.with(name, Binding::Value(ty))
    }
    pub fn insert(&mut self, name: impl Into<String>, binding: Binding) {
        self.bindings.insert(name.into(), binding);
    }
}

impl Scope for MapScope {
    fn lookup(&self, name: &str) -> Option<Binding> {
        self.bindings.get(name).cloned()
    }
    fn names(&self) -> Vec<String> {
        self.bindings.keys().cloned().collect()
    }
}

/// Where the expression is written: it decides how a name that is not in
/// scope is explained (a hole's `${HOME}` is most likely meant for the shell).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExprSite {
    /// `` `expr` ``.
    Backtick,
    /// `${expr}` in a template, or its short form `$a.b` when `short`.
    Hole { short: bool },
}

/// What the place of the expression needs its value to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Expect {
    Any,
    /// A condition (`when`, `where`, `rule`, policy rules): E0409 otherwise.
    Bool,
}

/// A name from the scope that an expression uses, with the static field path
/// that follows it: `research.output.summary` is `research` with path
/// `["output", "summary"]`. Names bound inside the expression (a macro's
/// variable) are not roots.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RootRef {
    pub name: String,
    pub span: Span,
    pub path: Vec<String>,
}

/// The result of checking one expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checked {
    /// The expression's type; `dyn` when unknown or when it did not parse.
    pub ty: Ty,
    /// Every problem found, each reported once, in source order.
    pub diagnostics: Vec<Diagnostic>,
    /// The syntax tree, when the expression parsed.
    pub ast: Option<Arc<Node>>,
    /// The scope names the expression uses, in source order.
    pub roots: Vec<RootRef>,
}

impl Checked {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Checks one expression. `path` names the file that holds it, for the
/// diagnostics; `expr.span` locates its text in that file.
pub fn check_expr(path: &str, expr: &Expr, site: ExprSite, expect: Expect, scope: &dyn Scope) -> Checked {
    match parse::parse(&expr.text, expr.span.start) {
        Ok(node) => {
            let (ty, diagnostics) = check::check(path, &node, site, expect, scope, expr);
            let roots = referenced_roots_of(&node);
            Checked { ty, diagnostics, ast: Some(Arc::new(node)), roots }
        }
        Err(failure) => {
            let mut d = Diagnostic::new(Code::InvalidExpression, path, failure.span, failure.message)
                .with_label("invalid expression");
            d.help = failure.help;
            if let ExprSite::Hole { short } = site {
                check::add_shell_escape(&mut d, path, expr, short);
            }
            Checked { ty: Ty::Dyn, diagnostics: vec![d], ast: None, roots: Vec::new() }
        }
    }
}

/// Parses an expression without checking it.
pub fn parse_expr(expr: &Expr) -> Result<Node, ParseFailure> {
    parse::parse(&expr.text, expr.span.start)
}

/// The scope names an expression uses (empty if it does not parse).
pub fn referenced_roots(expr: &Expr) -> Vec<RootRef> {
    parse_expr(expr).map(|n| referenced_roots_of(&n)).unwrap_or_default()
}

/// The scope names a parsed expression uses.
pub fn referenced_roots_of(node: &Node) -> Vec<RootRef> {
    let mut out = Vec::new();
    let mut bound: Vec<&str> = Vec::new();
    collect_roots(node, &mut bound, &mut out);
    out
}

fn collect_roots<'a>(node: &'a Node, bound: &mut Vec<&'a str>, out: &mut Vec<RootRef>) {
    use syntax::NodeKind;
    if let Some((root, path)) = node.as_path() {
        if !bound.contains(&root) {
            let span = root_span(node);
            out.push(RootRef { name: root.to_string(), span, path: path.into_iter().map(str::to_string).collect() });
        }
        return;
    }
    if let NodeKind::Macro { target, var, args, .. } = &node.kind {
        collect_roots(target, bound, out);
        bound.push(var);
        for a in args {
            collect_roots(a, bound, out);
        }
        bound.pop();
        return;
    }
    node.for_each_child(|child| collect_roots(child, bound, out));
}

/// The span of the identifier at the root of a path.
fn root_span(node: &Node) -> Span {
    match &node.kind {
        syntax::NodeKind::Select { operand, .. } => root_span(operand),
        _ => node.span,
    }
}
