//! References: every backtick expression and template hole is checked by the
//! CEL checker against the names in scope where it is written (docs/language.md).
//!
//! This module decides scopes; `cel_check` does the rest. A step referenced
//! in an expression must be upstream of it: otherwise E0402 with a fix that
//! adds the missing `after`. `item`, `event`, `self`, `input` and `params` exist only in
//! their own places.

use std::collections::BTreeMap;

use flowc_grammar::ast::{
    self, Decl, DeclKind, Expr, PolicyStmtKind, ResourceStmtKind, Span, StepKind, StepStmtKind, StoreStmtKind,
    TemplatePart, TemplateStr, Trigger, TriggerRule, WorkflowStmtKind,
};

use super::StepCx;
use crate::cel_check::{Binding, Expect, ExprSite, Scope, check_expr};
use crate::codes::Code;
use crate::db::{Db, Project};
use crate::diagnostic::Diagnostic;
use crate::graph::{WorkflowGraph, workflow_graph};
use crate::model::{ItemIndex, OtherDef, StepDef, StepSig, WorkflowDef, item_index, step_value_ty};
use crate::pending::{Anchor, Loc, Pending};
use crate::types::{FieldTy, ObjectTy, Ty};


/// The type of the `inputs` object of a workflow (memoised: every step's
/// scope holds it).
#[salsa::tracked(returns(clone))]
pub(crate) fn inputs_ty<'db>(db: &'db dyn Db, wf: WorkflowDef<'db>) -> Ty {
    let fields = wf.header(db).iter().filter_map(|(_, s)| match &s.kind {
        WorkflowStmtKind::Input(i) => Some((i.name.text.clone(), FieldTy::required(Ty::from_type_expr(&i.ty)))),
        _ => None,
    });
    Ty::object(ObjectTy::closed(fields))
}

fn run_ty() -> Ty {
    Ty::object(ObjectTy::closed(run_fields()))
}

fn run_fields() -> Vec<(String, FieldTy)> {
    vec![
        ("id".to_string(), FieldTy::required(Ty::String)),
        ("workflow".to_string(), FieldTy::required(Ty::String)),
        ("version".to_string(), FieldTy::required(Ty::Int)),
        ("started_at".to_string(), FieldTy::required(Ty::Timestamp)),
        ("cost_usd".to_string(), FieldTy::required(Ty::Double)),
        ("depth".to_string(), FieldTy::required(Ty::Int)),
    ]
}

/// The fields of `run` that only a step of the `finally { … }` block sees:
/// how the rest of the run ended (docs/language.md, "Exit handlers").
pub(crate) const FINALLY_RUN_FIELDS: [&str; 3] = ["status", "error", "failures"];

/// `run` in a step of the `finally { … }` block: `run` plus how the rest of
/// the run ended.
fn finally_run_ty() -> Ty {
    let failure = Ty::object(ObjectTy::closed([
        ("name".to_string(), FieldTy::required(Ty::String)),
        ("status".to_string(), FieldTy::required(Ty::String)),
        ("error".to_string(), FieldTy::required(Ty::String)),
    ]));
    let mut fields = run_fields();
    fields.push(("status".to_string(), FieldTy::required(Ty::String)));
    fields.push(("error".to_string(), FieldTy::required(Ty::String)));
    fields.push(("failures".to_string(), FieldTy::required(Ty::list(failure))));
    Ty::object(ObjectTy::closed(fields))
}

/// E0413: `run.status`, `run.error` and `run.failures` read where the run
/// has not ended yet. The checker sees a closed `run` without them (E0403);
/// this says why, and where they are known.
fn finally_fields_outside(out: &mut [Pending<'_>]) {
    for p in out {
        let field = FINALLY_RUN_FIELDS.iter().find(|f| p.message.starts_with(&format!("no field `{f}` on")));
        if p.code == Code::NoSuchField && p.label.as_deref() == Some("not a field of `run`") && let Some(f) = field {
            p.code = Code::RunEndOutsideFinally;
            p.message = format!("`run.{f}` is only known in a step of the `finally` block: the run has not ended here");
            p.help = Some("read how the run ended in its exit handler, `finally { step … }`, whose steps run once every other step has ended".to_string());
        }
    }
}

/// A CloudEvent as expressions see it.
fn event_ty() -> Ty {
    Ty::object(ObjectTy::closed([
        ("id".to_string(), FieldTy::required(Ty::String)),
        ("type".to_string(), FieldTy::required(Ty::String)),
        ("subject".to_string(), FieldTy::required(Ty::String)),
        ("source".to_string(), FieldTy::required(Ty::String)),
        ("time".to_string(), FieldTy::required(Ty::Timestamp)),
        ("data".to_string(), FieldTy::required(Ty::Dyn)),
    ]))
}

fn out_of_context(name: &str) -> Option<Binding> {
    let (code, message, help) = match name {
        "item" | "items" => (
            Code::ItemOutOfContext,
            format!("`{name}` is only available where there is an item list"),
            "`item` exists in a `for each item` step and in a `then spawn each` mapping; `items` once an upstream step sets `items` or a `select` ran".to_string(),
        ),
        "event" => (
            Code::EventOutOfContext,
            "`event` is only available in the `where` filter of an `on event` trigger".to_string(),
            "a `wait` step's event is its output: read it as `STEP.output` in a step after it; a triggered run gets the event's `data` fields as its inputs".to_string(),
        ),
        "self" => (
            Code::SelfOutOfContext,
            "`self` is only available in a resource's `rule`".to_string(),
            "in a rule, `self` is the instance being checked".to_string(),
        ),
        "input" => (
            Code::InputOutOfContext,
            "`input` is only available in a policy's rules".to_string(),
            "a workflow's inputs are `inputs` (plural); a policy's `input` is the `with` data of the check step".to_string(),
        ),
        "params" => (
            Code::UnknownName,
            "`params` is only available in the lines of a template that declares parameters".to_string(),
            "declare them as `template NAME(PARAM: TYPE) { … }` and read `params.PARAM` in its lines; a step passes them with `use NAME with { PARAM: … }`".to_string(),
        ),
        "output" => (
            Code::UnknownName,
            "`output` is the step's own output, available only after it ran: in `then put`, `then spawn` and `items`".to_string(),
            "to read another step's output, write `STEP.output`".to_string(),
        ),
        _ => return None,
    };
    Some(Binding::OutOfContext { name: name.to_string(), code, message, help })
}

/// The scope of an expression inside a step.
struct StepScope<'a> {
    graph: &'a WorkflowGraph,
    sigs: &'a [std::sync::Arc<StepSig>],
    /// Index of the step the expression is in.
    this: usize,
    inputs: Ty,
    /// The step's own output, in post-actions.
    output: Option<Ty>,
    item: Option<Ty>,
    items: bool,
    reads: BTreeMap<String, Ty>,
    /// In the lines a step takes from a template with parameters: the type
    /// of `params` (closed: a parameter the template does not declare is
    /// E0407). `None`: `params` is not bound here.
    params: Option<Ty>,
    /// How to add a missing `after` (relative to the step's anchor): a title
    /// per step and the edit.
    add_after: &'a dyn Fn(&str) -> (String, Option<crate::diagnostic::Fix>),
    /// The workflow's groups: a member of a `for each item` group is seen
    /// only inside its group (E0309).
    groups: &'a [crate::model::GroupSig],
}

