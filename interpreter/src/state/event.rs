//! The entries of a run's event log: the kinds ([`EventKind`], one enum, so
//! that a kind the runtime records and a kind a reader matches — the
//! progress printer, `runs show`, CloudEvents — cannot drift apart) and what
//! each says ([`Event`], a typed payload per kind, in [`payload`]).
//! docs/runs.md lists them.
//!
//! The log stores a payload as JSON (`step_events.payload`); [`Event::to_json`]
//! writes it and [`Event::decode`] reads it back. Readers take the typed
//! form, so a field the runtime renames is a compile error in the printer,
//! not a blank in its output.

use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

macro_rules! event_kinds {
    ($($(#[$doc:meta])* $variant:ident = $name:literal,)*) => {
        /// What an entry of the event log records. Run-level entries have no
        /// step; several kinds (`started`, `completed`, `failed`, …) occur at
        /// both levels. The payload of each is [`Event`]'s variant of the
        /// same name.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum EventKind {
            $($(#[$doc])* $variant,)*
        }

        impl EventKind {
            /// Every kind, in declaration order.
            pub const ALL: &'static [EventKind] = &[$(EventKind::$variant,)*];

            /// The kind as it is stored in `step_events.event` and named in
            /// CloudEvent types (`flow.step.completed`).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(EventKind::$variant => $name,)*
                }
            }

            /// The kind stored as `name`; `None` for a name this flowc does
            /// not record (a newer flowc's, say).
            pub fn parse(name: &str) -> Option<EventKind> {
                match name {
                    $($name => Some(EventKind::$variant),)*
                    _ => None,
                }
            }
        }

        /// An entry of the event log with its typed payload: the variant
        /// names the kind, its value is what the entry says beyond it.
        #[derive(Clone, Debug, PartialEq)]
        pub enum Event {
            $($(#[$doc])* $variant(payload::$variant),)*
        }

        impl Event {
            /// The entry's kind.
            pub fn kind(&self) -> EventKind {
                match self {
                    $(Event::$variant(_) => EventKind::$variant,)*
                }
            }

            /// The payload as the log stores it (a JSON object).
            pub fn to_json(&self) -> Value {
                let value = match self {
                    $(Event::$variant(p) => serde_json::to_value(p),)*
                };
                // Serializing these plain structs cannot fail: every map key
                // is a string and every value has a JSON form.
                value.unwrap_or_else(|_| Value::Object(Default::default()))
            }

            /// Reads a stored payload of kind `kind`; an error when it does
            /// not have the fields that kind records (a log written by
            /// another version of flowc, or edited by hand).
            pub fn decode(kind: EventKind, payload: &Value) -> Result<Event, serde_json::Error> {
                Ok(match kind {
                    $(EventKind::$variant => Event::$variant(payload::$variant::deserialize(payload)?),)*
                })
            }
        }
    };
}

event_kinds! {
    /// A run or an attempt of a step started.
    Started = "started",
    /// The run was paused (on request, at shutdown, or by a step's `on_failure pause`).
    Paused = "paused",
    /// The run, or a step paused by its own failure, continued.
    Resumed = "resumed",
    /// The run or a step completed.
    Completed = "completed",
    /// The run or a step failed.
    Failed = "failed",
    /// The run or a step was cancelled.
    Cancelled = "cancelled",
    /// A step's `compensate` ran, or (run-level) every compensation did.
    Compensated = "compensated",
    /// The run's agents spent more than its `budget`.
    BudgetExceeded = "budget_exceeded",
    /// Every step but the exit handler's ended: the `finally` block starts, seeing how the run ended.
    FinallyStarted = "finally_started",
    /// The run went back to a step's checkpoint (`flowc restore`).
    Restored = "restored",
    /// The invariants, spawn limits and protected files the run pinned when it started.
    InvariantsPinned = "invariants_pinned",
    /// A step's attempt failed and another follows after a delay.
    Retried = "retried",
    /// A step was skipped: its `when` was false, its trigger rule said so, or a person passed it.
    Skipped = "skipped",
    /// A step will not run because a dependency failed.
    UpstreamFailed = "upstream_failed",
    /// A step's attempt was cut off because flowc stopped while it ran.
    Interrupted = "interrupted",
    /// A `notify` step delivered (or could not deliver) its message.
    Notified = "notified",
    /// A step's `compensate` failed, which stopped the compensation.
    CompensationFailed = "compensation_failed",
    /// One item of a `for each` step started.
    ItemStarted = "item_started",
    /// One item of a `for each` step completed.
    ItemCompleted = "item_completed",
    /// One item of a `for each` step failed.
    ItemFailed = "item_failed",
    /// One item of a `for each` step waits for its child run.
    ItemBlocked = "item_blocked",
    /// One item of a `fail_fast` `for each` step was stopped because another failed.
    ItemCancelled = "item_cancelled",
    /// A `select` step kept its best items.
    Selected = "selected",
    /// A step spawned child runs.
    Spawned = "spawned",
    /// A `gate` step's checks all passed (each check's result in the payload).
    GatePassed = "gate_passed",
    /// A `gate` step's checks did not all pass.
    GateFailed = "gate_failed",
    /// A failed gate loops back to its `on_fail fix` step.
    GateFix = "gate_fix",
    /// A step was made pending again (a fix round, a restore).
    Reset = "reset",
    /// An invariant's check failed after a step.
    InvariantViolated = "invariant_violated",
    /// A step that broke an invariant was rolled back.
    RolledBack = "rolled_back",
    /// A step, or the whole run, waits on a person, an event or a child run.
    Blocked = "blocked",
    /// An approval was given.
    Approved = "approved",
    /// An approval was refused: the step failed.
    Rejected = "rejected",
    /// A decision was not applied (the actor may not decide, or it came too late).
    Refused = "refused",
    /// A `check` step's policies decided (allow, deny, or require an approval).
    Decided = "decided",
    /// A `timer` step started waiting; its due time is recorded, so a
    /// resumed run waits only for what is left.
    TimerStarted = "timer_started",
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for EventKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// The payload of each kind of entry. Fields that only some entries of a
/// kind carry (a step's `attempt`, a run's `workflow`) are `Option`s left
/// out of the JSON when absent; a field recorded as `null` when unknown (an
/// approval's `comment`) is a [`Nullable`], present either way.
pub mod payload {
    use serde::{Deserialize, Deserializer, Serialize};
    use serde_json::Value;

    use crate::state::{GateAction, Hold};

    /// A field that is either absent (`None`) or present, perhaps as `null`
    /// (`Some(None)`).
    pub type Nullable<T> = Option<Option<T>>;

    /// Reads a present field, `null` included, as `Some`.
    fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Nullable<T>, D::Error> {
        Option::<T>::deserialize(d).map(Some)
    }

    /// Where a run came from, as its `started` entry records it.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    pub struct Origin {
        /// Whoever started it; `null` for triggers.
        pub initiator: Option<String>,
        /// `manual`, `event`, `webhook`, `schedule` or `call`.
        pub trigger: String,
        /// What fired it, when anything is known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub trigger_detail: Option<Value>,
        /// The published version it runs; `null` for unpublished source.
        pub version: Option<i64>,
        /// `sha256:…` of its plan.
        pub plan_hash: String,
    }

    /// Who decided, besides `by`: recorded with every decision.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    pub struct ActorDetail {
        /// `--as` / `on_behalf_of`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub on_behalf_of: Option<String>,
        /// The API token's id (never the token).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub token: Option<String>,
        /// The client's address (HTTP).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub address: Option<String>,
        /// `cli` or `http`.
        pub via: String,
    }

    /// `started`: the run (its workflow, step count and origin) or an attempt.
    #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
    pub struct Started {
        /// The attempt, for a step.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub attempt: Option<u32>,
        /// The run's workflow.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub workflow: Option<String>,
        /// The run's step count.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub steps: Option<u64>,
        /// The run's origin, when recorded.
        #[serde(default, flatten, skip_serializing_if = "Option::is_none")]
        pub origin: Option<Origin>,
    }

    /// `paused`: why, and the step that paused the run.
    #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
    pub struct Paused {
        /// `requested`, `shutdown`, or what failed.
        pub reason: String,
        /// The step whose failure paused the run.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub step: Option<String>,
    }

    /// `resumed`: the run (after what) or a step (its attempt).
    #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
    pub struct Resumed {
        /// The run's status before: `paused`, `blocked`, `interrupted`, ….
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub after: Option<String>,
        /// The attempt that runs again, for a step.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub attempt: Option<u32>,
    }

    /// A wait's event, as a completed `wait` step records it.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    pub struct EventSummary {
        /// Its number in the inbox.
        pub seq: i64,
        /// Its CloudEvent id, type, subject and source (`null` when absent).
        #[serde(default)]
        pub id: Value,
        /// Its type.
        #[serde(default, rename = "type")]
        pub type_: Value,
        /// Its subject.
        #[serde(default)]
        pub subject: Value,
        /// Its source.
        #[serde(default)]
        pub source: Value,
    }

    /// `completed`: a step's attempt (duration, cost, who or what resolved
    /// a gate) or the run (its cost).
    #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
    pub struct Completed {
        /// The attempt, for a step.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub attempt: Option<u32>,
        /// How long the attempt took.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub duration_ms: Option<i64>,
        /// What it (or, for the run, every step) cost.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub cost_usd: Option<f64>,
        /// Who resolved the gate.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub by: Option<String>,
        /// A human task's comment.
        #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "present")]
        pub comment: Nullable<String>,
        /// The event that completed a `wait`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub event: Option<EventSummary>,
        /// How the person who completed a human task reached flowc.
        #[serde(default, flatten, skip_serializing_if = "Option::is_none")]
        pub actor: Option<ActorDetail>,
    }

    /// `failed`: a step's attempt or the run, with the error.
    #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
    pub struct Failed {
        /// The attempt, for a step.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub attempt: Option<u32>,
        /// What went wrong.
        pub error: String,
        /// `pause` when the step's `on_failure pause` paused the run.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub on_failure: Option<String>,
        /// The invariant whose `abort` failed the step.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub invariant: Option<String>,
        /// The trigger that could not start the run.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub trigger: Option<String>,
        /// Why no retry followed, when the step had retries to give:
        /// `attempts` (all spent), `max_duration` (its limit passed or would
        /// pass during the wait), `final` (a failure retrying cannot change,
        /// such as a policy's deny) or `exit 2 is not retried` (and the like:
        /// the policy's `on` does not name the failure).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub no_retry: Option<String>,
    }

    /// `cancelled`: a step (the attempt stopped, or why it never ran) or the run.
    #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
    pub struct Cancelled {
        /// The attempt that was stopped.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub attempt: Option<u32>,
        /// How the stopped attempt ended.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub error: Option<String>,
        /// Why the step was cancelled.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub reason: Option<String>,
    }

    /// `compensated`: a step's compensation (the command or step that ran)
    /// or, for the run, the steps compensated.
    #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
    pub struct Compensated {
        /// The rendered compensation command.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub command: Option<String>,
        /// The compensation step that ran.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub step: Option<String>,
        /// For the run: the steps compensated, in order.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub steps: Option<Vec<String>>,
    }

    /// `budget_exceeded`: what the run spent, and its budget.
    #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
    pub struct BudgetExceeded {
        /// Spent so far.
        pub cost_usd: f64,
        /// The workflow's `budget`.
        pub budget_usd: f64,
    }

    /// `finally_started`: how the run ended before its exit handler, as
    /// the handler's steps see it (`run.status`, `run.error`, `run.failures`).
    #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
    pub struct FinallyStarted {
        /// `completed`, `failed` or `cancelled`.
        pub status: String,
        /// Why it did not complete; empty when it completed.
        pub error: String,
        /// Its failed steps, in the order they failed.
        pub failures: Vec<Failure>,
    }

    /// One failed step, as `run.failures` lists it.
    #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
    pub struct Failure {
        /// The step's name.
        pub name: String,
        /// Its status (`failed`).
        pub status: String,
        /// Its error.
        pub error: String,
    }

    /// `restored`: the checkpoint the run went back to.
    #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
    pub struct Restored {
        /// The step whose checkpoint it is.
        pub to: String,
        /// The checkpoint's number.
        pub checkpoint: i64,
        /// The steps made pending again.
        pub reset: Vec<String>,
        /// The protected files put back.
        pub files: Vec<String>,
    }

    /// `invariants_pinned`: the source's invariants differ from the run's.
    #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
    pub struct InvariantsPinned {
        /// The hash pinned when the run started.
        pub pinned_hash: String,
        /// The hash of the source's invariants now.
        pub source_hash: String,
        /// What that means.
        pub message: String,
    }

    /// `timer_started`: a `timer` step's wait began.
    #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
    pub struct TimerStarted {
        /// The attempt that started the timer.
        pub attempt: u32,
        /// When the timer fires (RFC 3339, UTC, milliseconds).
        pub due_at: String,
        /// How long the wait is from its start (0 for a time already past).
        pub wait_ms: u64,
    }

    /// `retried`: an attempt failed and the next follows after a delay.
    #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
    pub struct Retried {
        /// The attempt that failed.
        pub attempt: u32,
        /// The attempt that follows.
        pub next_attempt: u32,
        /// How long until it starts.
        pub delay_ms: u64,
        /// Why the attempt failed.
        pub error: String,
        /// What kind of failure was retried: `exit`, `timeout` or `error`
        /// (anything else: a signal, a bad output, …).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub reason: Option<String>,
        /// The command's exit status, when the reason is `exit`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub exit_code: Option<i32>,
    }

    /// `skipped`: why; for `flowc skip`, who and the error it passed over;
    /// for `skip_on_exit`, the attempt and its exit code.
    #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
    pub struct Skipped {
        /// Why the step did not run (or ran and was skipped).
        pub reason: String,
        /// The attempt whose exit code skipped the step.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub attempt: Option<u32>,
        /// That exit code (`skip_on_exit`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub exit_code: Option<i32>,
        /// Who passed it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub by: Option<String>,
        /// The error of the failed step that was passed.
        #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "present")]
        pub error: Nullable<String>,
    }

    /// `upstream_failed`: the dependencies that failed.
    #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
    pub struct UpstreamFailed {
        /// Their names.
        pub failed: Vec<String>,
        /// The outcome condition that is false, when the step has one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub condition: Option<String>,
    }

    /// `interrupted`: the attempt flowc stopped while it ran.
    #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
    pub struct Interrupted {
        /// Its number.
        pub attempt: u32,
    }

    /// `notified`: the message, and where it went.
    #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
    pub struct Notified {
        /// The channel, when the step names one.
        pub channel: Option<String>,
        /// The rendered message.
        pub message: String,
        /// How it was delivered (`log`, `command`, `failed`, …).
        pub sink: String,
    }

    /// `compensation_failed`: why.
    #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
    pub struct CompensationFailed {
        /// The error.
        pub error: String,
    }

    /// One item of a `for each` step, at an attempt.
    #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
    pub struct ItemAttempt {
        /// The item's index.
        pub item: u64,
        /// The step's attempt.
        pub attempt: u32,
    }
    /// `item_started`.
    pub type ItemStarted = ItemAttempt;
    /// `item_completed`.
    pub type ItemCompleted = ItemAttempt;
    /// `item_blocked`.
    pub type ItemBlocked = ItemAttempt;
    /// `item_cancelled`.
    pub type ItemCancelled = ItemAttempt;

    /// `item_failed`: the item, the attempt and the error.
    #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
    pub struct ItemFailed {
        /// The item's index.
        pub item: u64,
        /// The step's attempt.
        pub attempt: u32,
        /// Why it failed.
        pub error: String,
    }

    /// `selected`: how a `select` step scored the items and which it kept.
    #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
    pub struct Selected {
        /// `min`, `max`, `threshold` or `weighted`.
        pub strategy: String,
        /// Each item's score, in item order (`null` when not a number).
        pub scores: Vec<Option<f64>>,
        /// The indices kept, best first.
        pub kept: Vec<u64>,
    }

    /// A child run a step spawned.
    #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
    pub struct Child {
        /// Its run id.
        pub run: String,
        /// Its workflow.
        pub workflow: String,
    }

    /// `spawned`: the children.
    #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
    pub struct Spawned {
        /// In the order spawned.
        pub children: Vec<Child>,
    }

    /// One check of a `gate` step.
    #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
    pub struct GateCheck {
        /// The rendered command.
        pub command: String,
        /// Whether it passed.
        pub passed: bool,
        /// Its exit code, when it exited.
        pub exit_code: Option<i32>,
        /// Why it did not pass.
        pub reason: Option<String>,
        /// The start of what it printed.
        pub stdout: String,
    }

    /// `gate_passed` and `gate_failed`: each check's result.
    #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
    pub struct GateReport {
        /// Whether every check passed.
        pub passed: bool,
        /// The checks, in order (up to the first that timed out).
        pub checks: Vec<GateCheck>,
        /// The gate's attempt.
        pub attempt: u32,
        /// The fix round (0 before any).
        pub round: u32,
    }
    /// `gate_passed`.
    pub type GatePassed = GateReport;
    /// `gate_failed`.
    pub type GateFailed = GateReport;

    /// `gate_fix`: a failed gate loops back to its fix step.
    #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
    pub struct GateFix {
        /// This round's number, from 1.
        pub round: u32,
        /// The rounds allowed.
        pub of: u32,
        /// Why the gate failed.
        pub error: String,
        /// The steps that run again.
        pub rerun: Vec<String>,
    }

    /// `reset`: what made the step pending again.
    #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
    pub struct Reset {
        /// A fix round or a restore.
        pub by: String,
    }

    /// `invariant_violated`: which, what it does, and why.
    #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
    pub struct InvariantViolated {
        /// The invariant's name.
        pub invariant: String,
        /// `warn`, `abort` or `rollback`.
        pub action: String,
        /// What its check found.
        pub reason: String,
        /// The step's attempt.
        pub attempt: u32,
    }

    /// `rolled_back`: the step that broke an invariant, undone.
    #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
    pub struct RolledBack {
        /// The step's attempt.
        pub attempt: u32,
        /// The invariant it broke.
        pub invariant: String,
        /// The step's error.
        pub error: String,
        /// The protected files put back.
        pub restored: Vec<String>,
    }

    /// `blocked`: for a step, what it waits for; for the run, the steps
    /// that wait.
    #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
    pub struct Blocked {
        /// For the run: the blocked steps.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub steps: Option<Vec<String>>,
        /// For a step: its gate (`resume` rebuilds it from here).
        #[serde(default, flatten, skip_serializing_if = "Option::is_none")]
        pub hold: Option<Hold>,
    }

    /// `approved`: who, with what comment.
    #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
    pub struct Approved {
        /// Who approved.
        pub by: String,
        /// Their comment.
        pub comment: Option<String>,
        /// Whether a policy required the approval.
        pub implicit: bool,
        /// That policy.
        pub policy: Option<String>,
        /// How they reached flowc.
        #[serde(default, flatten, skip_serializing_if = "Option::is_none")]
        pub actor: Option<ActorDetail>,
    }

    /// `rejected`: who, with what comment.
    #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
    pub struct Rejected {
        /// Who rejected.
        pub by: String,
        /// Their comment.
        pub comment: Option<String>,
        /// Whether a policy required the approval.
        pub implicit: bool,
        /// How they reached flowc.
        #[serde(default, flatten, skip_serializing_if = "Option::is_none")]
        pub actor: Option<ActorDetail>,
    }

    /// `refused`: a decision that was not applied, and why.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    pub struct Refused {
        /// What was asked.
        pub action: GateAction,
        /// Who asked.
        pub by: String,
        /// Why it was refused.
        pub reason: String,
        /// How they reached flowc.
        #[serde(default, flatten, skip_serializing_if = "Option::is_none")]
        pub actor: Option<ActorDetail>,
    }

    /// `decided`: a policy's decision, with the input it decided on.
    #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
    pub struct Decided {
        /// The policy.
        pub policy: String,
        /// `allow`, `deny` or `require_approval`.
        pub decision: String,
        /// The rule that decided (from 1), if one did.
        pub rule: Option<u64>,
        /// The rule's reason.
        pub reason: Option<String>,
        /// What the policy was given.
        #[serde(default)]
        pub input: Value,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::payload::*;
    use super::{Event, EventKind};
    use crate::state::{GateAction, Hold};

    /// Each shape of entry the runtime records, with the JSON the log
    /// stores for it: the typed payloads write what earlier versions wrote
    /// (so old logs read back, and readers of the JSON see no change).
    fn samples() -> Vec<(Event, serde_json::Value)> {
        let actor = ActorDetail { on_behalf_of: Some("ada".into()), token: None, address: None, via: "cli".into() };
        let origin = Origin { initiator: None, trigger: "manual".into(), trigger_detail: None, version: Some(2), plan_hash: "sha256:ab".into() };
        let hold = Hold { gate: "approval".into(), approvers: vec!["lead".into()], attempt: 1, ..Default::default() };
        vec![
            (
                Event::Started(Started { workflow: Some("w".into()), steps: Some(3), origin: Some(origin), ..Default::default() }),
                json!({ "workflow": "w", "steps": 3, "initiator": null, "trigger": "manual", "version": 2, "plan_hash": "sha256:ab" }),
            ),
            (Event::Started(Started { workflow: Some("w".into()), steps: Some(3), ..Default::default() }), json!({ "workflow": "w", "steps": 3 })),
            (Event::Started(Started { attempt: Some(2), ..Default::default() }), json!({ "attempt": 2 })),
            (Event::Paused(Paused { reason: "step a failed".into(), step: Some("a".into()) }), json!({ "reason": "step a failed", "step": "a" })),
            (Event::Paused(Paused { reason: "requested".into(), step: None }), json!({ "reason": "requested" })),
            (Event::Resumed(Resumed { after: Some("paused".into()), attempt: None }), json!({ "after": "paused" })),
            (Event::Resumed(Resumed::default()), json!({})),
            (
                Event::Completed(Completed { attempt: Some(1), duration_ms: Some(12), cost_usd: Some(0.0), ..Default::default() }),
                json!({ "attempt": 1, "duration_ms": 12, "cost_usd": 0.0 }),
            ),
            (
                Event::Completed(Completed {
                    attempt: Some(1),
                    duration_ms: Some(5),
                    by: Some("bob".into()),
                    comment: Some(None),
                    actor: Some(actor.clone()),
                    ..Default::default()
                }),
                json!({ "attempt": 1, "duration_ms": 5, "by": "bob", "comment": null, "on_behalf_of": "ada", "via": "cli" }),
            ),
            (
                Event::Completed(Completed {
                    attempt: Some(1),
                    duration_ms: Some(5),
                    event: Some(EventSummary { seq: 4, id: json!("e1"), type_: json!("t"), subject: json!(null), source: json!("/s") }),
                    ..Default::default()
                }),
                json!({ "attempt": 1, "duration_ms": 5, "event": { "seq": 4, "id": "e1", "type": "t", "subject": null, "source": "/s" } }),
            ),
            (Event::Completed(Completed { cost_usd: Some(1.5), ..Default::default() }), json!({ "cost_usd": 1.5 })),
            (
                Event::Failed(Failed { attempt: Some(1), error: "boom".into(), on_failure: Some("pause".into()), ..Default::default() }),
                json!({ "attempt": 1, "error": "boom", "on_failure": "pause" }),
            ),
            (
                Event::Failed(Failed { error: "no".into(), trigger: Some("schedule".into()), ..Default::default() }),
                json!({ "error": "no", "trigger": "schedule" }),
            ),
            (
                Event::Failed(Failed { attempt: Some(1), error: "x".into(), invariant: Some("i".into()), ..Default::default() }),
                json!({ "attempt": 1, "error": "x", "invariant": "i" }),
            ),
            (
                Event::Failed(Failed { attempt: Some(1), error: "x".into(), no_retry: Some("exit 2 is not retried".into()), ..Default::default() }),
                json!({ "attempt": 1, "error": "x", "no_retry": "exit 2 is not retried" }),
            ),
            (
                Event::Cancelled(Cancelled { attempt: Some(1), error: Some("stopped".into()), reason: None }),
                json!({ "attempt": 1, "error": "stopped" }),
            ),
            (Event::Cancelled(Cancelled { reason: Some("the run was cancelled".into()), ..Default::default() }), json!({ "reason": "the run was cancelled" })),
            (Event::Cancelled(Cancelled::default()), json!({})),
            (Event::Compensated(Compensated { command: Some("undo".into()), ..Default::default() }), json!({ "command": "undo" })),
            (Event::Compensated(Compensated { step: Some("refund".into()), ..Default::default() }), json!({ "step": "refund" })),
            (Event::Compensated(Compensated { steps: Some(vec!["b".into(), "a".into()]), ..Default::default() }), json!({ "steps": ["b", "a"] })),
            (Event::BudgetExceeded(BudgetExceeded { cost_usd: 2.5, budget_usd: 2.0 }), json!({ "cost_usd": 2.5, "budget_usd": 2.0 })),
            (
                Event::FinallyStarted(FinallyStarted {
                    status: "failed".into(),
                    error: "step a failed: exit 1".into(),
                    failures: vec![Failure { name: "a".into(), status: "failed".into(), error: "exit 1".into() }],
                }),
                json!({ "status": "failed", "error": "step a failed: exit 1", "failures": [{ "name": "a", "status": "failed", "error": "exit 1" }] }),
            ),
            (
                Event::Restored(Restored { to: "a".into(), checkpoint: 2, reset: vec!["b".into()], files: vec![] }),
                json!({ "to": "a", "checkpoint": 2, "reset": ["b"], "files": [] }),
            ),
            (
                Event::InvariantsPinned(InvariantsPinned { pinned_hash: "p".into(), source_hash: "s".into(), message: "m".into() }),
                json!({ "pinned_hash": "p", "source_hash": "s", "message": "m" }),
            ),
            (
                Event::TimerStarted(TimerStarted { attempt: 1, due_at: "2026-12-24T09:00:00.000Z".into(), wait_ms: 600_000 }),
                json!({ "attempt": 1, "due_at": "2026-12-24T09:00:00.000Z", "wait_ms": 600_000 }),
            ),
            (
                Event::Retried(Retried { attempt: 1, next_attempt: 2, delay_ms: 100, error: "e".into(), ..Default::default() }),
                json!({ "attempt": 1, "next_attempt": 2, "delay_ms": 100, "error": "e" }),
            ),
            (
                Event::Retried(Retried {
                    attempt: 1,
                    next_attempt: 2,
                    delay_ms: 5,
                    error: "e".into(),
                    reason: Some("exit".into()),
                    exit_code: Some(75),
                }),
                json!({ "attempt": 1, "next_attempt": 2, "delay_ms": 5, "error": "e", "reason": "exit", "exit_code": 75 }),
            ),
            (
                Event::Retried(Retried { attempt: 2, next_attempt: 3, delay_ms: 0, error: "t".into(), reason: Some("timeout".into()), exit_code: None }),
                json!({ "attempt": 2, "next_attempt": 3, "delay_ms": 0, "error": "t", "reason": "timeout" }),
            ),
            (Event::Skipped(Skipped { reason: "its when condition is false".into(), ..Default::default() }), json!({ "reason": "its when condition is false" })),
            (
                Event::Skipped(Skipped { reason: "exited".into(), attempt: Some(1), exit_code: Some(99), ..Default::default() }),
                json!({ "reason": "exited", "attempt": 1, "exit_code": 99 }),
            ),
            (
                Event::Skipped(Skipped { reason: "passed".into(), by: Some("flowc skip".into()), error: Some(None), ..Default::default() }),
                json!({ "reason": "passed", "by": "flowc skip", "error": null }),
            ),
            (Event::UpstreamFailed(UpstreamFailed { failed: vec!["a".into()], condition: None }), json!({ "failed": ["a"] })),
            (
                Event::UpstreamFailed(UpstreamFailed { failed: vec!["a".into()], condition: Some("a, failed(b)".into()) }),
                json!({ "failed": ["a"], "condition": "a, failed(b)" }),
            ),
            (Event::Interrupted(Interrupted { attempt: 3 }), json!({ "attempt": 3 })),
            (
                Event::Notified(Notified { channel: None, message: "hi".into(), sink: "log".into() }),
                json!({ "channel": null, "message": "hi", "sink": "log" }),
            ),
            (Event::CompensationFailed(CompensationFailed { error: "e".into() }), json!({ "error": "e" })),
            (Event::ItemStarted(ItemAttempt { item: 0, attempt: 1 }), json!({ "item": 0, "attempt": 1 })),
            (Event::ItemCompleted(ItemAttempt { item: 1, attempt: 1 }), json!({ "item": 1, "attempt": 1 })),
            (Event::ItemBlocked(ItemAttempt { item: 2, attempt: 1 }), json!({ "item": 2, "attempt": 1 })),
            (Event::ItemCancelled(ItemAttempt { item: 4, attempt: 1 }), json!({ "item": 4, "attempt": 1 })),
            (Event::ItemFailed(ItemFailed { item: 3, attempt: 1, error: "e".into() }), json!({ "item": 3, "attempt": 1, "error": "e" })),
            (
                Event::Selected(Selected { strategy: "max".into(), scores: vec![Some(0.5), None], kept: vec![0] }),
                json!({ "strategy": "max", "scores": [0.5, null], "kept": [0] }),
            ),
            (
                Event::Spawned(Spawned { children: vec![Child { run: "r2".into(), workflow: "c".into() }] }),
                json!({ "children": [{ "run": "r2", "workflow": "c" }] }),
            ),
            (
                Event::GatePassed(GateReport {
                    passed: true,
                    checks: vec![GateCheck { command: "true".into(), passed: true, exit_code: Some(0), reason: None, stdout: String::new() }],
                    attempt: 1,
                    round: 0,
                }),
                json!({ "passed": true, "checks": [{ "command": "true", "passed": true, "exit_code": 0, "reason": null, "stdout": "" }], "attempt": 1, "round": 0 }),
            ),
            (
                Event::GateFailed(GateReport { passed: false, checks: vec![], attempt: 2, round: 1 }),
                json!({ "passed": false, "checks": [], "attempt": 2, "round": 1 }),
            ),
            (
                Event::GateFix(GateFix { round: 1, of: 3, error: "e".into(), rerun: vec!["fix".into()] }),
                json!({ "round": 1, "of": 3, "error": "e", "rerun": ["fix"] }),
            ),
            (Event::Reset(Reset { by: "restore to a".into() }), json!({ "by": "restore to a" })),
            (
                Event::InvariantViolated(InvariantViolated { invariant: "i".into(), action: "warn".into(), reason: "r".into(), attempt: 1 }),
                json!({ "invariant": "i", "action": "warn", "reason": "r", "attempt": 1 }),
            ),
            (
                Event::RolledBack(RolledBack { attempt: 1, invariant: "i".into(), error: "e".into(), restored: vec!["f".into()] }),
                json!({ "attempt": 1, "invariant": "i", "error": "e", "restored": ["f"] }),
            ),
            (
                Event::Blocked(Blocked { steps: None, hold: Some(hold) }),
                json!({ "gate": "approval", "approvers": ["lead"], "attempt": 1 }),
            ),
            (Event::Blocked(Blocked { steps: Some(vec!["a".into()]), hold: None }), json!({ "steps": ["a"] })),
            (
                Event::Approved(Approved { by: "bob".into(), comment: None, implicit: false, policy: None, actor: Some(actor.clone()) }),
                json!({ "by": "bob", "comment": null, "implicit": false, "policy": null, "on_behalf_of": "ada", "via": "cli" }),
            ),
            (
                Event::Rejected(Rejected { by: "bob".into(), comment: Some("no".into()), implicit: true, actor: None }),
                json!({ "by": "bob", "comment": "no", "implicit": true }),
            ),
            (
                Event::Refused(Refused { action: GateAction::Approve, by: "eve".into(), reason: "not an approver".into(), actor: Some(actor) }),
                json!({ "action": "approve", "by": "eve", "reason": "not an approver", "on_behalf_of": "ada", "via": "cli" }),
            ),
            (
                Event::Decided(Decided { policy: "p".into(), decision: "allow".into(), rule: None, reason: None, input: json!({ "x": 1 }) }),
                json!({ "policy": "p", "decision": "allow", "rule": null, "reason": null, "input": { "x": 1 } }),
            ),
        ]
    }

    #[test]
    fn every_payload_writes_its_json_and_reads_back() {
        for (event, stored) in samples() {
            assert_eq!(event.to_json(), stored, "{:?} writes other JSON", event.kind());
            assert_eq!(Event::decode(event.kind(), &stored).ok(), Some(event.clone()), "{stored} does not read back as {event:?}");
        }
        for &k in EventKind::ALL {
            assert!(samples().iter().any(|(e, _)| e.kind() == k), "no sample of `{k}`");
        }
    }

    /// docs/runs.md's payload table names every field each kind writes.
    #[test]
    fn docs_runs_md_names_every_payload_field() {
        let docs = include_str!("../../../docs/runs.md");
        for (event, stored) in samples() {
            let kind = event.kind().as_str();
            let row = docs
                .lines()
                .find(|l| l.starts_with("| `") && l.split(" | ").next().is_some_and(|c| c.contains(&format!("`{kind}`"))))
                .unwrap_or_else(|| panic!("docs/runs.md has no payload row for `{kind}`"));
            for key in stored.as_object().expect("an object").keys() {
                assert!(row.contains(&format!("`{key}`")), "docs/runs.md's row for `{kind}` does not name `{key}`");
            }
        }
    }

    #[test]
    fn a_payload_without_its_fields_is_an_error_not_a_panic() {
        assert!(Event::decode(EventKind::Retried, &json!({ "attempt": "one" })).is_err());
        assert!(Event::decode(EventKind::Failed, &json!([])).is_err());
        // Fields a newer flowc adds are ignored.
        let e = Event::decode(EventKind::Interrupted, &json!({ "attempt": 1, "host": "h" })).unwrap();
        assert_eq!(e, Event::Interrupted(Interrupted { attempt: 1 }));
    }

    #[test]
    fn every_kind_parses_back_from_its_name_and_names_are_distinct() {
        let mut names = std::collections::HashSet::new();
        for &k in EventKind::ALL {
            assert_eq!(EventKind::parse(k.as_str()), Some(k));
            assert!(names.insert(k.as_str()), "{k} twice");
        }
        assert_eq!(EventKind::parse("no_such_event"), None);
    }

    #[test]
    fn docs_runs_md_lists_every_kind() {
        let docs = include_str!("../../../docs/runs.md");
        for &k in EventKind::ALL {
            assert!(docs.contains(&format!("`{k}`")), "docs/runs.md does not list the event `{k}`");
        }
    }
}
