//! The run's main loop and its end: waking on attempts, controls, the run
//! timeout and the parent's abort; aborting; concluding with the run's status
//! and outputs.

use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use super::{Abort, Msg, Runner, CONTROL_POLL, FLUSH_EVERY};
use crate::plan::StepId;
use crate::runtime::Error;
use crate::state::{Op, RunStatus, StepStatus};
use crate::time;
use crate::state::{payload, Event};

impl Runner {
    pub(super) fn check_budget(&mut self) {
        if let Some(budget) = self.wf_plan().defaults.budget_usd
            && self.cost > budget + 1e-9 && self.aborting.is_none() && self.finally.is_none() {
                let msg = format!("the run spent ${:.4}, over its budget of ${budget:.2}", self.cost);
                self.event(None, Event::BudgetExceeded(payload::BudgetExceeded { cost_usd: self.cost, budget_usd: budget }));
                self.abort(Abort::Budget(msg));
            }
    }

    pub(super) fn abort(&mut self, why: Abort) {
        if self.aborting.is_some() {
            return;
        }
        self.aborting = Some(why.clone());
        let _ = self.abort_tx.send(true);
        self.fail_fast.stop_all();
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
            // The exit handler's steps are cancelled only once it runs.
            if info.compensation_only || (info.finally && self.finally.is_none()) || st.in_flight || st.status.is_some_and(StepStatus::is_terminal) {
                continue;
            }
            self.steps[s].retry_waiting = false;
            self.steps[s].decided = true;
            self.record_step(s as u32, StepStatus::Cancelled, Event::Cancelled(payload::Cancelled { reason: Some(reason.to_string()), ..Default::default() }));
            self.settled += 1;
        }
    }

    pub(super) fn poll_controls(&mut self) -> Result<(), Error> {
        let controls = self.sh.store.borrow().controls_after(&self.run, self.last_control)?;
        for (id, control) in controls {
            self.last_control = id;
            match control {
                crate::state::Control::Pause | crate::state::Control::Shutdown if !self.paused && self.aborting.is_none() => {
                    self.paused = true;
                    let reason = if control == crate::state::Control::Shutdown { "shutdown" } else { "requested" };
                    self.record_run(RunStatus::Paused, Event::Paused(payload::Paused { reason: reason.to_string(), step: None }), None, None);
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
                    self.event(None, Event::Resumed(payload::Resumed { after: Some("paused".into()), attempt: None }));
                    // Steps paused by their own failure run again.
                    let paused: Vec<StepId> = (0..self.steps.len() as u32)
                        .filter(|s| self.steps[*s as usize].status == Some(StepStatus::Paused))
                        .collect();
                    for s in paused {
                        self.record_step(s, StepStatus::Pending, Event::Resumed(payload::Resumed::default()));
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

    pub(super) fn done(&self) -> bool {
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
                if self.last_look()? || self.start_finally() {
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
            // Once the exit handler runs, the run's timeout and its parent's
            // abort are behind it (`finally`).
            let aborting = self.aborting.is_some() || self.finally.is_some();
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

    pub(super) fn conclude(&mut self) -> RunStatus {
        self.conclude_finally();
        if let Some(why) = self.aborting.clone() {
            return match why {
                Abort::Cancel => {
                    self.record_run(RunStatus::Cancelled, Event::Cancelled(payload::Cancelled::default()), None, None);
                    RunStatus::Cancelled
                }
                Abort::Timeout(ms) => {
                    let msg = format!("the run exceeded its timeout of {}", crate::plan::disasm::format_duration(ms));
                    self.record_run(RunStatus::Failed, Event::Failed(payload::Failed { error: msg.clone(), ..Default::default() }), Some(msg.clone()), None);
                    RunStatus::Failed
                }
                Abort::Budget(msg) | Abort::Failed(msg) => {
                    self.record_run(RunStatus::Failed, Event::Failed(payload::Failed { error: msg.clone(), ..Default::default() }), Some(msg.clone()), None);
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
            self.record_run(RunStatus::Failed, Event::Failed(payload::Failed { error: msg.clone(), ..Default::default() }), Some(msg), None);
            return RunStatus::Failed;
        }
        match self.outputs() {
            Ok(outputs) => {
                let cost = self.cost;
                self.record_run(
                    RunStatus::Completed,
                    Event::Completed(payload::Completed { cost_usd: Some(cost), ..Default::default() }),
                    None,
                    Some(outputs),
                );
                RunStatus::Completed
            }
            Err(msg) => {
                self.record_run(RunStatus::Failed, Event::Failed(payload::Failed { error: msg.clone(), ..Default::default() }), Some(msg), None);
                RunStatus::Failed
            }
        }
    }

    pub(super) fn outputs(&mut self) -> Result<Value, String> {
        let sh = self.sh.clone();
        let wf = &sh.plan.plan.workflows[self.wf];
        let loaded = &sh.plan.workflows[self.wf];
        let ev = crate::runtime::scope::Evaluator { env: &sh.plan.cel, programs: &loaded.programs, exprs: &wf.exprs };
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
