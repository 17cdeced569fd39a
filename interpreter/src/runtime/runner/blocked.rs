//! The runner's side of steps blocked on people and events (a child module
//! of `runner`, so it shares the scheduler's state).
//!
//! A step whose attempt ends at `APPROVAL`, `HUMAN` or `WAIT` becomes
//! `blocked`: the attempt row is marked blocked and the `blocked` event
//! records the gate (who may decide, what event, the deadline). The runner
//! then looks, on every control poll, for gate requests filed by
//! `flowc approve|reject|complete`, for inbound events that match a `wait`,
//! and for gates past their deadline, and resolves the step: the decision's
//! event, the step's new status and the request's result go in one batch.
//!
//! When nothing but blocked steps is left, a runner that may not wait
//! (`flowc run` without `--wait`) records the run `blocked` and returns;
//! `resume` (or the command that resolves a gate) rebuilds the gates from
//! the event log and continues.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{json, Value};

use super::{Runner, Shared};
use crate::plan::{Plan, StepId};
use super::attempt::Outcome;
use crate::runtime::inbox;
use crate::runtime::blocking::{check_request, human_type, Hold};
use crate::runtime::Error;
use crate::state::{GateAction, GateRequest, InboundEvent, Op, RunOrigin, RunStatus, StepState, StepStatus, Store};
use crate::time;
use crate::state::{payload, Event};

/// How soon a timer must be due for `flowc run` and `flowc resume` to wait
/// for it in the process rather than leave the run `blocked` (a minute).
pub(super) const TIMER_STAY_MS: i64 = 60_000;

pub(super) struct Blocked {
    gate: Hold,
    attempt: u32,
    deadline_ms: Option<i64>,
    /// Inbound events up to this sequence number were looked at (waits).
    scanned: i64,
}

/// The runner's blocked steps, each with its hold, and what it has read of
/// decisions, events and child runs.
#[derive(Default)]
pub(super) struct Holds {
    gates: BTreeMap<StepId, Blocked>,
    last_request: i64,
    /// Inbound events consumed by this run's steps.
    delivered: HashSet<i64>,
    origin_loaded: bool,
    initiator: Option<String>,
    /// The project's principals and groups (flowc.toml), read with the origin.
    /// A flowc.toml that cannot be read expands no group: decisions fail closed.
    directory: crate::plan::directory::Directory,
    pub(super) version: Option<i64>,
    /// Gates recorded in the event log, by step name, while restoring.
    recorded: HashMap<String, Hold>,
    /// Call steps whose child run was blocked: dispatched again on resume.
    redispatch: Vec<StepId>,
    /// When blocked child runs were last looked at (milliseconds).
    children_polled: i64,
}

/// Records the origin of a new top-level run: plan hash and published version.
pub(super) fn record_top_origin(store: &mut dyn Store, plan: &Plan, workflow: &str, run: &str, origin: &RunOrigin) -> Result<(), Error> {
    let mut origin = origin.clone();
    origin.plan_hash = super::super::versions::plan_hash(plan);
    origin.version = store.version_of(workflow, &origin.plan_hash)?;
    store.put_origin(run, &origin)?;
    Ok(())
}

/// A child run inherits its parent's initiator and plan hash.
pub(super) fn record_child_origin(sh: &Shared, run: &str, parent: &str, parent_step: &str) -> Result<(), String> {
    let mut store = sh.store.borrow_mut();
    let parent_origin = store.origin(parent).map_err(|e| e.to_string())?;
    let origin = RunOrigin {
        initiator: parent_origin.as_ref().and_then(|o| o.initiator.clone()),
        trigger: "call".into(),
        detail: json!({ "parent_run": parent, "parent_step": parent_step }),
        version: None,
        plan_hash: parent_origin.map(|o| o.plan_hash).unwrap_or_default(),
    };
    store.put_origin(run, &origin).map_err(|e| e.to_string())
}

/// What the request recorded about who decided (on behalf of, token id,
/// address, channel), for the decision's event.
fn actor(req: &GateRequest) -> Option<payload::ActorDetail> {
    req.actor_detail.as_ref().map(|a| a.detail())
}

