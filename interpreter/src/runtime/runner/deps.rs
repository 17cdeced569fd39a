//! Dependency bookkeeping: each decided step informs its dependents once,
//! their counters feed the trigger rules (`rules`), and a step whose rule
//! fires is checked against its `when` and queued.


use super::rules::{self, Decision, Eff};
use super::{checkpoints, Runner};
use crate::plan::{Condition, DepRef, OnFailure, StepId};
use crate::state::StepStatus;
use crate::state::{payload, Event};

impl Runner {
    pub(super) fn roots(&self) -> Vec<StepId> {
        let wf = self.wf_plan();
        let loaded = &self.sh.plan.workflows[self.wf];
        // `always` holds for nothing: its step starts with the run.
        let starts = |s: u32| wf.steps[s as usize].after.is_empty() || rules::starts_at_once(wf.steps[s as usize].trigger);
        // The exit handler's steps start with the handler (`finally`).
        let handler = self.finally.is_some();
        (0..wf.steps.len() as u32)
            .filter(|s| starts(*s) && !loaded.steps[*s as usize].compensation_only && (handler || !loaded.steps[*s as usize].finally))
            .collect()
    }

    pub(super) fn init_counters(&mut self) {
        let sh = self.sh.clone();
        let loaded = &sh.plan.workflows[self.wf];
        for (i, step) in sh.plan.plan.workflows[self.wf].steps.iter().enumerate() {
            let units = &loaded.steps[i].group_deps;
            let singles = step.after.iter().filter(|d| !units.iter().any(|m| m.binary_search(d).is_ok())).count();
            let st = &mut self.steps[i];
            st.deps.pending = (singles + units.len()) as u32;
            st.group_pending = units.iter().map(|m| m.len() as u32).collect();
        }
    }

    /// Counts `x`'s dependencies anew from the current statuses (a fix round
    /// made some of them pending again).
    pub(super) fn recount(&mut self, x: StepId) {
        let sh = self.sh.clone();
        let units = &sh.plan.workflows[self.wf].steps[x as usize].group_deps;
        let after = &sh.plan.plan.workflows[self.wf].steps[x as usize].after;
        let terminal = |me: &Self, d: StepId| me.steps[d as usize].status.is_some_and(StepStatus::is_terminal);
        let mut effs = Vec::new();
        let mut pending = 0;
        for &d in after.iter().filter(|d| !units.iter().any(|m| m.binary_search(d).is_ok())) {
            if terminal(self, d) { effs.push(self.effective(d, x)) } else { pending += 1 }
        }
        let mut group_pending = Vec::with_capacity(units.len());
        for members in units {
            let left = members.iter().filter(|m| !terminal(self, **m)).count() as u32;
            if left == 0 { effs.push(self.group_effective(members, x)) } else { pending += 1 }
            group_pending.push(left);
        }
        let st = &mut self.steps[x as usize];
        st.group_pending = group_pending;
        st.deps = rules::Counts::of(pending, &effs);
    }

    /// A group's outcome as one dependency of `dependent`, once every member
    /// is terminal: failed if a member failed (and was not `on_failure
    /// continue`) or was upstream_failed; skipped if every member was
    /// skipped; completed otherwise.
    pub(super) fn group_effective(&self, members: &[StepId], dependent: StepId) -> Eff {
        rules::group_effect(members.iter().map(|&m| {
            let continued = self.steps[m as usize].status == Some(StepStatus::Failed) && self.on_failure_of(m) == OnFailure::Continue;
            if continued { Eff::Success } else { self.effective(m, dependent) }
        }))
    }

    pub(super) fn effective(&self, dep: StepId, dependent: StepId) -> Eff {
        let st = &self.steps[dep as usize];
        let not_picked = st.status == Some(StepStatus::Completed) && {
            let info = &self.sh.plan.workflows[self.wf].steps[dep as usize];
            let picked = st.picked.and_then(|i| info.arms.get(i as usize)).is_some_and(|(_, steps)| steps.contains(&dependent));
            info.arm_targets.contains(&dependent) && !picked
        };
        let by_person = st.status == Some(StepStatus::Skipped) && checkpoints::passed_by_person(st.output.as_ref());
        rules::dep_effect(st.status, not_picked, by_person)
    }

    /// Marks `s` terminal-settled and decides what its dependents can.
    pub(super) fn propagate(&mut self, mut work: Vec<StepId>) {
        while let Some(s) = work.pop() {
            self.settled += 1;
            self.inform_dependents(s, &mut work);
        }
    }

    pub(super) fn inform_dependents(&mut self, s: StepId, work: &mut Vec<StepId>) {
        let sh = self.sh.clone();
        let loaded = &sh.plan.workflows[self.wf];
        for &d in loaded.dependents[s as usize].iter() {
            if self.steps[d as usize].decided {
                continue;
            }
            // `s` counts alone, or towards the groups of `d`'s deps it is in:
            // a group counts once, when its last member is terminal.
            let mut in_group = false;
            for (u, members) in loaded.steps[d as usize].group_deps.iter().enumerate() {
                if members.binary_search(&s).is_err() {
                    continue;
                }
                in_group = true;
                let left = &mut self.steps[d as usize].group_pending[u];
                *left = left.saturating_sub(1);
                if *left == 0 {
                    let eff = self.group_effective(members, d);
                    self.count_dep(d, eff);
                }
            }
            if !in_group {
                let eff = self.effective(s, d);
                self.count_dep(d, eff);
            }
            self.decide(d, work);
        }
    }

    pub(super) fn count_dep(&mut self, d: StepId, eff: Eff) {
        self.steps[d as usize].deps.count(eff);
    }

