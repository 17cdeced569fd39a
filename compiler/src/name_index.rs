//! The name index of a file: every name it defines or mentions, and every
//! expression it holds, with where it is and what it means. The table behind
//! the editor's definition, references, rename, highlights, hover and
//! semantic tokens (`lsp/src/ide/`).
//!
//! Built from the whole-file tree (absolute spans) and memoised per file by
//! salsa, so a project-wide search re-walks only files that changed. The
//! names a file mentions come from `refs` (each reference becomes an
//! occurrence), the list the name checks (`checks::names`) read too; the
//! walk here adds the definitions and the expressions, the steps and
//! inputs the expressions' paths name, and a template's parameters (each
//! declaration, `params.NAME` in its lines, the keys of `use T with { … }`).

use std::collections::BTreeSet;

use flowc_grammar::ast::{
    self, AgentStmtKind, Compensate, Decl, DeclKind, EnvBlock, EnvEntryKind, EnvValue, Expr, InvariantStmtKind, Name,
    PolicyStmtKind, ResourceStmtKind, Span, StepKind, StepStmtKind, TemplateStr, Trigger, WorkflowStmtKind,
};

use crate::cel_check::{self, Node, syntax::NodeKind};
use crate::db::{Db, SourceFile};
use crate::refs::{Ref, decl_refs};

/// What a name refers to.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Sym {
    /// A top-level declaration other than an env or secret set.
    Decl(DeclKind, String),
    /// An env set or a secret set: `use SET` and `SET.KEY` may name either.
    Set(String),
    /// A key of an env or secret set.
    Key { set: String, key: String },
    /// A step or group of a workflow.
    Step { workflow: String, name: String },
    /// An input of a workflow.
    Input { workflow: String, name: String },
    /// A parameter of a template: its declaration, `params.NAME` in the
    /// template's lines, and the keys of `use TEMPLATE with { … }`.
    Param { template: String, name: String },
}

/// One occurrence of a name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Occ {
    /// Where the name is written (absolute, in the whole file).
    pub span: Span,
    /// What it names.
    pub sym: Sym,
    /// The defining occurrence (the name in `step NAME`, `agent NAME`, …).
    pub def: bool,
}

/// Where an expression is written, which decides its scope.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ExprCx {
    /// In a step; `post` for its post-actions (`then put`, `then spawn`,
    /// `items`), where `output` is the step's own output.
    Step { workflow: String, step: String, post: bool },
    /// A workflow's `output NAME = `…``.
    WorkflowOutput { workflow: String },
    /// A template's lines: checked in each using step's scope, so only
    /// `params` is known here.
    Template { template: String },
    /// An expectation of a test of this workflow: its steps, `inputs`,
    /// `run` (with its status and outputs) and `events` are in scope.
    Test { workflow: String },
    /// Anything else (trigger filters, invariant checks, policy and resource
    /// rules, agent commands): no step names in scope.
    Other,
}

/// An expression of the file (a backtick expression or a template hole).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ExprSite {
    /// The expression, with its absolute span.
    pub expr: Expr,
    /// Where it is written, which decides the names in scope.
    pub cx: ExprCx,
}

/// The name index of one file.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct FileIndex {
    /// Every occurrence of a name, sorted by start.
    pub occs: Vec<Occ>,
    /// Every expression, in the order the walk meets them.
    pub exprs: Vec<ExprSite>,
}

impl FileIndex {
    /// The occurrence under (or right after) an offset.
    pub fn at(&self, offset: u32) -> Option<&Occ> {
        self.occs.iter().find(|o| o.span.contains(offset)).or_else(|| self.occs.iter().find(|o| o.span.touches(offset)))
    }
    /// The expression whose text holds an offset (a cursor at its end too).
    pub fn expr_at(&self, offset: u32) -> Option<&ExprSite> {
        self.exprs.iter().find(|e| e.expr.span.touches(offset))
    }
}

/// The name index of a file, from its whole-file tree.
#[salsa::tracked(returns(ref))]
pub fn name_index(db: &dyn Db, file: SourceFile) -> FileIndex {
    let parse = crate::parse(db, file);
    let mut w = Walker::default();
    for decl in &parse.file.decls {
        w.decl(decl);
    }
    w.index.occs.sort_by_key(|o| (o.span.start, o.span.end));
    w.index
}

