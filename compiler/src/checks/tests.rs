//! Checks of `test "NAME" { … }` blocks (docs/testing.md): a test runs one
//! workflow; what it names resolves (workflows, steps, agents, inputs); what
//! it gives fits what the workflow declares (inputs, mocked outputs, task
//! results); each action fits the kind of step it acts on; expectations are
//! typed CEL over the run; and a mock the run can never reach is a warning.
//!
//! A test's workflow may be declared in any file of the project, so these
//! checks read the project's item index, never one file alone.

use std::collections::{BTreeMap, BTreeSet};

use flowc_grammar::ast::{self, Decl, DeclKind, Expectation, MockResult, MockTarget, Span, StepKind, StepPath, TestStmtKind, TypeExpr};

use super::references::{check_one, inputs_ty, FixedScope};
use super::{known_list, suggest};
use crate::cel_check::Expect;
use crate::codes::Code;
use crate::db::{Db, Project};
use crate::model::{item_index, step_sig, step_value_ty, ItemIndex, OtherDef, StepDef, WorkflowDef};
use crate::pending::{Anchor, Loc, Pending};
use crate::types::{FieldTy, ObjectTy, Ty};

/// The statuses a step can have (the interpreter's `StepStatus`; a test of
/// the `flowc` crate holds the two lists together).
pub const STEP_STATUSES: &[&str] =
    &["pending", "running", "blocked", "paused", "completed", "failed", "cancelled", "skipped", "upstream_failed", "compensated"];

/// The statuses a run can have (the interpreter's `RunStatus`).
pub const RUN_STATUSES: &[&str] = &["pending", "running", "blocked", "paused", "completed", "failed", "cancelled", "compensated"];

/// The names an expectation of a test of `wf` can use: every step of the
/// workflow, `inputs`, `run` (with its status, outputs and error), `events`
/// (what the run recorded, in order) and `stores` (each store of the
/// project, key by key, as the test has left it).
pub fn test_expectation_scope<'db>(db: &'db dyn Db, project: Project, wf: WorkflowDef<'db>) -> Vec<(String, Ty)> {
    let index = item_index(db, project);
    let stores = index.names(DeclKind::Store).map(|s| (s.to_string(), FieldTy::required(Ty::map(Ty::String, super::references::store_ty(db, index, s)))));
    let mut names = vec![
        ("inputs".to_string(), inputs_ty(db, wf)),
        ("run".to_string(), test_run_ty()),
        ("events".to_string(), events_ty()),
        ("stores".to_string(), Ty::object(ObjectTy::closed(stores))),
    ];
    for s in wf.steps(db) {
        let name = s.name(db).clone();
        names.retain(|(n, _)| *n != name);
        names.push((name, step_value_ty(step_sig(db, *s))));
    }
    // A job per item runs as a step of its own: its status and attempts,
    // and its output, one object of its members' outputs per item.
    for g in wf.groups(db).iter().filter(|g| g.for_each.is_some()) {
        let ty = Ty::object(ObjectTy::closed([
            ("output".to_string(), FieldTy::required(Ty::list(Ty::Dyn))),
            ("status".to_string(), FieldTy::required(Ty::String)),
            ("attempts".to_string(), FieldTy::required(Ty::Int)),
            ("cost_usd".to_string(), FieldTy::required(Ty::Double)),
            ("stdout".to_string(), FieldTy::required(Ty::String)),
            ("stderr".to_string(), FieldTy::required(Ty::String)),
        ]));
        names.retain(|(n, _)| *n != g.name.text);
        names.push((g.name.text.clone(), ty));
    }
    names
}

/// `run` in an expectation: the run as it is when the expectation is read.
fn test_run_ty() -> Ty {
    let child = Ty::object(ObjectTy::closed([
        ("id".to_string(), FieldTy::required(Ty::String)),
        ("workflow".to_string(), FieldTy::required(Ty::String)),
        ("status".to_string(), FieldTy::required(Ty::String)),
    ]));
    Ty::object(ObjectTy::closed([
        ("id".to_string(), FieldTy::required(Ty::String)),
        ("workflow".to_string(), FieldTy::required(Ty::String)),
        ("status".to_string(), FieldTy::required(Ty::String)),
        ("outputs".to_string(), FieldTy::required(Ty::Dyn)),
        ("error".to_string(), FieldTy::required(Ty::String)),
        ("cost_usd".to_string(), FieldTy::required(Ty::Double)),
        ("children".to_string(), FieldTy::required(Ty::list(child))),
    ]))
}

