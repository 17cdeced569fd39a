//! The runtime: executes a loaded plan against the state store.
//!
//! Owns scheduling (a ready queue fed by dependency counts, trigger rules,
//! `concurrency`), attempts and retries, timeouts, pause/cancel/resume and
//! compensation. It never parses `.flow` source and never writes SQL: state
//! goes through [`crate::state::Store`] in batches built by the runner.
//!
//! One tokio current-thread runtime per call: steps are tasks on a `LocalSet`
//! and the scheduler is the only code that touches run state, so nothing here
//! needs a lock. A run is executed by at most one process at a time, enforced
//! by an advisory lock on `RUNS_DIR/RUN/.lock` (see [`lock`]); other
//! processes steer it through the `run_controls` table, which the executing
//! process polls.
//!
//! # People and events
//!
//! Steps that wait on people or the outside world block instead of holding
//! a task: `blocking` says what a blocked step waits for and who may decide,
//! `runner/waits` executes the instructions that block, `decide` files the
//! decisions of other processes' commands, `runner/blocked` keeps the blocked
//! steps and applies decisions, events and deadlines, `delivery` delivers
//! inbound events (`flowc event send`, `flowc serve`), `inbox`
//! stores inbound CloudEvents and matches waits, `triggers` matches
//! `on event|webhook|schedule` and creates triggered runs, and `versions`
//! hashes and publishes plans. Lifecycle CloudEvents go out from the store
//! after each commit (`crate::cloudevents`).
//!
//! # Environment of step processes
//!
//! Besides the caller's environment and the step's `env` bindings, every
//! process gets `FLOW_RUN_ID`, `FLOW_WORKFLOW`, `FLOW_STEP`, `FLOW_ATTEMPT`,
//! `FLOW_PROJECT_DIR`, one `FLOW_INPUT_<NAME>` per input, and one
//! `FLOW_STEP_<DEP>_OUTPUT` per direct dependency that completed. `<NAME>` is
//! the name upper-cased with every character outside `[A-Z0-9_]` turned into
//! `_`; strings are passed as they are, other values as JSON. Values over
//! 64 KiB are left out (use a template hole). Agents also get `FLOW_PROMPT`.

pub mod control;
pub mod lock;
mod compensate;
pub mod decide;
pub mod delivery;

pub mod inbox;
pub mod mock;
mod notify;
pub mod blocking;
pub mod process;
mod runner;
pub mod scope;
mod secrets;
mod steering;
pub mod triggers;
pub mod versions;

use std::path::{Path, PathBuf};
use std::rc::Rc;

use serde::Serialize;

use crate::plan::{LoadedPlan, Plan, PlanError};
use crate::state::{RunStatus, StateError, StepStatus, Store};

pub use compensate::compensate;
pub use runner::checkpoints::{restore, skip, skipped_output};
pub use runner::items::select_items;
pub use secrets::{resolve as resolve_secret, Redactor};
pub use runner::stores;

/// The hash a run that pinned nothing is compared under.
pub fn empty_invariants_hash() -> String {
    runner::invariants::empty_hash()
}
pub use control::{cancel, pause, resume};
pub use steering::{Awaits, Refusal, Steered};
pub use notify::NotifySink;
pub use blocking::Hold;
pub use decide::resolve;