impl Scope for StepScope<'_> {
    fn lookup(&self, name: &str) -> Option<Binding> {
        match name {
            "inputs" => return Some(Binding::Value(self.inputs.clone())),
            "run" if self.graph.in_finally(self.this) => return Some(Binding::Value(finally_run_ty())),
            "run" => return Some(Binding::Value(run_ty())),
            "env" => return Some(Binding::Value(Ty::map(Ty::String, Ty::String))),
            "output" if self.output.is_some() => return self.output.clone().map(Binding::Value),
            "item" if self.item.is_some() => return self.item.clone().map(Binding::Value),
            "items" if self.items => return Some(Binding::Value(Ty::list(self.item.clone().unwrap_or(Ty::Dyn)))),
            "params" if self.params.is_some() => return self.params.clone().map(Binding::Value),
            _ => {}
        }
        if let Some(t) = self.reads.get(name) {
            return Some(Binding::Value(t.clone()));
        }
        if let Some(i) = self.graph.step_index(name) {
            let job = |s: usize| self.graph.job_of(&self.sigs[s].groups).and_then(|g| self.groups.get(g)).map(|g| g.name.text.as_str());
            if let Some(group) = job(i)
                && job(self.this) != Some(group) {
                    return Some(Binding::OutOfContext {
                        name: name.to_string(),
                        code: Code::JobMemberOutside,
                        message: format!("`{name}` runs once per item of group `{group}`: outside the group there is no one `{name}` to read"),
                        help: format!("run after the group (`after {group}`) and read `{group}.output`, one object per item with each member's output (`{group}.output[0].{name}`)"),
                    });
                }
            // The exit handler runs once every other step has ended.
            let ended = self.graph.in_finally(self.this) && !self.graph.in_finally(i);
            if i != self.this && (ended || self.graph.upstream.is_empty() || self.graph.is_upstream(self.this, i)) {
                return Some(Binding::Value(self.graph.value_tys.get(i).cloned().unwrap_or_else(|| step_value_ty(&self.sigs[i]))));
            }
            let (help, fix) = (self.add_after)(name);
            let help = if i == self.this {
                format!("a step cannot read its own results before it runs; after it runs, its post-actions read `output`. {help}")
            } else {
                help
            };
            return Some(Binding::NotUpstream { step: name.to_string(), help, fix: if i == self.this { None } else { fix } });
        }
        // A `for each item` group is read as one value: the list of its
        // items' results, each an object of the members' outputs.
        if let Some(gi) = self.graph.group_index(name).filter(|gi| self.groups.get(*gi).is_some_and(|g| g.for_each.is_some())) {
            let members = &self.graph.job_members[gi];
            if !members.is_empty() && members.iter().all(|m| *m != self.this && (self.graph.upstream.is_empty() || self.graph.is_upstream(self.this, *m))) {
                let fields: Vec<(&str, Ty)> =
                    members.iter().map(|m| (self.sigs[*m].name.text.as_str(), self.sigs[*m].output.clone().unwrap_or(Ty::Dyn))).collect();
                let result = Ty::record(fields);
                return Some(Binding::Value(Ty::record([("output", Ty::list(result)), ("status", Ty::String)])));
            }
        }
        out_of_context(name)
    }

    fn output_may_be_empty(&self, name: &str) -> Option<String> {
        if self.reads.contains_key(name) {
            return None;
        }
        let i = self.graph.step_index(name)?;
        if self.graph.in_finally(self.this) && !self.graph.in_finally(i) {
            let reader = &self.sigs[self.this].name.text;
            return Some(format!(
                "`{reader}` is in the exit handler, which runs however the run ended, so `{name}` may have failed or not run: a step that did not complete has no output"
            ));
        }
        if i == self.this || !self.graph.is_upstream(self.this, i) || self.graph.output_certain(self.this, i) != Some(false) {
            return None;
        }
        let reader = &self.sigs[self.this].name.text;
        let own = self.sigs[self.this].deps.as_deref();
        let rule = own.map(crate::graph::analysed_rule);
        if let Some(d) = own.filter(|d| !d.condition.is_empty()) {
            if requires_success(&d.condition, name) {
                // `after a, failed(b)` starts only once `a` completed.
                return None;
            }
            return Some(format!(
                "`{reader}` runs by the outcome condition `{}`, which may start it after `{name}` failed or was skipped, or before it ends: a step that did not complete has no output",
                d.condition_text()
            ));
        }
        if self.graph.runs_on_failure_of(self.this, i) {
            let rule = rule.map_or("all_failed", TriggerRule::keyword);
            return Some(format!(
                "`{reader}` runs when something it waits for failed (its `{rule}`), so `{name}` may have failed or not run: a step that did not complete has no output"
            ));
        }
        if self.graph.runs_after_failure_of(self.this, i) {
            return Some(format!(
                "`{reader}` runs after a step that runs on a failure (`one_failed` or `all_failed`), so `{name}` may have failed or not run: a step that did not complete has no output"
            ));
        }
        let how = match rule {
            Some(TriggerRule::AllDone) => "its `all_done` starts it whatever its dependencies ended as",
            Some(TriggerRule::OneSuccess) => "its `one_success` starts it on the first dependency that succeeds",
            Some(TriggerRule::OneDone) => "its `one_done` starts it on the first dependency that succeeds or fails",
            Some(TriggerRule::AllSkipped) => "its `all_skipped` starts it only when its dependencies were skipped",
            Some(TriggerRule::NoneFailed) => "its `none_failed` starts it after skipped dependencies too",
            Some(TriggerRule::NoneFailedMinOneSuccess) => "its `none_failed_min_one_success` starts it after skipped dependencies too",
            Some(TriggerRule::NoneSkipped) => "its `none_skipped` starts it after failed dependencies too",
            Some(TriggerRule::Always) => "its `always` starts it at once, without waiting for its dependencies",
            _ => "something it waits for can go on without it (a trigger rule other than all_success, or a group that completes with members skipped)",
        };
        Some(if self.graph.may_not_complete(i) {
            format!("`{name}` may end without completing ({}), and `{reader}` can still start: {how}", why_not_complete(self.graph, i))
        } else {
            format!("`{reader}` can start while `{name}` is still running: {how}")
        })
    }

    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = vec!["inputs".into(), "run".into(), "env".into()];
        if self.output.is_some() {
            names.push("output".into());
        }
        if self.item.is_some() {
            names.push("item".into());
        }
        if self.items {
            names.push("items".into());
        }
        if self.params.is_some() {
            names.push("params".into());
        }
        names.extend(self.reads.keys().cloned());
        if let Some(up) = self.graph.upstream.get(self.this) {
            names.extend(up.ones().filter(|i| *i != self.this).map(|i| self.graph.nodes[i].name.clone()));
        }
        if self.graph.in_finally(self.this) {
            names.extend((0..self.graph.steps).filter(|i| !self.graph.in_finally(*i)).map(|i| self.graph.nodes[i].name.clone()));
        }
        // Groups `for each item` wholly upstream are read as one name
        // (`build.output`).
        names.extend(
            self.groups
                .iter()
                .filter(|g| g.for_each.is_some() && matches!(self.lookup(&g.name.text), Some(Binding::Value(_))))
                .map(|g| g.name.text.clone()),
        );
        names
    }
}