fn duration_since(started: Option<&str>) -> i64 {
    started.and_then(time::parse_rfc3339).map_or(0, |s| (time::now_ms() - s).max(0))
}

impl Runner {
    fn load_origin(&mut self) {
        if self.blocked.origin_loaded {
            return;
        }
        self.blocked.origin_loaded = true;
        if let Ok(Some(origin)) = self.sh.store.borrow().origin(&self.run) {
            self.blocked.initiator = origin.initiator;
            self.blocked.version = origin.version;
        }
        self.blocked.directory = crate::plan::directory::Directory::load(&self.sh.options.project_dir).unwrap_or_default();
    }

    /// The origin's fields for the `started` event.
    pub(super) fn origin_fields(&mut self) -> Option<payload::Origin> {
        self.load_origin();
        let origin = self.sh.store.borrow().origin(&self.run).ok().flatten()?;
        Some(payload::Origin {
            initiator: origin.initiator,
            trigger: origin.trigger,
            trigger_detail: (!origin.detail.is_null()).then_some(origin.detail),
            version: origin.version,
            plan_hash: origin.plan_hash,
        })
    }

    /// A run that was created (by a trigger) but never started.
    pub(super) fn never_started(&self) -> Result<bool, Error> {
        let record = self.sh.store.borrow().run(&self.run)?;
        Ok(record.is_some_and(|r| r.status == RunStatus::Pending && r.started_at.is_none()))
    }

    fn since(&self) -> String {
        time::rfc3339_ms(self.started_ms)
    }

    /// The attempt of step `s` ended at a blocking instruction.
    pub(super) fn block(&mut self, s: StepId, attempt: u32, mut gate: Hold, outcome: Outcome) {
        let output = match outcome.result {
            Ok(success) => success.output,
            Err(_) => Value::Null,
        };
        self.steps[s as usize].output = Some(output);
        gate.attempt = attempt;
        let timeout = self.sh.plan.workflows[self.wf].steps[s as usize].timeout_ms;
        let deadline_ms = match gate.gate.as_str() {
            "call" => None,
            // A timer's due time, computed when it started (`TIMER`).
            "timer" => gate.deadline.as_deref().and_then(time::parse_rfc3339),
            _ => timeout.map(|t| time::now_ms() + t as i64),
        };
        if gate.gate != "timer" {
            gate.deadline = deadline_ms.map(time::rfc3339_ms);
        }
        let mut blocked = Blocked { gate, attempt, deadline_ms, scanned: 0 };
        // An event that arrived since the run started satisfies a wait at once.
        if blocked.gate.gate == "wait" {
            match self.next_match(&mut blocked) {
                Ok(Some(event)) => {
                    self.ops.push(Op::AttemptBlocked { run: self.run.clone(), step_id: s, attempt });
                    self.resolve_event(s, blocked, event);
                    return;
                }
                Ok(None) => {}
                Err(e) => {
                    self.steps[s as usize].error = Some(e.to_string());
                    let mut work = Vec::new();
                    self.fail_for_good(s, attempt, format!("cannot read inbound events: {e}"), &mut work);
                    self.propagate(work);
                    return;
                }
            }
        }
        self.ops.push(Op::AttemptBlocked { run: self.run.clone(), step_id: s, attempt });
        let hold = Some(blocked.gate.clone());
        self.record_step(s, StepStatus::Blocked, Event::Blocked(payload::Blocked { steps: None, hold }));
        self.blocked.gates.insert(s, blocked);
    }

    /// The next inbound event since the run started that the wait matches.
    fn next_match(&mut self, blocked: &mut Blocked) -> Result<Option<InboundEvent>, Error> {
        if !self.blocked.origin_loaded {
            self.load_origin();
            let delivered = self.sh.store.borrow().deliveries(&self.run)?;
            self.blocked.delivered.extend(delivered);
        }
        let since = self.since();
        let events = self.sh.store.borrow().inbound_events_after(blocked.scanned, &since)?;
        let glob = blocked.gate.event.clone().unwrap_or_default();
        for event in events {
            blocked.scanned = event.seq;
            if !self.blocked.delivered.contains(&event.seq)
                && inbox::wait_matches(&glob, blocked.gate.subject.as_deref(), &event.event)
            {
                return Ok(Some(event));
            }
        }
        Ok(None)
    }

