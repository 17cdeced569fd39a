//! Runs one test: its run on the real runtime, in a state database of its
//! own, under a virtual clock; its actions through the same functions the
//! commands use (`flowc approve`, `flowc complete`, `flowc event send`,
//! `flowc resume`); its expectations read from the state the run recorded.
//!
//! Between two statements the run goes as far as it can ([`settle`]): it
//! runs until it ends or blocks, and while it is blocked on a timer, the
//! clock moves to the timer's due time and the run goes on. Deadlines of
//! approvals, human tasks and waits move only with `advance`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

use flowc_interpreter::runtime::{self, delivery, inbox, mock, NotifySink, Steered};
use flowc_interpreter::state::{Actor, GateAction, RunStatus, StepState, StepStatus, Store};
use flowc_interpreter::{time, RunOptions};
use flowc_plan::store::{StoreBackend, StoreDef};
use flowc_plan::Plan;
use serde_json::{json, Value};

use super::case::{Action, Place, Target, TestCase};

/// One expectation that did not hold, or an action that could not be taken.
#[derive(Clone, Debug)]
pub struct Note {
    pub place: Place,
    pub message: String,
    /// What the run showed instead, when there is something to show.
    pub observed: Option<String>,
}

/// What one test did.
#[derive(Clone, Debug, Default)]
pub struct TestResult {
    /// Expectations that did not hold.
    pub failures: Vec<Note>,
    /// Why the test stopped before its end: an action that could not be
    /// taken, a run that could not start.
    pub error: Option<Note>,
    pub duration: Duration,
    /// `(workflow, step)` of every step that ran in any run of the test.
    pub reached: BTreeSet<(String, String)>,
    /// `(workflow, branch step, arm)` of every arm a branch picked.
    pub picked: BTreeSet<(String, String, String)>,
    /// The run as it was when the test ended: `run ID completed`, or
    /// `run ID failed: WHY`, for the report of a failing test.
    pub run: Option<String>,
}

impl TestResult {
    /// The result of a test whose thread stopped before it ended.
    pub fn stopped(case: &TestCase) -> TestResult {
        let note = Note { place: case.place.clone(), message: "the test stopped before its end".into(), observed: None };
        TestResult { error: Some(note), ..Default::default() }
    }

    pub fn passed(&self) -> bool {
        self.failures.is_empty() && self.error.is_none()
    }
}

type Stop = Note;

/// An empty state database with the schema in place, copied for each test:
/// creating the schema is a third of a short test's time otherwise.
pub struct Template {
    dir: PathBuf,
    db: PathBuf,
}

