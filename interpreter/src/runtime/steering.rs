//! What the steering commands answer — pause, resume, cancel, skip, restore, compensate and the decisions — as typed results and refusals, for the CLI and the server to word.
//!
//! The runtime never names a command of its callers: a refusal says what is
//! wrong and which step or run it is about, and `flowc` words the way out as
//! a command line (`flowc resume RUN`) while `flowc serve` words it as a
//! request. See docs/runs.md for what each command does.

use crate::state::{GateAction, RunStatus};

use super::RunReport;

/// What a steering command did to a run. `run` is the run it acted on
/// (for a decision, the top-level run that applies it).
#[derive(Debug)]
#[allow(missing_docs)] // The variants' fields are the run and its status, said in the enum's doc.
pub enum Steered {
    /// This process executed the run to its end or its next stop (a pause,
    /// a block); the report says which.
    Ran(RunReport),
    /// Nobody was executing the run, so this process changed its state;
    /// `status` is the run's status now.
    Applied { run: String, status: RunStatus },
    /// The run already had the status the command asks for.
    Already { run: String, status: RunStatus },
    /// The process executing the run acted on the request; `status` is the
    /// run's status after it did.
    Acknowledged { run: String, status: RunStatus },
    /// The process executing the run continues it with the request applied.
    Continues { run: String },
    /// The request is recorded and applies when the run is next executed:
    /// for a paused run, when it is resumed.
    Recorded { run: String, paused: bool },
    /// The run ended, with `status`, before the command could act on it.
    Ended { run: String, status: RunStatus },
}

impl Steered {
    /// The run the command acted on, whatever it did.
    pub fn run(&self) -> &str {
        match self {
            Steered::Ran(report) => &report.run,
            Steered::Applied { run, .. }
            | Steered::Already { run, .. }
            | Steered::Acknowledged { run, .. }
            | Steered::Continues { run }
            | Steered::Recorded { run, .. }
            | Steered::Ended { run, .. } => run,
        }
    }
}

/// What a blocked step waits for, when a decision does not fit it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Awaits {
    /// An approval or a rejection (`approval` steps, `require_approval` policies).
    Approval,
    /// A person's completion with an output (`human` steps).
    HumanTask,
    /// An event (`wait` steps).
    Event,
    /// A child run, whose own blocked step is what must be resolved.
    ChildRun,
    /// A `timer`'s due time: nobody decides it.
    Timer,
}

/// A steering request that the run's state rules out. The `Display` form
/// names no command; callers word the way out for their own interface.
/// `run` and `step` are the run and step the request was about.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)] // The variants' fields are named by the enum's doc.
pub enum Refusal {
    /// `skip` of a gate that is not `skippable`: fix what fails and resume.
    NotSkippable { run: String, step: String },
    /// `skip` of a step an invariant rolled back: resuming runs it again.
    RolledBack { run: String, step: String },
    /// A decision of the wrong kind for what the blocked step waits for.
    WrongDecision { run: String, step: String, action: GateAction, awaits: Awaits },
}

impl Awaits {
    /// What the step waits for, in words ("an approval").
    pub fn describe(self) -> &'static str {
        match self {
            Awaits::Approval => "it waits for an approval",
            Awaits::HumanTask => "it is a human task",
            Awaits::Event => "it waits for an event, not a person",
            Awaits::ChildRun => "it waits for a child run; resolve the step blocked in that run",
            Awaits::Timer => "it is a timer, which fires at its due time; nobody decides it",
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::NotSkippable { step, .. } => write!(f, "gate `{step}` is not `skippable`; fix what fails and resume the run"),
            Refusal::RolledBack { step, .. } => {
                write!(f, "step `{step}` broke an invariant and was rolled back; it cannot be skipped. Resuming the run runs it again")
            }
            Refusal::WrongDecision { run, step, action, awaits } => {
                write!(f, "cannot {} step `{step}` of run `{run}`: {}", action.as_str(), awaits.describe())
            }
        }
    }
}