    /// Forgets step `s`'s hold (its group's `fail_fast` cancelled it).
    pub(super) fn drop_gate(&mut self, s: StepId) {
        self.blocked.gates.remove(&s);
    }

    /// Only blocked steps are left and this runner may not wait for them.
    /// A timer due within [`TIMER_STAY_MS`] is waited for in the process,
    /// as a running step is; a later one leaves the run `blocked` until
    /// `flowc resume` or `flowc serve` comes back when it is due.
    pub(super) fn only_gates_left(&self) -> bool {
        let now = time::now_ms();
        !self.sh.options.wait_blocked
            && !self.blocked.gates.is_empty()
            // Under a test's virtual clock no timer is waited for here: the
            // test moves the clock to it (`time`).
            && (time::is_virtual() || !self.blocked.gates.values().any(|b| b.gate.gate == "timer" && b.deadline_ms.is_none_or(|d| d - now <= TIMER_STAY_MS)))
            && self.in_flight == 0
            && self.ready_inline.is_empty()
            && self.ready_external.is_empty()
            && !self.steps.iter().any(|st| st.retry_waiting)
    }

    /// Forgets the gates of steps that ended without their gate (an abort
    /// cancelled them): they hold nothing back any more.
    pub(super) fn drop_ended_gates(&mut self) {
        let steps = &self.steps;
        self.blocked.gates.retain(|s, _| !steps[*s as usize].status.is_some_and(StepStatus::is_terminal));
    }

    /// Before returning blocked: one more look for decisions that arrived.
    /// True when something was resolved (the scheduler goes on).
    pub(super) fn last_look(&mut self) -> Result<bool, Error> {
        if !self.only_gates_left() || self.paused || self.aborting.is_some() {
            return Ok(false);
        }
        self.poll_gates()
    }

    /// Records the run `blocked` when only gates are left.
    pub(super) fn conclude_blocked(&mut self) -> bool {
        if !self.only_gates_left() {
            return false;
        }
        let steps: Vec<String> = self.blocked.gates.keys().map(|s| self.wf_plan().steps[*s as usize].name.clone()).collect();
        self.record_run(RunStatus::Blocked, Event::Blocked(payload::Blocked { steps: Some(steps), hold: None }), None, None);
        true
    }

    /// Applies gate requests, matching events and expired deadlines. True
    /// when a gate was resolved.
    pub(super) fn poll_gates(&mut self) -> Result<bool, Error> {
        if self.blocked.gates.is_empty() || self.aborting.is_some() {
            return Ok(false);
        }
        let before = self.blocked.gates.len();
        let requests = self.sh.store.borrow().pending_gate_requests(&self.run, self.blocked.last_request)?;
        for req in requests {
            self.blocked.last_request = req.id;
            self.apply_request(req);
        }
        let waits: Vec<StepId> = self.blocked.gates.iter().filter(|(_, b)| b.gate.gate == "wait").map(|(s, _)| *s).collect();
        for s in waits {
            let Some(mut blocked) = self.blocked.gates.remove(&s) else { continue };
            match self.next_match(&mut blocked)? {
                Some(event) => self.resolve_event(s, blocked, event),
                None => {
                    self.blocked.gates.insert(s, blocked);
                }
            }
        }
        self.poll_children()?;
        let now = time::now_ms();
        let expired: Vec<StepId> =
            self.blocked.gates.iter().filter(|(_, b)| b.deadline_ms.is_some_and(|d| d <= now)).map(|(s, _)| *s).collect();
        for s in expired {
            if let Some(blocked) = self.blocked.gates.remove(&s) {
                if blocked.gate.gate == "timer" {
                    self.fire_timer(s, blocked);
                    continue;
                }
                let after = crate::plan::disasm::format_duration(self.sh.plan.workflows[self.wf].steps[s as usize].timeout_ms.unwrap_or(0));
                let what = match blocked.gate.gate.as_str() {
                    "approval" => format!("nobody approved or rejected it within {after}"),
                    "human" => format!("nobody completed the task within {after}"),
                    _ => format!("no matching event arrived within {after}"),
                };
                self.finish_gate(s, blocked, Err(what), payload::Completed::default());
            }
        }
        let resolved = self.blocked.gates.len() < before;
        if resolved {
            self.flush()?;
        }
        Ok(resolved)
    }

