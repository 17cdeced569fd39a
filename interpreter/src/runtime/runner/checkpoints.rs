//! Checkpoints, `flowc restore RUN --to STEP` and `flowc skip RUN STEP`.
//!
//! Every completed step writes a checkpoint in the batch that records its
//! completion: its number in the run, the step, the attempt, and the
//! fingerprints of the protected files at that moment (their contents are
//! in `file_blobs`). The run's state at checkpoint N is: the steps whose
//! latest checkpoint is N or earlier are done; nothing else is.
//!
//! `restore --to STEP` takes STEP's latest checkpoint: every step done after
//! it, and every step not completed, goes back to `pending` (a `reset`
//! event each, a `restored` event for the run), the protected files are put
//! back as that checkpoint recorded them, and the run resumes. A finished
//! run (completed, failed or cancelled) can be restored; a compensated one
//! cannot. Kept steps keep their latest output.
//!
//! `skip` passes a step that paused the run: a `skippable` gate, or a step
//! whose failure paused it (`on_failure pause`, `on_fail pause`). The step
//! becomes `skipped` with output `{"skipped": true, "by": "flowc skip"}`,
//! and — unlike a step skipped by a trigger rule or `when` — its dependents
//! treat it as succeeded. Then the run resumes.

use std::collections::{HashMap, HashSet};

use serde_json::{json, Value};

use super::invariants::restore_files;
use super::pin::{FileMap, Pinned};
use crate::runtime::lock::try_lock;
use crate::runtime::{Error, Refusal, RunOptions, Steered};
use crate::state::{Op, RunRecord, RunStatus, StepStatus, Store};
use crate::time;
use crate::state::{payload, Event, EventKind};

/// The output of a step passed with `flowc skip`.
pub fn skipped_output() -> Value {
    json!({ "skipped": true, "by": "flowc skip" })
}

/// Whether a skipped step was passed by a person (its dependents go on).
pub(crate) fn passed_by_person(output: Option<&Value>) -> bool {
    output.is_some_and(|o| o.get("by").and_then(Value::as_str) == Some("flowc skip") && o.get("skipped") == Some(&Value::Bool(true)))
}

fn open_unlocked(run: &str, options: &RunOptions, what: &str) -> Result<(Box<dyn Store>, RunRecord, crate::runtime::lock::RunLock), Error> {
    let store = crate::state::open(&options.state_path, None)?;
    let record = crate::runtime::run_record(&*store, run)?;
    if let Some(parent) = &record.parent_run
        && store.spawn_key(run)?.is_none() {
            return Err(Error::Run(format!("run `{run}` is a child run of `{parent}`; {what} `{parent}` instead")));
        }
    let lock = try_lock(&options.runs_dir(), run)?
        .ok_or_else(|| Error::Run(format!("run `{run}` is being executed by another flowc process; pause it and wait for it to stop first")))?;
    Ok((store, record, lock))
}