/// A path in an expression, `root.a.b`: each segment's text and span.
pub type Path = Vec<(String, Span)>;

/// Every path that starts at a scope name in an expression (names a macro
/// binds are not scope names), with the span of each segment.
pub fn expr_paths(node: &Node) -> Vec<Path> {
    let mut out = Vec::new();
    let mut bound = Vec::new();
    collect_paths(node, &mut bound, &mut out);
    out
}

fn collect_paths(node: &Node, bound: &mut Vec<String>, out: &mut Vec<Path>) {
    if let Some(path) = path_of(node) {
        if !bound.contains(&path[0].0) {
            out.push(path);
        }
        return;
    }
    match &node.kind {
        NodeKind::Macro { target, var, args, .. } => {
            collect_paths(target, bound, out);
            bound.push(var.clone());
            for a in args {
                collect_paths(a, bound, out);
            }
            bound.pop();
        }
        // `has(a.b)` reads the path `a.b`.
        NodeKind::Has { operand, field, field_span } => {
            if let Some(mut path) = path_of(operand) {
                if !bound.contains(&path[0].0) {
                    path.push((field.clone(), *field_span));
                    out.push(path);
                }
            } else {
                collect_paths(operand, bound, out);
            }
        }
        _ => node.for_each_child(|child| collect_paths(child, bound, out)),
    }
}

fn path_of(node: &Node) -> Option<Path> {
    match &node.kind {
        NodeKind::Ident(name) => Some(vec![(name.clone(), node.span)]),
        // `a.?b` reads the path `a.b` as `a.b` does.
        NodeKind::Select { operand, field, field_span } | NodeKind::OptSelect { operand, field, field_span } => {
            let mut path = path_of(operand)?;
            path.push((field.clone(), *field_span));
            Some(path)
        }
        _ => None,
    }
}

/// Names that always mean the scope's own values, never a step.
const BUILTIN_ROOTS: &[&str] = &["inputs", "run", "env"];

#[derive(Default)]
struct Walker {
    index: FileIndex,
    /// The template whose lines are being walked.
    template: Option<String>,
}

/// The workflow being walked: its name and the names of its steps and groups.
struct WfCx {
    name: String,
    steps: BTreeSet<String>,
}

impl Walker {
    fn occ(&mut self, name: &Name, sym: Sym, def: bool) {
        if !name.text.is_empty() {
            self.index.occs.push(Occ { span: name.span, sym, def });
        }
    }

    /// The references of a declaration, each as an occurrence. Step
    /// references are a workflow's steps; a template's name the steps of
    /// each workflow using it, so they have no occurrence here.
    fn refs(&mut self, decl: &Decl) {
        let workflow = match decl {
            Decl::Workflow(w) => Some(w.name.text.as_str()),
            _ => None,
        };
        for r in decl_refs(decl) {
            match r {
                Ref::Step { name, .. } => {
                    if let Some(workflow) = workflow {
                        self.occ(name, Sym::Step { workflow: workflow.to_string(), name: name.text.clone() }, false);
                    }
                }
                Ref::Decl { kind, name } => self.occ(name, Sym::Decl(kind, name.text.clone()), false),
                Ref::SetUse(set) => self.occ(set, Sym::Set(set.text.clone()), false),
                Ref::SetKey { set, key } | Ref::Signature { set, key } => {
                    self.occ(set, Sym::Set(set.text.clone()), false);
                    self.occ(key, Sym::Key { set: set.text.clone(), key: key.text.clone() }, false);
                }
                // A quoted key's span holds its quotes: not a name to rename.
                Ref::InputKey { workflow, field } => {
                    if !field.quoted {
                        self.occ(&field.key, Sym::Input { workflow: workflow.text.clone(), name: field.key.text.clone() }, false);
                    }
                }
            }
        }
    }