/// `events`: `[{step, type}]`, the run's event log in order (`type` as
/// `flowc runs events` prints it: `started`, `completed`, `approved`, …).
fn events_ty() -> Ty {
    Ty::list(Ty::object(ObjectTy::closed([
        ("step".to_string(), FieldTy::required(Ty::String)),
        ("type".to_string(), FieldTy::required(Ty::String)),
    ])))
}

/// The workflow a test runs: its first `run` statement.
pub fn test_workflow(test: &ast::Test) -> Option<&ast::Name> {
    test.body.iter().find_map(|s| match &s.kind {
        TestStmtKind::Run { workflow, .. } => Some(workflow),
        _ => None,
    })
}

struct Cx<'a, 'db> {
    db: &'db dyn Db,
    index: &'a ItemIndex<'db>,
    decl: OtherDef<'db>,
    /// The test's workflow, when it resolves.
    wf: Option<WorkflowDef<'db>>,
}

impl<'db> Cx<'_, 'db> {
    fn at(&self, span: Span) -> Loc<'db> {
        Loc::new(Anchor::Decl(self.decl), span)
    }

    /// The step a path names, or the diagnostic that says why there is none.
    fn step(&self, path: &StepPath, out: &mut Vec<Pending<'db>>) -> Option<StepDef<'db>> {
        let wf = match &path.workflow {
            Some(name) => match self.index.workflow(&name.text) {
                Some(wf) => wf,
                None => {
                    out.push(unknown_workflow(self, name));
                    return None;
                }
            },
            None => self.wf?,
        };
        let steps = wf.steps(self.db);
        if let Some(s) = steps.iter().find(|s| *s.name(self.db) == path.step.text) {
            return Some(*s);
        }
        if path.step.text.is_empty() {
            return None;
        }
        let names: Vec<&str> = steps.iter().map(|s| s.name(self.db).as_str()).collect();
        let workflow = wf.name(self.db);
        out.push(
            Pending::new(Code::UnknownStep, self.at(path.step.span), format!("workflow `{workflow}` has no step `{}`", path.step.text))
                .label("unknown step")
                .help(suggest(&path.step.text, names.iter().copied()).unwrap_or_else(|| known_list(&format!("steps of `{workflow}`"), names.iter().copied()))),
        );
        None
    }

    /// Whether `path` names a group: a job per item (`for each item`) has a
    /// status like a step (it runs as one); a plain group has none of its
    /// own, which is reported.
    fn group(&self, path: &StepPath, out: &mut Vec<Pending<'db>>) -> bool {
        let wf = match &path.workflow {
            Some(name) => self.index.workflow(&name.text),
            None => self.wf,
        };
        let Some(g) = wf.and_then(|wf| wf.groups(self.db).iter().find(|g| g.name.text == path.step.text)) else { return false };
        if g.for_each.is_none() {
            out.push(
                Pending::new(Code::UnknownStep, self.at(path.step.span), format!("`{}` is a group; a group has no status of its own", path.step.text))
                    .label("a group")
                    .help(format!("expect the status of its steps ({})", g.members.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", "))),
            );
        }
        true
    }

    /// What a step does, a template's kind looked through.
    fn kind(&self, step: StepDef<'db>) -> StepKind {
        let kind = step.ast(self.db).kind.clone();
        match &kind {
            StepKind::Use(t) => match self.index.other(DeclKind::Template, &t.text).map(|d| &**d.ast(self.db)) {
                Some(Decl::Template(tpl)) => tpl.kind.clone().unwrap_or(StepKind::Run),
                _ => kind,
            },
            _ => kind,
        }
    }

    /// The step's declared `output` type, its own or its template's.
    fn output_type(&self, step: StepDef<'db>) -> Option<TypeExpr> {
        let ast = step.ast(self.db);
        let own = ast.body.iter().find_map(|s| match &s.kind {
            ast::StepStmtKind::Output(t) => Some(t.clone()),
            _ => None,
        });
        own.or_else(|| match &ast.kind {
            StepKind::Use(t) => match self.index.other(DeclKind::Template, &t.text).map(|d| &**d.ast(self.db)) {
                Some(Decl::Template(tpl)) => tpl.body.iter().find_map(|s| match &s.kind {
                    ast::StepStmtKind::Output(t) => Some(t.clone()),
                    _ => None,
                }),
                _ => None,
            },
            _ => None,
        })
    }
}