/// Why an operation on a run could not be carried out (exit 2 in the CLI).
#[derive(Debug)]
pub enum Error {
    /// The plan is not one this flowc can execute.
    Plan(PlanError),
    /// A missing or mistyped input, naming it and its declared type.
    Input(String),
    /// The state database could not be read or written.
    State(StateError),
    /// The request does not fit the run (wrong status, locked…).
    Run(String),
    /// There is no run with this id in the state database.
    NoRun(String),
    /// A steering request the run's state rules out; the caller words the way out.
    Refused(Refusal),
    /// A file or the async runtime failed (a log, a lock, a process).
    Io(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Plan(e) => write!(f, "{e}"),
            Error::Input(e) | Error::Run(e) | Error::Io(e) => f.write_str(e),
            Error::State(e) => write!(f, "{e}"),
            Error::NoRun(run) => write!(f, "there is no run `{run}`"),
            Error::Refused(r) => write!(f, "{r}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<StateError> for Error {
    fn from(e: StateError) -> Self {
        Error::State(e)
    }
}

impl From<Refusal> for Error {
    fn from(r: Refusal) -> Self {
        Error::Refused(r)
    }
}

/// The record of `run`, or [`Error::NoRun`].
pub(crate) fn run_record<S: Store + ?Sized>(store: &S, run: &str) -> Result<crate::state::RunRecord, Error> {
    store.run(run)?.ok_or_else(|| Error::NoRun(run.to_string()))
}

impl From<PlanError> for Error {
    fn from(e: PlanError) -> Self {
        Error::Plan(e)
    }
}

/// Something the runtime did, as it happens (for progress displays). The
/// same facts are in the event log; this is only a live view of them.
pub struct Observed<'a> {
    /// The run the observed thing happened in.
    pub run: &'a str,
    /// The run's workflow.
    pub workflow: &'a str,
    /// 0 for the run started by the caller, 1 for its `call` children, …
    pub depth: u32,
    /// The step, for a step-level event; none for a run-level one.
    pub step: Option<&'a str>,
    /// The step's innermost group (`parallel`/`phase`), if any.
    pub group: Option<&'a str>,
    /// When the run is the job of one item of a `for each item` group: the
    /// group and the item's index, `build[0]` (its steps show as
    /// `build[0].compile`).
    pub job: Option<&'a str>,
    /// What happened, with its payload, as the event log records it.
    pub event: &'a crate::state::Event,
}

/// Receives what the runtime does as it happens (the CLI's progress lines).
pub trait Observer {
    /// Called once per event as it is recorded, before its batch commits.
    fn observe(&self, event: &Observed<'_>);
}

/// Where runs are executed and recorded.
#[derive(Clone)]
pub struct RunOptions {
    /// The SQLite state database (`.flow/state.db` by default).
    pub state_path: PathBuf,
    /// Commands run here; `FLOW_PROJECT_DIR` points here.
    pub project_dir: PathBuf,
    /// Where `notify` steps send their messages.
    pub notify: NotifySink,
    /// Who watches the run live, if anyone.
    pub observer: Option<Rc<dyn Observer>>,
    /// Keep waiting in this process while steps are blocked on people or
    /// events (`--wait`, `flowc serve`), instead of returning with the run
    /// `blocked`.
    pub wait_blocked: bool,
    /// Who starts runs (`--as`, `FLOW_USER`, `$USER`) and what triggered them.
    pub origin: crate::state::RunOrigin,
    /// Where committed events are published as CloudEvents.
    pub events: Option<crate::cloudevents::EventSink>,
    /// The hash of the invariants the project's source declares now for
    /// the run's workflow, when known (`flowc resume` compiles it): a resumed
    /// run whose pinned invariants differ records that it keeps its own.
    pub source_invariants_hash: Option<String>,
    /// What `run` and `agent` steps give instead of starting processes
    /// (`flowc test`); none outside tests.
    pub mocks: Option<Rc<mock::Mocks>>,
}

impl RunOptions {
    /// Options that record in `state_path` and run commands in `project_dir`, notifying on stderr, observed by nobody.
    pub fn new(state_path: impl Into<PathBuf>, project_dir: impl Into<PathBuf>) -> Self {
        RunOptions {
            state_path: state_path.into(),
            project_dir: project_dir.into(),
            notify: NotifySink::Stderr,
            observer: None,
            wait_blocked: false,
            origin: crate::state::RunOrigin::manual(None),
            events: None,
            source_invariants_hash: None,
            mocks: None,
        }
    }