    fn decl(&mut self, decl: &Decl) {
        self.refs(decl);
        match decl {
            Decl::Workflow(w) => self.workflow(w),
            Decl::Agent(a) => {
                self.occ(&a.name, Sym::Decl(DeclKind::Agent, a.name.text.clone()), true);
                for s in &a.body {
                    if let AgentStmtKind::Command(t) = &s.kind {
                        self.template(t, &ExprCx::Other, None);
                    }
                }
            }
            Decl::Env(set) => {
                self.occ(&set.name, Sym::Set(set.name.text.clone()), true);
                self.set_keys(&set.name.text, &set.body);
            }
            Decl::Secrets(set) => {
                self.occ(&set.name, Sym::Set(set.name.text.clone()), true);
                for e in &set.entries {
                    self.occ(&e.key, Sym::Key { set: set.name.text.clone(), key: e.key.text.clone() }, true);
                }
            }
            Decl::Store(s) => self.occ(&s.name, Sym::Decl(DeclKind::Store, s.name.text.clone()), true),
            Decl::Policy(p) => {
                self.occ(&p.name, Sym::Decl(DeclKind::Policy, p.name.text.clone()), true);
                for s in &p.body {
                    if let PolicyStmtKind::Rule(rule) = &s.kind {
                        self.expr(&rule.condition, &ExprCx::Other, None);
                        if let Some(reason) = &rule.reason {
                            self.template(reason, &ExprCx::Other, None);
                        }
                    }
                }
            }
            Decl::Resource(r) => {
                self.occ(&r.kind, Sym::Decl(DeclKind::Resource, r.kind.text.clone()), true);
                for s in &r.body {
                    if let ResourceStmtKind::Rule { condition, .. } = &s.kind {
                        self.expr(condition, &ExprCx::Other, None);
                    }
                }
            }
            Decl::Template(t) => {
                self.occ(&t.name, Sym::Decl(DeclKind::Template, t.name.text.clone()), true);
                for p in &t.params {
                    self.occ(&p.name, Sym::Param { template: t.name.text.clone(), name: p.name.text.clone() }, true);
                }
                // A template's lines are checked in the scope of each step
                // that uses it; here they have no step names of their own.
                self.template = Some(t.name.text.clone());
                for stmt in &t.body {
                    self.step_stmt(stmt, None);
                }
                self.template = None;
            }
            Decl::Instance(i) => self.occ(&i.name, Sym::Decl(DeclKind::Instance, i.name.text.clone()), true),
            Decl::Test(t) => self.test(t),
        }
    }

    /// A test's step paths name steps of its workflow (or of the workflow
    /// they name); its expectations are in the test's scope.
    fn test(&mut self, t: &ast::Test) {
        let Some(workflow) = t.body.iter().find_map(|s| match &s.kind {
            ast::TestStmtKind::Run { workflow, .. } => Some(workflow.text.clone()),
            _ => None,
        }) else {
            return;
        };
        let path = |me: &mut Self, p: &ast::StepPath| {
            let wf = match &p.workflow {
                Some(w) => {
                    me.occ(w, Sym::Decl(DeclKind::Workflow, w.text.clone()), false);
                    w.text.clone()
                }
                None if p.step.text == "run" => return,
                None => workflow.clone(),
            };
            me.occ(&p.step, Sym::Step { workflow: wf, name: p.step.text.clone() }, false);
        };
        let stmts = t.body.iter().map(|s| match &s.kind {
            ast::TestStmtKind::Expect(ast::Expectation::Refused(action)) => &**action,
            _ => s,
        });
        for s in stmts {
            match &s.kind {
                ast::TestStmtKind::Mock { target: ast::MockTarget::Step(p), .. }
                | ast::TestStmtKind::Decide { step: p, .. }
                | ast::TestStmtKind::Complete { step: p, .. }
                | ast::TestStmtKind::Expect(ast::Expectation::Status { target: p, .. }) => path(self, p),
                ast::TestStmtKind::Expect(ast::Expectation::Expr(e)) => {
                    self.expr(e, &ExprCx::Test { workflow: workflow.clone() }, None);
                }
                _ => {}
            }
        }
    }