/// A scope from a fixed map, plus the out-of-context explanations.
pub(super) struct FixedScope(pub(super) BTreeMap<String, Ty>);

impl Scope for FixedScope {
    fn lookup(&self, name: &str) -> Option<Binding> {
        self.0.get(name).cloned().map(Binding::Value).or_else(|| out_of_context(name))
    }
    fn names(&self) -> Vec<String> {
        self.0.keys().cloned().collect()
    }
}

/// The scope of a workflow's `output` expressions: every step, read when
/// the run completes.
struct OutputScope<'a> {
    names: FixedScope,
    graph: &'a WorkflowGraph,
}

impl Scope for OutputScope<'_> {
    fn lookup(&self, name: &str) -> Option<Binding> {
        self.names.lookup(name)
    }
    fn names(&self) -> Vec<String> {
        self.names.names()
    }
    fn output_may_be_empty(&self, name: &str) -> Option<String> {
        let i = self.graph.step_index(name)?;
        if !self.graph.may_not_complete(i) {
            return None;
        }
        Some(format!("the run can complete without `{name}` completing ({})", why_not_complete(self.graph, i)))
    }
}

/// Why step `i` may end without completing, in a few words.
fn why_not_complete(graph: &WorkflowGraph, i: usize) -> &'static str {
    match graph.sigs[i].ends_early {
        Some(crate::model::EndsEarly::When) => "its `when` can skip it",
        Some(crate::model::EndsEarly::Continue) => "`on_failure continue` lets the run go on when it fails",
        Some(crate::model::EndsEarly::SkipOnExit) => "its `skip_on_exit` can skip it",
        None if graph.arm_targets(i) => "a branch may pick another arm",
        None => match graph.sigs[i].deps.as_ref().map(|d| if d.condition.is_empty() { Some(d.rule) } else { None }) {
            Some(None) => "its outcome condition skips it when it is false",
            Some(Some(TriggerRule::AllFailed)) => "its `all_failed` skips it unless everything it waits for failed",
            Some(Some(TriggerRule::OneFailed)) => "its `one_failed` skips it unless something it waits for failed",
            Some(Some(TriggerRule::AllSkipped)) => "its `all_skipped` skips it unless everything it waits for was skipped",
            _ => "a step or group it waits for may end early, and it is skipped then",
        },
    }
}

/// Turns the checker's diagnostics (spans relative to the anchor) into pending ones.
fn pend<'db>(anchor: Anchor<'db>, d: Diagnostic) -> Pending<'db> {
    let mut p = Pending::new(d.code, Loc::new(anchor, d.span), d.message);
    p.label = d.label;
    p.help = d.help;
    for r in d.related {
        p = p.related(Loc::new(anchor, r.span), r.message);
    }
    for f in d.fixes {
        let edits = f.edits.into_iter().map(|e| (Loc::new(anchor, e.span), e.new_text)).collect();
        p = p.fix(f.title, edits);
    }
    p
}

