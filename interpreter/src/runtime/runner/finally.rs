//! The exit handler (`finally { … }`): its steps start once every other
//! step of the run has ended — completed, failed, timed out or cancelled,
//! never while the run is paused or blocked — and see how it ended.
//!
//! # Invariants
//!
//! - The handler starts once per run: its `finally_started` entry (the
//!   status, error and failures the rest of the run ended with) is written
//!   in the batch that makes its first steps ready, and `resume` reads it
//!   back, so a resumed run neither starts the handler again nor forgets how
//!   the rest ended. A run killed after its other steps ended but before
//!   that entry committed starts the handler when resumed.
//! - Handler steps are ordinary steps (rows, attempts, events); they depend
//!   only on each other (the loader refuses the rest), so the dependency
//!   bookkeeping needs no special case. Until the handler starts they are
//!   outside the run's count of steps and out of reach of an abort.
//! - Once the handler started, the run's `timeout`, its budget and the
//!   parent's abort no longer apply (the handler is what runs after them);
//!   a `flowc cancel` still cancels it.

use super::{Abort, Runner};
use crate::plan::StepId;
use crate::runtime::Error;
use crate::state::{payload, Event, EventKind, StepStatus};

impl Runner {
    /// Whether step `s` is a step of the exit handler.
    pub(super) fn in_finally(&self, s: StepId) -> bool {
        self.sh.plan.workflows[self.wf].steps.get(s as usize).is_some_and(|i| i.finally)
    }

    /// Whether the workflow has an exit handler whose steps have not started.
    fn finally_waits(&self) -> bool {
        self.finally.is_none() && self.sh.plan.workflows[self.wf].steps.iter().any(|s| s.finally)
    }

    /// The run's other steps are done (`Runner::done`): when it ended rather
    /// than paused or blocked, starts the exit handler. True when it did
    /// (the scheduler goes on with the handler's steps).
    pub(super) fn start_finally(&mut self) -> bool {
        if !self.finally_waits() || self.paused || self.in_flight > 0 {
            return false;
        }
        if self.aborting.is_none() && self.only_gates_left() {
            return false;
        }
        let (status, error) = match self.aborting.take() {
            Some(Abort::Cancel) => ("cancelled", "the run was cancelled".to_string()),
            Some(Abort::Timeout(ms)) => ("failed", format!("the run exceeded its timeout of {}", crate::plan::disasm::format_duration(ms))),
            Some(Abort::Budget(msg)) | Some(Abort::Failed(msg)) => ("failed", msg),
            None => match self.first_failure.take() {
                Some(msg) => ("failed", msg),
                None => ("completed", String::new()),
            },
        };
        // Gates of steps the abort cancelled hold nothing any more.
        self.drop_ended_gates();
        // The abort signal went to attempts that are over; the handler's
        // attempts must not see it.
        self.abort_tx.send_replace(false);
        let sh = self.sh.clone();
        let plan = &sh.plan.plan.workflows[self.wf];
        let failures = sh.plan.workflows[self.wf]
            .topo
            .iter()
            .filter(|s| !self.in_finally(**s) && self.steps[**s as usize].status == Some(StepStatus::Failed))
            .map(|s| payload::Failure {
                name: plan.steps[*s as usize].name.clone(),
                status: StepStatus::Failed.as_str().to_string(),
                error: self.steps[*s as usize].error.clone().unwrap_or_default(),
            })
            .collect();
        let ended = payload::FinallyStarted { status: status.to_string(), error, failures };
        self.event(None, Event::FinallyStarted(ended.clone()));
        self.enter_finally(ended);
        let roots: Vec<StepId> = self.roots().into_iter().filter(|s| self.in_finally(*s) && !self.steps[*s as usize].decided).collect();
        let mut work = Vec::new();
        for s in roots {
            self.steps[s as usize].decided = true;
            self.make_ready(s, &mut work);
        }
        self.propagate(work);
        true
    }

    /// The handler's steps join the run's count, and expressions see how
    /// the rest of the run ended.
    fn enter_finally(&mut self, ended: payload::FinallyStarted) {
        self.total += self.sh.plan.workflows[self.wf].steps.iter().filter(|s| s.finally && !s.compensation_only).count();
        self.finally = Some(ended);
    }

    /// On resume: whether the handler had started (its `finally_started`
    /// entry), and how the rest of the run had ended then; and the first
    /// failure of a step that fails the run, which only memory held.
    pub(super) fn restore_finally(&mut self) -> Result<(), Error> {
        let sh = self.sh.clone();
        for &s in &sh.plan.workflows[self.wf].topo {
            let st = &self.steps[s as usize];
            if self.first_failure.is_none()
                && st.status == Some(StepStatus::Failed)
                && !sh.plan.workflows[self.wf].steps[s as usize].compensation_only
                && self.on_failure_of(s) == crate::plan::OnFailure::Fail
            {
                let name = &sh.plan.plan.workflows[self.wf].steps[s as usize].name;
                self.first_failure = Some(format!("step {name} failed: {}", st.error.clone().unwrap_or_default()));
            }
        }
        if !self.finally_waits() {
            return Ok(());
        }
        let events = sh.store.borrow().events(&self.run)?;
        let started = events.iter().filter(|e| e.step.is_none() && e.is(EventKind::FinallyStarted)).find_map(|e| match e.decode() {
            Some(Event::FinallyStarted(p)) => Some(p),
            _ => None,
        });
        if let Some(ended) = started {
            self.enter_finally(ended);
        }
        Ok(())
    }

    /// Before the run's status is decided: how the rest of the run ended
    /// decides it, unless the handler itself was cancelled, paused or
    /// blocked. A completed run whose handler failed fails; a failed or
    /// cancelled one stays so, whatever the handler did.
    pub(super) fn conclude_finally(&mut self) {
        let Some(ended) = self.finally.clone() else { return };
        if self.aborting.is_some() || self.paused || self.only_gates_left() {
            return;
        }
        match ended.status.as_str() {
            "cancelled" => self.aborting = Some(Abort::Cancel),
            "failed" => self.first_failure = Some(ended.error),
            _ => {
                if let Some(msg) = self.first_failure.take() {
                    self.first_failure = Some(format!("the exit handler failed: {msg}"));
                }
            }
        }
    }
}
