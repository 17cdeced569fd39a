//! The dependency rules, as pure functions over what the scheduler counted:
//! what a finished dependency counts as for a dependent (its effect), what a
//! group counts as, and what a step's trigger rule decides once enough of its
//! dependencies are known. The semantics table is in docs/language.md
//! ("Trigger rules"); the tests below are that table.

use crate::plan::TriggerRule;
use crate::state::StepStatus;

/// What a finished dependency counts as for one dependent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Eff {
    Success,
    Failed,
    Skipped,
}

/// What a dependency counts as, from its status. `not_picked`: it is a
/// branch and the dependent is a target of an arm it did not pick.
/// `passed_by_person`: skipped by `flowc skip`, so its dependents go on.
pub(super) fn dep_effect(status: Option<StepStatus>, not_picked: bool, passed_by_person: bool) -> Eff {
    match status {
        Some(StepStatus::Completed) if not_picked => Eff::Skipped,
        Some(StepStatus::Completed) => Eff::Success,
        Some(StepStatus::Skipped) if passed_by_person => Eff::Success,
        Some(StepStatus::Skipped) => Eff::Skipped,
        _ => Eff::Failed,
    }
}

/// A group's effect as one dependency, from its members' effects once every
/// member is terminal: failed if one failed, skipped if every one was
/// skipped, a success otherwise. (A member failed under `on_failure
/// continue` is given as a success by the caller.)
pub(super) fn group_effect(members: impl IntoIterator<Item = Eff>) -> Eff {
    let mut all_skipped = true;
    for eff in members {
        match eff {
            Eff::Failed => return Eff::Failed,
            Eff::Success => all_skipped = false,
            Eff::Skipped => {}
        }
    }
    if all_skipped { Eff::Skipped } else { Eff::Success }
}

/// What the scheduler knows of a step's dependencies so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Counts {
    /// Dependencies (a group counts once) not yet finished.
    pub pending: u32,
    pub any_success: bool,
    pub any_failed: bool,
    pub any_skipped: bool,
}

impl Counts {
    /// One more dependency finished, with this effect.
    pub fn count(&mut self, eff: Eff) {
        self.pending = self.pending.saturating_sub(1);
        match eff {
            Eff::Success => self.any_success = true,
            Eff::Failed => self.any_failed = true,
            Eff::Skipped => self.any_skipped = true,
        }
    }
}

/// What a trigger rule decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Decision {
    Run,
    /// Skipped, with the reason recorded when no branch decided.
    Skip(&'static str),
    UpstreamFailed,
}