fn check_template<'db>(t: &TemplateStr, scope: &dyn Scope, anchor: Anchor<'db>, out: &mut Vec<Pending<'db>>) {
    for part in &t.parts {
        if let TemplatePart::Hole(h) = part {
            let checked = check_expr("", &h.expr, ExprSite::Hole { short: h.short }, Expect::Any, scope);
            empty_output_reads(&checked, scope, anchor, out);
            let from = out.len();
            out.extend(checked.diagnostics.into_iter().map(|d| pend(anchor, d)));
            finally_fields_outside(&mut out[from..]);
        }
    }
}

pub(super) fn check_one<'db>(e: &Expr, expect: Expect, scope: &dyn Scope, anchor: Anchor<'db>, out: &mut Vec<Pending<'db>>) -> Ty {
    let checked = check_expr("", e, ExprSite::Backtick, expect, scope);
    empty_output_reads(&checked, scope, anchor, out);
    let from = out.len();
    out.extend(checked.diagnostics.into_iter().map(|d| pend(anchor, d)));
    finally_fields_outside(&mut out[from..]);
    checked.ty
}

/// Whether an outcome condition (its comma-separated terms, all of which
/// must hold) holds only when `name` succeeded: a bare `name` or
/// `succeeded(name)` among its terms, or among the terms of an `&&` that is
/// one. Under `||` a term is one way among others, so it proves nothing.
fn requires_success(terms: &[flowc_grammar::ast::Cond], name: &str) -> bool {
    use flowc_grammar::ast::{Cond, Outcome};
    terms.iter().any(|t| match t {
        Cond::Outcome { outcome: Outcome::Succeeded, name: n, .. } => n.text == name,
        Cond::And(inner, _) => requires_success(inner, name),
        _ => false,
    })
}

/// W0107: an expression reads a field or an element of `STEP.output`
/// where the step may not have completed, without testing first
/// (`has(STEP.output.field)`, `STEP.status`, or an optional select
/// `STEP.output.?field`). Such a step's output is empty (docs/language.md,
/// "A step that did not complete"), so the read fails the run. Reading the
/// whole `STEP.output` never fails (it is the empty value), so it is not
/// warned about. One warning per step and expression, at its first read.
fn empty_output_reads<'db>(checked: &crate::cel_check::Checked, scope: &dyn Scope, anchor: Anchor<'db>, out: &mut Vec<Pending<'db>>) {
    let Some(ast) = &checked.ast else { return };
    if checked.has_errors() || !checked.roots.iter().any(|r| r.path.first().is_some_and(|f| f == "output")) {
        return;
    }
    let mut reads = OutputReads::default();
    reads.walk(ast, &mut Vec::new());
    let mut warned = std::collections::BTreeSet::new();
    for (step, span) in reads.reads {
        if reads.tested.contains(&step) || warned.contains(&step) {
            continue;
        }
        let Some(why) = scope.output_may_be_empty(&step) else { continue };
        warned.insert(step.clone());
        out.push(
            Pending::new(Code::OutputMayBeEmpty, Loc::new(anchor, span), format!("`{step}.output` may be empty here: {why}"))
                .label("may be empty")
                .help(format!(
                    "test it first: `has({step}.output.FIELD) ? {step}.output.FIELD : …`, or `{step}.status == 'completed' ? … : …`; \
                     a step that did not complete has an empty output (`{{}}`; `[]` for a for-each step or a list, null for a scalar)"
                )),
        );
    }
}

/// What an expression does with step outputs: where it reads `STEP.output`,
/// and which steps it tests first.
#[derive(Default)]
struct OutputReads {
    reads: Vec<(String, Span)>,
    tested: std::collections::BTreeSet<String>,
}

impl OutputReads {
    fn walk(&mut self, node: &crate::cel_check::Node, bound: &mut Vec<String>) {
        use crate::cel_check::syntax::NodeKind as K;
        let free = |name: &str, bound: &[String]| !bound.iter().any(|b| b == name);
        match &node.kind {
            K::Select { operand, field, .. } => {
                if let K::Ident(root) = &operand.kind
                    && free(root, bound) {
                        if field == "status" {
                            self.tested.insert(root.clone());
                        }
                        return;
                    }
                match output_of(operand).filter(|r| free(r, bound)) {
                    Some(root) => self.reads.push((root.to_string(), node.span)),
                    None => self.walk(operand, bound),
                }
            }
            // `has(S.output.f…)`, and optional selects under `S.output`, test for the field.
            K::Has { operand, .. } | K::OptSelect { operand, .. } | K::OptIndex { operand, .. } => {
                if let Some(root) = output_root(operand).filter(|r| free(r, bound)) {
                    self.tested.insert(root.to_string());
                }
                if let K::OptIndex { index, .. } = &node.kind {
                    self.walk(index, bound);
                }
                if !matches!(node.kind, K::Has { .. }) {
                    self.walk(operand, bound);
                }
            }
            K::Macro { target, var, args, .. } => {
                self.walk(target, bound);
                bound.push(var.clone());
                for a in args {
                    self.walk(a, bound);
                }
                bound.pop();
            }
            K::Index { operand, index } => {
                match output_of(operand).filter(|r| free(r, bound)) {
                    Some(root) => self.reads.push((root.to_string(), node.span)),
                    None => self.walk(operand, bound),
                }
                self.walk(index, bound);
            }
            K::OptionalEntry(inner) => self.walk(inner, bound),
            K::Unary { operand, .. } => self.walk(operand, bound),
            K::Binary { lhs, rhs, .. } => {
                self.walk(lhs, bound);
                self.walk(rhs, bound);
            }
            K::Ternary { cond, then, otherwise } => {
                self.walk(cond, bound);
                self.walk(then, bound);
                self.walk(otherwise, bound);
            }
            K::Call { target, args, .. } => {
                if let Some(t) = target {
                    self.walk(t, bound);
                }
                for a in args {
                    self.walk(a, bound);
                }
            }
            K::List(items) => {
                for i in items {
                    self.walk(i, bound);
                }
            }
            K::Map(entries) => {
                for (k, v) in entries {
                    self.walk(k, bound);
                    self.walk(v, bound);
                }
            }
            K::Literal(_) | K::Ident(_) | K::Message { .. } => {}
        }
    }
}