    /// A call step whose child run is blocked runs again (continuing the
    /// child) once the child has something to act on: a decision, an expired
    /// gate or an event one of its waits matches. Looked at once a second.
    fn poll_children(&mut self) -> Result<(), Error> {
        let now = time::now_ms();
        if now - self.blocked.children_polled < 1000 {
            return Ok(());
        }
        self.blocked.children_polled = now;
        let calls: Vec<(StepId, String)> = self
            .blocked
            .gates
            .iter()
            .filter_map(|(s, b)| b.gate.child_run.clone().filter(|_| b.gate.gate == "call").map(|c| (*s, c)))
            .collect();
        for (s, child) in calls {
            if !self.child_has_news(&child)? {
                continue;
            }
            if let Some(blocked) = self.blocked.gates.remove(&s) {
                // The same attempt continues: CALL resumes the existing child run.
                let st = &mut self.steps[s as usize];
                st.attempts = blocked.attempt.saturating_sub(1);
                st.status = Some(StepStatus::Pending);
                self.redispatch_one(s);
            }
        }
        Ok(())
    }

    fn child_has_news(&self, child: &str) -> Result<bool, Error> {
        let store = self.sh.store.borrow();
        Ok(inbox::news(&**store, child, &mut HashMap::new())?.0.is_some())
    }

    fn redispatch_one(&mut self, s: StepId) {
        if self.sh.plan.workflows[self.wf].steps[s as usize].external {
            self.ready_external.push_back(s);
        } else {
            self.ready_inline.push_back(s);
        }
    }

    fn apply_request(&mut self, req: GateRequest) {
        let refuse = |me: &mut Runner, why: String| {
            me.ops.push(Op::GateRequestHandled { id: req.id, result: format!("refused: {why}"), at: time::now() });
            if let Some(s) = me.sh.plan.workflows[me.wf].names.get(&req.step).copied() {
                let refused = payload::Refused { action: req.action, by: req.actor.clone(), reason: why, actor: actor(&req) };
                me.event(Some(s), Event::Refused(refused));
            }
        };
        let Some(s) = self.sh.plan.workflows[self.wf].names.get(&req.step).copied() else {
            return refuse(self, format!("the run has no step `{}`", req.step));
        };
        self.load_origin();
        let attempt = self.steps[s as usize].attempts;
        if let Some(a) = req.attempt
            && a != attempt {
                return refuse(self, format!("it was for attempt {a} of step `{}`, which is now at attempt {attempt}", req.step));
            }
        let Some(blocked) = self.blocked.gates.get(&s) else {
            let st = &self.steps[s as usize];
            let why = crate::runtime::blocking::decided_why(&req.step, st.status, st.output.as_ref(), st.error.as_deref(), None);
            return refuse(self, why);
        };
        let ty = human_type(&self.sh.plan, self.wf, s);
        let dir = &self.blocked.directory;
        if let Err(why) = check_request(&blocked.gate, req.action, &req.actor, self.blocked.initiator.as_deref(), req.output.as_ref(), ty, dir) {
            return refuse(self, why);
        }
        let Some(blocked) = self.blocked.gates.remove(&s) else { return };
        self.ops.push(Op::GateRequestHandled { id: req.id, result: "applied".into(), at: time::now() });
        let at = time::now();
        match req.action {
            GateAction::Approve => {
                self.event(
                    Some(s),
                    Event::Approved(payload::Approved {
                        by: req.actor.clone(),
                        comment: req.comment.clone(),
                        implicit: blocked.gate.implicit,
                        policy: blocked.gate.policy.clone(),
                        actor: actor(&req),
                    }),
                );
                let mut approval = json!({ "approved": true, "by": req.actor, "comment": req.comment, "at": at });
                if let Some(b) = req.actor_detail.as_ref().and_then(|a| a.on_behalf_of.as_ref()) {
                    approval["on_behalf_of"] = json!(b);
                }
                let output = if blocked.gate.implicit {
                    match self.steps[s as usize].output.clone() {
                        Some(Value::Object(mut partial)) => {
                            partial.insert("approval".into(), approval);
                            Value::Object(partial)
                        }
                        _ => json!({ "approval": approval }),
                    }
                } else {
                    approval
                };
                self.finish_gate(s, blocked, Ok(output), payload::Completed { by: Some(req.actor.clone()), ..Default::default() });
            }
            GateAction::Reject => {
                self.event(
                    Some(s),
                    Event::Rejected(payload::Rejected {
                        by: req.actor.clone(),
                        comment: req.comment.clone(),
                        implicit: blocked.gate.implicit,
                        actor: actor(&req),
                    }),
                );
                let why = match &req.comment {
                    Some(c) => format!("rejected by {}: {c}", req.actor),
                    None => format!("rejected by {}", req.actor),
                };
                self.finish_gate(s, blocked, Err(why), payload::Completed { by: Some(req.actor.clone()), ..Default::default() });
            }
            GateAction::Complete => {
                let output = req.output.clone().unwrap_or(Value::Null);
                let done = payload::Completed { by: Some(req.actor.clone()), comment: Some(req.comment.clone()), actor: actor(&req), ..Default::default() };
                self.finish_gate(s, blocked, Ok(output), done);
            }
        }
    }

