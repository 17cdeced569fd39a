//! The scheduler of one run: trigger rules, the ready queue, attempts,
//! retries, pause/cancel, run timeout and budget, and the run's state writes.
//!
//! # Invariants
//!
//! - Only the runner changes its run's state, and every change goes through
//!   [`Runner::record_step`] / [`Runner::record_run`], which push the status
//!   row and its event into the same batch; a batch commits as one
//!   transaction. Batches are flushed when the runner is about to wait on
//!   something external, or every [`FLUSH_EVERY`] under load — so a long
//!   chain of instant steps costs one transaction per few thousand steps.
//! - A step's completion is committed before any step that could only have
//!   started because of it completes (batches commit in order), so after a
//!   crash the recorded completions are a prefix-closed set: `resume` re-runs
//!   exactly the steps whose completion was not recorded.
//! - Dependency bookkeeping is a counter per step plus four flags (any dep
//!   succeeded / failed / was upstream_failed / was skipped, [`rules::Counts`]); each edge is visited once, so a run
//!   costs O(steps + edges). Propagation uses a work list, never recursion,
//!   so a 100,000-step chain cannot overflow the stack.

use std::collections::VecDeque;
use std::rc::Rc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use attempt::Outcome;
use super::{lock, RunOptions};
use crate::plan::{LoadedPlan, StepId, Workflow};
use crate::state::{Op, StepStatus, Store};

// The runner's own parts, one file each: starting it (`driver`), its journal,
// dependency bookkeeping (`deps`, over the pure `rules`), dispatch, what
// attempts report (`outcomes`), its main loop and end (`lifecycle`), and
// the exit handler that runs between the two (`finally`).
pub(crate) mod attempt;
pub(crate) mod compensation;
mod deps;
pub(crate) mod exec;
mod notify;
mod dispatch;
mod driver;
mod journal;
mod lifecycle;
mod outcomes;
mod finally;
mod pin;
mod rules;
pub(crate) mod waits;

pub(crate) use driver::{child_run, resume_locked, start};
use driver::Launch;

// Each construct's part of the runner extends it from its own file; `hooks`
// holds the state they keep and the hooks called by the parts above.
mod hooks;
pub(crate) mod checkpoints;
pub(crate) mod quality_gates;
pub(crate) mod invariants;
pub(crate) mod items;

pub(crate) mod spawn;
pub mod stores;

// Steps blocked on people and events: their holds and resolutions.
mod blocked;
mod fail_fast;
mod job;

/// Under a steady stream of instant steps, commit at least this often.
const FLUSH_EVERY: Duration = Duration::from_millis(25);
/// How often the runner looks for pause/resume/cancel requests.
const CONTROL_POLL: Duration = Duration::from_millis(100);
/// Environment values above this size are not exported.
const MAX_ENV_VALUE: usize = 64 << 10;

/// What runs share: the store, the plan, where things go.
pub(crate) struct Shared {
    pub store: std::cell::RefCell<Box<dyn Store>>,
    pub plan: LoadedPlan,
    pub plan_id: i64,
    pub options: RunOptions,
    /// Notify deliveries still running; waited for (bounded) before returning.
    pub background: std::cell::RefCell<Vec<tokio::task::JoinHandle<()>>>,
    /// Secret values to mask in everything recorded.
    pub secrets: crate::runtime::secrets::Redactor,
    /// Spawned child runs executing in this process; waited for before returning.
    pub spawned: std::cell::RefCell<Vec<tokio::task::JoinHandle<()>>>,
}

pub(crate) enum Msg {
    Spawned { step: StepId, attempt: u32, pid: u32 },
    Finished { step: StepId, attempt: u32, outcome: Box<Outcome> },
    RetryDue { step: StepId },
    /// An event an attempt reports while it runs (`for each` instances).
    Event { step: StepId, event: crate::state::Event },
    /// The invariants checked after a gate a person or an event resolved.
    GateChecked { step: StepId, attempt: u32, output: Value, payload: crate::state::payload::Completed, adv: Box<attempt::OutcomeExtras> },
}

#[derive(Clone, Debug, PartialEq)]
enum Abort {
    Cancel,
    Timeout(u64),
    Budget(String),
    /// The run must stop and fail (an invariant was violated), with why.
    Failed(String),
}

#[derive(Default)]
struct StepRt {
    status: Option<StepStatus>,
    attempts: u32,
    /// What its trigger rule reads: dependencies not yet decided (each step
    /// of `after` outside the `after_groups`, plus one per group) and the
    /// effects of those that were.
    deps: rules::Counts,
    /// Per entry of `after_groups`: its members not yet terminal.
    group_pending: Vec<u32>,
    /// Queued, running or terminal: trigger rules no longer apply.
    decided: bool,
    in_flight: bool,
    retry_waiting: bool,
    output: Option<Value>,
    /// The `STEP` value expressions see, once the step is terminal.
    view: Option<cel::Value>,
    /// For a completed branch: the index of the arm it picked.
    picked: Option<u32>,
    cost: f64,
    started_at: Option<String>,
    error: Option<String>,
    stdout: Option<String>,
    stderr: Option<String>,
}

pub(crate) struct Runner {
    sh: Rc<Shared>,
    wf: usize,
    run: String,
    workflow: String,
    depth: u32,
    started_ms: i64,
    inputs_cel: cel::Value,
    input_env: Vec<(String, String)>,
    steps: Vec<StepRt>,
    ready_inline: VecDeque<StepId>,
    ready_external: VecDeque<StepId>,
    running_external: u32,
    in_flight: usize,
    inline_in_flight: usize,
    cost: f64,
    ops: Vec<Op>,
    last_flush: Instant,
    tx: mpsc::UnboundedSender<Msg>,
    rx: mpsc::UnboundedReceiver<Msg>,
    abort_tx: watch::Sender<bool>,
    parent_abort: Option<watch::Receiver<bool>>,
    paused: bool,
    aborting: Option<Abort>,
    last_control: i64,
    /// Steps decided so far (terminal), and how many must be.
    settled: usize,
    total: usize,
    first_failure: Option<String>,
    /// The exit handler (`finally { … }`) started: how the rest of the run
    /// ended, as its `finally_started` entry records it. `None` before.
    finally: Option<crate::state::payload::FinallyStarted>,
    _lock: lock::RunLock,
    adv: hooks::AdvState,
    blocked: blocked::Holds,
    /// `parallel NAME fail_fast` groups: their stop signals and the members they cancelled.
    fail_fast: fail_fast::FailFast,
    /// The run of a `for each item` group's job: its item and what it reads
    /// of the parent run (`job`).
    job: Option<job::JobScope>,
}

impl Runner {
    fn wf_plan(&self) -> &Workflow {
        &self.sh.plan.plan.workflows[self.wf]
    }
}
