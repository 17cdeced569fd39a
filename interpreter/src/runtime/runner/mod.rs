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
//! - Dependency bookkeeping is a counter per step plus three flags (any dep
//!   succeeded / failed / was skipped); each edge is visited once, so a run
//!   costs O(steps + edges). Propagation uses a work list, never recursion,
//!   so a 100,000-step chain cannot overflow the stack.

use std::collections::VecDeque;
use std::rc::Rc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::exec::{self, AttemptCtx, Outcome};

use super::scope::{cel_map, to_cel, Scope};
use super::{control, env_name, Error, Observed, RunOptions, RunReport};
use crate::plan::{LoadedPlan, OnFailure, StepId, Workflow};
use rules::{Decision, Eff};
use crate::state::{NewRun, Op, RunStatus, StepState, StepStatus, Store};
use crate::time;

// Each construct's part of the runner extends it from its own file; `hooks`
// holds the state they keep and the hooks called below.
mod hooks;
mod rules;
pub(crate) mod checkpoints;
pub(crate) mod quality_gates;
pub(crate) mod invariants;
pub(crate) mod items;
pub(crate) mod secrets;
pub(crate) mod spawn;
pub mod stores;

// Steps blocked on people and events: their holds and resolutions.
mod blocked;

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
    pub secrets: secrets::Redactor,
    /// Spawned child runs executing in this process; waited for before returning.
    pub spawned: std::cell::RefCell<Vec<tokio::task::JoinHandle<()>>>,
}

pub(crate) enum Msg {
    Spawned { step: StepId, attempt: u32, pid: u32 },
    Finished { step: StepId, attempt: u32, outcome: Box<Outcome> },
    RetryDue { step: StepId },
    /// An event an attempt reports while it runs (`for each` instances).
    Event { step: StepId, event: &'static str, payload: Value },
    /// The invariants checked after a gate a person or an event resolved.
    GateChecked { step: StepId, attempt: u32, output: Value, payload: Value, adv: Box<items::OutcomeExtras> },
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
    _lock: Option<control::RunLock>,
    adv: hooks::AdvState,
    blocked: blocked::Holds,
}

/// Opens the store and starts a new top-level run.
pub(crate) fn start(plan: LoadedPlan, wf: usize, inputs: Value, options: &RunOptions) -> Result<RunReport, Error> {
    let mut store = super::open_store(options)?;
    let plan_id = store.put_plan(plan.plan.format_version, &plan.plan.to_json_compact())?;
    let workflow = plan.plan.workflows[wf].name.clone();
    let run = store.create_run(&NewRun {
        plan_id,
        workflow,
        parent_run: None,
        parent_step: None,
        depth: 0,
        inputs: inputs.clone(),
        project_dir: options.project_dir.display().to_string(),
    })?;
    blocked::record_top_origin(&mut *store, &plan.plan, &plan.plan.workflows[wf].name, &run, &options.origin)?;
    let lock = control::try_lock(&options.runs_dir(), &run)?
        .ok_or_else(|| Error::Run(format!("run `{run}` is locked by another process")))?;
    let secrets = secrets::redactor_for(&plan.plan.secrets, &options.project_dir);
    let sh = Rc::new(Shared {
        store: std::cell::RefCell::new(store),
        plan,
        plan_id,
        options: options.clone(),
        background: Default::default(),
        secrets,
        spawned: Default::default(),
    });
    drive_to_end(sh, move |sh| Runner::new(sh, wf, run, 0, inputs, None, Some(lock), false))
}

/// Resumes an existing top-level run in this process (the caller holds its lock).
pub(crate) fn resume_locked(
    store: Box<dyn Store>,
    record: crate::state::RunRecord,
    lock: control::RunLock,
    options: &RunOptions,
) -> Result<RunReport, Error> {
    let plan = super::load_stored_plan(&*store, record.plan_id)?;
    let wf = plan
        .workflow_index(&record.workflow)
        .ok_or_else(|| Error::Run(format!("the stored plan of run `{}` has no workflow `{}`", record.id, record.workflow)))?;
    // Commands run where the run started, wherever `resume` is typed.
    let mut options = options.clone();
    options.project_dir = record.project_dir.clone().into();
    let secrets = secrets::redactor_for(&plan.plan.secrets, &options.project_dir);
    let sh = Rc::new(Shared {
        store: std::cell::RefCell::new(store),
        plan,
        plan_id: record.plan_id,
        options,
        background: Default::default(),
        secrets,
        spawned: Default::default(),
    });
    let depth = record.depth;
    drive_to_end(sh, move |sh| Runner::new(sh, wf, record.id, depth, record.inputs, None, Some(lock), true))
}

fn drive_to_end(
    sh: Rc<Shared>,
    make: impl FnOnce(Rc<Shared>) -> Result<Runner, Error>,
) -> Result<RunReport, Error> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Io(format!("cannot start the async runtime: {e}")))?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async move {
        let runner = make(sh.clone())?;
        let run = runner.run.clone();
        runner.drive().await?;
        // Spawned children outlive their steps; the process waits for them.
        spawn::wait_all(&sh).await;
        // Let notify deliveries finish, within reason.
        let pending: Vec<_> = sh.background.borrow_mut().drain(..).collect();
        for handle in pending {
            let _ = tokio::time::timeout(Duration::from_secs(10), handle).await;
        }
        let store = sh.store.borrow();
        RunReport::load(store.as_ref(), &run)
    })
}