    /// A timer came due: the step completes with its due time and how long
    /// it waited since the step started (kills and resumes included).
    fn fire_timer(&mut self, s: StepId, blocked: Blocked) {
        let waited_ms = duration_since(self.steps[s as usize].started_at.as_deref());
        let output = json!({ "due_at": blocked.gate.deadline.clone(), "waited_ms": waited_ms });
        self.finish_gate(s, blocked, Ok(output), payload::Completed::default());
    }

    fn resolve_event(&mut self, s: StepId, blocked: Blocked, event: InboundEvent) {
        self.blocked.delivered.insert(event.seq);
        let step = self.wf_plan().steps[s as usize].name.clone();
        self.ops.push(Op::EventDelivered { run: self.run.clone(), step, event_seq: event.seq, at: time::now() });
        let field = |k: &str| event.event.get(k).cloned().unwrap_or(Value::Null);
        let summary = payload::EventSummary { seq: event.seq, id: field("id"), type_: field("type"), subject: field("subject"), source: field("source") };
        self.finish_gate(s, blocked, Ok(event.event), payload::Completed { event: Some(summary), ..Default::default() });
    }

    /// A gate was resolved: the step completes with `result`'s output or
    /// fails with its message (gates are not retried; `on_failure` applies).
    fn finish_gate(&mut self, s: StepId, blocked: Blocked, result: Result<Value, String>, extra: payload::Completed) {
        let attempt = blocked.attempt;
        let duration_ms = duration_since(self.steps[s as usize].started_at.as_deref());
        let (status, error) = match &result {
            Ok(_) => (StepStatus::Completed, None),
            Err(e) => (StepStatus::Failed, Some(e.clone())),
        };
        self.ops.push(Op::AttemptFinished {
            run: self.run.clone(),
            step_id: s,
            attempt,
            status,
            exit_code: None,
            error,
            at: time::now(),
            duration_ms,
        });
        let mut work = Vec::new();
        match result {
            Ok(output) => {
                let payload = payload::Completed { attempt: Some(attempt), duration_ms: Some(duration_ms), ..extra };
                // The run's invariants hold after a step a person or an
                // event completed too: checked (their commands run) before
                // the step counts as completed.
                if self.check_gate_invariants(s, attempt, &output, &payload) {
                    return;
                }
                self.complete_gate(s, attempt, output, payload, &mut super::attempt::OutcomeExtras::default());
                return;
            }
            Err(error) => {
                self.steps[s as usize].error = Some(error.clone());
                self.fail_for_good(s, attempt, error, &mut work);
            }
        }
        self.propagate(work);
        self.check_budget();
    }