    /// Step logs and run locks live beside the database: `DIR/runs/RUN/`.
    pub fn runs_dir(&self) -> PathBuf {
        runs_dir_for(&self.state_path)
    }
}

/// Opens the state with the options' events sink attached, behind the
/// backend-neutral [`Store`](crate::state::Store) the runtime works with.
pub fn open_store(options: &RunOptions) -> Result<Box<dyn crate::state::Store>, StateError> {
    crate::state::open(&options.state_path, options.events.clone())
}

/// Opens the SQLite state database with the options' events sink attached,
/// for what only it stores (API tokens, schedule marks, webhook deliveries).
pub fn open_sqlite(options: &RunOptions) -> Result<crate::state::SqliteStore, StateError> {
    Ok(crate::state::SqliteStore::open(&options.state_path)?.with_sink(options.events.clone()))
}

/// Where the step logs and run locks of the database at `state_path` live: `runs/` beside it.
pub fn runs_dir_for(state_path: &Path) -> PathBuf {
    state_path.parent().map(|p| p.join("runs")).unwrap_or_else(|| PathBuf::from("runs"))
}

/// The summary of a run, as `flowc run --json` prints it.
#[derive(Clone, Debug, Serialize)]
pub struct RunReport {
    /// The run's id.
    pub run: String,
    /// The run's workflow.
    pub workflow: String,
    /// The run's status when the call returned.
    pub status: RunStatus,
    /// Steps in plan order (`to_json` turns this into the `{NAME: …}` object).
    #[serde(skip)]
    pub steps: Vec<StepReport>,
    /// The run's `output` values (an empty object until it completes).
    pub outputs: serde_json::Value,
    /// What its agents cost so far, in US dollars.
    pub cost_usd: f64,
    /// Why the run failed, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One step of a [`RunReport`].
#[derive(Clone, Debug, Serialize)]
pub struct StepReport {
    /// The step's name.
    pub name: String,
    /// The step's status.
    pub status: StepStatus,
    /// Attempts started so far (retries included).
    pub attempts: u32,
    /// The step's output; null when it did not complete.
    pub output: serde_json::Value,
    /// What the step's agent cost, in US dollars.
    pub cost_usd: f64,
    /// Why its last attempt failed, when it did.
    pub error: Option<String>,
}

impl RunReport {
    /// `{"run", "workflow", "status", "steps": {NAME: {"status","attempts","output"}}, "outputs", "cost_usd"}`.
    pub fn to_json(&self) -> serde_json::Value {
        let mut steps = serde_json::Map::new();
        for s in &self.steps {
            steps.insert(
                s.name.clone(),
                serde_json::json!({ "status": s.status, "attempts": s.attempts, "output": s.output }),
            );
        }
        let mut out = serde_json::json!({
            "run": self.run,
            "workflow": self.workflow,
            "status": self.status,
            "steps": steps,
            "outputs": self.outputs,
            "cost_usd": self.cost_usd,
        });
        if let Some(e) = &self.error {
            out["error"] = serde_json::Value::String(e.clone());
        }
        out
    }

    /// Reads the summary of `run` from the store.
    pub fn load(store: &dyn Store, run: &str) -> Result<RunReport, Error> {
        let record = crate::runtime::run_record(&*store, run)?;
        let steps = store
            .step_states(run)?
            .into_iter()
            .map(|s| StepReport {
                name: s.step,
                status: s.status,
                attempts: s.attempts,
                output: s.output.unwrap_or(serde_json::Value::Null),
                cost_usd: s.cost_usd,
                error: s.error,
            })
            .collect();
        Ok(RunReport {
            run: record.id,
            workflow: record.workflow,
            status: record.status,
            steps,
            outputs: record.outputs.unwrap_or_else(|| serde_json::json!({})),
            cost_usd: record.cost_usd,
            error: record.error,
        })
    }
}

/// Starts a run of the plan's entry workflow and follows it until it ends,
/// pauses or is cancelled. `inputs` are checked against the declared inputs
/// (defaults filled in) first; see [`crate::inputs`] for parsing `-i` text.
pub fn run(plan: Plan, inputs: serde_json::Map<String, serde_json::Value>, options: &RunOptions) -> Result<RunReport, Error> {
    // The stored copy of the plan is written before the plan is loaded,
    // while the plan is smallest, and dropped once stored (`runner::start`).
    let body = plan.to_json_compact();
    let loaded = LoadedPlan::load(plan)?;
    let entry = loaded.plan.entry.clone();
    let wf = loaded.workflow_index(&entry).ok_or_else(|| Error::Plan(PlanError::new("no entry workflow")))?;
    let inputs = crate::inputs::resolve(&loaded.plan.workflows[wf], inputs).map_err(Error::Input)?;
    runner::start(loaded, body, wf, inputs, options)
}

/// Reads the plan a run was started with from the store.
pub(crate) fn load_stored_plan(store: &dyn Store, plan_id: i64) -> Result<LoadedPlan, Error> {
    let body = store.plan(plan_id)?;
    let plan = Plan::from_json(&body)?;
    Ok(LoadedPlan::load(plan)?)
}

/// Upper-cases and replaces what an environment variable name cannot hold.
pub fn env_name(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect()
}