    /// Applies `d`'s trigger rule to its dependency counters: run it, skip
    /// it, mark it upstream_failed, or wait for more dependencies.
    pub(super) fn decide(&mut self, d: StepId, work: &mut Vec<StepId>) {
        let sh = self.sh.clone();
        if let Some(cond) = &sh.plan.plan.workflows[self.wf].steps[d as usize].condition {
            return self.decide_condition(d, cond, work);
        }
        let rule = self.sh.plan.plan.workflows[self.wf].steps[d as usize].trigger;
        let Some(decision) = rules::decide(rule, self.steps[d as usize].deps) else { return };
        self.steps[d as usize].decided = true;
        if self.aborting.is_some() {
            return;
        }
        match decision {
            Decision::Run => self.make_ready(d, work),
            Decision::Skip(reason) => {
                // Say which branch decided, when one did (a skip that
                // follows a skipped dependency).
                let by_branch = self.wf_plan().steps[d as usize].after.iter().filter(|_| rules::skip_follows_a_skip(rule)).find(|dep| {
                    self.steps[**dep as usize].status == Some(StepStatus::Completed) && self.effective(**dep, d) == Eff::Skipped
                });
                let reason = match by_branch {
                    Some(b) => {
                        let branch = &self.sh.plan.workflows[self.wf].steps[*b as usize];
                        let name = &self.wf_plan().steps[*b as usize].name;
                        match self.steps[*b as usize].picked.and_then(|i| branch.arm_labels.get(i as usize)) {
                            Some(picked) => format!("branch {name} picked {picked}"),
                            None => format!("no arm of branch {name} matched"),
                        }
                    }
                    None => reason.to_string(),
                };
                self.record_step(d, StepStatus::Skipped, Event::Skipped(payload::Skipped { reason, ..Default::default() }));
                work.push(d);
            }
            Decision::UpstreamFailed => {
                let failed: Vec<String> = self.wf_plan().steps[d as usize]
                    .after
                    .iter()
                    .filter(|dep| self.steps[**dep as usize].status.is_some_and(StepStatus::is_terminal))
                    .filter(|dep| matches!(self.effective(**dep, d), Eff::Failed | Eff::UpstreamFailed))
                    .map(|dep| self.wf_plan().steps[*dep as usize].name.clone())
                    .collect();
                self.record_step(d, StepStatus::UpstreamFailed, Event::UpstreamFailed(payload::UpstreamFailed { failed, condition: None }));
                work.push(d);
            }
        }
    }

    /// What dependency `dep` of `d` ended as, `None` while it (a group: a
    /// member) has not finished.
    fn dep_end(&self, dep: DepRef, d: StepId) -> Option<Eff> {
        let terminal = |s: StepId| self.steps[s as usize].status.is_some_and(StepStatus::is_terminal);
        match dep {
            DepRef::Step(s) => terminal(s).then(|| self.effective(s, d)),
            DepRef::Group(g) => {
                let members = self.wf_plan().group_members(g);
                members.iter().all(|m| terminal(*m)).then(|| self.group_effective(&members, d))
            }
        }
    }

    /// Applies `d`'s outcome condition (`after a, failed(b)`): run it when
    /// the condition is true; when it is false, upstream_failed if a
    /// dependency it names failed, else skipped, with the condition named.
    fn decide_condition(&mut self, d: StepId, cond: &Condition, work: &mut Vec<StepId>) {
        let Some(decision) = rules::decide_condition(cond, &|dep| self.dep_end(dep, d)) else { return };
        self.steps[d as usize].decided = true;
        if self.aborting.is_some() {
            return;
        }
        let text = cond.describe(self.wf_plan());
        match decision {
            Decision::Run => self.make_ready(d, work),
            Decision::Skip(_) => {
                let reason = format!("its condition `{text}` is false");
                self.record_step(d, StepStatus::Skipped, Event::Skipped(payload::Skipped { reason, ..Default::default() }));
                work.push(d);
            }
            Decision::UpstreamFailed => {
                let failed: Vec<String> = rules::falsified_by_failure(cond, &|dep| self.dep_end(dep, d))
                    .into_iter()
                    .map(|dep| crate::plan::condition::dep_name(self.wf_plan(), dep).to_string())
                    .collect();
                let event = payload::UpstreamFailed { failed, condition: Some(text) };
                self.record_step(d, StepStatus::UpstreamFailed, Event::UpstreamFailed(event));
                work.push(d);
            }
        }
    }

    /// A step whose trigger rule fired: check `when`, then queue it.
    pub(super) fn make_ready(&mut self, s: StepId, work: &mut Vec<StepId>) {
        if let Some(when) = self.wf_plan().steps[s as usize].when {
            let scope = self.scope_for(s);
            let loaded = &self.sh.plan.workflows[self.wf];
            let ev = crate::runtime::scope::Evaluator { env: &self.sh.plan.cel, programs: &loaded.programs, exprs: &self.wf_plan().exprs };
            match ev.eval_bool(when, &scope) {
                Ok(true) => {}
                Ok(false) => {
                    self.record_step(
                        s,
                        StepStatus::Skipped,
                        Event::Skipped(payload::Skipped { reason: "its when condition is false".into(), ..Default::default() }),
                    );
                    work.push(s);
                    return;
                }
                Err(e) => {
                    let msg = format!("when: {e}");
                    self.steps[s as usize].error = Some(msg.clone());
                    self.fail_for_good(s, 0, msg, work);
                    return;
                }
            }
        }
        if self.sh.plan.workflows[self.wf].steps[s as usize].external {
            self.ready_external.push_back(s);
        } else {
            self.ready_inline.push_back(s);
        }
    }
}
