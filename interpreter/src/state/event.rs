//! The kinds of entry in a run's event log: one enum, so that a kind the runtime records and a kind a reader matches (the progress printer, `runs show`, CloudEvents) cannot drift apart. docs/runs.md lists them.

use serde::{Serialize, Serializer};

macro_rules! event_kinds {
    ($($(#[$doc:meta])* $variant:ident = $name:literal,)*) => {
        /// What an entry of the event log records. Run-level entries have no
        /// step; several kinds (`started`, `completed`, `failed`, …) occur at
        /// both levels. The payload of each is described in docs/runs.md.
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

#[cfg(test)]
mod tests {
    use super::EventKind;

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