/// `flowc restore RUN --to STEP`.
pub fn restore(run: &str, to: &str, options: &RunOptions) -> Result<Steered, Error> {
    let (mut store, record, lock) = open_unlocked(run, options, "restore")?;
    if record.status == RunStatus::Compensated {
        return Err(Error::Run(format!("run `{run}` was compensated; it cannot be restored")));
    }
    let checkpoints = store.checkpoints(run)?;
    let Some(target) = checkpoints.iter().rev().find(|c| c.step == to).cloned() else {
        let known: Vec<&str> = {
            let mut seen = HashSet::new();
            checkpoints.iter().filter(|c| seen.insert(c.step.as_str())).map(|c| c.step.as_str()).collect()
        };
        return Err(Error::Run(format!(
            "step `{to}` has no checkpoint in run `{run}` (it has not completed){}",
            if known.is_empty() { String::new() } else { format!("; checkpoints: {}", known.join(", ")) }
        )));
    };
    let mut latest: HashMap<u32, i64> = HashMap::new();
    for c in &checkpoints {
        latest.insert(c.step_id, c.seq);
    }
    let plan = crate::runtime::load_stored_plan(&*store, record.plan_id)?;
    let wf = plan
        .workflow_index(&record.workflow)
        .ok_or_else(|| Error::Run(format!("the stored plan of run `{run}` has no workflow `{}`", record.workflow)))?;
    let loaded = &plan.workflows[wf];
    let mut ops = Vec::new();
    let mut reset = Vec::new();
    for mut state in store.step_states(run)? {
        let s = state.step_id as usize;
        if s >= loaded.steps.len() || loaded.steps[s].compensation_only {
            continue;
        }
        let kept = state.status == StepStatus::Completed && latest.get(&state.step_id).is_some_and(|seq| *seq <= target.seq);
        if kept || (state.status == StepStatus::Pending && state.attempts == 0) {
            continue;
        }
        let name = state.step.clone();
        state.status = StepStatus::Pending;
        state.output = None;
        state.error = None;
        state.stdout = None;
        state.stderr = None;
        state.finished_at = None;
        ops.push(Op::StepState(state));
        ops.push(Op::event(run, Some(name.clone()), &Event::Reset(payload::Reset { by: format!("restore to {to}") })));
        reset.push(name);
    }
    // Protected files back as the checkpoint recorded them.
    let mut restored = Vec::new();
    if let Some(pin) = store.pin(run)? {
        let globs = Pinned { invariants: serde_json::from_value(pin.invariants).unwrap_or_default(), ..Default::default() }.globs();
        if !globs.is_empty() {
            let target_files: FileMap = serde_json::from_value(target.files.clone()).unwrap_or_default();
            restored = restore_files(&record_dir(&record), &globs, &target_files, &|h| store.blob(h).ok().flatten()).map_err(Error::Run)?;
        }
    }
    ops.push(Op::RunReset { run: run.to_string() });
    ops.push(Op::RunStatus { run: run.to_string(), status: RunStatus::Paused, error: None, outputs: None, started_at: None, finished_at: None });
    ops.push(Op::event(run, None, &Event::Restored(payload::Restored { to: to.to_string(), checkpoint: target.seq, reset, files: restored })));
    store.apply(&ops)?;
    let record = crate::runtime::run_record(&*store, run)?;
    super::resume_locked(store, record, lock, options).map(Steered::Ran)
}

fn record_dir(record: &RunRecord) -> std::path::PathBuf {
    std::path::PathBuf::from(&record.project_dir)
}

/// `flowc skip RUN STEP`.
pub fn skip(run: &str, step: &str, options: &RunOptions) -> Result<Steered, Error> {
    let (mut store, record, lock) = open_unlocked(run, options, "skip steps of")?;
    if record.status.is_terminal() {
        return Err(Error::Run(format!("run `{run}` is {}; only a paused run's steps can be skipped", record.status)));
    }
    let plan = crate::runtime::load_stored_plan(&*store, record.plan_id)?;
    let wf = plan
        .workflow_index(&record.workflow)
        .ok_or_else(|| Error::Run(format!("the stored plan of run `{run}` has no workflow `{}`", record.workflow)))?;
    let Some(def) = plan.plan.workflows[wf].steps.iter().find(|s| s.name == step) else {
        return Err(Error::Run(format!("workflow `{}` has no step `{step}`", record.workflow)));
    };
    let mut state = store
        .step_states(run)?
        .into_iter()
        .find(|s| s.step == step)
        .ok_or_else(|| Error::Run(format!("step `{step}` of run `{run}` has not run")))?;
    if state.status != StepStatus::Paused {
        return Err(Error::Run(format!(
            "step `{step}` is {}; only a step that paused the run (a failed gate, or `on_failure pause`) can be skipped",
            state.status
        )));
    }
    let allowed = match &def.gate {
        Some(g) if g.on_fail.is_some() => g.skippable,
        Some(g) => g.skippable || def.on_failure == crate::plan::OnFailure::Pause,
        None => def.on_failure == crate::plan::OnFailure::Pause,
    };
    if !allowed {
        return Err(match &def.gate {
            Some(_) => Refusal::NotSkippable { run: run.to_string(), step: step.to_string() }.into(),
            None => Error::Run(format!("step `{step}` does not say `on_failure pause`, so it cannot be skipped")),
        });
    }
    let last = store.events(run)?.into_iter().rev().find(|e| e.step.as_deref() == Some(step));
    if last.is_some_and(|e| e.is(EventKind::RolledBack)) {
        return Err(Refusal::RolledBack { run: run.to_string(), step: step.to_string() }.into());
    }
    state.status = StepStatus::Skipped;
    state.output = Some(skipped_output());
    state.finished_at = Some(time::now());
    let error = state.error.clone();
    store.apply(&[
        Op::StepState(state),
        Op::event(
            run,
            Some(step.to_string()),
            &Event::Skipped(payload::Skipped {
                reason: "passed by a person with flowc skip".into(),
                by: Some("flowc skip".into()),
                error: Some(error),
                ..Default::default()
            }),
        ),
    ])?;
    let record = crate::runtime::run_record(&*store, run)?;
    super::resume_locked(store, record, lock, options).map(Steered::Ran)
}
