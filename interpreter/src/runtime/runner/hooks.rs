//! The state the runner keeps for items, quality gates, invariants,
//! spawning, checkpoints, stores and secrets, and the hooks `runner/mod.rs`
//! calls at its few decision points — a run begins or is restored, an
//! attempt starts, an attempt succeeds or fails. The logic lives in the
//! sibling modules (`items`, `quality_gates`, `invariants`, `spawn`,
//! `checkpoints`, `stores`, `secrets`).

use std::collections::HashMap;
use std::rc::Rc;

use serde_json::{json, Value};

use super::pin::{FileMap, Pinned};
use super::attempt::{AttemptExtras, OutcomeExtras};
use super::Runner;
use crate::plan::StepId;
use super::attempt::Outcome;
use crate::runtime::scope::{to_cel, Scope};
use crate::runtime::Error;
use crate::state::{Op, StepStatus};
use crate::time;
use crate::state::{payload, Event, EventKind};

/// What the runner keeps for items, gates, invariants, pins and spawns.
#[derive(Default)]
pub(crate) struct AdvState {
    /// What the run pinned (none: nothing to pin).
    pub pin: Option<Rc<Pinned>>,
    /// The item list each `items`/`select` step produced.
    pub item_lists: HashMap<StepId, Rc<Vec<Value>>>,
    /// Fix rounds each gate has started.
    pub fix_rounds: HashMap<StepId, u32>,
    /// `for each` steps: instance outputs kept from failed attempts.
    pub instances: HashMap<StepId, Vec<Option<Value>>>,
    /// Protected files as of the last checkpoint.
    pub last_files: Option<Rc<FileMap>>,
}

impl Runner {
    /// A new run begins: pin its invariants and limits.
    pub(super) fn adv_begin(&mut self) {
        self.pin_at_begin();
    }

    /// A run resumes: what it pinned, its item lists, its gates' fix rounds,
    /// its last checkpoint's files, and its unfinished spawned children.
    pub(super) fn adv_restore(&mut self) -> Result<(), Error> {
        self.load_pin()?;
        let sh = self.sh.clone();
        let lists = sh.store.borrow().item_lists(&self.run)?;
        for (s, items) in lists {
            let done = self.steps.get(s as usize).is_some_and(|st| st.status == Some(StepStatus::Completed));
            if let (true, Value::Array(items)) = (done, items) {
                self.adv.item_lists.insert(s, Rc::new(items));
            }
        }
        let wf = &sh.plan.plan.workflows[self.wf];
        if wf.steps.iter().any(|s| s.gate.as_ref().is_some_and(|g| !g.fix.is_empty())) {
            for e in sh.store.borrow().events(&self.run)?.iter().filter(|e| e.is(EventKind::GateFix)) {
                let (Some(step), Some(Event::GateFix(fix))) = (e.step.as_deref(), e.decode()) else { continue };
                if let Some(id) = sh.plan.workflows[self.wf].names.get(step) {
                    let r = self.adv.fix_rounds.entry(*id).or_insert(0);
                    *r = (*r).max(fix.round);
                }
            }
        }
        if self.adv.pin.as_ref().is_some_and(|p| !p.globs().is_empty())
            && let Some(last) = sh.store.borrow().checkpoints(&self.run)?.pop() {
                self.adv.last_files = Some(Rc::new(serde_json::from_value(last.files).unwrap_or_default()));
            }
        super::spawn::resume_children(&sh, &self.run)
    }

    /// What an attempt of step `s` gets beyond the basics.
    pub(super) fn attempt_extras(&self, s: StepId) -> AttemptExtras {
        let from = self.sh.plan.workflows[self.wf].steps[s as usize].items_from;
        let own = &self.sh.plan.plan.workflows[self.wf].steps[s as usize].for_each_in;
        AttemptExtras {
            // A step's own items (`for each item in …`), else the run's list.
            items: own.as_ref().map(|list| std::rc::Rc::new(list.clone())).or_else(|| from.and_then(|src| self.adv.item_lists.get(&src).cloned())),
            done: self.adv.instances.get(&s).cloned().unwrap_or_default(),
            pin: self.adv.pin.clone(),
            files: self.adv.last_files.clone(),
        }
    }