/// `S` when `node` is `S.output`.
fn output_of(node: &crate::cel_check::Node) -> Option<&str> {
    use crate::cel_check::syntax::NodeKind as K;
    match &node.kind {
        K::Select { operand, field, .. } if field == "output" => match &operand.kind {
            K::Ident(root) => Some(root),
            _ => None,
        },
        _ => None,
    }
}

/// `S` when `node` is `S.output` or a field, index or optional path below it.
fn output_root(node: &crate::cel_check::Node) -> Option<&str> {
    use crate::cel_check::syntax::NodeKind as K;
    match &node.kind {
        K::Select { operand, field, .. } => match &operand.kind {
            K::Ident(root) if field == "output" => Some(root),
            _ => output_root(operand),
        },
        K::Index { operand, .. } | K::OptSelect { operand, .. } | K::OptIndex { operand, .. } => output_root(operand),
        _ => None,
    }
}

fn check_value<'db>(v: &ast::Value, scope: &dyn Scope, anchor: Anchor<'db>, out: &mut Vec<Pending<'db>>) {
    for e in v.exprs() {
        check_one(e, Expect::Any, scope, anchor, out);
    }
}

/// The store value a `reads` alias holds: typed by the store's schema.
pub(super) fn store_ty(db: &dyn Db, index: &ItemIndex<'_>, store: &str) -> Ty {
    let Some(def) = index.other(DeclKind::Store, store) else { return Ty::Dyn };
    let Decl::Store(s) = &**def.ast(db) else { return Ty::Dyn };
    s.body
        .iter()
        .find_map(|st| match &st.kind {
            StoreStmtKind::Schema(v) => super::schemas::to_json(v).ok().map(|j| Ty::from_json_schema(&j)),
            _ => None,
        })
        .unwrap_or(Ty::Dyn)
}

/// The element type of the list an `items` expression on an upstream step
/// produces, when it is the step's declared output or a field path of it.
fn item_ty_from(sig: &StepSig) -> Ty {
    let (Some(out), Some(path)) = (&sig.output, &sig.items_path) else { return Ty::Dyn };
    let mut ty = out.clone();
    for field in path.split('.').filter(|s| !s.is_empty()) {
        ty = match &ty {
            Ty::Object(o) => match o.fields.get(field) {
                Some(f) => f.ty.clone(),
                None => return Ty::Dyn,
            },
            _ => return Ty::Dyn,
        };
    }
    ty.iter_elem().unwrap_or(Ty::Dyn)
}

/// The type of an item of a step's own `for each item in …` list: the
/// join of the items' literal types (`dyn` when the list is malformed).
fn own_items_ty(step: &ast::Step) -> Option<Ty> {
    let source = step.for_each_in.as_ref()?;
    let items = crate::matrix::expand(source).unwrap_or_default();
    Some(Ty::from_json_value(&serde_json::Value::Array(items)).iter_elem().unwrap_or(Ty::Dyn))
}

/// The type of `item` in a member of a `for each item` group: the join of
/// the group's literal items, or the run's item list where the group runs.
/// `None` outside such a group.
fn job_item_ty(graph: &WorkflowGraph, groups: &[crate::model::GroupSig], this: usize) -> Option<Ty> {
    let g = groups.get(graph.job_of(&graph.sigs[this].groups)?)?;
    Some(match g.for_each_in.as_ref() {
        Some(source) => {
            let items = crate::matrix::expand(source).unwrap_or_default();
            Ty::from_json_value(&serde_json::Value::Array(items)).iter_elem().unwrap_or(Ty::Dyn)
        }
        None => item_list(graph, this).1.unwrap_or(Ty::Dyn),
    })
}

/// Whether an upstream step sets the run's item list, and the type of an item.
fn item_list(graph: &WorkflowGraph, this: usize) -> (bool, Option<Ty>) {
    // The item list: set by an upstream step's `items`, or by an upstream select.
    let mut items = false;
    let mut item = None;
    if let Some(up) = graph.upstream.get(this) {
        // Each upstream range, looked up in the sorted item sources: never a
        // walk over every upstream step, for every step.
        let sources = &graph.item_sources;
        let mut last = None;
        for range in up.ranges() {
            let from = sources.partition_point(|i| *i < range.start);
            let to = sources.partition_point(|i| *i < range.end);
            items |= from < to;
            last = sources[from..to].iter().rev().find(|i| graph.sigs[**i].has_items).copied().or(last);
        }
        // The last upstream step with `items` sets the item type (from its
        // signature: reading its tree would re-check every step after it
        // whenever its body changes).
        if let Some(i) = last {
            item = Some(item_ty_from(&graph.sigs[i]));
        }
    }
    (items, item)
}

/// The `reads STORE.KEY as ALIAS` aliases of a step, typed by the store's schema.
fn read_aliases(db: &dyn Db, index: &ItemIndex<'_>, step: &ast::Step) -> BTreeMap<String, Ty> {
    step.body
        .iter()
        .filter_map(|s| match &s.kind {
            StepStmtKind::Reads { key, alias } => Some((alias.text.clone(), store_ty(db, index, &key.store.text))),
            _ => None,
        })
        .collect()
}

