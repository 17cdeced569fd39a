//! `parallel NAME fail_fast { … }`: the first member that fails for good
//! (without `on_failure continue`) stops its group, as GitHub Actions'
//! `fail-fast`, Argo's `failFast` and a Step Functions `Parallel` state do:
//! the members running then are cancelled (their processes stopped, status
//! `cancelled`), and the members not started yet are skipped with a reason
//! naming the failed member. Nested groups count as members.

use std::collections::HashMap;

use tokio::sync::watch;

use super::Runner;
use crate::plan::{GroupId, StepId};
use crate::state::{payload, Event, StepStatus};

/// The runner's fail-fast groups: one stop signal per group, made when a
/// member's first attempt starts, and the members a group stopped.
#[derive(Default)]
pub(super) struct FailFast {
    signals: HashMap<GroupId, watch::Sender<bool>>,
    /// Running members a group's failure stopped: the reason for their `cancelled` event.
    pub(super) cancelled: HashMap<StepId, String>,
}

impl FailFast {
    /// The run is aborting: every group's members stop too.
    pub(super) fn stop_all(&self) {
        for tx in self.signals.values() {
            let _ = tx.send(true);
        }
    }
}

impl Runner {
    /// The fail-fast groups around step `s`, innermost first.
    fn fail_fast_groups(&self, s: StepId) -> Vec<GroupId> {
        let wf = self.wf_plan();
        let mut out = Vec::new();
        let mut at = wf.steps[s as usize].group;
        // Bounded walk: the loader checked the parent chain, but stay safe.
        for _ in 0..=wf.groups.len() {
            let Some(g) = at else { break };
            let Some(group) = wf.groups.get(g as usize) else { break };
            if group.fail_fast {
                out.push(g);
            }
            at = group.parent;
        }
        out
    }

    /// The abort signal an attempt of `s` listens to: the run's, or, in a
    /// fail-fast group, that of its innermost one (raised with the run's too,
    /// and by every fail-fast group around it).
    pub(super) fn abort_for(&mut self, s: StepId) -> watch::Receiver<bool> {
        let Some(&inner) = self.fail_fast_groups(s).first() else { return self.abort_tx.subscribe() };
        let aborting = *self.abort_tx.borrow();
        self.fail_fast.signals.entry(inner).or_insert_with(|| watch::channel(aborting).0).subscribe()
    }

    /// Member `s` failed for good: each fail-fast group around it stops.
    pub(super) fn fail_fast_groups_of(&mut self, s: StepId, work: &mut Vec<StepId>) {
        let groups = self.fail_fast_groups(s);
        let Some(&outer) = groups.last() else { return };
        let sh = self.sh.clone();
        let wf = &sh.plan.plan.workflows[self.wf];
        let failed = &wf.steps[s as usize].name;
        // The outermost group stops every member of the groups inside it.
        let members = wf.group_members(outer);
        let group = &wf.groups[outer as usize].name;
        let reason = format!("step {failed} of group {group} failed (fail_fast)");
        for (g, info) in wf.groups.iter().enumerate() {
            let inside = members.iter().any(|m| wf.steps[*m as usize].group == Some(g as GroupId)) || g as GroupId == outer;
            if info.fail_fast && inside {
                if let Some(tx) = self.fail_fast.signals.get(&(g as GroupId)) {
                    let _ = tx.send(true);
                }
            }
        }
        for m in members {
            if m == s {
                continue;
            }
            let st = &self.steps[m as usize];
            // (Queued members are `decided` too: they are skipped below.)
            if st.status.is_some_and(StepStatus::is_terminal) {
                continue;
            }
            if st.in_flight {
                // Its attempt ends aborted; `finished` records it cancelled.
                self.fail_fast.cancelled.insert(m, reason.clone());
                continue;
            }
            let was_blocked = self.steps[m as usize].status == Some(StepStatus::Blocked);
            let was_retrying = self.steps[m as usize].retry_waiting;
            self.steps[m as usize].retry_waiting = false;
            self.steps[m as usize].decided = true;
            self.ready_inline.retain(|x| *x != m);
            self.ready_external.retain(|x| *x != m);
            if was_blocked || was_retrying {
                self.drop_gate(m);
                self.record_step(m, StepStatus::Cancelled, Event::Cancelled(payload::Cancelled { reason: Some(reason.clone()), ..Default::default() }));
            } else {
                self.record_step(m, StepStatus::Skipped, Event::Skipped(payload::Skipped { reason: reason.clone(), ..Default::default() }));
            }
            work.push(m);
        }
    }
}