    /// Binds `items` (the current item list) for the expressions of step `s`.
    pub(super) fn bind_items(&self, s: StepId, scope: &mut Scope) {
        let info = &self.sh.plan.workflows[self.wf].steps[s as usize];
        if !info.refs.iter().any(|r| r == "items") {
            return;
        }
        if let Some(list) = info.items_from.and_then(|src| self.adv.item_lists.get(&src)) {
            scope.set("items", to_cel(&Value::Array(list.as_ref().clone())));
        }
    }

    /// Masks secret values in everything an attempt reports, before the
    /// runner keeps any of it (in memory or in the database).
    pub(super) fn redact_outcome(&self, o: &mut Outcome) {
        let r = &self.sh.secrets;
        if r.is_empty() {
            return;
        }
        r.redact_string(&mut o.stdout);
        r.redact_string(&mut o.stderr);
        match &mut o.result {
            Ok(success) => r.redact_value(&mut success.output),
            Err(e) => r.redact_string(e),
        }
        if let Some(items) = &mut o.adv.items {
            items.iter_mut().for_each(|v| r.redact_value(v));
        }
        if let Some(instances) = &mut o.adv.instances {
            instances.iter_mut().flatten().for_each(|v| r.redact_value(v));
        }
        for v in &mut o.adv.violations {
            r.redact_string(&mut v.reason);
        }
    }

    /// An attempt succeeded: its events, and the invariants' verdict.
    /// Returns `true` when the step must not be recorded completed.
    pub(super) fn adv_before_complete(&mut self, s: StepId, attempt: u32, adv: &mut OutcomeExtras) -> bool {
        self.gate_event(s, attempt, adv.gate.take());
        if let Some(report) = adv.select.take() {
            self.event(Some(s), Event::Selected(report));
        }
        if !adv.spawned.is_empty() {
            let children = adv.spawned.iter().map(|(run, workflow)| payload::Child { run: run.clone(), workflow: workflow.clone() }).collect();
            self.event(Some(s), Event::Spawned(payload::Spawned { children }));
        }
        self.adv.instances.remove(&s);
        for (hash, content) in adv.blobs.drain(..) {
            self.ops.push(Op::Blob { hash, content });
        }
        let violations = std::mem::take(&mut adv.violations);
        if self.handle_violations(s, attempt, &violations) {
            return true;
        }
        if let Some(files) = adv.files.take() {
            self.adv.last_files = Some(Rc::new(files));
        }
        false
    }

    /// The step was recorded completed: its item list and its checkpoint,
    /// in the same batch.
    pub(super) fn adv_after_complete(&mut self, s: StepId, attempt: u32, adv: &mut OutcomeExtras) {
        if let Some(items) = adv.items.take() {
            self.ops.push(Op::StepItems { run: self.run.clone(), step_id: s, items: Value::Array(items.clone()) });
            self.adv.item_lists.insert(s, Rc::new(items));
        }
        let files = self.adv.last_files.as_ref().map(|f| serde_json::to_value(f.as_ref()).unwrap_or(Value::Null)).unwrap_or(json!({}));
        self.ops.push(Op::Checkpoint {
            run: self.run.clone(),
            step_id: s,
            step: self.wf_plan().steps[s as usize].name.clone(),
            attempt,
            files,
            at: time::now(),
        });
    }

    /// An attempt failed: a gate's evaluation, a `for each` step's completed instances.
    pub(super) fn adv_on_error(&mut self, s: StepId, attempt: u32, adv: &mut OutcomeExtras) {
        self.gate_event(s, attempt, adv.gate.take());
        if let Some(instances) = adv.instances.take() {
            self.adv.instances.insert(s, instances);
        }
    }
}
