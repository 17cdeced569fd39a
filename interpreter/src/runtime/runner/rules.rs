//! The dependency rules, as pure functions over what the scheduler counted:
//! what a finished dependency counts as for a dependent (its effect), what a
//! group counts as, and what a step's trigger rule decides once enough of its
//! dependencies are known. The semantics table is in docs/language.md
//! ("Dependencies and trigger rules"); the tests below are that table.
//!
//! The rules are Airflow's. A rule decides as soon as the outcome is
//! certain, as Airflow's scheduler does (`one_failed` runs on the first
//! failure, `none_failed` is upstream_failed on it), except `all_success`,
//! which waits for every dependency so that a failure wins over a skip.

use crate::plan::{Condition, DepRef, Outcome, TriggerRule};
use crate::state::StepStatus;

/// What a finished dependency counts as for one dependent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Eff {
    Success,
    Failed,
    /// It did not run because its own dependencies failed. Only `one_done`
    /// tells it from `Failed` (Airflow counts successes and failures there).
    UpstreamFailed,
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
        Some(StepStatus::UpstreamFailed) => Eff::UpstreamFailed,
        _ => Eff::Failed,
    }
}

/// A group's effect as one dependency, from its members' effects once every
/// member is terminal: failed if one failed or was upstream_failed, skipped
/// if every one was skipped, a success otherwise. (A member failed under
/// `on_failure continue` is given as a success by the caller.)
pub(super) fn group_effect(members: impl IntoIterator<Item = Eff>) -> Eff {
    let mut all_skipped = true;
    for eff in members {
        match eff {
            Eff::Failed | Eff::UpstreamFailed => return Eff::Failed,
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
    pub any_upstream_failed: bool,
    pub any_skipped: bool,
}

impl Counts {
    /// One more dependency finished, with this effect.
    pub fn count(&mut self, eff: Eff) {
        self.pending = self.pending.saturating_sub(1);
        match eff {
            Eff::Success => self.any_success = true,
            Eff::Failed => self.any_failed = true,
            Eff::UpstreamFailed => self.any_upstream_failed = true,
            Eff::Skipped => self.any_skipped = true,
        }
    }

    /// The counts of dependencies already finished with these effects.
    pub fn of(pending: u32, effs: &[Eff]) -> Counts {
        let mut c = Counts { pending: pending + effs.len() as u32, ..Counts::default() };
        for eff in effs {
            c.count(*eff);
        }
        c
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

/// Why a step is skipped when a dependency's skip passes on to it (the
/// runner names the branch instead when one decided).
pub(super) const SOME_SKIPPED: &str = "an upstream step was skipped";
/// Why a step is skipped when every dependency was.
pub(super) const ALL_SKIPPED: &str = "every upstream step was skipped";

/// The rule's decision, or `None` to wait for more dependencies.
pub(super) fn decide(rule: TriggerRule, c: Counts) -> Option<Decision> {
    use Decision::{Run, Skip, UpstreamFailed};
    let done = c.pending == 0;
    let failed = c.any_failed || c.any_upstream_failed;
    let decision = match rule {
        TriggerRule::Always => Run,
        TriggerRule::AllSuccess if !done => return None,
        TriggerRule::AllSuccess if failed => UpstreamFailed,
        TriggerRule::AllSuccess if c.any_skipped => Skip(SOME_SKIPPED),
        TriggerRule::AllSuccess => Run,
        TriggerRule::AllDone if done => Run,
        // Airflow's `one_success`: skipped only when every dependency was
        // skipped; with none succeeded and one failed, upstream_failed.
        TriggerRule::OneSuccess if c.any_success => Run,
        TriggerRule::OneSuccess if done && failed => UpstreamFailed,
        TriggerRule::OneSuccess if done => Skip(ALL_SKIPPED),
        TriggerRule::AllFailed if c.any_success || c.any_skipped => Skip("an upstream step did not fail"),
        TriggerRule::AllFailed if done => Run,
        TriggerRule::AllSkipped if c.any_success || failed => Skip("an upstream step was not skipped"),
        TriggerRule::AllSkipped if done => Run,
        TriggerRule::OneFailed if failed => Run,
        TriggerRule::OneFailed if done => Skip("no upstream step failed"),
        // Airflow counts successes and failures only: an upstream_failed
        // dependency did not run, so it is no more "done" than a skipped one.
        TriggerRule::OneDone if c.any_success || c.any_failed => Run,
        TriggerRule::OneDone if done => Skip("no upstream step succeeded or failed"),
        TriggerRule::NoneFailed if failed => UpstreamFailed,
        TriggerRule::NoneFailed if done => Run,
        TriggerRule::NoneFailedMinOneSuccess if failed => UpstreamFailed,
        TriggerRule::NoneFailedMinOneSuccess if done && !c.any_success => Skip(ALL_SKIPPED),
        TriggerRule::NoneFailedMinOneSuccess if done => Run,
        TriggerRule::NoneSkipped if c.any_skipped => Skip(SOME_SKIPPED),
        TriggerRule::NoneSkipped if done => Run,
        _ => return None,
    };
    Some(decision)
}

/// Whether a dependency that ended as `eff` has `outcome`. A group's effect
/// is never `UpstreamFailed` (a group is failed then).
pub(super) fn outcome_holds(outcome: Outcome, eff: Eff) -> bool {
    match outcome {
        Outcome::Succeeded => eff == Eff::Success,
        Outcome::Failed => eff == Eff::Failed,
        Outcome::UpstreamFailed => eff == Eff::UpstreamFailed,
        Outcome::Skipped => eff == Eff::Skipped,
        Outcome::Done => true,
    }
}

/// An outcome condition's value, three-valued: `Some(true)` or
/// `Some(false)` once the dependencies known so far settle it, `None` while
/// a dependency it still turns on is unfinished (`eff` gives `None` for
/// those). The value never changes as more dependencies finish.
pub(super) fn condition_value(c: &Condition, eff: &dyn Fn(DepRef) -> Option<Eff>) -> Option<bool> {
    match c {
        Condition::Is { dep, outcome } => eff(*dep).map(|e| outcome_holds(*outcome, e)),
        Condition::All(xs) => kleene(xs, false, eff),
        Condition::Any(xs) => kleene(xs, true, eff),
    }
}

/// Kleene's `&&` (`decisive` false) or `||` (`decisive` true) over `xs`:
/// one term of the decisive value settles it, else any unknown term leaves
/// it unknown, else it is the other value.
fn kleene(xs: &[Condition], decisive: bool, eff: &dyn Fn(DepRef) -> Option<Eff>) -> Option<bool> {
    let mut unknown = false;
    for x in xs {
        match condition_value(x, eff) {
            Some(v) if v == decisive => return Some(decisive),
            None => unknown = true,
            Some(_) => {}
        }
    }
    (!unknown).then_some(!decisive)
}

/// What an outcome condition decides: run as soon as it is true; once it is
/// false and every dependency it names has finished, upstream_failed if a
/// failure made one of its tests false (a dependency that failed or was
/// upstream_failed, tested for another outcome: `succeeded(b)` of a failed
/// `b`, `failed(b)` of an upstream_failed one), else skipped. (Waiting for
/// every named dependency makes the status independent of which ended
/// first, as all_success does.)
pub(super) fn decide_condition(c: &Condition, eff: &dyn Fn(DepRef) -> Option<Eff>) -> Option<Decision> {
    match condition_value(c, eff)? {
        true => Some(Decision::Run),
        false => {
            // Every named dependency has finished.
            c.deps().into_iter().map(eff).collect::<Option<Vec<Eff>>>()?;
            Some(if !falsified_by_failure(c, eff).is_empty() { Decision::UpstreamFailed } else { Decision::Skip(CONDITION_FALSE) })
        }
    }
}

/// The dependencies that failed (or were upstream_failed) and so made a test
/// of the condition false, once each.
pub(super) fn falsified_by_failure(c: &Condition, eff: &dyn Fn(DepRef) -> Option<Eff>) -> Vec<DepRef> {
    let mut out = Vec::new();
    c.each(&mut |dep, outcome| {
        if let Some(e @ (Eff::Failed | Eff::UpstreamFailed)) = eff(dep)
            && !outcome_holds(outcome, e)
            && !out.contains(&dep)
        {
            out.push(dep);
        }
    });
    out
}

/// Why a step is skipped when its outcome condition is false (the runner
/// names the condition).
pub(super) const CONDITION_FALSE: &str = "its condition is false";

/// Whether a skip under `rule` comes from a skipped dependency (so a branch
/// that did not pick the step is worth naming as the reason).
pub(super) fn skip_follows_a_skip(rule: TriggerRule) -> bool {
    matches!(rule, TriggerRule::AllSuccess | TriggerRule::OneSuccess | TriggerRule::NoneFailedMinOneSuccess | TriggerRule::NoneSkipped)
}

/// Whether `rule` starts a step without waiting for its dependencies: it
/// is queued when the run (or a fix round) starts, like a step without any.
pub(super) fn starts_at_once(rule: TriggerRule) -> bool {
    rule == TriggerRule::Always
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUN: Option<Decision> = Some(Decision::Run);
    const WAIT: Option<Decision> = None;
    const UPSTREAM_FAILED: Option<Decision> = Some(Decision::UpstreamFailed);
    const SKIP_SOME: Option<Decision> = Some(Decision::Skip(SOME_SKIPPED));
    const SKIP_ALL: Option<Decision> = Some(Decision::Skip(ALL_SKIPPED));
    const SKIP_NOT_FAILED: Option<Decision> = Some(Decision::Skip("an upstream step did not fail"));
    const SKIP_NOT_SKIPPED: Option<Decision> = Some(Decision::Skip("an upstream step was not skipped"));
    const SKIP_NO_FAILURE: Option<Decision> = Some(Decision::Skip("no upstream step failed"));
    const SKIP_NONE_DONE: Option<Decision> = Some(Decision::Skip("no upstream step succeeded or failed"));

    /// `pending`, then the effects seen so far as `s`uccess, `f`ailed,
    /// `u`pstream_failed, `k` skipped.
    fn counts(pending: u32, seen: &str) -> Counts {
        Counts {
            pending,
            any_success: seen.contains('s'),
            any_failed: seen.contains('f'),
            any_upstream_failed: seen.contains('u'),
            any_skipped: seen.contains('k'),
        }
    }

    #[test]
    fn every_rule_decides_as_the_table_says() {
        use TriggerRule::*;
        #[rustfmt::skip]
        let table: &[(TriggerRule, u32, &str, Option<Decision>)] = &[
            // all_success: every dependency succeeded; it waits for all, and
            // a failure wins over a skip.
            (AllSuccess, 0, "",     RUN),
            (AllSuccess, 0, "s",    RUN),
            (AllSuccess, 0, "k",    SKIP_SOME),
            (AllSuccess, 0, "sk",   SKIP_SOME),
            (AllSuccess, 0, "f",    UPSTREAM_FAILED),
            (AllSuccess, 0, "u",    UPSTREAM_FAILED),
            (AllSuccess, 0, "sf",   UPSTREAM_FAILED),
            (AllSuccess, 0, "fk",   UPSTREAM_FAILED),
            (AllSuccess, 0, "uk",   UPSTREAM_FAILED),
            (AllSuccess, 1, "f",    WAIT),
            (AllSuccess, 1, "k",    WAIT),
            (AllSuccess, 1, "s",    WAIT),
            // all_failed: every dependency failed or was upstream_failed;
            // skipped as soon as one succeeds or is skipped.
            (AllFailed,  0, "f",    RUN),
            (AllFailed,  0, "u",    RUN),
            (AllFailed,  0, "fu",   RUN),
            (AllFailed,  1, "f",    WAIT),
            (AllFailed,  1, "u",    WAIT),
            (AllFailed,  0, "fs",   SKIP_NOT_FAILED),
            (AllFailed,  0, "fk",   SKIP_NOT_FAILED),
            (AllFailed,  2, "s",    SKIP_NOT_FAILED),
            (AllFailed,  2, "k",    SKIP_NOT_FAILED),
            (AllFailed,  0, "sk",   SKIP_NOT_FAILED),
            // all_done: runs once every dependency finished, whatever the outcome.
            (AllDone,    0, "",     RUN),
            (AllDone,    0, "f",    RUN),
            (AllDone,    0, "u",    RUN),
            (AllDone,    0, "k",    RUN),
            (AllDone,    0, "sfuk", RUN),
            (AllDone,    2, "f",    WAIT),
            (AllDone,    1, "s",    WAIT),
            // all_skipped: every dependency was skipped; skipped as soon as
            // one is not.
            (AllSkipped, 0, "k",    RUN),
            (AllSkipped, 1, "k",    WAIT),
            (AllSkipped, 1, "",     WAIT),
            (AllSkipped, 2, "s",    SKIP_NOT_SKIPPED),
            (AllSkipped, 2, "f",    SKIP_NOT_SKIPPED),
            (AllSkipped, 2, "u",    SKIP_NOT_SKIPPED),
            (AllSkipped, 0, "ks",   SKIP_NOT_SKIPPED),
            (AllSkipped, 0, "kf",   SKIP_NOT_SKIPPED),
            // one_success: runs at the first success, even with others pending.
            (OneSuccess, 3, "s",    RUN),
            (OneSuccess, 0, "sf",   RUN),
            (OneSuccess, 0, "sk",   RUN),
            (OneSuccess, 0, "su",   RUN),
            (OneSuccess, 1, "f",    WAIT),
            (OneSuccess, 1, "k",    WAIT),
            (OneSuccess, 0, "f",    UPSTREAM_FAILED),
            (OneSuccess, 0, "u",    UPSTREAM_FAILED),
            (OneSuccess, 0, "fk",   UPSTREAM_FAILED),
            (OneSuccess, 0, "k",    SKIP_ALL),
            (OneSuccess, 0, "",     SKIP_ALL),
            // one_failed: runs at the first failure (or upstream_failed), even
            // with others pending; skipped when all finished without one.
            (OneFailed,  3, "f",    RUN),
            (OneFailed,  3, "u",    RUN),
            (OneFailed,  0, "sf",   RUN),
            (OneFailed,  0, "ku",   RUN),
            (OneFailed,  1, "s",    WAIT),
            (OneFailed,  1, "k",    WAIT),
            (OneFailed,  0, "s",    SKIP_NO_FAILURE),
            (OneFailed,  0, "k",    SKIP_NO_FAILURE),
            (OneFailed,  0, "sk",   SKIP_NO_FAILURE),
            // one_done: runs at the first success or failure; a skipped or
            // upstream_failed dependency did not run, and does not count.
            (OneDone,    3, "s",    RUN),
            (OneDone,    3, "f",    RUN),
            (OneDone,    0, "kf",   RUN),
            (OneDone,    0, "us",   RUN),
            (OneDone,    1, "k",    WAIT),
            (OneDone,    1, "u",    WAIT),
            (OneDone,    0, "k",    SKIP_NONE_DONE),
            (OneDone,    0, "u",    SKIP_NONE_DONE),
            (OneDone,    0, "ku",   SKIP_NONE_DONE),
            // none_failed: every dependency succeeded or was skipped (all
            // skipped included); upstream_failed as soon as one fails.
            (NoneFailed, 0, "s",    RUN),
            (NoneFailed, 0, "k",    RUN),
            (NoneFailed, 0, "sk",   RUN),
            (NoneFailed, 1, "sk",   WAIT),
            (NoneFailed, 2, "f",    UPSTREAM_FAILED),
            (NoneFailed, 2, "u",    UPSTREAM_FAILED),
            (NoneFailed, 0, "skf",  UPSTREAM_FAILED),
            // none_failed_min_one_success: as none_failed, but skipped when
            // every dependency was skipped.
            (NoneFailedMinOneSuccess, 0, "s",   RUN),
            (NoneFailedMinOneSuccess, 0, "sk",  RUN),
            (NoneFailedMinOneSuccess, 1, "s",   WAIT),
            (NoneFailedMinOneSuccess, 1, "k",   WAIT),
            (NoneFailedMinOneSuccess, 0, "k",   SKIP_ALL),
            (NoneFailedMinOneSuccess, 2, "f",   UPSTREAM_FAILED),
            (NoneFailedMinOneSuccess, 2, "u",   UPSTREAM_FAILED),
            (NoneFailedMinOneSuccess, 0, "kf",  UPSTREAM_FAILED),
            (NoneFailedMinOneSuccess, 0, "sf",  UPSTREAM_FAILED),
            // none_skipped: every dependency finished and none was skipped
            // (failures included); skipped as soon as one is.
            (NoneSkipped, 0, "s",   RUN),
            (NoneSkipped, 0, "f",   RUN),
            (NoneSkipped, 0, "u",   RUN),
            (NoneSkipped, 0, "sfu", RUN),
            (NoneSkipped, 1, "sf",  WAIT),
            (NoneSkipped, 2, "k",   SKIP_SOME),
            (NoneSkipped, 0, "sk",  SKIP_SOME),
            (NoneSkipped, 0, "fk",  SKIP_SOME),
            // always: runs at once, whatever is known.
            (Always,     3, "",     RUN),
            (Always,     1, "f",    RUN),
            (Always,     0, "k",    RUN),
            (Always,     0, "u",    RUN),
            (Always,     0, "sfuk", RUN),
        ];
        for &(rule, pending, seen, want) in table {
            assert_eq!(decide(rule, counts(pending, seen)), want, "{} with {pending} pending, seen {seen:?}", rule.keyword());
        }
    }

    /// Every rule, for every mix of the four outcomes over three
    /// dependencies, with none or one still running: the decision is the
    /// rule's definition (Airflow's), written here as counts.
    #[test]
    fn every_rule_agrees_with_its_definition_on_every_mix() {
        use Eff::*;
        const OUTCOMES: [Eff; 4] = [Success, Failed, UpstreamFailed, Skipped];
        let rules = [
            TriggerRule::AllSuccess, TriggerRule::AllFailed, TriggerRule::AllDone, TriggerRule::AllSkipped,
            TriggerRule::OneSuccess, TriggerRule::OneFailed, TriggerRule::OneDone, TriggerRule::NoneFailed,
            TriggerRule::NoneFailedMinOneSuccess, TriggerRule::NoneSkipped, TriggerRule::Always,
        ];
        for pending in [0u32, 1] {
            for n in 0..=3usize {
                for code in 0..4usize.pow(n as u32) {
                    let effs: Vec<Eff> = (0..n).map(|i| OUTCOMES[code / 4usize.pow(i as u32) % 4]).collect();
                    if n == 0 && pending == 0 {
                        continue; // a step with no dependency at all is started, never decided
                    }
                    let c = Counts::of(pending, &effs);
                    let count = |e: Eff| effs.iter().filter(|x| **x == e).count();
                    let (s, f, u, k) = (count(Success), count(Failed), count(UpstreamFailed), count(Skipped));
                    let total = n + pending as usize;
                    let done = pending == 0;
                    for rule in rules {
                        let got = decide(rule, c);
                        let want: Option<&str> = match rule {
                            TriggerRule::AllSuccess => done.then(|| if f + u > 0 { "upstream_failed" } else if k > 0 { "skipped" } else { "run" }),
                            TriggerRule::AllFailed => if s + k > 0 { Some("skipped") } else { done.then_some("run") },
                            TriggerRule::AllDone => done.then_some("run"),
                            TriggerRule::AllSkipped => if s + f + u > 0 { Some("skipped") } else { done.then_some("run") },
                            TriggerRule::OneSuccess => if s > 0 { Some("run") } else { done.then(|| if k == total { "skipped" } else { "upstream_failed" }) },
                            TriggerRule::OneFailed => if f + u > 0 { Some("run") } else { done.then_some("skipped") },
                            TriggerRule::OneDone => if s + f > 0 { Some("run") } else { done.then_some("skipped") },
                            TriggerRule::NoneFailed => if f + u > 0 { Some("upstream_failed") } else { done.then_some("run") },
                            TriggerRule::NoneFailedMinOneSuccess => {
                                if f + u > 0 { Some("upstream_failed") } else { done.then(|| if s == 0 { "skipped" } else { "run" }) }
                            }
                            TriggerRule::NoneSkipped => if k > 0 { Some("skipped") } else { done.then_some("run") },
                            TriggerRule::Always => Some("run"),
                        };
                        let got_word = got.map(|d| match d {
                            Decision::Run => "run",
                            Decision::Skip(_) => "skipped",
                            Decision::UpstreamFailed => "upstream_failed",
                        });
                        assert_eq!(got_word, want, "{} over {effs:?} with {pending} pending", rule.keyword());
                    }
                }
            }
        }
    }

    /// `a, failed(b) || skipped(g)` over a step `a`, a step `b` and a group
    /// `g`, for every mix of their ends (`None`: still running).
    #[test]
    fn a_condition_decides_when_it_is_certain_and_waits_for_its_deps_when_false() {
        use Eff::*;
        let (a, b, g) = (DepRef::Step(0), DepRef::Step(1), DepRef::Group(0));
        let c = Condition::All(vec![
            Condition::Is { dep: a, outcome: Outcome::Succeeded },
            Condition::Any(vec![
                Condition::Is { dep: b, outcome: Outcome::Failed },
                Condition::Is { dep: g, outcome: Outcome::Skipped },
            ]),
        ]);
        #[rustfmt::skip]
        let table: &[(Option<Eff>, Option<Eff>, Option<Eff>, Option<Decision>)] = &[
            (Some(Success), Some(Failed),  None,          RUN),
            (Some(Success), None,          Some(Skipped), RUN),
            (None,          Some(Failed),  None,          WAIT),
            (Some(Success), Some(Success), None,          WAIT),
            // False, but a named dependency is still running: wait.
            (Some(Skipped), None,          None,          WAIT),
            (Some(Success), Some(Success), Some(Success), Some(Decision::Skip(CONDITION_FALSE))),
            // b failed, but `failed(b)` holds: no failure made a test false.
            (Some(Skipped), Some(Failed),  Some(Success), Some(Decision::Skip(CONDITION_FALSE))),
            (Some(Failed),  Some(Failed),  Some(Skipped), UPSTREAM_FAILED),
            (Some(Success), Some(UpstreamFailed), Some(Success), UPSTREAM_FAILED),
            (Some(Success), Some(Success), Some(Failed),  UPSTREAM_FAILED),
        ];
        for &(ea, eb, eg, want) in table {
            let eff = |d: DepRef| if d == a { ea } else if d == b { eb } else { eg };
            assert_eq!(decide_condition(&c, &eff), want, "a {ea:?}, b {eb:?}, g {eg:?}");
        }
        // `done(x)` holds for every end, `failed` only for a failure.
        assert!([Success, Failed, UpstreamFailed, Skipped].into_iter().all(|e| outcome_holds(Outcome::Done, e)));
        assert!(!outcome_holds(Outcome::Failed, UpstreamFailed) && outcome_holds(Outcome::UpstreamFailed, UpstreamFailed));
    }

    #[test]
    fn only_always_starts_at_once_and_skips_that_follow_a_skip_name_the_branch() {
        assert!(starts_at_once(TriggerRule::Always));
        assert!(!starts_at_once(TriggerRule::AllDone) && !starts_at_once(TriggerRule::OneSuccess));
        assert!(skip_follows_a_skip(TriggerRule::AllSuccess) && skip_follows_a_skip(TriggerRule::NoneSkipped));
        // all_failed is skipped by a success as much as by a skip: no branch is "the" reason.
        assert!(!skip_follows_a_skip(TriggerRule::AllFailed) && !skip_follows_a_skip(TriggerRule::OneFailed));
    }

    #[test]
    fn counting_a_dependency_lowers_pending_and_notes_its_effect() {
        let mut c = counts(3, "");
        c.count(Eff::Skipped);
        assert_eq!(c, counts(2, "k"));
        c.count(Eff::Success);
        assert_eq!(c, counts(1, "sk"));
        c.count(Eff::UpstreamFailed);
        assert_eq!(c, counts(0, "sku"));
        c.count(Eff::Failed);
        assert_eq!(c, counts(0, "sfku"), "pending stays at zero");
        assert_eq!(Counts::of(1, &[Eff::Skipped, Eff::Failed]), counts(1, "kf"));
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
            (Some(UpstreamFailed), false, false, Eff::UpstreamFailed),
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
        assert_eq!(group_effect([Success, UpstreamFailed]), Failed, "a group is failed, not upstream_failed, whatever its members were");
        assert_eq!(group_effect([Skipped, UpstreamFailed]), Failed);
        assert_eq!(group_effect([]), Skipped);
    }
}
