//! Lifecycle commands from any process: pause, resume, cancel.
//!
//! A command that can take the run's lock ([`super::lock`]) knows nobody is
//! executing the run and changes the state itself, under the lock. Otherwise
//! it files a request in `run_controls`, which the executing process polls,
//! and waits until the effect is visible in the database — so when `flowc
//! pause` returns, the run *is* paused.



use super::lock::{try_lock, wait_for};
use super::{Error, RunOptions, Steered};
use crate::state::{Control, Op, RunRecord, RunStatus, StepStatus, Store};
use crate::time;
use crate::state::{payload, Event};

fn open(options: &RunOptions, run: &str) -> Result<(Box<dyn Store>, RunRecord), Error> {
    let store = super::open_store(options)?;
    let record = crate::runtime::run_record(&*store, run)?;
    Ok((store, record))
}


fn run_status(run: &str, status: RunStatus) -> Op {
    Op::RunStatus {
        run: run.to_string(),
        status,
        error: None,
        outputs: None,
        started_at: None,
        finished_at: status.is_terminal().then(time::now),
    }
}

/// `flowc pause RUN`: no new steps start; running ones finish.
pub fn pause(run: &str, options: &RunOptions) -> Result<Steered, Error> {
    let (mut store, record) = open(options, run)?;
    match record.status {
        s if s.is_terminal() => return Err(Error::Run(format!("run `{run}` is {s}; there is nothing to pause"))),
        RunStatus::Paused => return Ok(Steered::Already { run: run.to_string(), status: RunStatus::Paused }),
        _ => {}
    }
    match try_lock(&options.runs_dir(), run)? {
        Some(_lock) => {
            store.apply(&[run_status(run, RunStatus::Paused), Op::event(run, None, &Event::Paused(payload::Paused { reason: "requested".into(), step: None }))])?;
            Ok(Steered::Applied { run: run.to_string(), status: RunStatus::Paused })
        }
        None => {
            store.request_control(run, Control::Pause)?;
            wait_for(
                || {
                    let status = store.run(run)?.map(|r| r.status);
                    Ok(status.is_none_or(|s| s != RunStatus::Running && s != RunStatus::Pending))
                },
                "pause",
            )?;
            let status = store.run(run)?.map(|r| r.status).unwrap_or(RunStatus::Paused);
            Ok(match status {
                RunStatus::Paused => Steered::Acknowledged { run: run.to_string(), status },
                other => Steered::Ended { run: run.to_string(), status: other },
            })
        }
    }
}

/// `flowc cancel RUN`: running steps are stopped (their process groups
/// signalled), nothing more runs, no compensation.
pub fn cancel(run: &str, options: &RunOptions) -> Result<Steered, Error> {
    let (mut store, record) = open(options, run)?;
    if record.status.is_terminal() {
        return Err(Error::Run(format!("run `{run}` is already {}", record.status)));
    }
    match try_lock(&options.runs_dir(), run)? {
        Some(_lock) => {
            cancel_locked(&mut *store, run)?;
            Ok(Steered::Applied { run: run.to_string(), status: RunStatus::Cancelled })
        }
        None => {
            store.request_control(run, Control::Cancel)?;
            // Done when the executing process has let go of the run.
            let runs_dir = options.runs_dir();
            wait_for(|| Ok(try_lock(&runs_dir, run)?.is_some()), "stop")?;
            let status = store.run(run)?.map(|r| r.status).unwrap_or(RunStatus::Cancelled);
            Ok(Steered::Acknowledged { run: run.to_string(), status })
        }
    }
}

/// Cancels a run nobody is executing (the caller holds its lock): attempts
/// left running by a killed flowc are ended, every undecided step cancelled.
pub(crate) fn cancel_locked(store: &mut dyn Store, run: &str) -> Result<(), Error> {
    let mut ops = Vec::new();
    let live: Vec<_> = store.attempts(run)?.into_iter().filter(|a| matches!(a.status, StepStatus::Running | StepStatus::Blocked)).collect();
    super::process::stop_orphans(run, &live.iter().map(|a| a.step.as_str()).collect::<Vec<_>>());
    for a in live {
        ops.push(Op::AttemptFinished {
            run: run.to_string(),
            step_id: a.step_id,
            attempt: a.attempt,
            status: StepStatus::Cancelled,
            exit_code: None,
            error: Some("the run was cancelled".into()),
            at: time::now(),
            duration_ms: 0,
        });
    }
    for mut s in store.step_states(run)?.into_iter().filter(|s| !s.status.is_terminal()) {
        s.status = StepStatus::Cancelled;
        s.finished_at = Some(time::now());
        let name = s.step.clone();
        ops.push(Op::StepState(s));
        ops.push(Op::event(run, Some(name), &Event::Cancelled(payload::Cancelled { reason: Some("the run was cancelled".into()), ..Default::default() })));
    }
    ops.push(run_status(run, RunStatus::Cancelled));
    ops.push(Op::event(run, None, &Event::Cancelled(payload::Cancelled::default())));
    Ok(store.apply(&ops)?)
}

/// `flowc resume RUN`: continues a paused or interrupted run here; completed
/// steps are not run again. A run paused while its process is still
/// finishing running steps is resumed in that process.
pub fn resume(run: &str, options: &RunOptions) -> Result<Steered, Error> {
    let (mut store, record) = open(options, run)?;
    if record.status.is_terminal() {
        return Err(Error::Run(format!(
            "run `{run}` is {}; only a paused or interrupted run can be resumed",
            record.status
        )));
    }
    // A spawned child is a run of its own; a called child belongs to its parent's step.
    if let Some(parent) = &record.parent_run
        && crate::state::Children::spawn_key(&*store, run)?.is_none() {
            return Err(Error::Run(format!(
                "run `{run}` is a child run of `{parent}`; resume `{parent}`, which resumes its children"
            )));
        }
    match try_lock(&options.runs_dir(), run)? {
        Some(lock) => {
            // Another process may have finished the run since it was read.
            let record = crate::runtime::run_record(&*store, run)?;
            if record.status.is_terminal() {
                return Err(Error::Run(format!("run `{run}` is {}; it ended while this command started", record.status)));
            }
            super::runner::resume_locked(store, record, lock, options).map(Steered::Ran)
        }
        None if record.status == RunStatus::Paused => {
            store.request_control(run, Control::Resume)?;
            let runs_dir = options.runs_dir();
            wait_for(
                || {
                    let status = store.run(run)?.map(|r| r.status);
                    // Either the executing process resumed it, or it exited first.
                    Ok(status != Some(RunStatus::Paused) || try_lock(&runs_dir, run)?.is_some())
                },
                "resume",
            )?;
            match try_lock(&options.runs_dir(), run)? {
                Some(lock) if store.run(run)?.is_some_and(|r| r.status == RunStatus::Paused) => {
                    let record = crate::runtime::run_record(&*store, run)?;
                    super::runner::resume_locked(store, record, lock, options).map(Steered::Ran)
                }
                _ => Ok(Steered::Continues { run: run.to_string() }),
            }
        }
        None => Err(Error::Run(format!("run `{run}` is being executed by another flowc process"))),
    }
}
