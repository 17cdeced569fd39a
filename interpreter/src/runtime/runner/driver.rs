//! Starting a runner: a new or resumed top-level run, or a child a step calls or spawns, each from one `Launch`; a resumed run's state is rebuilt from the store.

use std::collections::VecDeque;
use std::rc::Rc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::{blocked, spawn, Runner, Shared, StepRt, MAX_ENV_VALUE};
use crate::runtime::secrets;
use crate::plan::{LoadedPlan, StepId};
use crate::runtime::scope::to_cel;
use crate::runtime::{env_name, lock, Error, RunReport, RunOptions};
use crate::state::{NewRun, Op, RunStatus, StepStatus, Store};
use crate::time;
use crate::state::{payload, Event};

/// A run about to be executed by this process: which workflow, at which
/// depth, with which inputs, whether it ran before, and the lock that makes
/// this process its only executor. Every runner starts from one, whether
/// the run is new, resumed, called or spawned.
pub(super) struct Launch {
    pub wf: usize,
    pub run: String,
    pub depth: u32,
    pub inputs: Value,
    /// The run has a recorded state to rebuild (it is not new).
    pub resuming: bool,
    pub lock: lock::RunLock,
    /// A calling step's abort signal: the child stops when its parent does.
    pub parent_abort: Option<watch::Receiver<bool>>,
}

impl Shared {
    /// What a top-level run and the children it calls or spawns in this
    /// process share: one store, one plan, one redactor.
    pub(crate) fn new(store: Box<dyn Store>, plan: LoadedPlan, plan_id: i64, options: RunOptions) -> Rc<Shared> {
        let secrets = secrets::redactor_for(&plan.plan.secrets, &options.project_dir);
        Rc::new(Shared {
            store: std::cell::RefCell::new(store),
            plan,
            plan_id,
            options,
            background: Default::default(),
            secrets,
            spawned: Default::default(),
        })
    }

    /// The row of a new run of `workflow` of this plan; `parent` is the
    /// calling or spawning run and step.
    pub(super) fn new_run(&self, workflow: &str, parent: Option<(&str, &str)>, depth: u32, inputs: Value) -> NewRun {
        NewRun {
            plan_id: self.plan_id,
            workflow: workflow.to_string(),
            parent_run: parent.map(|(run, _)| run.to_string()),
            parent_step: parent.map(|(_, step)| step.to_string()),
            depth,
            inputs,
            project_dir: self.options.project_dir.display().to_string(),
        }
    }
}

/// Opens the store and starts a new top-level run.
/// `body` is the plan's compact JSON (`Plan::to_json_compact`), stored with the run.
pub(crate) fn start(plan: LoadedPlan, body: String, wf: usize, inputs: Value, options: &RunOptions) -> Result<RunReport, Error> {
    let mut store = crate::runtime::open_store(options)?;
    let plan_id = store.put_plan(plan.plan.format_version, &body)?;
    drop(body);
    let sh = Shared::new(store, plan, plan_id, options.clone());
    let workflow = sh.plan.plan.workflows[wf].name.clone();
    let run = sh.store.borrow_mut().create_run(&sh.new_run(&workflow, None, 0, inputs.clone()))?;
    blocked::record_top_origin(&mut **sh.store.borrow_mut(), &sh.plan.plan, &workflow, &run, &options.origin)?;
    let lock = lock::try_lock(&options.runs_dir(), &run)?
        .ok_or_else(|| Error::Run(format!("run `{run}` is locked by another process")))?;
    drive_to_end(sh, Launch { wf, run, depth: 0, inputs, resuming: false, lock, parent_abort: None })
}

/// Resumes an existing top-level run in this process (the caller holds its lock).
pub(crate) fn resume_locked(
    store: Box<dyn Store>,
    record: crate::state::RunRecord,
    lock: lock::RunLock,
    options: &RunOptions,
) -> Result<RunReport, Error> {
    let plan = crate::runtime::load_stored_plan(&*store, record.plan_id)?;
    let wf = plan
        .workflow_index(&record.workflow)
        .ok_or_else(|| Error::Run(format!("the stored plan of run `{}` has no workflow `{}`", record.id, record.workflow)))?;
    // Commands run where the run started, wherever `resume` is typed.
    let mut options = options.clone();
    options.project_dir = record.project_dir.clone().into();
    let sh = Shared::new(store, plan, record.plan_id, options);
    let launch = Launch { wf, run: record.id, depth: record.depth, inputs: record.inputs, resuming: true, lock, parent_abort: None };
    drive_to_end(sh, launch)
}