/// The names an expression in a step may use, with their types, as the
/// checker sees them: for editors (completion, hover). `post` selects the
/// step's post-actions (`then put`, `then spawn`, `items`), where `output`
/// is the step's own output. Steps that are not upstream are left out.
pub fn step_expression_scope<'db>(db: &'db dyn Db, project: Project, wf: WorkflowDef<'db>, step: StepDef<'db>, post: bool) -> Vec<(String, Ty)> {
    let graph = workflow_graph(db, wf);
    let ast = step.ast(db);
    let Some(this) = graph.step_index(&ast.name.text) else { return Vec::new() };
    let index = item_index(db, project);
    let groups = wf.groups(db);
    let job = job_item_ty(graph, groups, this);
    let (items, item) = item_list(graph, this);
    let item = own_items_ty(ast).or(job.clone()).or(item);
    let no_fix = |_: &str| (String::new(), None);
    let own_output = graph.sigs[this].output.clone().unwrap_or(Ty::Dyn);
    let scope = StepScope {
        graph,
        sigs: &graph.sigs,
        this,
        inputs: inputs_ty(db, wf),
        output: post.then_some(own_output),
        item: if ast.for_each.is_some() || job.is_some() { Some(item.unwrap_or(Ty::Dyn)) } else { None },
        // An item's job does not see the run's item list.
        items: items && job.is_none(),
        reads: read_aliases(db, index, ast),
        params: None,
        add_after: &no_fix,
        groups,
    };
    scope
        .names()
        .into_iter()
        .filter_map(|name| match scope.lookup(&name) {
            Some(Binding::Value(ty)) => Some((name, ty)),
            _ => None,
        })
        .collect()
}

/// The names a template's lines may use as the editor knows them: `params`,
/// typed by the template's parameters (the rest depends on each using step).
pub fn template_expression_scope(db: &dyn Db, project: Project, template: &str) -> Vec<(String, Ty)> {
    let index = item_index(db, project);
    let Some(def) = index.other(DeclKind::Template, template) else { return Vec::new() };
    match &**def.ast(db) {
        Decl::Template(tpl) if !tpl.params.is_empty() => vec![("params".to_string(), params_ty(tpl))],
        _ => Vec::new(),
    }
}

/// The names a workflow's `output` expressions may use: inputs, the run
/// and every step.
pub fn workflow_output_scope<'db>(db: &'db dyn Db, wf: WorkflowDef<'db>) -> Vec<(String, Ty)> {
    let mut names = vec![("inputs".to_string(), inputs_ty(db, wf)), ("run".to_string(), run_ty())];
    names.extend(wf.steps(db).iter().map(|s| (s.name(db).clone(), step_value_ty(crate::model::step_sig(db, *s)))));
    names
}

pub(super) fn step_references<'db>(cx: &StepCx<'db>, step: &ast::Step, out: &mut Vec<Pending<'db>>) {
    let db = cx.db;
    let graph = workflow_graph(db, cx.wf);
    let Some(this) = graph.step_index(&step.name.text) else { return };
    let sigs = &graph.sigs;
    let index = item_index(db, cx.project);
    let anchor = Anchor::Step(cx.wf, cx.step);

    let groups = cx.wf.groups(db);
    let job = job_item_ty(graph, groups, this);
    let (items, item) = item_list(graph, this);
    let item = own_items_ty(step).or(job.clone()).or(item);
    if step.for_each.is_some() && step.for_each_in.is_none() && !items && job.is_none() {
        out.push(
            Pending::new(Code::ItemOutOfContext, cx.at(step.for_each.unwrap_or(step.name.span)), format!(
                "step `{}` runs for each item, but no step before it sets the item list",
                step.name.text
            ))
            .label("no items to run for")
            .help("add `items `expr`` to an upstream step (its output as a list), or run this step after a `select`"),
        );
    }
    let reads = read_aliases(db, index, step);
    let add_after = |name: &str| add_after_fix(step, name);
    let base = StepScope {
        graph,
        sigs,
        this,
        inputs: inputs_ty(db, cx.wf),
        output: None,
        item: if step.for_each.is_some() || job.is_some() { Some(item.clone().unwrap_or(Ty::Dyn)) } else { None },
        // An item's job does not see the run's item list.
        items: items && job.is_none(),
        reads,
        params: None,
        add_after: &add_after,
        groups,
    };
    let own_output = sigs[this].output.clone().unwrap_or(Ty::Dyn);
    body_references(&step.body, &base, &own_output, anchor, out);
    // A template's lines are checked where they are used, in the step's
    // scope, with `params` typed by the template's parameters.
    if let StepKind::Use(t) = &step.kind
        && let Some(def) = index.other(DeclKind::Template, &t.text)
            && let Decl::Template(tpl) = &**def.ast(db) {
                template_args(tpl, step, &base, anchor, out);
                let own: Vec<&str> = step.body.iter().map(|s| s.kind.keyword()).collect();
                let inherited: Vec<ast::StepStmt> = tpl.body.iter().filter(|s| !own.contains(&s.kind.keyword())).cloned().collect();
                let params = (!tpl.params.is_empty()).then(|| params_ty(tpl));
                let scope = StepScope { params, ..clone_scope(&base) };
                body_references(&inherited, &scope, &own_output, Anchor::Decl(def), out);
            }
}

/// The type of `params` in a template's lines: one field per parameter.
pub(crate) fn params_ty(tpl: &ast::Template) -> Ty {
    Ty::object(ObjectTy::closed(tpl.params.iter().map(|p| (p.name.text.clone(), FieldTy::required(Ty::from_type_expr(&p.ty))))))
}