/// Runs (or resumes) a child run for a `call` step; returns its summary.
pub(crate) async fn child_run(
    sh: Rc<Shared>,
    workflow: &str,
    inputs: Value,
    parent: &str,
    parent_step: &str,
    depth: u32,
    abort: watch::Receiver<bool>,
) -> Result<RunReport, String> {
    let wf = sh.plan.workflow_index(workflow).ok_or_else(|| format!("workflow `{workflow}` is not in the plan"))?;
    let existing = sh.store.borrow().child_run(parent, parent_step).map_err(|e| e.to_string())?;
    let (run, resuming, inputs) = match existing {
        Some(rec) if rec.status == RunStatus::Completed => {
            let store = sh.store.borrow();
            return RunReport::load(store.as_ref(), &rec.id).map_err(|e| e.to_string());
        }
        Some(rec) if !rec.status.is_terminal() => (rec.id, true, rec.inputs),
        _ => {
            let inputs = match inputs {
                Value::Object(map) => map,
                Value::Null => serde_json::Map::new(),
                other => return Err(format!("the inputs of a call must be an object, not {other}")),
            };
            let inputs = crate::inputs::resolve(&sh.plan.plan.workflows[wf], inputs)?;
            let run = sh
                .store
                .borrow_mut()
                .create_run(&NewRun {
                    plan_id: sh.plan_id,
                    workflow: workflow.to_string(),
                    parent_run: Some(parent.to_string()),
                    parent_step: Some(parent_step.to_string()),
                    depth,
                    inputs: inputs.clone(),
                    project_dir: sh.options.project_dir.display().to_string(),
                })
                .map_err(|e| e.to_string())?;
            blocked::record_child_origin(&sh, &run, parent, parent_step)?;
            (run, false, inputs)
        }
    };
    let lock = control::try_lock(&sh.options.runs_dir(), &run)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("child run `{run}` is being executed by another process"))?;
    let runner = Runner::new(sh.clone(), wf, run.clone(), depth, inputs, Some(abort), Some(lock), resuming)
        .map_err(|e| e.to_string())?;
    Box::pin(runner.drive()).await.map_err(|e| e.to_string())?;
    let store = sh.store.borrow();
    RunReport::load(store.as_ref(), &run).map_err(|e| e.to_string())
}