fn unknown_workflow<'db>(cx: &Cx<'_, 'db>, name: &ast::Name) -> Pending<'db> {
    Pending::new(Code::UnknownWorkflow, cx.at(name.span), format!("there is no workflow `{}`", name.text))
        .label("unknown workflow")
        .help(suggest(&name.text, cx.index.names(DeclKind::Workflow)).unwrap_or_else(|| known_list("workflows", cx.index.names(DeclKind::Workflow))))
}

/// Every check of one test.
pub(super) fn test_checks<'db>(db: &'db dyn Db, project: Project, decl: OtherDef<'db>, out: &mut Vec<Pending<'db>>) {
    let Decl::Test(test) = &**decl.ast(db) else { return };
    let index = item_index(db, project);
    let mut cx = Cx { db, index, decl, wf: None };

    let runs: Vec<&ast::TestStmt> = test.body.iter().filter(|s| matches!(s.kind, TestStmtKind::Run { .. })).collect();
    match runs.as_slice() {
        [] => {
            out.push(
                Pending::new(Code::TestRunMissing, cx.at(test.name.span), format!("the test \"{}\" does not run a workflow", test.name.text))
                    .label("runs nothing")
                    .help("start the run the test is about first: `run WORKFLOW with { INPUT: VALUE }`"),
            );
            return;
        }
        [_, rest @ ..] => {
            for extra in rest {
                out.push(
                    Pending::new(Code::TestRunMissing, cx.at(extra.span), "a test runs one workflow; this is a second `run`")
                        .label("second run")
                        .related(cx.at(runs[0].span), "the test's run")
                        .help("split it into two tests, one per run"),
                );
            }
        }
    }
    if let TestStmtKind::Run { workflow, inputs, .. } = &runs[0].kind {
        match index.workflow(&workflow.text) {
            Some(wf) => {
                cx.wf = Some(wf);
                run_inputs(&cx, wf, workflow, inputs.as_ref(), out);
            }
            // A reference: `names` reports it unknown (E0208).
            None => {}
        }
    }

    let reachable = cx.wf.map(|wf| reachable_workflows(db, index, wf)).unwrap_or_default();
    // The action of `expect refused ACTION` is checked as the action itself.
    let stmts = test.body.iter().map(|s| match &s.kind {
        TestStmtKind::Expect(Expectation::Refused(action)) => &**action,
        _ => s,
    });
    let mut scope: Option<FixedScope> = None;
    for stmt in stmts {
        match &stmt.kind {
            TestStmtKind::Run { .. } | TestStmtKind::Send { .. } | TestStmtKind::Advance(_) => {}
            // Never nested: the grammar takes a decision after `refused`.
            TestStmtKind::Expect(Expectation::Refused(_)) => {}
            // The agent's name is a reference: `names` reports it unknown (E0204).
            TestStmtKind::Mock { target: MockTarget::Agent(_), results } => {
                mock_failures(&cx, results, out);
            }
            TestStmtKind::Mock { target: MockTarget::Step(path), results } => {
                let Some(step) = cx.step(path, out) else { continue };
                let kind = cx.kind(step);
                if !matches!(kind, StepKind::Run | StepKind::Agent(_)) {
                    out.push(kind_mismatch(&cx, path, &kind, "only `run` and `agent` steps can be mocked", "not mockable".into()));
                    continue;
                }
                if let Some(ty) = cx.output_type(step) {
                    for r in results {
                        if let MockResult::Returns { value, .. } = r
                            && let Err((span, why)) = super::values::value_fits(value, &ty) {
                                out.push(
                                    Pending::new(Code::TestValueMismatch, cx.at(span), format!("the mocked output of `{}` does not fit its declared type: {why}", path.step.text))
                                        .label("does not fit")
                                        .help(format!("the step declares `output {}`; mock a value of that type", type_text(&ty))),
                                );
                            }
                    }
                }
                mock_failures(&cx, results, out);
                let workflow = step.workflow_name(db);
                if !reachable.is_empty() && !reachable.contains(workflow.as_str()) {
                    out.push(
                        Pending::new(
                            Code::MockNeverReached,
                            cx.at(path.span),
                            format!("the run of `{}` never reaches workflow `{workflow}`, so this mock is never used", cx.wf.map(|w| w.name(db).as_str()).unwrap_or("")),
                        )
                        .label("never used")
                        .help("remove the mock, or mock a step of a workflow the run calls or spawns"),
                    );
                }
            }
            TestStmtKind::Decide { approve, step: path, .. } => {
                let Some(step) = cx.step(path, out) else { continue };
                let kind = cx.kind(step);
                if !matches!(kind, StepKind::Approval | StepKind::Check(_)) {
                    let word = if *approve { "approve" } else { "reject" };
                    let only = format!("only `approval` and `check` steps wait for a decision to {word}");
                    out.push(kind_mismatch(&cx, path, &kind, &only, format!("nothing to {word}")));
                }
            }
            TestStmtKind::Complete { step: path, output, .. } => {
                let Some(step) = cx.step(path, out) else { continue };
                let kind = cx.kind(step);
                if kind != StepKind::Human {
                    out.push(kind_mismatch(&cx, path, &kind, "only `human` steps are completed", "not a human task".into()));
                    continue;
                }
                if let Some(ty) = cx.output_type(step)
                    && let Err((span, why)) = super::values::value_fits(output, &ty) {
                        out.push(
                            Pending::new(Code::TestValueMismatch, cx.at(span), format!("the result given to `{}` does not fit its declared type: {why}", path.step.text))
                                .label("does not fit")
                                .help(format!("the task declares `output {}`; give a value of that type", type_text(&ty))),
                        );
                    }
            }
            TestStmtKind::Expect(Expectation::Status { target, status }) => {
                let is_run = target.workflow.is_none() && target.step.text == "run";
                if !is_run && !cx.group(target, out) {
                    cx.step(target, out);
                }
                let (list, what) = if is_run { (RUN_STATUSES, "a run") } else { (STEP_STATUSES, "a step") };
                if !status.text.is_empty() && !list.contains(&status.text.as_str()) {
                    out.push(
                        Pending::new(Code::UnknownStatus, cx.at(status.span), format!("`{}` is not a status of {what}", status.text))
                            .label("unknown status")
                            .help(suggest(&status.text, list.iter().copied()).unwrap_or_else(|| format!("the statuses of {what} are {}", list.join(", ")))),
                    );
                }
            }
            TestStmtKind::Expect(Expectation::Expr(e)) => {
                let Some(wf) = cx.wf else { continue };
                // Built once per test: it holds every step of the workflow.
                let scope = scope.get_or_insert_with(|| FixedScope(test_expectation_scope(db, project, wf).into_iter().collect::<BTreeMap<_, _>>()));
                check_one(e, Expect::Bool, &*scope, Anchor::Decl(decl), out);
            }
        }
    }
}