/// Executes a top-level run to its end (or its next pause or block), then
/// waits for the children it spawned and for notify deliveries.
fn drive_to_end(sh: Rc<Shared>, launch: Launch) -> Result<RunReport, Error> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Io(format!("cannot start the async runtime: {e}")))?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async move {
        let (run, wf, depth) = (launch.run.clone(), launch.wf, launch.depth);
        let status = Runner::new(sh.clone(), launch)?.drive().await?;
        // Spawned children outlive their steps; the process waits for them.
        spawn::wait_all(&sh).await;
        // Let notify deliveries finish, within reason.
        let pending: Vec<_> = sh.background.borrow_mut().drain(..).collect();
        for handle in pending {
            let _ = tokio::time::timeout(Duration::from_secs(10), handle).await;
        }
        // `on_failure compensate`: a failed run undoes its steps at once.
        let mut compensation_failed = None;
        if status == RunStatus::Failed && depth == 0 && sh.plan.plan.workflows[wf].defaults.compensate_on_failure {
            let record = crate::runtime::run_record(&**sh.store.borrow(), &run)?;
            compensation_failed = super::compensation::walk(sh.clone(), wf, &record).await?;
        }
        // The report reads every step's state back: free the plan first
        // (the largest thing the run holds, 90 MB of a 100,000-step run),
        // unless a task that outlived the run still holds it.
        let mut report = match Rc::try_unwrap(sh) {
            Ok(shared) => {
                let Shared { store, plan, .. } = shared;
                drop(plan);
                RunReport::load(store.borrow().as_ref(), &run)?
            }
            Err(sh) => RunReport::load(sh.store.borrow().as_ref(), &run)?,
        };
        if let Some(why) = compensation_failed {
            report.error = Some(match report.error.take() {
                Some(e) => format!("{e}; {why}"),
                None => why,
            });
        }
        Ok(report)
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
            // A job's inputs are what its parent's step passed on, not
            // declared inputs (`job`): the parent's were validated.
            let inputs = if sh.plan.plan.workflows[wf].job.is_some() {
                Value::Object(inputs)
            } else {
                crate::inputs::resolve(&sh.plan.plan.workflows[wf], inputs)?
            };
            let new = sh.new_run(workflow, Some((parent, parent_step)), depth, inputs.clone());
            let run = sh.store.borrow_mut().create_run(&new).map_err(|e| e.to_string())?;
            blocked::record_child_origin(&sh, &run, parent, parent_step)?;
            (run, false, inputs)
        }
    };
    let lock = lock::try_lock(&sh.options.runs_dir(), &run)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("child run `{run}` is being executed by another process"))?;
    let launch = Launch { wf, run: run.clone(), depth, inputs, resuming, lock, parent_abort: Some(abort) };
    let runner = Runner::new(sh.clone(), launch).map_err(|e| e.to_string())?;
    Box::pin(runner.drive()).await.map_err(|e| e.to_string())?;
    let store = sh.store.borrow();
    RunReport::load(store.as_ref(), &run).map_err(|e| e.to_string())
}

impl Runner {
    /// The runner of `launch`'s run: a new run begins, a resumed one is
    /// rebuilt from the store.
    pub(super) fn new(sh: Rc<Shared>, launch: Launch) -> Result<Runner, Error> {
        let Launch { wf, run, depth, inputs, resuming, lock, parent_abort } = launch;
        let workflow = sh.plan.plan.workflows[wf].name.clone();
        let n = sh.plan.plan.workflows[wf].steps.len();
        let (job, inputs, job_env) = match &sh.plan.plan.workflows[wf].job {
            Some(job) => {
                let (scope, inputs, env) = super::job::JobScope::from_inputs(job, &inputs, MAX_ENV_VALUE);
                (Some(scope), inputs, env)
            }
            None => (None, inputs, Vec::new()),
        };
        // The exit handler's steps count once it starts (`finally`).
        let total = sh.plan.workflows[wf].steps.iter().filter(|s| !s.compensation_only && !s.finally).count();
        let input_env = match &inputs {
            Value::Object(map) => map
                .iter()
                .filter_map(|(k, v)| {
                    let text = crate::plan::table::render_value(v);
                    (text.len() <= MAX_ENV_VALUE).then(|| (format!("FLOW_INPUT_{}", env_name(k)), text))
                })
                .chain(job_env)
                .collect(),
            _ => job_env,
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
            finally: None,
            _lock: lock,
            adv: Default::default(),
            blocked: Default::default(),
            fail_fast: Default::default(),
            job,
        };
        if resuming && !runner.never_started()? {
            runner.restore()?;
        } else {
            runner.begin();
        }
        Ok(runner)
    }

    pub(super) fn begin(&mut self) {
        let started = time::now();
        self.ops.push(Op::RunStatus {
            run: self.run.clone(),
            status: RunStatus::Running,
            error: None,
            outputs: None,
            started_at: Some(started),
            finished_at: None,
        });
        // Every step the run will run, the exit handler's included.
        let steps = self.total + self.sh.plan.workflows[self.wf].steps.iter().filter(|s| s.finally && !s.compensation_only).count();
        let origin = self.origin_fields();
        let workflow = Some(self.workflow.clone());
        self.event(None, Event::Started(payload::Started { attempt: None, workflow, steps: Some(steps as u64), origin }));
        let mut pending = Vec::with_capacity(self.steps.len());
        for s in 0..self.steps.len() {
            if self.sh.plan.workflows[self.wf].steps[s].compensation_only {
                continue;
            }
            self.steps[s].status = Some(StepStatus::Pending);
            pending.push((s as u32, self.wf_plan().steps[s].name.clone()));
        }
        self.ops.push(Op::StepsPending { run: self.run.clone(), steps: pending });
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

    /// Rebuilds the scheduler's state from the store, after a crash or a pause.
    pub(super) fn restore(&mut self) -> Result<(), Error> {
        let record = crate::runtime::run_record(&**self.sh.store.borrow(), &self.run)?;
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
        crate::runtime::process::stop_orphans(&self.run, &in_flight);
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
                // An output nobody reads stays in its state row (`StepInfo::output_read`).
                if state.status != StepStatus::Completed || sh.plan.workflows[self.wf].steps[s].output_read {
                    st.output = state.output.clone();
                }
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
        self.event(None, Event::Resumed(payload::Resumed { after: Some(after.to_string()), attempt: None }));
        for (s, was) in interrupted {
            let attempt = self.steps[s as usize].attempts;
            if was == StepStatus::Paused {
                // Paused by its own failure (`on_failure pause`): resume runs it again.
                self.record_step(s, StepStatus::Pending, Event::Resumed(payload::Resumed { after: None, attempt: Some(attempt) }));
            } else {
                self.record_step(s, StepStatus::Pending, Event::Interrupted(payload::Interrupted { attempt }));
            }
        }

        // Replay: every terminal step, deps first, informs its dependents.
        self.restore_finally()?;
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
}