/// The rule's decision, or `None` to wait for more dependencies.
pub(super) fn decide(rule: TriggerRule, c: Counts) -> Option<Decision> {
    let done = c.pending == 0;
    match rule {
        // Airflow's `one_success`: skipped only when every dependency was
        // skipped; with none succeeded and one failed, upstream_failed.
        TriggerRule::OneSuccess if c.any_success => Some(Decision::Run),
        TriggerRule::OneSuccess if done && c.any_failed => Some(Decision::UpstreamFailed),
        TriggerRule::OneSuccess if done => Some(Decision::Skip("every upstream step was skipped")),
        TriggerRule::AllSuccess if done && c.any_failed => Some(Decision::UpstreamFailed),
        TriggerRule::AllSuccess if done && c.any_skipped => Some(Decision::Skip("an upstream step was skipped")),
        TriggerRule::AllSuccess | TriggerRule::AllDone if done => Some(Decision::Run),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUN: Option<Decision> = Some(Decision::Run);
    const WAIT: Option<Decision> = None;
    const UPSTREAM_FAILED: Option<Decision> = Some(Decision::UpstreamFailed);
    const SKIP_SOME: Option<Decision> = Some(Decision::Skip("an upstream step was skipped"));
    const SKIP_ALL: Option<Decision> = Some(Decision::Skip("every upstream step was skipped"));

    /// `pending`, then the effects seen so far as `s`uccess, `f`ailed, `k` skipped.
    fn counts(pending: u32, seen: &str) -> Counts {
        Counts { pending, any_success: seen.contains('s'), any_failed: seen.contains('f'), any_skipped: seen.contains('k') }
    }

    #[test]
    fn every_rule_decides_as_the_table_says() {
        use TriggerRule::{AllDone, AllSuccess, OneSuccess};
        #[rustfmt::skip]
        let table: &[(TriggerRule, u32, &str, Option<Decision>)] = &[
            // all_success: every dependency succeeded; a failure wins over a skip.
            (AllSuccess, 0, "",    RUN),
            (AllSuccess, 0, "s",   RUN),
            (AllSuccess, 0, "k",   SKIP_SOME),
            (AllSuccess, 0, "sk",  SKIP_SOME),
            (AllSuccess, 0, "f",   UPSTREAM_FAILED),
            (AllSuccess, 0, "sf",  UPSTREAM_FAILED),
            (AllSuccess, 0, "fk",  UPSTREAM_FAILED),
            (AllSuccess, 1, "f",   WAIT),
            (AllSuccess, 1, "s",   WAIT),
            // all_done: runs once every dependency finished, whatever the outcome.
            (AllDone,    0, "",    RUN),
            (AllDone,    0, "f",   RUN),
            (AllDone,    0, "k",   RUN),
            (AllDone,    0, "sfk", RUN),
            (AllDone,    2, "f",   WAIT),
            // one_success: runs at the first success, even with others pending.
            (OneSuccess, 3, "s",   RUN),
            (OneSuccess, 0, "sf",  RUN),
            (OneSuccess, 0, "sk",  RUN),
            (OneSuccess, 1, "f",   WAIT),
            (OneSuccess, 1, "k",   WAIT),
            (OneSuccess, 0, "f",   UPSTREAM_FAILED),
            (OneSuccess, 0, "fk",  UPSTREAM_FAILED),
            (OneSuccess, 0, "k",   SKIP_ALL),
            (OneSuccess, 0, "",    SKIP_ALL),
        ];
        for &(rule, pending, seen, want) in table {
            assert_eq!(decide(rule, counts(pending, seen)), want, "{} with {pending} pending, seen {seen:?}", rule.keyword());
        }
    }

    #[test]
    fn counting_a_dependency_lowers_pending_and_notes_its_effect() {
        let mut c = counts(2, "");
        c.count(Eff::Skipped);
        assert_eq!(c, counts(1, "k"));
        c.count(Eff::Success);
        assert_eq!(c, counts(0, "sk"));
        c.count(Eff::Failed);
        assert_eq!(c, counts(0, "sfk"), "pending stays at zero");
    }

    #[test]
    fn a_dependency_counts_by_its_status() {
        use StepStatus::*;
        #[rustfmt::skip]
        let table: &[(Option<StepStatus>, bool, bool, Eff)] = &[
            (Some(Completed),      false, false, Eff::Success),
            (Some(Completed),      true,  false, Eff::Skipped),
            (Some(Skipped),        false, false, Eff::Skipped),
            (Some(Skipped),        false, true,  Eff::Success),
            (Some(Failed),         false, false, Eff::Failed),
            (Some(UpstreamFailed), false, false, Eff::Failed),
            (Some(Cancelled),      false, false, Eff::Failed),
        ];
        for &(status, not_picked, by_person, want) in table {
            assert_eq!(dep_effect(status, not_picked, by_person), want, "{status:?} not_picked={not_picked} by_person={by_person}");
        }
    }

    #[test]
    fn a_group_counts_as_one_dependency() {
        use Eff::*;
        assert_eq!(group_effect([Success, Skipped]), Success);
        assert_eq!(group_effect([Skipped, Skipped]), Skipped);
        assert_eq!(group_effect([Success, Failed, Skipped]), Failed);
        assert_eq!(group_effect([Skipped, Failed]), Failed);
        assert_eq!(group_effect([]), Skipped);
    }
}