/// The backtick arguments of `use TEMPLATE with { … }`: checked in the
/// using step's scope (without `params`), and their type against the
/// parameter's (E0408). Literal arguments are checked by `names`.
fn template_args<'db>(tpl: &ast::Template, step: &ast::Step, base: &StepScope<'_>, anchor: Anchor<'db>, out: &mut Vec<Pending<'db>>) {
    let Some(fields) = step.use_args.as_ref().and_then(ast::Value::as_object) else { return };
    for f in fields {
        let ast::ValueKind::Expr(e) = &f.value.kind else {
            check_value(&f.value, base, anchor, out);
            continue;
        };
        let from = out.len();
        let ty = check_one(e, Expect::Any, base, anchor, out);
        let Some(param) = tpl.params.iter().find(|p| p.name.text == f.key.text) else { continue };
        let want = Ty::from_type_expr(&param.ty);
        let numeric = want == Ty::Double && ty.is_numeric();
        if out.len() == from && !numeric && !ty.compatible(&want) {
            out.push(
                Pending::new(Code::TypeMismatch, Loc::new(anchor, e.span), format!("the argument `{}` is {}, but the parameter is {}", f.key.text, ty.brief(), want.brief()))
                    .label("wrong type")
                    .help(format!("pass {} for `{}`, or convert the value in the expression", want.brief(), f.key.text)),
            );
        }
    }
}

fn body_references<'db>(body: &[ast::StepStmt], base: &StepScope<'_>, own_output: &Ty, anchor: Anchor<'db>, out: &mut Vec<Pending<'db>>) {
    for stmt in body {
        match &stmt.kind {
            StepStmtKind::When(e) if base.item.is_some() && base.sigs[base.this].for_each => {
                // A `for each item` step's `when` decides the whole step,
                // before any instance exists: `item` is not bound there.
                let whole = StepScope { item: None, ..clone_scope(base) };
                let from = out.len();
                check_one(e, Expect::Bool, &whole, anchor, out);
                for p in &mut out[from..] {
                    if p.code == Code::ItemOutOfContext && p.message.starts_with("`item`") {
                        p.message = "`item` is not bound in the `when` of a `for each item` step: the condition decides the whole step, before any item runs".into();
                        p.help = Some("to run only some items, filter the list where it is set, e.g. items `output.filter(x, x % 2 == 0)`, or test the item inside the command".into());
                    }
                }
            }
            StepStmtKind::When(e) => {
                check_one(e, Expect::Bool, base, anchor, out);
            }
            StepStmtKind::Arm { condition: Some(e), .. } => {
                check_one(e, Expect::Bool, base, anchor, out);
            }
            StepStmtKind::Command(t)
            | StepStmtKind::Prompt(t)
            | StepStmtKind::Message(t)
            | StepStmtKind::Channel(t)
            | StepStmtKind::Compensate(ast::Compensate::Command(t)) => check_template(t, base, anchor, out),
            StepStmtKind::Check(c) => check_template(&c.command, base, anchor, out),
            StepStmtKind::Event { event_type, subject } => {
                check_template(event_type, base, anchor, out);
                if let Some(s) = subject {
                    check_template(s, base, anchor, out);
                }
            }
            StepStmtKind::With(v) => check_value(v, base, anchor, out),
            StepStmtKind::TimerFor(ast::TimerArg::Expr(e)) => timer_value(e, true, base, anchor, out),
            StepStmtKind::TimerUntil(ast::TimerArg::Expr(e)) => timer_value(e, false, base, anchor, out),
            StepStmtKind::Env(env) => {
                for e in &env.entries {
                    if let ast::EnvEntryKind::Assign { value: ast::EnvValue::Template(t), .. } = &e.kind {
                        check_template(t, base, anchor, out);
                    }
                }
            }
            StepStmtKind::Put { value, .. } | StepStmtKind::Items(value) => {
                let post = StepScope { output: Some(own_output.clone()), ..clone_scope(base) };
                check_one(value, Expect::Any, &post, anchor, out);
            }
            StepStmtKind::Spawn { inputs: Some(v), .. } => {
                let post = StepScope { output: Some(own_output.clone()), ..clone_scope(base) };
                check_value(v, &post, anchor, out);
            }
            StepStmtKind::SpawnEach { list, inputs, .. } => {
                let post = StepScope { output: Some(own_output.clone()), ..clone_scope(base) };
                let list_ty = check_one(list, Expect::Any, &post, anchor, out);
                if let Some(v) = inputs {
                    let mapping = StepScope { item: Some(list_ty.iter_elem().unwrap_or(Ty::Dyn)), ..post };
                    check_value(v, &mapping, anchor, out);
                }
            }
            _ => {}
        }
    }
}

/// A timer's ``for `EXPR` `` is a duration or a number of seconds; its
/// ``until `EXPR` `` a timestamp or its RFC 3339 text (E0412).
fn timer_value<'db>(e: &ast::Expr, is_for: bool, base: &StepScope<'_>, anchor: Anchor<'db>, out: &mut Vec<Pending<'db>>) {
    let from = out.len();
    let ty = check_one(e, Expect::Any, base, anchor, out);
    if out.len() > from || ty == Ty::Dyn {
        return;
    }
    let fits = if is_for { matches!(ty, Ty::Duration | Ty::Int | Ty::Uint | Ty::Double) } else { matches!(ty, Ty::Timestamp | Ty::String) };
    if fits {
        return;
    }
    let (word, want, help) = if is_for {
        (
            "for",
            "a duration or a number of seconds",
            match ty {
                Ty::String => "convert the text: `duration(…)` reads `\"90s\"` or `\"1h30m\"`",
                Ty::Timestamp => "a time belongs in `until`; or subtract: `t - run.started_at` is a duration",
                _ => "write a duration (`duration('10m')`, `b - a` of two timestamps) or seconds (`inputs.delay_s`)",
            },
        )
    } else {
        (
            "until",
            "a timestamp or its RFC 3339 text",
            match ty {
                Ty::Duration | Ty::Int | Ty::Uint | Ty::Double => "a wait from the start belongs in `for`; or add it to a time: `run.started_at + duration('1h')`",
                _ => "write a timestamp (`timestamp(inputs.at)`, `run.started_at + duration('1h')`) or RFC 3339 text",
            },
        )
    };
    out.push(
        Pending::new(Code::TimerValueType, Loc::new(anchor, e.span), format!("a timer's `{word}` must be {want}, found {}", ty.brief()))
            .label(format!("this is {}", ty.brief()))
            .help(help),
    );
}

