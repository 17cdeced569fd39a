//! What the runner does with what attempts report: completion, retry with
//! backoff, `on_failure`, and the messages of running attempts.

use std::time::Duration;

use super::{Msg, Runner};
use crate::plan::{jitter_seed, Failure, OnFailure, StepId, Stop, Verdict};
use super::attempt::Outcome;
use crate::state::{Op, RunStatus, StepStatus};
use crate::time;
use crate::state::{payload, Event};

impl Runner {
    pub(super) fn handle(&mut self, msg: Msg) {
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
            // Reported mid-attempt (items); `event` masks secrets.
            Msg::Event { step, event } => self.event(Some(step), event),
        }
    }

    pub(super) fn finished(&mut self, s: StepId, attempt: u32, mut outcome: Outcome) {
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
        if let Some(notice) = outcome.notified.take() {
            self.event(Some(s), Event::Notified(notice));
        }
        for event in std::mem::take(&mut outcome.events) {
            self.event(Some(s), event);
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
        // `skip_on_exit`: the command said there is nothing to do.
        let skip_code = match (&outcome.result, outcome.exit_code) {
            (Err(_), Some(code)) if !outcome.aborted && self.aborting.is_none() && self.wf_plan().steps[s as usize].skip_on_exit.contains(&code) => {
                Some(code)
            }
            _ => None,
        };
        let nothing_ran = outcome.result.is_ok() && outcome.adv.nothing_ran && !outcome.aborted && self.aborting.is_none();
        let (status, error) = match &outcome.result {
            Ok(_) if nothing_ran => (StepStatus::Skipped, None),
            Ok(_) => (StepStatus::Completed, None),
            Err(_) if skip_code.is_some() => (StepStatus::Skipped, None),
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
        // Ended skipped by its own doing: `skip_on_exit`, or a job per item
        // in which nothing ran.
        let skipped = match skip_code {
            Some(code) => Some(payload::Skipped { reason: format!("its command exited with {code} (skip_on_exit)"), exit_code: Some(code), ..Default::default() }),
            None if nothing_ran => Some(payload::Skipped { reason: "every member of its job was skipped, for every item".to_string(), ..Default::default() }),
            None => None,
        };
        if let Some(skipped) = skipped {
            self.steps[s as usize].output = None;
            self.record_step(s, StepStatus::Skipped, Event::Skipped(payload::Skipped { attempt: Some(attempt), ..skipped }));
            work.push(s);
            self.propagate(work);
            self.check_budget();
            return;
        }
        match outcome.result {
            Ok(_) if self.adv_before_complete(s, attempt, &mut outcome.adv) => {}
            Ok(success) => {
                let st = &mut self.steps[s as usize];
                st.output = Some(success.output);
                st.picked = success.picked;
                self.record_step(
                    s,
                    StepStatus::Completed,
                    Event::Completed(payload::Completed {
                        attempt: Some(attempt),
                        duration_ms: Some(duration_ms),
                        cost_usd: Some(outcome.cost),
                        ..Default::default()
                    }),
                );
                self.adv_after_complete(s, attempt, &mut outcome.adv);
                work.push(s);
            }
            Err(error) if outcome.aborted || self.aborting.is_some() => {
                self.steps[s as usize].error = Some(error.clone());
                // Stopped by its group's `fail_fast`: the run goes on, so
                // its dependents hear of it (a cancelled dep counts as failed).
                let by_group = if self.aborting.is_none() { self.fail_fast.cancelled.remove(&s) } else { None };
                let reason = by_group.clone();
                self.record_step(
                    s,
                    StepStatus::Cancelled,
                    Event::Cancelled(payload::Cancelled { attempt: Some(attempt), error: Some(error), reason }),
                );
                if by_group.is_some() {
                    work.push(s);
                } else {
                    self.settled += 1;
                }
            }
            Err(error) => {
                self.steps[s as usize].error = Some(error.clone());
                self.adv_on_error(s, attempt, &mut outcome.adv);
                let retry = self.sh.plan.workflows[self.wf].steps[s as usize].retry.clone();
                let failure = if outcome.timed_out {
                    Failure::Timeout
                } else {
                    match outcome.exit_code {
                        Some(code) if code != 0 => Failure::Exit(code),
                        _ => Failure::Error,
                    }
                };
                let verdict = retry.as_ref().map(|r| {
                    if no_retry {
                        Verdict::Stop(Stop::Attempts)
                    } else {
                        let elapsed = self.since_first_attempt(s);
                        r.decide(attempt, failure, elapsed, jitter_seed(&self.run, s))
                    }
                });
                // Why no retry follows, said only where retries were possible.
                let stop_reason = match (&retry, &verdict) {
                    (Some(r), Some(Verdict::Stop(stop))) if r.count > 0 => {
                        Some(if no_retry { "final".to_string() } else { stop.text() })
                    }
                    _ => None,
                };
                match verdict {
                    Some(Verdict::Retry { delay_ms: delay }) => {
                        self.steps[s as usize].retry_waiting = true;
                        self.record_step(
                            s,
                            StepStatus::Pending,
                            Event::Retried(payload::Retried {
                                attempt,
                                next_attempt: attempt + 1,
                                delay_ms: delay,
                                error,
                                reason: Some(failure.reason().to_string()),
                                exit_code: match failure {
                                    Failure::Exit(code) => Some(code),
                                    _ => None,
                                },
                            }),
                        );
                        let tx = self.tx.clone();
                        if time::is_virtual() {
                            // A test's clock: the backoff passes at once (`time`).
                            time::advance(delay);
                            let _ = tx.send(Msg::RetryDue { step: s });
                        } else {
                            tokio::task::spawn_local(async move {
                                tokio::time::sleep(Duration::from_millis(delay)).await;
                                let _ = tx.send(Msg::RetryDue { step: s });
                            });
                        }
                    }
                    _ if self.gate_fix(s, &error) => {}
                    _ => self.fail_for_good_because(s, attempt, error, stop_reason, &mut work),
                }
            }
        }
        self.propagate(work);
        self.check_budget();
    }

    /// Milliseconds since the first attempt of `s` started (0: unknown).
    fn since_first_attempt(&self, s: StepId) -> u64 {
        let started = self.steps[s as usize].started_at.as_deref().and_then(time::parse_rfc3339);
        started.map_or(0, |t| (time::now_ms() - t).max(0) as u64)
    }

    /// The last attempt failed: apply `on_failure`.
    pub(super) fn fail_for_good(&mut self, s: StepId, attempt: u32, error: String, work: &mut Vec<StepId>) {
        self.fail_for_good_because(s, attempt, error, None, work);
    }

    /// The last attempt failed, and `no_retry` says why no retry follows
    /// (for a step with retries): apply `on_failure`.
    fn fail_for_good_because(&mut self, s: StepId, attempt: u32, error: String, no_retry: Option<String>, work: &mut Vec<StepId>) {
        let name = self.sh.plan.plan.workflows[self.wf].steps[s as usize].name.clone();
        let on_failure = self.on_failure_of(s);
        match on_failure {
            OnFailure::Pause => {
                self.record_step(
                    s,
                    StepStatus::Paused,
                    Event::Failed(payload::Failed {
                        attempt: Some(attempt),
                        error,
                        on_failure: Some("pause".into()),
                        no_retry,
                        ..Default::default()
                    }),
                );
                if !self.paused {
                    self.paused = true;
                    self.record_run(
                        RunStatus::Paused,
                        Event::Paused(payload::Paused { reason: format!("step {name} failed"), step: Some(name) }),
                        None,
                        None,
                    );
                }
            }
            OnFailure::Fail | OnFailure::Continue => {
                if on_failure == OnFailure::Fail && self.first_failure.is_none() {
                    self.first_failure = Some(format!("step {name} failed: {error}"));
                }
                self.record_step(
                    s,
                    StepStatus::Failed,
                    Event::Failed(payload::Failed { attempt: Some(attempt), error, no_retry, ..Default::default() }),
                );
                work.push(s);
                if on_failure == OnFailure::Fail {
                    self.fail_fast_groups_of(s, work);
                }
            }
        }
    }
}