    fn workflow(&mut self, w: &ast::Workflow) {
        self.occ(&w.name, Sym::Decl(DeclKind::Workflow, w.name.text.clone()), true);
        let mut names: BTreeSet<String> = w.steps().iter().map(|s| s.name.text.clone()).collect();
        names.extend(w.groups().iter().map(|g| g.name.text.clone()));
        let wf = WfCx { name: w.name.text.clone(), steps: names };
        for stmt in &w.body {
            match &stmt.kind {
                WorkflowStmtKind::Input(i) => {
                    self.occ(&i.name, Sym::Input { workflow: wf.name.clone(), name: i.name.text.clone() }, true);
                }
                WorkflowStmtKind::Output(o) => {
                    self.expr(&o.expr, &ExprCx::WorkflowOutput { workflow: wf.name.clone() }, Some(&wf));
                }
                WorkflowStmtKind::On(Trigger::Event { filter: Some(f), .. }) => self.expr(f, &ExprCx::Other, None),
                WorkflowStmtKind::Invariant(inv) => {
                    for s in &inv.body {
                        if let InvariantStmtKind::Check(c) = &s.kind {
                            self.template(&c.command, &ExprCx::Other, Some(&wf));
                        }
                    }
                }
                WorkflowStmtKind::Step(step) => self.step(&wf, step),
                WorkflowStmtKind::Group(g) => self.group(&wf, g),
                _ => {}
            }
        }
    }

    fn group(&mut self, wf: &WfCx, g: &ast::Group) {
        self.occ(&g.name, Sym::Step { workflow: wf.name.clone(), name: g.name.text.clone() }, true);
        for m in &g.members {
            match m {
                ast::GroupMember::Step(s) => self.step(wf, s),
                ast::GroupMember::Group(inner) => self.group(wf, inner),
            }
        }
    }

    fn step(&mut self, wf: &WfCx, step: &ast::Step) {
        self.occ(&step.name, Sym::Step { workflow: wf.name.clone(), name: step.name.text.clone() }, true);
        let aliases: Vec<&str> = step
            .body
            .iter()
            .filter_map(|s| match &s.kind {
                StepStmtKind::Reads { alias, .. } => Some(alias.text.as_str()),
                _ => None,
            })
            .collect();
        let scope = StepScope { wf, step: &step.name.text, aliases: &aliases };
        // `use T with { … }`: each key names a parameter of T (a quoted
        // key's span holds its quotes: not a name to rename); the values
        // are the step's expressions.
        if let (StepKind::Use(t), Some(args)) = (&step.kind, &step.use_args) {
            for f in args.as_object().unwrap_or(&[]) {
                if !f.quoted {
                    self.occ(&f.key, Sym::Param { template: t.text.clone(), name: f.key.text.clone() }, false);
                }
            }
            let cx = ExprCx::Step { workflow: wf.name.clone(), step: step.name.text.clone(), post: false };
            let steps = scope.visible();
            for e in args.exprs() {
                self.expr_in(e, &cx, Some(&steps));
            }
        }
        for stmt in &step.body {
            self.step_stmt(stmt, Some(&scope));
        }
    }

    /// The expressions of a step's (or a template's) statement.
    fn step_stmt(&mut self, stmt: &ast::StepStmt, scope: Option<&StepScope<'_>>) {
        let template = self.template.clone();
        let cx = |post: bool| match (scope, &template) {
            (Some(s), _) => ExprCx::Step { workflow: s.wf.name.clone(), step: s.step.to_string(), post },
            (None, Some(t)) => ExprCx::Template { template: t.clone() },
            (None, None) => ExprCx::Other,
        };
        // Names a step's expressions may use as steps: the workflow's, less
        // the step's `reads` aliases, which shadow them.
        let steps = scope.map(|s| s.visible());
        let steps = steps.as_ref();
        match &stmt.kind {
            StepStmtKind::Arm { condition: Some(c), .. } => self.expr_in(c, &cx(false), steps),
            StepStmtKind::When(e) => self.expr_in(e, &cx(false), steps),
            StepStmtKind::Command(t)
            | StepStmtKind::Prompt(t)
            | StepStmtKind::Message(t)
            | StepStmtKind::Channel(t)
            | StepStmtKind::Compensate(Compensate::Command(t)) => self.template_in(t, &cx(false), steps),
            StepStmtKind::Check(c) => self.template_in(&c.command, &cx(false), steps),
            StepStmtKind::Event { event_type, subject } => {
                self.template_in(event_type, &cx(false), steps);
                if let Some(s) = subject {
                    self.template_in(s, &cx(false), steps);
                }
            }
            StepStmtKind::With(v) => {
                for e in v.exprs() {
                    self.expr_in(e, &cx(false), steps);
                }
            }
            StepStmtKind::Env(env) => {
                for e in &env.entries {
                    if let EnvEntryKind::Assign { value: EnvValue::Template(t), .. } = &e.kind {
                        self.template_in(t, &cx(false), steps);
                    }
                }
            }
            StepStmtKind::Put { value, .. } => self.expr_in(value, &cx(true), steps),
            StepStmtKind::Items(e) => self.expr_in(e, &cx(true), steps),
            StepStmtKind::Spawn { inputs, .. } => {
                for e in inputs.iter().flat_map(|v| v.exprs()) {
                    self.expr_in(e, &cx(true), steps);
                }
            }
            StepStmtKind::SpawnEach { list, inputs, .. } => {
                self.expr_in(list, &cx(true), steps);
                for e in inputs.iter().flat_map(|v| v.exprs()) {
                    self.expr_in(e, &cx(true), steps);
                }
            }
            _ => {}
        }
    }

