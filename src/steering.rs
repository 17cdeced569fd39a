//! How `flowc` and `flowc serve` word what a steering command did ([`Steered`]) and why one was refused ([`Refusal`]): the runtime says what happened, this module names the command or request that helps.

use flowc_interpreter::runtime::{self, Awaits, Refusal, Steered};
use flowc_interpreter::state::{GateAction, RunStatus};

use crate::Failure;

/// The command whose answer is worded.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Command {
    Pause,
    Cancel,
    Resume,
    Skip,
    Restore,
    Decide(GateAction),
}

/// What the command did, in a sentence; `None` for a run executed here,
/// whose report speaks for itself.
pub(crate) fn say(command: Command, steered: &Steered) -> Option<String> {
    let resume = |run: &str| format!("`flowc resume {run}`");
    Some(match (command, steered) {
        (_, Steered::Ran(_)) => return None,
        (Command::Pause, Steered::Applied { run, .. }) => format!("run {run} paused; continue it with {}", resume(run)),
        (Command::Pause, Steered::Acknowledged { run, status: RunStatus::Paused }) => {
            format!("run {run} paused: no new steps start, running ones finish; continue it with {}", resume(run))
        }
        (Command::Pause, Steered::Ended { run, status }) => format!("run {run} ended {status} before it could pause"),
        (Command::Resume, Steered::Continues { run }) => format!("run {run} resumed in the process that is executing it"),
        (Command::Decide(action), Steered::Continues { run }) => {
            let what = match action {
                GateAction::Approve => "approval",
                GateAction::Reject => "rejection",
                GateAction::Complete => "completion",
            };
            format!("{what} recorded; the process executing run {run} continues it")
        }
        (Command::Decide(_), Steered::Recorded { run, paused: true }) => {
            format!("recorded; run {run} is paused: {} continues it and applies the decision", resume(run))
        }
        (_, Steered::Recorded { run, paused: false }) => format!("recorded; run {run} applies it when it is resumed"),
        (_, Steered::Recorded { run, paused: true }) => format!("recorded; run {run} is paused: {} continues it", resume(run)),
        (Command::Decide(_), Steered::Ended { run, status }) => format!("run {run} is already {status}"),
        (_, Steered::Ended { run, status }) => format!("run {run} ended {status}"),
        (_, Steered::Already { run, status }) => format!("run {run} is already {status}"),
        (_, Steered::Applied { run, status } | Steered::Acknowledged { run, status }) => format!("run {run} {status}"),
        (_, Steered::Continues { run }) => format!("the process executing run {run} continues it"),
    })
}

/// A refusal worded for the command line.
pub(crate) fn refusal(r: &Refusal) -> String {
    match r {
        Refusal::NotSkippable { run, step } => format!("gate `{step}` is not `skippable`; fix what fails and `flowc resume {run}`"),
        Refusal::RolledBack { run, step } => {
            format!("step `{step}` broke an invariant and was rolled back; it cannot be skipped. `flowc resume {run}` runs it again")
        }
        Refusal::WrongDecision { run, step, action, awaits } => {
            let way = match awaits {
                Awaits::Approval => ": use `flowc approve` or `flowc reject`",
                Awaits::HumanTask => ": finish it with `flowc complete RUN STEP --output JSON`",
                Awaits::Event => ": deliver one with `flowc event send`",
                Awaits::ChildRun => "",
                Awaits::Timer => ": `flowc cancel` ends the run instead",
            };
            format!("cannot {} step `{step}` of run `{run}`: {}{way}", action.as_str(), awaits.describe())
        }
    }
}

/// A refusal worded for `flowc serve`'s clients: the way out is a request.
pub(crate) fn refusal_http(r: &Refusal) -> String {
    match r {
        Refusal::WrongDecision { run, step, action, awaits } => {
            let way = match awaits {
                Awaits::Approval => format!(": POST /runs/{run}/steps/{step}/approve or /reject"),
                Awaits::HumanTask => format!(": POST /runs/{run}/steps/{step}/complete with its `output`"),
                Awaits::Event => ": POST the event to /events".to_string(),
                Awaits::ChildRun | Awaits::Timer => String::new(),
            };
            format!("cannot {} step `{step}` of run `{run}`: {}{way}", action.as_str(), awaits.describe())
        }
        other => other.to_string(),
    }
}