impl Runner {
    #[allow(clippy::too_many_arguments)]
    fn new(
        sh: Rc<Shared>,
        wf: usize,
        run: String,
        depth: u32,
        inputs: Value,
        parent_abort: Option<watch::Receiver<bool>>,
        lock: Option<control::RunLock>,
        resuming: bool,
    ) -> Result<Runner, Error> {
        let workflow = sh.plan.plan.workflows[wf].name.clone();
        let n = sh.plan.plan.workflows[wf].steps.len();
        let total = sh.plan.workflows[wf].steps.iter().filter(|s| !s.compensation_only).count();
        let input_env = match &inputs {
            Value::Object(map) => map
                .iter()
                .filter_map(|(k, v)| {
                    let text = crate::plan::table::render_value(v);
                    (text.len() <= MAX_ENV_VALUE).then(|| (format!("FLOW_INPUT_{}", env_name(k)), text))
                })
                .collect(),
            _ => Vec::new(),
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let (abort_tx, _) = watch::channel(false);
        let last_control = sh.store.borrow().last_control_id(&run)?;
        let mut runner = Runner {
            inputs_cel: to_cel(&inputs),
            input_env,
            sh,
            wf,
            run,
            workflow,
            depth,
            started_ms: time::now_ms(),
            steps: (0..n).map(|_| StepRt::default()).collect(),
            ready_inline: VecDeque::new(),
            ready_external: VecDeque::new(),
            running_external: 0,
            in_flight: 0,
            inline_in_flight: 0,
            cost: 0.0,
            ops: Vec::new(),
            last_flush: Instant::now(),
            tx,
            rx,
            abort_tx,
            parent_abort,
            paused: false,
            aborting: None,
            last_control,
            settled: 0,
            total,
            first_failure: None,
            _lock: lock,
            adv: Default::default(),
            blocked: Default::default(),
        };
        if resuming && !runner.never_started()? {
            runner.restore()?;
        } else {
            runner.begin();
        }
        Ok(runner)
    }

    fn wf_plan(&self) -> &Workflow {
        &self.sh.plan.plan.workflows[self.wf]
    }

    // ------------------------------------------------------------ recording

    fn observe(&self, step: Option<StepId>, event: &str, payload: &Value) {
        if let Some(observer) = &self.sh.options.observer {
            let wf = self.wf_plan();
            let (name, group) = match step {
                Some(s) => {
                    let st = &wf.steps[s as usize];
                    (Some(st.name.as_str()), st.group.map(|g| wf.groups[g as usize].name.as_str()))
                }
                None => (None, None),
            };
            observer.observe(&Observed {
                run: &self.run,
                workflow: &self.workflow,
                depth: self.depth,
                step: name,
                group,
                event,
                payload,
            });
        }
    }

    fn event(&mut self, step: Option<StepId>, event: &'static str, payload: Value) {
        self.observe(step, event, &payload);
        let name = step.map(|s| self.wf_plan().steps[s as usize].name.clone());
        self.ops.push(Op::Event { run: self.run.clone(), step: name, event, payload, at: time::now() });
    }

    /// Sets a step's status and records the event for it, in one batch.
    fn record_step(&mut self, s: StepId, status: StepStatus, event: &'static str, payload: Value) {
        let finished = status.is_terminal().then(time::now);
        let st = &mut self.steps[s as usize];
        st.status = Some(status);
        let row = StepState {
            run: self.run.clone(),
            step_id: s,
            step: self.sh.plan.plan.workflows[self.wf].steps[s as usize].name.clone(),
            status,
            attempts: st.attempts,
            output: st.output.clone(),
            stdout: st.stdout.clone(),
            stderr: st.stderr.clone(),
            cost_usd: st.cost,
            error: st.error.clone(),
            started_at: st.started_at.clone(),
            finished_at: finished,
        };
        self.ops.push(Op::StepState(row));
        self.event(Some(s), event, payload);
    }

    fn record_run(&mut self, status: RunStatus, event: &'static str, payload: Value, error: Option<String>, outputs: Option<Value>) {
        let finished = status.is_terminal().then(time::now);
        self.ops.push(Op::RunStatus {
            run: self.run.clone(),
            status,
            error,
            outputs,
            started_at: None,
            finished_at: finished,
        });
        self.event(None, event, payload);
    }

    fn flush(&mut self) -> Result<(), Error> {
        if !self.ops.is_empty() {
            let mut ops = std::mem::take(&mut self.ops);
            self.sh.secrets.redact_ops(&mut ops);
            // A step that started and finished within one batch needs only
            // its last state row: the rows replace each other, and the
            // events (which are all kept) record every transition.
            let mut last = std::collections::HashMap::new();
            for (i, op) in ops.iter().enumerate() {
                if let Op::StepState(s) = op {
                    last.insert(s.step_id, i);
                }
            }
            if last.len() < ops.iter().filter(|op| matches!(op, Op::StepState(_))).count() {
                let mut i = 0;
                ops.retain(|op| {
                    let keep = match op {
                        Op::StepState(s) => last.get(&s.step_id) == Some(&i),
                        _ => true,
                    };
                    i += 1;
                    keep
                });
            }
            self.sh.store.borrow_mut().apply(&ops)?;
        }
        self.last_flush = Instant::now();
        Ok(())
    }

    // ------------------------------------------------------------- starting

    fn begin(&mut self) {
        let started = time::now();
        self.ops.push(Op::RunStatus {
            run: self.run.clone(),
            status: RunStatus::Running,
            error: None,
            outputs: None,
            started_at: Some(started),
            finished_at: None,
        });
        let steps = self.total;
        let mut payload = json!({ "workflow": self.workflow, "steps": steps });
        self.add_origin(&mut payload);
        self.event(None, "started", payload);
        for s in 0..self.steps.len() {
            if self.sh.plan.workflows[self.wf].steps[s].compensation_only {
                continue;
            }
            let name = self.wf_plan().steps[s].name.clone();
            self.steps[s].status = Some(StepStatus::Pending);
            self.ops.push(Op::StepState(StepState {
                run: self.run.clone(),
                step_id: s as u32,
                step: name,
                status: StepStatus::Pending,
                attempts: 0,
                output: None,
                stdout: None,
                stderr: None,
                cost_usd: 0.0,
                error: None,
                started_at: None,
                finished_at: None,
            }));
        }
        self.init_counters();
        let roots: Vec<StepId> = self.roots();
        let mut work = Vec::new();
        for s in roots {
            self.steps[s as usize].decided = true;
            self.make_ready(s, &mut work);
        }
        self.propagate(work);
        self.adv_begin();
    }

    fn roots(&self) -> Vec<StepId> {
        let wf = self.wf_plan();
        let loaded = &self.sh.plan.workflows[self.wf];
        (0..wf.steps.len() as u32)
            .filter(|s| wf.steps[*s as usize].after.is_empty() && !loaded.steps[*s as usize].compensation_only)
            .collect()
    }

    fn init_counters(&mut self) {
        let sh = self.sh.clone();
        let loaded = &sh.plan.workflows[self.wf];
        for (i, step) in sh.plan.plan.workflows[self.wf].steps.iter().enumerate() {
            let units = &loaded.steps[i].group_deps;
            let singles = step.after.iter().filter(|d| !units.iter().any(|m| m.binary_search(d).is_ok())).count();
            let st = &mut self.steps[i];
            st.deps.pending = (singles + units.len()) as u32;
            st.group_pending = units.iter().map(|m| m.len() as u32).collect();
        }
    }

    /// Counts `x`'s dependencies anew from the current statuses (a fix round
    /// made some of them pending again).
    pub(super) fn recount(&mut self, x: StepId) {
        let sh = self.sh.clone();
        let units = &sh.plan.workflows[self.wf].steps[x as usize].group_deps;
        let after = &sh.plan.plan.workflows[self.wf].steps[x as usize].after;
        let terminal = |me: &Self, d: StepId| me.steps[d as usize].status.is_some_and(StepStatus::is_terminal);
        let mut effs = Vec::new();
        let mut pending = 0;
        for &d in after.iter().filter(|d| !units.iter().any(|m| m.binary_search(d).is_ok())) {
            if terminal(self, d) { effs.push(self.effective(d, x)) } else { pending += 1 }
        }
        let mut group_pending = Vec::with_capacity(units.len());
        for members in units {
            let left = members.iter().filter(|m| !terminal(self, **m)).count() as u32;
            if left == 0 { effs.push(self.group_effective(members, x)) } else { pending += 1 }
            group_pending.push(left);
        }
        let st = &mut self.steps[x as usize];
        st.group_pending = group_pending;
        st.deps = rules::Counts {
            pending,
            any_success: effs.contains(&Eff::Success),
            any_failed: effs.contains(&Eff::Failed),
            any_skipped: effs.contains(&Eff::Skipped),
        };
    }

    /// A group's outcome as one dependency of `dependent`, once every member
    /// is terminal: failed if a member failed (and was not `on_failure
    /// continue`) or was upstream_failed; skipped if every member was
    /// skipped; completed otherwise.
    fn group_effective(&self, members: &[StepId], dependent: StepId) -> Eff {
        rules::group_effect(members.iter().map(|&m| {
            let continued = self.steps[m as usize].status == Some(StepStatus::Failed) && self.on_failure_of(m) == OnFailure::Continue;
            if continued { Eff::Success } else { self.effective(m, dependent) }
        }))
    }

    /// Rebuilds the scheduler's state from the store, after a crash or a pause.
    fn restore(&mut self) -> Result<(), Error> {
        let record = self
            .sh
            .store
            .borrow()
            .run(&self.run)?
            .ok_or_else(|| Error::Run(format!("there is no run `{}`", self.run)))?;
        self.cost = record.cost_usd;
        if let Some(started) = record.started_at.as_deref().and_then(time::parse_rfc3339) {
            self.started_ms = started;
        }
        let previous = record.status;
        let states = self.sh.store.borrow().step_states(&self.run)?;
        let attempts = self.sh.store.borrow().attempts(&self.run)?;
        // Attempts that were in flight when the run stopped: their processes
        // may have outlived flowc. End them (only if they are still the
        // processes we started), then re-run the steps with a new attempt.
        let in_flight: Vec<&str> = attempts.iter().filter(|a| a.status == StepStatus::Running).map(|a| a.step.as_str()).collect();
        super::process::stop_orphans(&self.run, &in_flight);
        for a in attempts.iter().filter(|a| a.status == StepStatus::Running) {
            self.ops.push(Op::AttemptFinished {
                run: self.run.clone(),
                step_id: a.step_id,
                attempt: a.attempt,
                status: StepStatus::Failed,
                exit_code: None,
                error: Some("interrupted: flowc stopped while the attempt ran".into()),
                at: time::now(),
                duration_ms: 0,
            });
        }
        let sh = self.sh.clone();
        let mut interrupted = Vec::new();
        self.restore_gates()?;
        for state in &states {
            let s = state.step_id as usize;
            if s >= self.steps.len() {
                continue;
            }
            if state.status == StepStatus::Blocked && self.restore_gate(state) {
                continue;
            }
            let st = &mut self.steps[s];
            st.attempts = state.attempts;
            st.started_at = state.started_at.clone();
            if state.status.is_terminal() {
                st.status = Some(state.status);
                st.output = state.output.clone();
                st.cost = state.cost_usd;
                st.error = state.error.clone();
                st.stdout = state.stdout.clone();
                st.stderr = state.stderr.clone();
                st.decided = true;
                if let Some(Value::String(name)) = state.output.as_ref().and_then(|o| o.get("picked")) {
                    let arms = &sh.plan.workflows[self.wf].steps[s].arms;
                    st.picked = arms.iter().position(|(n, _)| n == name).map(|i| i as u32);
                }
            } else {
                if matches!(state.status, StepStatus::Running | StepStatus::Paused) {
                    interrupted.push((state.step_id, state.status));
                }
                st.status = Some(StepStatus::Pending);
            }
        }
        let after = match previous {
            RunStatus::Paused => "paused",
            RunStatus::Blocked => "blocked",
            _ => "interrupted",
        };
        self.ops.push(Op::RunStatus {
            run: self.run.clone(),
            status: RunStatus::Running,
            error: None,
            outputs: None,
            started_at: None,
            finished_at: None,
        });
        self.event(None, "resumed", json!({ "after": after }));
        for (s, was) in interrupted {
            let attempt = self.steps[s as usize].attempts;
            if was == StepStatus::Paused {
                // Paused by its own failure (`on_failure pause`): resume runs it again.
                self.record_step(s, StepStatus::Pending, "resumed", json!({ "attempt": attempt }));
            } else {
                self.record_step(s, StepStatus::Pending, "interrupted", json!({ "attempt": attempt }));
            }
        }

        // Replay: every terminal step, deps first, informs its dependents.
        self.init_counters();
        let topo = self.sh.plan.workflows[self.wf].topo.clone();
        let mut work = Vec::new();
        for s in self.roots() {
            if !self.steps[s as usize].decided {
                self.steps[s as usize].decided = true;
                self.make_ready(s, &mut work);
            }
        }
        for &s in &topo {
            if self.steps[s as usize].status.is_some_and(StepStatus::is_terminal) {
                self.settled += 1;
                self.inform_dependents(s, &mut work);
            }
        }
        self.propagate(work);
        self.adv_restore()?;
        self.redispatch_calls();
        Ok(())
    }

    // ------------------------------------------------------- trigger rules

    fn effective(&self, dep: StepId, dependent: StepId) -> Eff {
        let st = &self.steps[dep as usize];
        let not_picked = st.status == Some(StepStatus::Completed) && {
            let info = &self.sh.plan.workflows[self.wf].steps[dep as usize];
            let picked = st.picked.and_then(|i| info.arms.get(i as usize)).is_some_and(|(_, steps)| steps.contains(&dependent));
            info.arm_targets.contains(&dependent) && !picked
        };
        let by_person = st.status == Some(StepStatus::Skipped) && checkpoints::passed_by_person(st.output.as_ref());
        rules::dep_effect(st.status, not_picked, by_person)
    }

    /// Marks `s` terminal-settled and decides what its dependents can.
    fn propagate(&mut self, mut work: Vec<StepId>) {
        while let Some(s) = work.pop() {
            self.settled += 1;
            self.inform_dependents(s, &mut work);
        }
    }

    fn inform_dependents(&mut self, s: StepId, work: &mut Vec<StepId>) {
        let sh = self.sh.clone();
        let loaded = &sh.plan.workflows[self.wf];
        for &d in loaded.dependents[s as usize].iter() {
            if self.steps[d as usize].decided {
                continue;
            }
            // `s` counts alone, or towards the groups of `d`'s deps it is in:
            // a group counts once, when its last member is terminal.
            let mut in_group = false;
            for (u, members) in loaded.steps[d as usize].group_deps.iter().enumerate() {
                if members.binary_search(&s).is_err() {
                    continue;
                }
                in_group = true;
                let left = &mut self.steps[d as usize].group_pending[u];
                *left = left.saturating_sub(1);
                if *left == 0 {
                    let eff = self.group_effective(members, d);
                    self.count_dep(d, eff);
                }
            }
            if !in_group {
                let eff = self.effective(s, d);
                self.count_dep(d, eff);
            }
            self.decide(d, work);
        }
    }

    fn count_dep(&mut self, d: StepId, eff: Eff) {
        self.steps[d as usize].deps.count(eff);
    }

    /// Applies `d`'s trigger rule to its dependency counters: run it, skip
    /// it, mark it upstream_failed, or wait for more dependencies.
    fn decide(&mut self, d: StepId, work: &mut Vec<StepId>) {
        let rule = self.sh.plan.plan.workflows[self.wf].steps[d as usize].trigger;
        let Some(decision) = rules::decide(rule, self.steps[d as usize].deps) else { return };
        self.steps[d as usize].decided = true;
        if self.aborting.is_some() {
            return;
        }
        match decision {
            Decision::Run => self.make_ready(d, work),
            Decision::Skip(reason) => {
                // Say which branch decided, when one did.
                let by_branch = self.wf_plan().steps[d as usize].after.iter().find(|dep| {
                    self.steps[**dep as usize].status == Some(StepStatus::Completed) && self.effective(**dep, d) == Eff::Skipped
                });
                let reason = match by_branch {
                    Some(b) => {
                        let branch = &self.sh.plan.workflows[self.wf].steps[*b as usize];
                        let name = &self.wf_plan().steps[*b as usize].name;
                        match self.steps[*b as usize].picked.and_then(|i| branch.arms.get(i as usize)) {
                            Some((picked, _)) => format!("branch {name} picked {picked}"),
                            None => format!("no arm of branch {name} matched"),
                        }
                    }
                    None => reason.to_string(),
                };
                self.record_step(d, StepStatus::Skipped, "skipped", json!({ "reason": reason }));
                work.push(d);
            }
            Decision::UpstreamFailed => {
                let failed: Vec<String> = self.wf_plan().steps[d as usize]
                    .after
                    .iter()
                    .filter(|dep| self.steps[**dep as usize].status.is_some_and(StepStatus::is_terminal))
                    .filter(|dep| self.effective(**dep, d) == Eff::Failed)
                    .map(|dep| self.wf_plan().steps[*dep as usize].name.clone())
                    .collect();
                self.record_step(d, StepStatus::UpstreamFailed, "upstream_failed", json!({ "failed": failed }));
                work.push(d);
            }
        }
    }

    /// A step whose trigger rule fired: check `when`, then queue it.
    fn make_ready(&mut self, s: StepId, work: &mut Vec<StepId>) {
        if let Some(when) = self.wf_plan().steps[s as usize].when {
            let scope = self.scope_for(s);
            let loaded = &self.sh.plan.workflows[self.wf];
            let ev = super::scope::Evaluator { env: &self.sh.plan.cel, programs: &loaded.programs, exprs: &self.wf_plan().exprs };
            match ev.eval_bool(when, &scope) {
                Ok(true) => {}
                Ok(false) => {
                    self.record_step(s, StepStatus::Skipped, "skipped", json!({ "reason": "its when condition is false" }));
                    work.push(s);
                    return;
                }
                Err(e) => {
                    let msg = format!("when: {e}");
                    self.steps[s as usize].error = Some(msg.clone());
                    self.fail_for_good(s, 0, msg, work);
                    return;
                }
            }
        }
        if self.sh.plan.workflows[self.wf].steps[s as usize].external {
            self.ready_external.push_back(s);
        } else {
            self.ready_inline.push_back(s);
        }
    }

    // ------------------------------------------------------------ dispatch

    fn dispatch(&mut self) {
        if self.paused || self.aborting.is_some() {
            return;
        }
        while let Some(s) = self.ready_inline.pop_front() {
            self.start_attempt(s);
        }
        let limit = self.sh.plan.workflows[self.wf].concurrency;
        while self.running_external < limit {
            let Some(s) = self.ready_external.pop_front() else { break };
            self.start_attempt(s);
        }
    }

    /// The names a step's expressions reference, bound to their values.
    fn scope_for(&mut self, s: StepId) -> Scope {
        let sh = self.sh.clone();
        let mut scope = self.scope_of(&sh.plan.workflows[self.wf].steps[s as usize].refs);
        self.bind_items(s, &mut scope);
        scope
    }

    fn scope_of<S: AsRef<str>>(&mut self, refs: &[S]) -> Scope {
        let mut scope = Scope::default();
        let sh = self.sh.clone();
        for name in refs {
            let name = name.as_ref();
            match name {
                "inputs" => scope.bind("inputs", self.inputs_cel.clone()),
                "run" => scope.bind(
                    "run",
                    cel_map([
                        ("id", to_cel(&json!(self.run))),
                        ("workflow", to_cel(&json!(self.workflow))),
                        ("started_at", super::scope::timestamp_ms(self.started_ms)),
                        ("cost_usd", cel::Value::Float(self.cost)),
                        ("depth", cel::Value::Int(self.depth as i64)),
                        // 0 for a run of unpublished source (the checker types it `int`).
                        ("version", cel::Value::Int(self.blocked.version.unwrap_or(0))),
                    ]),
                ),
                other => {
                    if let Some(id) = sh.plan.workflows[self.wf].names.get(other) {
                        let view = self.view(*id);
                        scope.bind(other, view);
                    }
                }
            }
        }
        scope
    }

    fn env_for(&self, s: StepId, attempt: u32) -> Vec<(String, String)> {
        let step = &self.wf_plan().steps[s as usize];
        let mut env = vec![
            ("FLOW_RUN_ID".to_string(), self.run.clone()),
            ("FLOW_WORKFLOW".to_string(), self.workflow.clone()),
            ("FLOW_STEP".to_string(), step.name.clone()),
            ("FLOW_ATTEMPT".to_string(), attempt.to_string()),
            ("FLOW_PROJECT_DIR".to_string(), self.sh.options.project_dir.display().to_string()),
        ];
        env.extend(self.input_env.iter().cloned());
        for dep in &step.after {
            let st = &self.steps[*dep as usize];
            if st.status == Some(StepStatus::Completed)
                && let Some(output) = &st.output {
                    let text = crate::plan::table::render_value(output);
                    if text.len() <= MAX_ENV_VALUE {
                        let name = &self.wf_plan().steps[*dep as usize].name;
                        env.push((format!("FLOW_STEP_{}_OUTPUT", env_name(name)), text));
                    }
                }
        }
        env
    }

    fn start_attempt(&mut self, s: StepId) {
        let external = self.sh.plan.workflows[self.wf].steps[s as usize].external;
        let attempt = self.steps[s as usize].attempts + 1;
        let now = time::now();
        {
            let st = &mut self.steps[s as usize];
            st.attempts = attempt;
            st.in_flight = true;
            st.error = None;
            if st.started_at.is_none() {
                st.started_at = Some(now.clone());
            }
        }
        let name = self.wf_plan().steps[s as usize].name.clone();
        self.ops.push(Op::AttemptStarted { run: self.run.clone(), step_id: s, step: name, attempt, at: now });
        self.record_step(s, StepStatus::Running, "started", json!({ "attempt": attempt }));
        let timeout = self.sh.plan.workflows[self.wf].steps[s as usize].timeout_ms;
        let env = if external { self.env_for(s, attempt) } else { Vec::new() };
        let ctx = self.attempt_ctx(s, attempt, env, timeout);
        self.in_flight += 1;
        if external {
            self.running_external += 1;
        } else {
            self.inline_in_flight += 1;
        }
        tokio::task::spawn_local(exec::execute(ctx));
    }

    /// What an attempt of `s` (or a gate's invariant check) runs with.
    pub(super) fn attempt_ctx(&mut self, s: StepId, attempt: u32, env: Vec<(String, String)>, timeout: Option<u64>) -> AttemptCtx {
        AttemptCtx {
            sh: self.sh.clone(),
            adv: self.attempt_extras(s),
            wf: self.wf,
            step: s,
            attempt,
            run: self.run.clone(),
            depth: self.depth,
            scope: self.scope_for(s),
            env,
            abort: self.abort_tx.subscribe(),
            tx: self.tx.clone(),
            deadline: timeout.map(|ms| Instant::now() + Duration::from_millis(ms)),
            timeout_ms: timeout,
        }
    }

    // ------------------------------------------------------------ outcomes

    fn handle(&mut self, msg: Msg) {
        match msg {
            Msg::Spawned { step, attempt, pid } => {
                self.ops.push(Op::AttemptPid { run: self.run.clone(), step_id: step, attempt, pid: pid as i64 });
            }
            Msg::RetryDue { step } => {
                let st = &mut self.steps[step as usize];
                if !st.retry_waiting {
                    return;
                }
                st.retry_waiting = false;
                if self.aborting.is_none() {
                    if self.sh.plan.workflows[self.wf].steps[step as usize].external {
                        self.ready_external.push_back(step);
                    } else {
                        self.ready_inline.push_back(step);
                    }
                }
            }
            Msg::Finished { step, attempt, outcome } => self.finished(step, attempt, *outcome),
            Msg::GateChecked { step, attempt, output, payload, mut adv } => {
                self.in_flight -= 1;
                self.inline_in_flight -= 1;
                self.steps[step as usize].in_flight = false;
                self.complete_gate(step, attempt, output, payload, &mut adv);
            }
            Msg::Event { step, event, mut payload } => {
                // Reported mid-attempt (instance errors): mask before anyone sees it.
                self.sh.secrets.redact_value(&mut payload);
                self.event(Some(step), event, payload)
            }
        }
    }

    fn finished(&mut self, s: StepId, attempt: u32, mut outcome: Outcome) {
        self.redact_outcome(&mut outcome);
        let external = self.sh.plan.workflows[self.wf].steps[s as usize].external;
        self.in_flight -= 1;
        if external {
            self.running_external -= 1;
        } else {
            self.inline_in_flight -= 1;
        }
        let duration_ms = outcome.duration_ms;
        {
            let st = &mut self.steps[s as usize];
            st.in_flight = false;
            st.cost += outcome.cost;
            st.stdout = Some(outcome.stdout.clone());
            st.stderr = Some(outcome.stderr.clone());
        }
        if outcome.cost > 0.0 {
            self.cost += outcome.cost;
            self.ops.push(Op::RunCost { run: self.run.clone(), cost_usd: self.cost });
        }
        if let Some(notice) = &outcome.notified {
            self.event(Some(s), "notified", notice.clone());
        }
        for (event, payload) in std::mem::take(&mut outcome.events) {
            self.event(Some(s), event, payload);
        }
        if let Some(gate) = outcome.blocked.take() {
            if outcome.result.is_ok() && !outcome.aborted && self.aborting.is_none() {
                self.block(s, attempt, gate, outcome);
                return;
            }
            if outcome.result.is_ok() {
                outcome.result = Err("the run was stopped before the step could wait".into());
                outcome.aborted = true;
            }
        }
        let no_retry = outcome.no_retry;
        let (status, error) = match &outcome.result {
            Ok(_) => (StepStatus::Completed, None),
            Err(e) => (if outcome.aborted { StepStatus::Cancelled } else { StepStatus::Failed }, Some(e.clone())),
        };
        self.ops.push(Op::AttemptFinished {
            run: self.run.clone(),
            step_id: s,
            attempt,
            status,
            exit_code: outcome.exit_code,
            error: error.clone(),
            at: time::now(),
            duration_ms,
        });
        let mut work = Vec::new();
        match outcome.result {
            Ok(_) if self.adv_before_complete(s, attempt, &mut outcome.adv) => {}
            Ok(success) => {
                let st = &mut self.steps[s as usize];
                st.output = Some(success.output);
                st.picked = success.picked;
                self.record_step(
                    s,
                    StepStatus::Completed,
                    "completed",
                    json!({ "attempt": attempt, "duration_ms": duration_ms, "cost_usd": outcome.cost }),
                );
                self.adv_after_complete(s, attempt, &mut outcome.adv);
                work.push(s);
            }
            Err(error) if outcome.aborted || self.aborting.is_some() => {
                self.steps[s as usize].error = Some(error.clone());
                self.record_step(s, StepStatus::Cancelled, "cancelled", json!({ "attempt": attempt, "error": error }));
                self.settled += 1;
            }
            Err(error) => {
                self.steps[s as usize].error = Some(error.clone());
                self.adv_on_error(s, attempt, &mut outcome.adv);
                let retry = self.sh.plan.workflows[self.wf].steps[s as usize].retry.clone();
                match retry {
                    Some(r) if attempt <= r.count && !no_retry => {
                        let delay = r.delay_before(attempt + 1);
                        self.steps[s as usize].retry_waiting = true;
                        self.record_step(
                            s,
                            StepStatus::Pending,
                            "retried",
                            json!({ "attempt": attempt, "next_attempt": attempt + 1, "delay_ms": delay, "error": error }),
                        );
                        let tx = self.tx.clone();
                        tokio::task::spawn_local(async move {
                            tokio::time::sleep(Duration::from_millis(delay)).await;
                            let _ = tx.send(Msg::RetryDue { step: s });
                        });
                    }
                    _ if self.gate_fix(s, &error) => {}
                    _ => self.fail_for_good(s, attempt, error, &mut work),
                }
            }
        }
        self.propagate(work);
        self.check_budget();
    }

    /// The last attempt failed: apply `on_failure`.
    fn fail_for_good(&mut self, s: StepId, attempt: u32, error: String, work: &mut Vec<StepId>) {
        let name = self.sh.plan.plan.workflows[self.wf].steps[s as usize].name.clone();
        let on_failure = self.on_failure_of(s);
        match on_failure {
            OnFailure::Pause => {
                self.record_step(s, StepStatus::Paused, "failed", json!({ "attempt": attempt, "error": error, "on_failure": "pause" }));
                if !self.paused {
                    self.paused = true;
                    self.record_run(
                        RunStatus::Paused,
                        "paused",
                        json!({ "reason": format!("step {name} failed"), "step": name }),
                        None,
                        None,
                    );
                }
            }
            OnFailure::Fail | OnFailure::Continue => {
                if on_failure == OnFailure::Fail && self.first_failure.is_none() {
                    self.first_failure = Some(format!("step {name} failed: {error}"));
                }
                self.record_step(s, StepStatus::Failed, "failed", json!({ "attempt": attempt, "error": error }));
                work.push(s);
            }
        }
    }

    fn check_budget(&mut self) {
        if let Some(budget) = self.wf_plan().defaults.budget_usd
            && self.cost > budget + 1e-9 && self.aborting.is_none() {
                let msg = format!("the run spent ${:.4}, over its budget of ${budget:.2}", self.cost);
                self.event(None, "budget_exceeded", json!({ "cost_usd": self.cost, "budget_usd": budget }));
                self.abort(Abort::Budget(msg));
            }
    }

    /// The value expressions see as `STEP`, built when first needed (most
    /// steps are never referenced, and a view costs more memory than the
    /// step's other state) and cached once the step is terminal. A step not
    /// finished yet (an upstream step a `one_success` did not wait for) is
    /// seen with its status and an empty output, so `has(STEP.output.f)` and
    /// `STEP.status` work on it (docs/language.md, "A step that did not
    /// complete").
    fn view(&mut self, s: StepId) -> cel::Value {
        let wf = &self.sh.plan.plan.workflows[self.wf];
        let st = &mut self.steps[s as usize];
        let Some(status) = st.status.filter(|x| x.is_terminal()) else {
            let status = st.status.map_or("pending", |x| x.as_str());
            let absent = || super::scope::absent_output(&wf.steps[s as usize], &wf.types);
            return super::scope::step_view(status, st.attempts, None, absent, st.cost, None, None);
        };
        st.view
            .get_or_insert_with(|| {
                super::scope::step_view(
                    status.as_str(),
                    st.attempts,
                    st.output.as_ref(),
                    || super::scope::absent_output(&wf.steps[s as usize], &wf.types),
                    st.cost,
                    st.stdout.as_deref(),
                    st.stderr.as_deref(),
                )
            })
            .clone()
    }

    // ----------------------------------------------------------- lifecycle

    fn abort(&mut self, why: Abort) {
        if self.aborting.is_some() {
            return;
        }
        self.aborting = Some(why.clone());
        let _ = self.abort_tx.send(true);
        self.ready_inline.clear();
        self.ready_external.clear();
        let reason = match &why {
            Abort::Cancel => "the run was cancelled".to_string(),
            Abort::Timeout(ms) => format!("the run exceeded its timeout of {}", crate::plan::disasm::format_duration(*ms)),
            Abort::Budget(msg) | Abort::Failed(msg) => msg.clone(),
        };
        // Steps not running now will never run in this run.
        let sh = self.sh.clone();
        for (s, info) in sh.plan.workflows[self.wf].steps.iter().enumerate() {
            let st = &self.steps[s];
            if info.compensation_only || st.in_flight || st.status.is_some_and(StepStatus::is_terminal) {
                continue;
            }
            self.steps[s].retry_waiting = false;
            self.steps[s].decided = true;
            self.record_step(s as u32, StepStatus::Cancelled, "cancelled", json!({ "reason": reason }));
            self.settled += 1;
        }
    }

    fn poll_controls(&mut self) -> Result<(), Error> {
        let controls = self.sh.store.borrow().controls_after(&self.run, self.last_control)?;
        for (id, control) in controls {
            self.last_control = id;
            match control {
                crate::state::Control::Pause | crate::state::Control::Shutdown if !self.paused && self.aborting.is_none() => {
                    self.paused = true;
                    let reason = if control == crate::state::Control::Shutdown { "shutdown" } else { "requested" };
                    self.record_run(RunStatus::Paused, "paused", json!({ "reason": reason }), None, None);
                }
                crate::state::Control::Resume if self.paused && self.aborting.is_none() => {
                    self.paused = false;
                    self.ops.push(Op::RunStatus {
                        run: self.run.clone(),
                        status: RunStatus::Running,
                        error: None,
                        outputs: None,
                        started_at: None,
                        finished_at: None,
                    });
                    self.event(None, "resumed", json!({ "after": "paused" }));
                    // Steps paused by their own failure run again.
                    let paused: Vec<StepId> = (0..self.steps.len() as u32)
                        .filter(|s| self.steps[*s as usize].status == Some(StepStatus::Paused))
                        .collect();
                    for s in paused {
                        self.record_step(s, StepStatus::Pending, "resumed", json!({}));
                        if self.sh.plan.workflows[self.wf].steps[s as usize].external {
                            self.ready_external.push_back(s);
                        } else {
                            self.ready_inline.push_back(s);
                        }
                    }
                }
                crate::state::Control::Cancel => self.abort(Abort::Cancel),
                _ => {}
            }
        }
        // A control's effect must be visible to the process that asked.
        self.flush()
    }

    fn done(&self) -> bool {
        if self.in_flight > 0 {
            return false;
        }
        self.aborting.is_some() || self.paused || self.settled >= self.total || self.only_gates_left()
    }

    pub(crate) async fn drive(mut self) -> Result<RunStatus, Error> {
        let mut poll = tokio::time::interval(CONTROL_POLL);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let run_deadline = self.wf_plan().defaults.run_timeout_ms.map(|ms| {
            let elapsed = (time::now_ms() - self.started_ms).max(0) as u64;
            (Instant::now() + Duration::from_millis(ms.saturating_sub(elapsed)), ms)
        });
        enum Wake {
            Msg(Option<Msg>),
            Poll,
            Deadline(u64),
            ParentAbort,
        }
        self.poll_gates()?;
        loop {
            self.dispatch();
            if self.done() {
                if self.last_look()? {
                    continue;
                }
                break;
            }
            // Instant steps report within this tick: wait for them to batch
            // their writes, unless the batch is getting old.
            // A batch holding only process ids can wait for the next one: a
            // pid is a record for people (`step_runs.pid`); orphans are found
            // by their environment (`process::stop_orphans`).
            let only_pids = self.ops.iter().all(|op| matches!(op, Op::AttemptPid { .. }));
            let idle = self.inline_in_flight == 0 && !only_pids;
            if idle || self.last_flush.elapsed() >= FLUSH_EVERY {
                self.flush()?;
            }
            let deadline = async {
                match run_deadline {
                    Some((at, ms)) => {
                        tokio::time::sleep_until(at).await;
                        ms
                    }
                    None => std::future::pending().await,
                }
            };
            let parent = async {
                match self.parent_abort.as_mut() {
                    Some(rx) => loop {
                        if *rx.borrow_and_update() {
                            return;
                        }
                        if rx.changed().await.is_err() {
                            std::future::pending::<()>().await;
                        }
                    },
                    None => std::future::pending().await,
                }
            };
            let aborting = self.aborting.is_some();
            let wake = tokio::select! {
                m = self.rx.recv() => Wake::Msg(m),
                _ = poll.tick() => Wake::Poll,
                ms = deadline, if !aborting => Wake::Deadline(ms),
                _ = parent, if !aborting => Wake::ParentAbort,
            };
            match wake {
                Wake::Msg(Some(m)) => {
                    self.handle(m);
                    while let Ok(m) = self.rx.try_recv() {
                        self.handle(m);
                    }
                }
                Wake::Msg(None) => {}
                Wake::Poll => {
                    self.poll_controls()?;
                    self.poll_gates()?;
                }
                Wake::Deadline(ms) => self.abort(Abort::Timeout(ms)),
                Wake::ParentAbort => self.abort(Abort::Cancel),
            }
        }
        let status = self.conclude();
        self.flush()?;
        Ok(status)
    }

    fn conclude(&mut self) -> RunStatus {
        if let Some(why) = self.aborting.clone() {
            return match why {
                Abort::Cancel => {
                    self.record_run(RunStatus::Cancelled, "cancelled", json!({}), None, None);
                    RunStatus::Cancelled
                }
                Abort::Timeout(ms) => {
                    let msg = format!("the run exceeded its timeout of {}", crate::plan::disasm::format_duration(ms));
                    self.record_run(RunStatus::Failed, "failed", json!({ "error": msg }), Some(msg.clone()), None);
                    RunStatus::Failed
                }
                Abort::Budget(msg) | Abort::Failed(msg) => {
                    self.record_run(RunStatus::Failed, "failed", json!({ "error": msg }), Some(msg.clone()), None);
                    RunStatus::Failed
                }
            };
        }
        if self.paused {
            return RunStatus::Paused;
        }
        if self.conclude_blocked() {
            return RunStatus::Blocked;
        }
        if let Some(msg) = self.first_failure.clone() {
            self.record_run(RunStatus::Failed, "failed", json!({ "error": msg }), Some(msg), None);
            return RunStatus::Failed;
        }
        match self.outputs() {
            Ok(outputs) => {
                let cost = self.cost;
                self.record_run(
                    RunStatus::Completed,
                    "completed",
                    json!({ "cost_usd": cost }),
                    None,
                    Some(outputs),
                );
                RunStatus::Completed
            }
            Err(msg) => {
                self.record_run(RunStatus::Failed, "failed", json!({ "error": msg }), Some(msg), None);
                RunStatus::Failed
            }
        }
    }

    fn outputs(&mut self) -> Result<Value, String> {
        let sh = self.sh.clone();
        let wf = &sh.plan.plan.workflows[self.wf];
        let loaded = &sh.plan.workflows[self.wf];
        let ev = super::scope::Evaluator { env: &sh.plan.cel, programs: &loaded.programs, exprs: &wf.exprs };
        let mut out = serde_json::Map::new();
        for o in &wf.outputs {
            let refs: Vec<String> =
                loaded.programs[o.expr as usize].references().variables().into_iter().map(String::from).collect();
            let scope = self.scope_of(&refs);
            let value = ev.eval(o.expr, &scope).map_err(|e| format!("output {}: {e}", o.name))?;
            out.insert(o.name.clone(), value);
        }
        Ok(Value::Object(out))
    }
}