    /// Records a resolved gate completed (unless an invariant it broke says
    /// otherwise), with its checkpoint in the same batch as for any step.
    pub(super) fn complete_gate(&mut self, s: StepId, attempt: u32, output: Value, payload: payload::Completed, adv: &mut super::attempt::OutcomeExtras) {
        let mut work = Vec::new();
        if !self.adv_before_complete(s, attempt, adv) {
            self.steps[s as usize].output = Some(output);
            self.record_step(s, StepStatus::Completed, Event::Completed(payload));
            self.adv_after_complete(s, attempt, adv);
            work.push(s);
        }
        self.propagate(work);
        self.check_budget();
    }

    /// Starts the invariant checks that apply after gate `s`, if any; their
    /// result arrives as `Msg::GateChecked`. False when none applies.
    fn check_gate_invariants(&mut self, s: StepId, attempt: u32, output: &Value, payload: &payload::Completed) -> bool {
        let name = &self.wf_plan().steps[s as usize].name;
        let applies = self.adv.pin.as_ref().is_some_and(|p| p.invariants.iter().any(|i| i.applies_to(name)));
        if !applies {
            return false;
        }
        let env = self.env_for(s, attempt);
        let ctx = std::rc::Rc::new(self.attempt_ctx(s, attempt, env, None));
        self.in_flight += 1;
        self.inline_in_flight += 1;
        self.steps[s as usize].in_flight = true;
        let (output, payload) = (output.clone(), payload.clone());
        tokio::task::spawn_local(async move {
            let mut out = super::attempt::new_outcome();
            super::invariants::check_after_step(&ctx, &ctx.env, &mut out).await;
            let _ = ctx.tx.send(super::Msg::GateChecked { step: s, attempt, output, payload, adv: Box::new(out.adv) });
        });
        true
    }

    // ------------------------------------------------------------ restoring

    /// Reads the gates recorded for the run's blocked steps.
    pub(super) fn restore_gates(&mut self) -> Result<(), Error> {
        let gates = self.sh.store.borrow().blocked_gates(&self.run)?;
        for g in gates {
            if let Ok(gate) = serde_json::from_value::<Hold>(g.gate) {
                self.blocked.recorded.insert(g.step, gate);
            }
        }
        Ok(())
    }

    /// Keeps a blocked step blocked (or, for a call whose child was blocked,
    /// dispatches it again). False when no gate was recorded for it.
    pub(super) fn restore_gate(&mut self, state: &StepState) -> bool {
        let Some(gate) = self.blocked.recorded.remove(&state.step) else { return false };
        let s = state.step_id;
        let st = &mut self.steps[s as usize];
        st.attempts = state.attempts;
        st.started_at = state.started_at.clone();
        st.output = state.output.clone();
        st.decided = true;
        if gate.gate == "call" {
            // The same attempt continues: CALL resumes the existing child run.
            st.attempts = state.attempts.saturating_sub(1);
            st.status = Some(StepStatus::Pending);
            self.blocked.redispatch.push(s);
            return true;
        }
        st.status = Some(StepStatus::Blocked);
        let deadline_ms = gate.deadline.as_deref().and_then(time::parse_rfc3339);
        let attempt = if gate.attempt > 0 { gate.attempt } else { state.attempts };
        self.blocked.gates.insert(s, Blocked { gate, attempt, deadline_ms, scanned: 0 });
        true
    }

    /// After the replay: call steps whose child run was blocked run again.
    pub(super) fn redispatch_calls(&mut self) {
        for s in std::mem::take(&mut self.blocked.redispatch) {
            self.redispatch_one(s);
        }
    }
}
