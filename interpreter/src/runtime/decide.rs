//! The decisions people make on blocked steps, from any process (`flowc approve|reject|complete`, `POST /runs/RUN/steps/STEP/approve`): checked, filed as a gate request, and applied by the process executing the run.
//!
//! The process executing the run applies a request (`runner::blocked`) and
//! checks it again there; the command checks it first, so that a person
//! hears at once why a decision is refused.

use serde_json::Value;

use super::blocking::{check_request, decided_why, human_type, misfit, Actor, Hold};
use super::{Error, Refusal, RunOptions, Steered};
use crate::plan::directory::Directory;
use crate::state::{GateAction, RunStatus, StepStatus, Store};

/// A decision checked and filed: the request's id and the top-level run
/// that must run to apply it.
pub struct Filed {
    /// The request's id in the state database.
    pub id: i64,
    /// The top-level run whose execution applies the request.
    pub root: String,
}

/// Checks a decision against the step's gate (it is blocked, the action
/// fits, the actor may decide — `dir` expands the approvers' groups —, a
/// task's output has its type) and files it. Nothing is filed when the
/// check fails.
#[allow(clippy::too_many_arguments)]
pub fn file(
    store: &mut dyn Store,
    run: &str,
    step: &str,
    action: GateAction,
    actor: &Actor,
    comment: Option<&str>,
    output: Option<&Value>,
    dir: &Directory,
) -> Result<Filed, Error> {
    let record = crate::runtime::run_record(&*store, run)?;
    let state = store.step_states(run)?.into_iter().find(|s| s.step == step);
    if record.status.is_terminal() {
        return Err(Error::Run(match &state {
            Some(s) if s.status.is_terminal() => format!("your decision was not applied: {}", decided_why_state(s)),
            _ => format!("run `{run}` is {}; there is nothing to decide", record.status),
        }));
    }
    let Some(state) = state else {
        let plan = super::load_stored_plan(&*store, record.plan_id)?;
        let known = plan.plan.workflow(&record.workflow).is_some_and(|w| w.steps.iter().any(|s| s.name == step));
        return Err(Error::Run(if known {
            format!("step `{step}` of run `{run}` has not started; it is not waiting for anything yet")
        } else {
            format!("run `{run}` has no step `{step}`")
        }));
    };
    if state.status != StepStatus::Blocked {
        return Err(Error::Run(if state.status.is_terminal() {
            format!("your decision was not applied: {}", decided_why_state(&state))
        } else {
            format!("step `{step}` of run `{run}` is {}, not blocked", state.status)
        }));
    }
    let Some(gate) = store.blocked_gates(run)?.into_iter().find(|g| g.step == step) else {
        // The state and the gate are two reads: a decision applied between
        // them (another process won the race) unblocked the step. Say so
        // from the state as it is now.
        let now = store.step_states(run)?.into_iter().find(|s| s.step == step);
        return Err(Error::Run(match now {
            Some(s) if s.status.is_terminal() => format!("your decision was not applied: {}", decided_why_state(&s)),
            Some(s) if s.status != StepStatus::Blocked => {
                format!("your decision was not applied: step `{step}` is {} now, no longer blocked", s.status)
            }
            _ => format!("step `{step}` of run `{run}` is blocked, but its gate is not recorded"),
        }));
    };
    let gate: Hold = serde_json::from_value(gate.gate)
        .map_err(|e| Error::Run(format!("step `{step}` of run `{run}` is blocked, but its recorded gate is unreadable: {e}")))?;
    let initiator = store.origin(run)?.and_then(|o| o.initiator);
    let plan = super::load_stored_plan(&*store, record.plan_id)?;
    let wf = plan.workflow_index(&record.workflow).ok_or_else(|| Error::Run(format!("the stored plan has no workflow `{}`", record.workflow)))?;
    let ty = human_type(&plan, wf, state.step_id);
    if let Some(awaits) = misfit(&gate, action) {
        return Err(Refusal::WrongDecision { run: run.to_string(), step: step.to_string(), action, awaits }.into());
    }
    check_request(&gate, action, &actor.principal, initiator.as_deref(), output, ty, dir)
        .map_err(|why| Error::Run(format!("cannot {} step `{step}` of run `{run}`: {why}", action.as_str())))?;

    let id = store.file_gate_request(run, step, state.attempts, action, actor, comment, output)?;
    let root = super::inbox::root_of(store, run)?;
    Ok(Filed { id, root })
}