    /// The keys an env set's body defines (its assignments).
    fn set_keys(&mut self, set: &str, env: &EnvBlock) {
        for e in &env.entries {
            if let EnvEntryKind::Assign { key, .. } = &e.kind {
                self.occ(key, Sym::Key { set: set.to_string(), key: key.text.clone() }, true);
            }
        }
    }

    fn template(&mut self, t: &TemplateStr, cx: &ExprCx, wf: Option<&WfCx>) {
        let steps: Option<BTreeSet<&str>> = wf.map(|w| w.steps.iter().map(String::as_str).collect());
        self.template_in(t, cx, steps.as_ref());
    }

    fn template_in(&mut self, t: &TemplateStr, cx: &ExprCx, steps: Option<&BTreeSet<&str>>) {
        for h in t.holes() {
            self.expr_in(&h.expr, cx, steps);
        }
    }

    fn expr(&mut self, e: &Expr, cx: &ExprCx, wf: Option<&WfCx>) {
        let steps: Option<BTreeSet<&str>> = wf.map(|w| w.steps.iter().map(String::as_str).collect());
        self.expr_in(e, cx, steps.as_ref());
    }

    /// Records an expression, and the steps and inputs its paths name.
    fn expr_in(&mut self, e: &Expr, cx: &ExprCx, steps: Option<&BTreeSet<&str>>) {
        self.index.exprs.push(ExprSite { expr: e.clone(), cx: cx.clone() });
        let workflow = match cx {
            ExprCx::Step { workflow, .. } | ExprCx::WorkflowOutput { workflow } | ExprCx::Test { workflow } => workflow,
            ExprCx::Template { template } => {
                let Ok(node) = cel_check::parse_expr(e) else { return };
                for path in expr_paths(&node) {
                    if let (Some((root, _)), Some((field, fspan))) = (path.first(), path.get(1))
                        && root == "params" {
                            self.index.occs.push(Occ { span: *fspan, sym: Sym::Param { template: template.clone(), name: field.clone() }, def: false });
                        }
                }
                return;
            }
            ExprCx::Other => return,
        };
        let Ok(node) = cel_check::parse_expr(e) else { return };
        for path in expr_paths(&node) {
            let (root, span) = &path[0];
            if root == "inputs" {
                if let Some((field, fspan)) = path.get(1) {
                    self.index.occs.push(Occ { span: *fspan, sym: Sym::Input { workflow: workflow.clone(), name: field.clone() }, def: false });
                }
            } else if !BUILTIN_ROOTS.contains(&root.as_str())
                // A test's workflow may be in another file: every other root
                // of an expectation is one of its steps (or unknown, E0401).
                && (steps.is_some_and(|s| s.contains(root.as_str())) || matches!(cx, ExprCx::Test { .. }) && root != "events")
            {
                self.index.occs.push(Occ { span: *span, sym: Sym::Step { workflow: workflow.clone(), name: root.clone() }, def: false });
            }
        }
    }
}

struct StepScope<'a> {
    wf: &'a WfCx,
    step: &'a str,
    aliases: &'a [&'a str],
}

impl StepScope<'_> {
    fn visible(&self) -> BTreeSet<&str> {
        self.wf.steps.iter().map(String::as_str).filter(|s| !self.aliases.contains(s)).collect()
    }
}