/// A runtime error as the CLI's failure (exit 2), refusals worded for it.
pub(crate) fn failure(e: runtime::Error) -> Failure {
    match e {
        runtime::Error::Refused(r) => Failure::usage(refusal(&r)),
        other => Failure::usage(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(status: RunStatus) -> (String, RunStatus) {
        ("R".to_string(), status)
    }

    #[test]
    fn each_answer_is_worded_for_its_command() {
        let (r, paused) = run(RunStatus::Paused);
        let cases = [
            (Command::Pause, Steered::Applied { run: r.clone(), status: paused }, "run R paused; continue it with `flowc resume R`"),
            (Command::Pause, Steered::Already { run: r.clone(), status: paused }, "run R is already paused"),
            (
                Command::Pause,
                Steered::Acknowledged { run: r.clone(), status: paused },
                "run R paused: no new steps start, running ones finish; continue it with `flowc resume R`",
            ),
            (Command::Pause, Steered::Ended { run: r.clone(), status: RunStatus::Completed }, "run R ended completed before it could pause"),
            (Command::Cancel, Steered::Applied { run: r.clone(), status: RunStatus::Cancelled }, "run R cancelled"),
            (Command::Cancel, Steered::Acknowledged { run: r.clone(), status: RunStatus::Failed }, "run R failed"),
            (Command::Resume, Steered::Continues { run: r.clone() }, "run R resumed in the process that is executing it"),
            (
                Command::Decide(GateAction::Reject),
                Steered::Continues { run: r.clone() },
                "rejection recorded; the process executing run R continues it",
            ),
            (
                Command::Decide(GateAction::Approve),
                Steered::Recorded { run: r.clone(), paused: true },
                "recorded; run R is paused: `flowc resume R` continues it and applies the decision",
            ),
            (Command::Decide(GateAction::Complete), Steered::Recorded { run: r.clone(), paused: false }, "recorded; run R applies it when it is resumed"),
            (Command::Decide(GateAction::Approve), Steered::Ended { run: r.clone(), status: RunStatus::Completed }, "run R is already completed"),
        ];
        for (command, steered, want) in cases {
            assert_eq!(say(command, &steered).as_deref(), Some(want), "{command:?} {steered:?}");
        }
    }

    #[test]
    fn refusals_name_the_way_out_for_the_cli_and_for_http_and_none_in_the_runtime() {
        let wrong = |awaits| Refusal::WrongDecision { run: "R".into(), step: "s".into(), action: GateAction::Complete, awaits };
        assert_eq!(
            refusal(&wrong(Awaits::Approval)),
            "cannot complete step `s` of run `R`: it waits for an approval: use `flowc approve` or `flowc reject`"
        );
        assert_eq!(refusal_http(&wrong(Awaits::Approval)), "cannot complete step `s` of run `R`: it waits for an approval: POST /runs/R/steps/s/approve or /reject");
        assert_eq!(
            refusal(&wrong(Awaits::Event)),
            "cannot complete step `s` of run `R`: it waits for an event, not a person: deliver one with `flowc event send`"
        );
        let gate = Refusal::NotSkippable { run: "R".into(), step: "g".into() };
        assert_eq!(refusal(&gate), "gate `g` is not `skippable`; fix what fails and `flowc resume R`");
        let rolled = Refusal::RolledBack { run: "R".into(), step: "g".into() };
        assert_eq!(refusal(&rolled), "step `g` broke an invariant and was rolled back; it cannot be skipped. `flowc resume R` runs it again");
        for r in [wrong(Awaits::Approval), wrong(Awaits::HumanTask), wrong(Awaits::Event), wrong(Awaits::ChildRun), gate, rolled] {
            assert!(!r.to_string().contains("flowc"), "the runtime's own wording names no command: {r}");
        }
    }
}