/// `fails exit 0` would be a success.
fn mock_failures<'db>(cx: &Cx<'_, 'db>, results: &[MockResult], out: &mut Vec<Pending<'db>>) {
    for r in results {
        if let MockResult::Fails { exit: Some(code), .. } = r
            && !(1..=255).contains(&code.value) {
                out.push(
                    Pending::new(Code::ValueOutOfRange, cx.at(code.span), format!("a failing exit status is 1 to 255, not {}", code.value))
                        .label("not a failure")
                        .help("write `fails exit N` with N from 1 to 255, or `returns VALUE` for a success"),
                );
            }
    }
}

/// E0802: the step at `path` is of a `kind` the action does not fit; `only`
/// says which kinds it does fit.
fn kind_mismatch<'db>(cx: &Cx<'_, 'db>, path: &StepPath, kind: &StepKind, only: &str, label: String) -> Pending<'db> {
    Pending::new(Code::TestActionMismatch, cx.at(path.span), format!("`{}` is {}; {only}", path.step.text, a_kind(kind)))
        .label(label)
        .help(action_help(kind))
}

/// What a test can do with a step of `kind`.
fn action_help(kind: &StepKind) -> String {
    match kind {
        StepKind::Run | StepKind::Agent(_) => "mock it: `mock STEP returns VALUE` or `mock STEP fails exit N`".into(),
        StepKind::Approval | StepKind::Check(_) => "decide it: `approve STEP as \"PRINCIPAL\"` or `reject STEP as \"PRINCIPAL\"`".into(),
        StepKind::Human => "complete it: `complete STEP as \"PRINCIPAL\" with { … }`".into(),
        StepKind::Wait => "a `wait` step waits for an event: `send event \"TYPE\" with { … }`".into(),
        StepKind::Timer => "a timer ends when its time comes: `advance DURATION`".into(),
        StepKind::Call(_) => "mock the steps of the called workflow: `mock WORKFLOW.STEP returns VALUE`".into(),
        _ => format!("a `{}` step runs no command; test what it does with `expect`", kind.keyword()),
    }
}