impl Template {
    pub fn new() -> Result<Template, String> {
        let dir = std::env::temp_dir().join(format!("flowc-test-{}-template", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let db = dir.join("state.db");
        // Opening creates the schema; closing the only connection folds the log into the file.
        drop(flowc_interpreter::state::SqliteStore::open(&db).map_err(|e| e.to_string())?);
        Ok(Template { dir, db })
    }
}

impl Drop for Template {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs `case` on `plan`, in a fresh state directory (`index` keeps the
/// directories of parallel tests apart).
pub fn run_case(case: &TestCase, plan: Plan, project_dir: &Path, index: usize, template: &Template) -> TestResult {
    let started = Instant::now();
    let dir = std::env::temp_dir().join(format!("flowc-test-{}-{index}-{}", std::process::id(), flowc_interpreter::time::now_ms()));
    let mut result = TestResult::default();
    let state = dir.join("state.db");
    let stop = |message: String| Note { place: case.place.clone(), message, observed: None };
    match std::fs::create_dir_all(&dir).and_then(|()| std::fs::copy(&template.db, &state).map(drop)) {
        Err(e) => result.error = Some(stop(format!("cannot create the test's state database in {}: {e}", dir.display()))),
        Ok(()) => {
            time::set_virtual(Some(time::now_ms()));
            let mut options = RunOptions::new(&state, project_dir);
            options.notify = NotifySink::None;
            options.mocks = Some(Rc::new(case.mocks.clone()));
            options.origin.initiator = Some(case.initiator.clone().unwrap_or_else(|| "test".into()));
            if let Err(e) = drive(case, plan, &options, &mut result) {
                result.error = Some(e);
            }
            if let Some(root) = result.run.take() {
                result.run = describe_run(&options, &root).ok();
            }
            if let Err(e) = collect_coverage(&options, &mut result) {
                result.error.get_or_insert(stop(format!("cannot read the test's state: {e}")));
            }
            time::set_virtual(None);
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    result.duration = started.elapsed();
    result
}

fn drive(case: &TestCase, plan: Plan, options: &RunOptions, result: &mut TestResult) -> Result<(), Stop> {
    let at = |place: &Place, message: String| Note { place: place.clone(), message, observed: None };
    let stores = plan.stores.clone();
    let report = runtime::run(plan, case.inputs.clone(), options).map_err(|e| at(&case.place, format!("the run could not start: {e}")))?;
    let root = report.run;
    result.run = Some(root.clone());
    // One connection open for the whole test: the others the runtime and the
    // checks below open and close are then never the last, so closing one
    // does not checkpoint the log and sync the file each time.
    let _keep = open(options).map_err(|e| at(&case.place, e))?;
    settle(options, &root).map_err(|e| at(&case.place, e))?;
    for (action, place) in &case.actions {
        match action {
            Action::ExpectRefused(decision) => {
                if let Some(note) = expect_refused(options, &root, decision, place).map_err(|e| at(place, e))? {
                    result.failures.push(note);
                }
                // A decision that was applied (wrongly) moved the run on.
                settle(options, &root).map_err(|e| at(place, e))?;
                continue;
            }
            Action::Decide { .. } | Action::Complete { .. } => {
                let Some(d) = Decision::of(action) else { continue };
                let (run, step) = blocked_step(options, &root, d.target).map_err(|e| at(place, e))?;
                d.file(&run, &step, options).map_err(|e| at(place, format!("cannot {} `{}`: {e}", d.action.as_str(), d.target)))?;
            }
            Action::Send { event_type, subject, data } => {
                let event = inbox::new_event(event_type, subject.as_deref(), data.clone(), "flowc-test", None);
                inbox::validate_event(&event).map_err(|e| at(place, format!("the event is not valid: {e}")))?;
                let mut store = runtime::open_store(options).map_err(|e| at(place, e.to_string()))?;
                let origin = |_: &Value| options.origin.clone();
                let delivered = delivery::deliver(&mut *store, vec![event], &[], &origin, options).map_err(|e| at(place, e.to_string()))?;
                drop(store);
                for d in delivered {
                    for waiting in delivery::roots(&d.waiting) {
                        delivery::continue_waiting(&waiting, options).map_err(|e| at(place, e.to_string()))?;
                    }
                }
            }
            Action::Advance { ms } => {
                time::advance(*ms);
                if status(options, &root).map_err(|e| at(place, e))? == RunStatus::Blocked {
                    resume(options, &root).map_err(|e| at(place, e))?;
                }
            }
            Action::ExpectStatus { target, status: want } => {
                if let Some(note) = expect_status(options, &root, target, want, place).map_err(|e| at(place, e))? {
                    result.failures.push(note);
                }
                continue;
            }
            Action::ExpectExpr { text } => {
                if let Some(note) = expect_expr(options, &root, &stores, text, place).map_err(|e| at(place, e))? {
                    result.failures.push(note);
                }
                continue;
            }
        }
        settle(options, &root).map_err(|e| at(place, e))?;
    }
    Ok(())
}

/// `run ID STATUS[: ERROR]`.
fn describe_run(options: &RunOptions, root: &str) -> Result<String, String> {
    let record = open(options)?.run(root).map_err(|e| e.to_string())?.ok_or("the run is not recorded")?;
    Ok(match record.error {
        Some(e) => format!("run {} ended {}: {e}", record.id, record.status),
        None => format!("run {} is {}", record.id, record.status),
    })
}

/// `expect refused ACTION`: the step must be waiting, and the gate must refuse
/// the decision; a decision it applies is a failure (and has been applied).
fn expect_refused(options: &RunOptions, root: &str, decision: &Action, place: &Place) -> Result<Option<Note>, String> {
    let note = |message: String, observed: Option<String>| Some(Note { place: place.clone(), message, observed });
    let Some(d) = Decision::of(decision) else { return Ok(None) };
    let what = format!("{} `{}` as \"{}\"", d.action.as_str(), d.target, d.actor);
    let (run, step) = match blocked_step(options, root, d.target) {
        Ok(found) => found,
        Err(why) => return Ok(note(format!("expected a refusal to {what}, but there is nothing to decide"), Some(why))),
    };
    match d.file(&run, &step, options) {
        // Refused by the gate (who may decide, separation of duties, the task's type).
        Err(runtime::Error::Run(_) | runtime::Error::Refused(_) | runtime::Error::Input(_)) => Ok(None),
        Err(e) => Err(e.to_string()),
        Ok(_) => Ok(note(format!("expected a refusal to {what}"), Some("the decision was applied".into()))),
    }
}

/// A person's decision of a test (`approve`, `reject`, `complete`), as
/// `runtime::resolve` takes it.
struct Decision<'a> {
    target: &'a Target,
    actor: &'a str,
    action: GateAction,
    comment: Option<&'a str>,
    output: Option<&'a Value>,
}

impl<'a> Decision<'a> {
    fn of(action: &'a Action) -> Option<Decision<'a>> {
        Some(match action {
            Action::Decide { approve, target, actor, comment } => Decision {
                target,
                actor,
                action: if *approve { GateAction::Approve } else { GateAction::Reject },
                comment: comment.as_deref(),
                output: None,
            },
            Action::Complete { target, actor, output } => {
                Decision { target, actor, action: GateAction::Complete, comment: None, output: Some(output) }
            }
            _ => return None,
        })
    }

    /// Files the decision on `step` of `run`, as `flowc approve|reject|complete` does.
    fn file(&self, run: &str, step: &str, options: &RunOptions) -> Result<Steered, runtime::Error> {
        let actor = Actor { principal: self.actor.to_string(), on_behalf_of: None, token: None, address: None, via: "test".into() };
        runtime::resolve(run, step, self.action, &actor, self.comment, self.output, options)
    }
}

fn open(options: &RunOptions) -> Result<Box<dyn Store>, String> {
    runtime::open_store(options).map_err(|e| e.to_string())
}

fn status(options: &RunOptions, run: &str) -> Result<RunStatus, String> {
    Ok(open(options)?.run(run).map_err(|e| e.to_string())?.map_or(RunStatus::Pending, |r| r.status))
}

fn resume(options: &RunOptions, root: &str) -> Result<(), String> {
    match runtime::resume(root, options) {
        Ok(Steered::Ran(_) | Steered::Ended { .. } | Steered::Continues { .. } | Steered::Recorded { .. }) => Ok(()),
        Ok(_) => Ok(()),
        Err(e) => Err(format!("the run could not go on: {e}")),
    }
}

/// The run and its descendants, root first.
fn tree(store: &dyn Store, root: &str) -> Result<Vec<flowc_interpreter::state::RunRecord>, String> {
    let mut out = Vec::new();
    let mut work = vec![root.to_string()];
    while let Some(run) = work.pop() {
        if let Some(record) = store.run(&run).map_err(|e| e.to_string())? {
            out.push(record);
        }
        for child in store.children(&run).map_err(|e| e.to_string())? {
            work.push(child.run.id);
        }
    }
    Ok(out)
}

/// Runs `root` as far as it goes: while it is blocked and a timer of it (or
/// of a child) is due at some time, the clock moves there and it goes on.
fn settle(options: &RunOptions, root: &str) -> Result<(), String> {
    // Each round ends a timer, so a run of N timers needs N rounds; the bound
    // only stops a run whose timers re-arm forever.
    for _ in 0..10_000 {
        if status(options, root)? != RunStatus::Blocked {
            return Ok(());
        }
        let store = open(options)?;
        let mut due: Option<i64> = None;
        for run in tree(&*store, root)? {
            for gate in store.blocked_gates(&run.id).map_err(|e| e.to_string())? {
                if gate.gate.get("gate").and_then(Value::as_str) == Some("timer")
                    && let Some(at) = gate.gate.get("deadline").and_then(Value::as_str).and_then(time::parse_rfc3339) {
                        due = Some(due.map_or(at, |d: i64| d.min(at)));
                    }
            }
        }
        drop(store);
        let Some(at) = due else { return Ok(()) };
        time::advance_to(at);
        resume(options, root)?;
    }
    Err("the run's timers never stopped firing (10,000 rounds)".into())
}

/// The blocked step a decision is for: `target` in the root run or a child
/// (of `target`'s workflow, when it names one).
fn blocked_step(options: &RunOptions, root: &str, target: &Target) -> Result<(String, String), String> {
    let states = target_states(options, root, target)?;
    if let Some((run, s)) = states.iter().find(|(_, s)| s.status == StepStatus::Blocked) {
        return Ok((run.clone(), s.step.clone()));
    }
    Err(match states.last() {
        Some((_, s)) => format!("`{target}` is {}, not waiting for anyone", s.status),
        None => format!("`{target}` has not started; the run is {}", status(options, root)?),
    })
}

/// The states of `target` in the runs of the test that run its steps, with
/// their run: the root run and its jobs (`WF.GROUP`), or the runs of the
/// workflow `target` names and their jobs. A step of a job has one per item.
fn target_states(options: &RunOptions, root: &str, target: &Target) -> Result<Vec<(String, StepState)>, String> {
    let store = open(options)?;
    let runs = tree(&*store, root)?;
    let root_workflow = runs.first().map(|r| r.workflow.clone()).unwrap_or_default();
    let of_target = |r: &flowc_interpreter::state::RunRecord| match &target.workflow {
        Some(w) => mock::runs_steps_of(&r.workflow, w),
        // Not another run of the root's own workflow (a recursive call).
        None => r.id == root || (r.workflow != root_workflow && mock::runs_steps_of(&r.workflow, &root_workflow)),
    };
    let mut out = Vec::new();
    for run in runs.iter().filter(|r| of_target(r)) {
        for s in store.step_states(&run.id).map_err(|e| e.to_string())? {
            if s.step == target.step {
                out.push((run.id.clone(), s));
            }
        }
    }
    Ok(out)
}

/// `expect STEP STATUS` / `expect run STATUS`.
fn expect_status(options: &RunOptions, root: &str, target: &Target, want: &str, place: &Place) -> Result<Option<Note>, String> {
    let store = open(options)?;
    let note = |message: String, observed: Option<String>| Note { place: place.clone(), message, observed };
    if target.workflow.is_none() && target.step == "run" {
        let Some(record) = store.run(root).map_err(|e| e.to_string())? else { return Err("the run is not recorded".into()) };
        if record.status.as_str() == want {
            return Ok(None);
        }
        let why = record.error.map(|e| format!(" ({e})")).unwrap_or_default();
        return Ok(Some(note(format!("expected the run to be {want}"), Some(format!("the run is {}{why}", record.status)))));
    }
    drop(store);
    let found: Vec<StepState> = target_states(options, root, target)?.into_iter().map(|(_, s)| s).collect();
    if found.is_empty() {
        return Ok(Some(note(format!("expected `{target}` to be {want}"), Some(format!("`{target}` has not started; the run is {}", status(options, root)?)))));
    }
    // A step of a job runs once per item: every item's must have the status.
    if found.iter().all(|s| s.status.as_str() == want) {
        return Ok(None);
    }
    let observed: Vec<String> = found
        .iter()
        .map(|s| {
            let why = s.error.as_ref().map(|e| format!(": {e}")).unwrap_or_default();
            format!("{} after {} attempt{}{why}", s.status, s.attempts, if s.attempts == 1 { "" } else { "s" })
        })
        .collect();
    Ok(Some(note(format!("expected `{target}` to be {want}"), Some(format!("`{target}` is {}", observed.join("; "))))))
}

/// ``expect `CEL` ``: evaluated over the root run as recorded now.
fn expect_expr(options: &RunOptions, root: &str, stores: &[StoreDef], text: &str, place: &Place) -> Result<Option<Note>, String> {
    let scope = scope_of(options, root, stores)?;
    let note = |message: String, observed: Option<String>| Some(Note { place: place.clone(), message, observed });
    match runtime::scope::eval_text(text, &scope) {
        Ok(Value::Bool(true)) => Ok(None),
        Ok(Value::Bool(false)) => Ok(note(format!("expected `{text}`"), observed_values(text, &scope))),
        Ok(other) => Ok(note(format!("`{text}` should be a bool"), Some(format!("it is {other}")))),
        Err(e) => {
            let values = observed_values(text, &scope).map(|v| format!(" ({v})")).unwrap_or_default();
            Ok(note(format!("`{text}` could not be evaluated"), Some(format!("{e}{values}"))))
        }
    }
}

/// The values of the paths an expression reads, `name.path = value`, for the report.
fn observed_values(text: &str, scope: &runtime::scope::Scope) -> Option<String> {
    let expr = flowc_grammar::ast::Expr { text: text.to_string(), span: flowc_grammar::ast::Span::new(0, text.len() as u32) };
    let node = flowc_compiler::cel_check::parse_expr(&expr).ok()?;
    let mut seen = BTreeSet::new();
    let mut parts = Vec::new();
    for r in flowc_compiler::cel_check::referenced_roots_of(&node) {
        let path = std::iter::once(r.name.as_str()).chain(r.path.iter().map(String::as_str)).collect::<Vec<_>>().join(".");
        if !seen.insert(path.clone()) {
            continue;
        }
        let value = match runtime::scope::eval_text(&path, scope) {
            Ok(v) => shorten(&v.to_string()),
            Err(e) => format!("(cannot be read: {e})"),
        };
        parts.push(format!("{path} = {value}"));
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

fn shorten(text: &str) -> String {
    if text.chars().count() <= 200 {
        return text.to_string();
    }
    format!("{}…", text.chars().take(200).collect::<String>())
}

/// What an expectation sees: each step of the root run, `inputs`, `run`,
/// `events`, and `stores` (the entries of the stores kept in the state
/// database; a store with a command backend reads as empty).
fn scope_of(options: &RunOptions, root: &str, stores: &[StoreDef]) -> Result<runtime::scope::Scope, String> {
    use runtime::scope::to_cel;
    let mut store = open(options)?;
    let mut contents = serde_json::Map::new();
    for s in stores {
        let mut entries = serde_json::Map::new();
        if s.backend == StoreBackend::Local {
            for e in store.kv_list(&s.name, s.ttl_ms).map_err(|e| e.to_string())? {
                entries.insert(e.key, e.value);
            }
        }
        contents.insert(s.name.clone(), Value::Object(entries));
    }
    let e = |e: flowc_interpreter::state::StateError| e.to_string();
    let record = store.run(root).map_err(e)?.ok_or("the run is not recorded")?;
    let mut scope = runtime::scope::Scope::default();
    let events: Vec<Value> = store
        .events(root)
        .map_err(e)?
        .into_iter()
        .map(|ev| json!({ "step": ev.step.unwrap_or_default(), "type": ev.event }))
        .collect();
    let children: Vec<Value> = store
        .children(root)
        .map_err(e)?
        .into_iter()
        .map(|c| json!({ "id": c.run.id, "workflow": c.run.workflow, "status": c.run.status.as_str() }))
        .collect();
    scope.bind("inputs", to_cel(&record.inputs));
    scope.bind("stores", to_cel(&Value::Object(contents)));
    scope.bind("events", to_cel(&Value::Array(events)));
    scope.bind(
        "run",
        to_cel(&json!({
            "id": record.id,
            "workflow": record.workflow,
            "status": record.status.as_str(),
            "outputs": record.outputs.clone().unwrap_or_else(|| json!({})),
            "error": record.error.clone().unwrap_or_default(),
            "cost_usd": record.cost_usd,
            "children": children,
        })),
    );
    for s in store.step_states(root).map_err(e)? {
        scope.set(
            &s.step,
            to_cel(&json!({
                "status": s.status.as_str(),
                "attempts": s.attempts,
                "output": s.output.unwrap_or(Value::Null),
                "cost_usd": s.cost_usd,
                "stdout": s.stdout.unwrap_or_default(),
                "stderr": s.stderr.unwrap_or_default(),
            })),
        );
    }
    Ok(scope)
}

/// The steps that ran and the arms branches picked, in every run of the test.
fn collect_coverage(options: &RunOptions, result: &mut TestResult) -> Result<(), String> {
    let path: PathBuf = options.state_path.clone();
    if !path.exists() {
        return Ok(());
    }
    let store = open(options)?;
    for run in store.runs(usize::MAX >> 1).map_err(|e| e.to_string())? {
        for s in store.step_states(&run.id).map_err(|e| e.to_string())? {
            let ran = s.attempts > 0
                || matches!(s.status, StepStatus::Completed | StepStatus::Failed | StepStatus::Blocked | StepStatus::Compensated);
            if ran {
                result.reached.insert((run.workflow.clone(), s.step.clone()));
            }
            if let Some(Value::String(arm)) = s.output.as_ref().and_then(|o| o.get("picked")) {
                result.picked.insert((run.workflow.clone(), s.step.clone(), arm.clone()));
            }
        }
    }
    Ok(())
}