fn decided_why_state(s: &crate::state::StepState) -> String {
    decided_why(&s.step, Some(s.status), s.output.as_ref(), s.error.as_deref(), s.finished_at.as_deref())
}

/// `flowc approve|reject|complete RUN STEP`: checks the decision, files it,
/// and continues the run here when nobody else is executing it.
pub fn resolve(
    run: &str,
    step: &str,
    action: GateAction,
    actor: &Actor,
    comment: Option<&str>,
    output: Option<&Value>,
    options: &RunOptions,
) -> Result<Steered, Error> {
    let dir = Directory::load(&options.project_dir).map_err(|e| Error::Input(format!("flowc.toml: {e}")))?;
    let mut store = super::open_store(options)?;
    let Filed { id, root } = file(&mut *store, run, step, action, actor, comment, output, &dir)?;
    let outcome = apply_filed(store, id, &root, options)?;
    // The command succeeds only if its own decision was applied: a request
    // that lost a race (another decision came first) is refused, and one
    // left pending while its gate was decided by someone else is closed.
    let mut store = super::open_store(options)?;
    let request = store.gate_request(id)?.ok_or_else(|| Error::Run(format!("the request {id} disappeared")))?;
    match request.result.as_deref() {
        Some("applied") => Ok(outcome),
        Some(r) => Err(Error::Run(format!("your decision was not applied: {}", r.strip_prefix("refused: ").unwrap_or(r)))),
        None => {
            let state = store.step_states(run)?.into_iter().find(|s| s.step == step);
            let still_waiting = state.as_ref().is_some_and(|s| s.status == StepStatus::Blocked && Some(s.attempts) == request.attempt);
            if still_waiting {
                return Ok(outcome);
            }
            let why = match state {
                Some(s) => decided_why_state(&s),
                None => format!("step `{step}` is no longer waiting"),
            };
            store.apply(&[crate::state::Op::GateRequestHandled { id, result: format!("refused: {why}"), at: crate::time::now() }])?;
            Err(Error::Run(format!("your decision was not applied: {why}")))
        }
    }
}

fn apply_filed(store: Box<dyn Store>, id: i64, root: &str, options: &RunOptions) -> Result<Steered, Error> {
    let root = root.to_string();
    let root_record = crate::runtime::run_record(&*store, &root)?;
    let runs_dir = options.runs_dir();
    if root_record.status == RunStatus::Paused {
        return Ok(Steered::Recorded { run: root, paused: true });
    }
    match super::lock::try_lock(&runs_dir, &root)? {
        Some(lock) => continue_here(store, &root, lock, options),
        None => {
            let mut result = None;
            super::lock::wait_for(
                || {
                    result = store.gate_request(id)?.and_then(|r| r.result);
                    // Nobody will apply it if the executing process let go of the run first.
                    Ok(result.is_some() || super::lock::try_lock(&runs_dir, &root)?.is_some())
                },
                "apply the decision",
            )?;
            match result {
                // Refused or not, the executing process handled it; the
                // caller reads which from the request.
                Some(_) => Ok(Steered::Continues { run: root }),
                None => match super::lock::try_lock(&runs_dir, &root)? {
                    Some(lock) => continue_here(store, &root, lock, options),
                    None => Ok(Steered::Recorded { run: root, paused: false }),
                },
            }
        }
    }
}

/// Continues the run in this process, holding its lock; the record is read
/// again under the lock, since another process may have applied the
/// decision and finished the run meanwhile.
fn continue_here(store: Box<dyn Store>, root: &str, lock: super::lock::RunLock, options: &RunOptions) -> Result<Steered, Error> {
    let record = crate::runtime::run_record(&*store, root)?;
    if record.status.is_terminal() {
        return Ok(Steered::Ended { run: root.to_string(), status: record.status });
    }
    super::runner::resume_locked(store, record, lock, options).map(Steered::Ran)
}