/// A type as `.flow` writes it (`{ score: number, tags: [string] }`).
fn type_text(t: &TypeExpr) -> String {
    match &t.kind {
        ast::TypeKind::Any => "any".into(),
        ast::TypeKind::Unknown(name) => name.text.clone(),
        ast::TypeKind::String => "string".into(),
        ast::TypeKind::Bool => "bool".into(),
        ast::TypeKind::Number => "number".into(),
        ast::TypeKind::Int => "int".into(),
        ast::TypeKind::List(inner) => format!("[{}]", type_text(inner)),
        ast::TypeKind::Object(fields) => {
            let fields: Vec<String> =
                fields.iter().map(|f| format!("{}{}: {}", f.name.text, if f.optional { "?" } else { "" }, type_text(&f.ty))).collect();
            format!("{{ {} }}", fields.join(", "))
        }
    }
}

/// "a `run` step", "an `approval` step".
fn a_kind(kind: &StepKind) -> String {
    let word = kind.keyword();
    let article = if word.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
    format!("{article} `{word}` step")
}

/// `run W with { … }`: every key is an input of `W`, every required input is given, each value fits.
fn run_inputs<'db>(cx: &Cx<'_, 'db>, wf: WorkflowDef<'db>, name: &ast::Name, given: Option<&ast::Value>, out: &mut Vec<Pending<'db>>) {
    let declared: Vec<&ast::Input> = wf
        .header(cx.db)
        .iter()
        .filter_map(|(_, s)| match &s.kind {
            ast::WorkflowStmtKind::Input(i) => Some(i),
            _ => None,
        })
        .collect();
    let fields: &[ast::Field] = match given.map(|v| &v.kind) {
        Some(ast::ValueKind::Object(fields)) => fields,
        _ => &[],
    };
    for f in fields {
        match declared.iter().find(|i| i.name.text == f.key.text) {
            Some(input) => {
                if let Err((span, why)) = super::values::value_fits(&f.value, &input.ty) {
                    out.push(
                        Pending::new(Code::TestValueMismatch, cx.at(span), format!("the input `{}` does not fit its type: {why}", f.key.text))
                            .label("does not fit")
                            .help(format!("`{}` declares `input {}: {}`", name.text, input.name.text, type_text(&input.ty))),
                    );
                }
            }
            None => out.push(
                Pending::new(Code::UnknownInput, cx.at(f.key.span), format!("workflow `{}` has no input `{}`", name.text, f.key.text))
                    .label("unknown input")
                    .help(
                        suggest(&f.key.text, declared.iter().map(|i| i.name.text.as_str()))
                            .unwrap_or_else(|| known_list(&format!("inputs of `{}`", name.text), declared.iter().map(|i| i.name.text.as_str()))),
                    ),
            ),
        }
    }
    for input in &declared {
        if input.default.is_none() && !fields.iter().any(|f| f.key.text == input.name.text) {
            out.push(
                Pending::new(Code::MissingInput, cx.at(name.span), format!("the test leaves out `{}`, a required input of `{}`", input.name.text, name.text))
                    .label("input missing")
                    .help(format!("give it: `run {} with {{ {}: … }}`", name.text, input.name.text)),
            );
        }
    }
}

/// The workflows a run of `wf` can reach through `call` and `spawn`, `wf` included.
fn reachable_workflows<'db>(db: &'db dyn Db, index: &ItemIndex<'db>, wf: WorkflowDef<'db>) -> BTreeSet<String> {
    let mut seen = BTreeSet::from([wf.name(db).clone()]);
    let mut work = vec![wf];
    while let Some(w) = work.pop() {
        for s in w.steps(db) {
            for (started, _) in &step_sig(db, *s).starts {
                if seen.insert(started.clone())
                    && let Some(next) = index.workflow(started) {
                        work.push(next);
                    }
            }
        }
    }
    seen
}
