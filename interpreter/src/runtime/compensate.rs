//! `flowc compensate RUN`: undo what a run did, newest first.
//!
//! Walks the run's completed steps in reverse topological order and runs each
//! one's `compensate` — a command template, or a compensation step's code.
//! A compensated step's status becomes `compensated` (with a `compensated`
//! event) in one transaction, so compensating again after a failure or a
//! crash resumes where it stopped and never undoes a step twice. The first
//! failing compensation stops the walk (later ones may depend on it), is
//! recorded as `compensation_failed`, and leaves the run's status as it was.
//! A run still executing is cancelled first. The walk itself is
//! `runner::compensation`, which a run with `on_failure compensate` also
//! takes when it fails.

use super::control;
use super::lock::{self, try_lock};
use super::runner::compensation::walk;
use super::runner::Shared;
use super::{Error, RunOptions, RunReport, Steered};
use crate::state::{Control, RunStatus};

/// `flowc compensate RUN`: stops the run if it is executing, then runs the
/// `compensate` of every completed step, last completed first. A failed
/// compensation stops the walk; the report's `error` says which step failed,
/// and compensating again retries from there.
pub fn compensate(run: &str, options: &RunOptions) -> Result<Steered, Error> {
    let mut store = super::open_store(options)?;
    let record = crate::runtime::run_record(&*store, run)?;
    if let Some(parent) = &record.parent_run {
        return Err(Error::Run(format!("run `{run}` is a child run of `{parent}`; compensate `{parent}`")));
    }
    if record.status == RunStatus::Compensated {
        return Err(Error::Run(format!("run `{run}` is already compensated")));
    }
    let runs_dir = options.runs_dir();
    let lock = match try_lock(&runs_dir, run)? {
        Some(lock) => lock,
        None => {
            store.request_control(run, Control::Cancel)?;
            lock::wait_for(|| Ok(try_lock(&runs_dir, run)?.is_some()), "stop")?;
            try_lock(&runs_dir, run)?.ok_or_else(|| Error::Run(format!("run `{run}` is locked by another process")))?
        }
    };
    let record = crate::runtime::run_record(&*store, run)?;
    if !record.status.is_terminal() {
        control::cancel_locked(&mut *store, run)?;
    }
    let plan = super::load_stored_plan(&*store, record.plan_id)?;
    let wf = plan
        .workflow_index(&record.workflow)
        .ok_or_else(|| Error::Run(format!("the stored plan has no workflow `{}`", record.workflow)))?;
    let mut options = options.clone();
    options.project_dir = record.project_dir.clone().into();
    let sh = Shared::new(store, plan, record.plan_id, options);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Io(format!("cannot start the async runtime: {e}")))?;
    let local = tokio::task::LocalSet::new();
    let failure = local.block_on(&rt, walk(sh.clone(), wf, &record))?;
    drop(lock);
    let store = sh.store.borrow();
    let mut report = RunReport::load(store.as_ref(), run)?;
    report.error = failure;
    Ok(Steered::Ran(report))
}