fn clone_scope<'a>(s: &StepScope<'a>) -> StepScope<'a> {
    StepScope {
        graph: s.graph,
        sigs: s.sigs,
        this: s.this,
        inputs: s.inputs.clone(),
        output: s.output.clone(),
        item: s.item.clone(),
        items: s.items,
        reads: s.reads.clone(),
        params: s.params.clone(),
        add_after: s.add_after,
        groups: s.groups,
    }
}

/// The help and fix for a reference to a step that is not upstream: add it
/// to the step's `after` (spans relative to the step's anchor).
fn add_after_fix(step: &ast::Step, name: &str) -> (String, Option<crate::diagnostic::Fix>) {
    use crate::diagnostic::{Edit, Fix};
    let (at, text) = match &step.deps {
        Some(d) => {
            let last = d.names.last().map_or(d.span.end, |n| n.span.end);
            (last, format!(", {name}"))
        }
        None => {
            let after_header = step.kind_span.map_or(step.name.span.end, |s| s.end);
            (after_header, format!(" after {name}"))
        }
    };
    let help = match &step.deps {
        Some(d) => format!(
            "add `{name}` to the step's dependencies: `after {}{}`",
            d.names.iter().map(|n| n.text.as_str()).collect::<Vec<_>>().join(", "),
            format_args!(", {name}")
        ),
        None => format!("make the step run after it: `step {} after {name}`", step.name.text),
    };
    let fix = Fix { title: format!("add `{name}` to `after`"), edits: vec![Edit { path: String::new(), span: Span::new(at, at), new_text: text }] };
    (help, Some(fix))
}

/// Workflow outputs (every step in scope: they are read at the end) and
/// trigger filters (only `event`).
pub(super) fn workflow_references<'db>(db: &'db dyn Db, _project: Project, wf: WorkflowDef<'db>, out: &mut Vec<Pending<'db>>) {
    let inputs = inputs_ty(db, wf);
    for (item, stmt) in wf.header(db).iter() {
        let anchor = Anchor::Item(wf, *item);
        match &stmt.kind {
            WorkflowStmtKind::Output(o) => {
                let mut scope = BTreeMap::new();
                scope.insert("inputs".to_string(), inputs.clone());
                scope.insert("run".to_string(), run_ty());
                for s in wf.steps(db) {
                    scope.insert(s.name(db).clone(), step_value_ty(crate::model::step_sig(db, *s)));
                }
                check_one(&o.expr, Expect::Any, &OutputScope { names: FixedScope(scope), graph: workflow_graph(db, wf) }, anchor, out);
            }
            WorkflowStmtKind::On(Trigger::Event { filter: Some(f), .. }) => {
                let scope = FixedScope(BTreeMap::from([("event".to_string(), event_ty())]));
                check_one(f, Expect::Bool, &scope, anchor, out);
            }
            WorkflowStmtKind::Invariant(inv) => {
                let scope = FixedScope(BTreeMap::from([("inputs".to_string(), inputs.clone()), ("run".to_string(), run_ty())]));
                for s in &inv.body {
                    if let ast::InvariantStmtKind::Check(c) = &s.kind {
                        check_template(&c.command, &scope, anchor, out);
                    }
                }
            }
            WorkflowStmtKind::Env(env) => {
                let scope = FixedScope(BTreeMap::from([("inputs".to_string(), inputs.clone()), ("run".to_string(), run_ty())]));
                for e in &env.entries {
                    if let ast::EnvEntryKind::Assign { value: ast::EnvValue::Template(t), .. } = &e.kind {
                        check_template(t, &scope, anchor, out);
                    }
                }
            }
            _ => {}
        }
    }
}

/// Policy rules (`input`), resource rules (`self`, typed by the schema),
/// agent commands and env values (no names).
pub(super) fn decl_references<'db>(db: &'db dyn Db, decl: OtherDef<'db>, out: &mut Vec<Pending<'db>>) {
    let anchor = Anchor::Decl(decl);
    match &**decl.ast(db) {
        Decl::Policy(policy) => {
            let scope = FixedScope(BTreeMap::from([("input".to_string(), Ty::Dyn)]));
            for s in &policy.body {
                if let PolicyStmtKind::Rule(rule) = &s.kind {
                    check_one(&rule.condition, Expect::Bool, &scope, anchor, out);
                    if let Some(reason) = &rule.reason {
                        check_template(reason, &scope, anchor, out);
                    }
                }
            }
        }
        Decl::Resource(res) => {
            let self_ty = res
                .body
                .iter()
                .find_map(|s| match &s.kind {
                    ResourceStmtKind::Schema(v) => super::schemas::to_json(v).ok().map(|j| Ty::from_json_schema(&j)),
                    _ => None,
                })
                .unwrap_or(Ty::Dyn);
            let scope = FixedScope(BTreeMap::from([("self".to_string(), self_ty)]));
            for s in &res.body {
                if let ResourceStmtKind::Rule { condition, .. } = &s.kind {
                    check_one(condition, Expect::Bool, &scope, anchor, out);
                }
            }
        }
        Decl::Agent(agent) => {
            // An agent's command is fixed when the plan is built: its holes
            // can name nothing (the environment is `$NAME` in the shell).
            let scope = FixedScope(BTreeMap::new());
            for s in &agent.body {
                if let ast::AgentStmtKind::Command(t) = &s.kind {
                    check_template(t, &scope, anchor, out);
                }
            }
        }
        // Templates are checked in the scope of each step that uses them.
        _ => {}
    }
}
