//! Durable run state: runs, steps, attempts and the append-only event log.
//!
//! This module owns the *data model* of run state and the [`Store`] trait the
//! runtime and the CLI go through; [`sqlite`] is the embedded backend. The
//! runtime never writes SQL: it hands the store a batch of [`Op`]s that
//! [`Store::apply`] commits in one transaction. A status change and the event
//! that records it are always pushed into the same batch (see
//! `runtime::journal`), so they commit together or not at all — the log
//! never disagrees with the status columns. Rows of `step_events` are never
//! updated or deleted (SQLite triggers refuse it).
//!
//! A second backend (PostgreSQL, for workers on several machines) implements
//! [`Store`]; nothing above this module names SQLite.

pub mod auth;
pub mod checkpoint;
pub mod children;
pub mod decision;
pub mod event;
pub mod files;
pub mod inbox;
pub mod kv;
pub mod origin;
pub mod quality_gate;
pub mod run_queries;
pub mod schedules;
pub mod schema;
pub mod sqlite;
pub mod version;

use serde::Serialize;

pub use checkpoint::{Checkpoint, Checkpoints, RunPin};
pub use children::{ChildRun, Children};
pub use decision::{BlockedGate, Decisions, GateAction, GateRequest};
pub use event::EventKind;
pub use inbox::{InboundEvent, Inbox};
pub use kv::{KeyValues, KvEntry};
pub use origin::{Actor, Origins, RunOrigin};
pub use quality_gate::{QualityGateCounts, QualityGateStats};
pub use run_queries::RunQueries;
pub use version::{NewVersion, Published, VersionRecord, Versions};
pub use sqlite::SqliteStore;

/// A state-database problem, said for a person (exit 2 in the CLI).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateError(pub String);

impl std::fmt::Display for StateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StateError {}

macro_rules! status_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $text:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),* }
        impl $name {
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),* }
            }
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)* _ => None }
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(self.as_str()) }
        }
        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> { s.serialize_str(self.as_str()) }
        }
    };
}

status_enum! {
    /// The status of a run (docs/runs.md).
    RunStatus {
        Pending = "pending",
        Running = "running",
        Blocked = "blocked",
        Paused = "paused",
        Completed = "completed",
        Failed = "failed",
        Cancelled = "cancelled",
        Compensated = "compensated",
    }
}

impl RunStatus {
    /// A run that will not execute more steps (compensation may still follow).
    pub fn is_terminal(self) -> bool {
        matches!(self, RunStatus::Completed | RunStatus::Failed | RunStatus::Cancelled | RunStatus::Compensated)
    }
}

status_enum! {
    /// The status of one step of a run.
    StepStatus {
        Pending = "pending",
        Running = "running",
        Blocked = "blocked",
        Paused = "paused",
        Completed = "completed",
        Failed = "failed",
        Cancelled = "cancelled",
        Skipped = "skipped",
        UpstreamFailed = "upstream_failed",
        Compensated = "compensated",
    }
}

impl StepStatus {
    /// Decided for this run: downstream trigger rules may read it.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            StepStatus::Completed
                | StepStatus::Failed
                | StepStatus::Cancelled
                | StepStatus::Skipped
                | StepStatus::UpstreamFailed
                | StepStatus::Compensated
        )
    }
}

/// One write of a batch. Status-changing ops are always accompanied, in the
/// same batch, by the [`Op::Event`] that records them.
#[derive(Clone, Debug)]
pub enum Op {
    /// Appends to the event log; `seq` is the run's next number.
    Event { run: String, step: Option<String>, event: EventKind, payload: serde_json::Value, at: String },
    /// Sets a run's status (and, when given, its outputs, error and timestamps).
    RunStatus {
        run: String,
        status: RunStatus,
        error: Option<String>,
        outputs: Option<serde_json::Value>,
        started_at: Option<String>,
        finished_at: Option<String>,
    },
    RunCost { run: String, cost_usd: f64 },
    /// Creates or replaces the current state of one step.
    StepState(StepState),
    /// A new attempt row.
    AttemptStarted { run: String, step_id: u32, step: String, attempt: u32, at: String },
    /// The process id of an attempt, once spawned (to find it after a crash).
    AttemptPid { run: String, step_id: u32, attempt: u32, pid: i64 },
    AttemptFinished {
        run: String,
        step_id: u32,
        attempt: u32,
        status: StepStatus,
        exit_code: Option<i32>,
        error: Option<String>,
        at: String,
        duration_ms: i64,
    },
    /// The attempt left its step blocked on a person or an event (`decision`).
    AttemptBlocked { run: String, step_id: u32, attempt: u32 },
    /// A gate request was applied or refused (`applied` / `refused: why`).
    GateRequestHandled { id: i64, result: String, at: String },
    /// An inbound event satisfied a `wait` step.
    EventDelivered { run: String, step: String, event_seq: i64, at: String },
    /// What a run pinned when it started (see [`checkpoint`]).
    Pin(RunPin),
    /// The item list a step produced.
    StepItems { run: String, step_id: u32, items: serde_json::Value },
    /// A checkpoint, numbered after the run's last.
    Checkpoint { run: String, step_id: u32, step: String, attempt: u32, files: serde_json::Value, at: String },
    /// The content of a protected file, by fingerprint.
    Blob { hash: String, content: Vec<u8> },
    /// Clears a run's error, outputs and end time (it runs again from a checkpoint).
    RunReset { run: String },
}

/// The current state of one step of a run (`step_states`).
#[derive(Clone, Debug, Serialize)]
pub struct StepState {
    pub run: String,
    pub step_id: u32,
    pub step: String,
    pub status: StepStatus,
    pub attempts: u32,
    pub output: Option<serde_json::Value>,
    pub stdout: Option<String>,
    pub stderr: Option<String>,
    pub cost_usd: f64,
    pub error: Option<String>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
}

/// A run as stored.
#[derive(Clone, Debug, Serialize)]
pub struct RunRecord {
    pub id: String,
    pub plan_id: i64,
    pub workflow: String,
    pub parent_run: Option<String>,
    pub parent_step: Option<String>,
    pub depth: u32,
    pub status: RunStatus,
    pub inputs: serde_json::Value,
    pub outputs: Option<serde_json::Value>,
    pub cost_usd: f64,
    pub error: Option<String>,
    pub project_dir: String,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
}

/// What a new run row starts with.
#[derive(Clone, Debug)]
pub struct NewRun {
    pub plan_id: i64,
    pub workflow: String,
    pub parent_run: Option<String>,
    pub parent_step: Option<String>,
    pub depth: u32,
    pub inputs: serde_json::Value,
    pub project_dir: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct EventRecord {
    pub seq: i64,
    pub step: Option<String>,
    /// The kind as stored; [`EventRecord::kind`] reads it.
    pub event: String,
    pub payload: serde_json::Value,
    pub at: String,
}

impl EventRecord {
    /// The entry's kind; `None` for a kind this flowc does not record.
    pub fn kind(&self) -> Option<EventKind> {
        EventKind::parse(&self.event)
    }

    /// Whether the entry is of kind `kind`.
    pub fn is(&self, kind: EventKind) -> bool {
        self.kind() == Some(kind)
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct AttemptRecord {
    pub step_id: u32,
    pub step: String,
    pub attempt: u32,
    pub status: StepStatus,
    pub pid: Option<i64>,
    pub exit_code: Option<i32>,
    pub error: Option<String>,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub duration_ms: Option<i64>,
}

/// A lifecycle request from another process (`flowc pause|resume|cancel`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    Pause,
    Resume,
    Cancel,
    /// `flowc serve` is stopping: pause like `Pause`, recorded with reason
    /// `shutdown`, so the next `flowc serve` resumes the run.
    Shutdown,
}

impl Control {
    pub fn as_str(self) -> &'static str {
        match self {
            Control::Pause => "pause",
            Control::Resume => "resume",
            Control::Cancel => "cancel",
            Control::Shutdown => "shutdown",
        }
    }
    pub fn parse(text: &str) -> Option<Control> {
        match text {
            "pause" => Some(Control::Pause),
            "resume" => Some(Control::Resume),
            "cancel" => Some(Control::Cancel),
            "shutdown" => Some(Control::Shutdown),
            _ => None,
        }
    }
}

/// Per-workflow aggregates for `flowc runs stats`.
#[derive(Clone, Debug, Serialize)]
pub struct WorkflowStats {
    pub workflow: String,
    pub runs: i64,
    pub by_status: std::collections::BTreeMap<String, i64>,
    pub avg_duration_ms: Option<f64>,
    pub retries: i64,
    pub cost_usd: f64,
}

/// Opens the state at `path`, publishing committed events to `sink`: the
/// one place that picks the backend (the embedded SQLite database, today).
/// The runtime holds what this returns and nothing more specific.
pub fn open(path: &std::path::Path, sink: Option<crate::cloudevents::EventSink>) -> Result<Box<dyn Store>, StateError> {
    Ok(Box::new(SqliteStore::open(path)?.with_sink(sink)))
}

/// The state store: what the runtime and the CLI need, backend-neutral.
pub trait Store: Origins + Decisions + Inbox + Versions + RunQueries + KeyValues + Children + Checkpoints + QualityGateCounts {
    /// Stores a serialised plan and returns its id.
    fn put_plan(&mut self, format_version: u32, body: &str) -> Result<i64, StateError>;
    fn plan(&self, plan_id: i64) -> Result<String, StateError>;
    /// Creates a run in status `pending` with a fresh id and returns the id.
    fn create_run(&mut self, new: &NewRun) -> Result<String, StateError>;
    /// Commits a batch atomically, in order.
    fn apply(&mut self, ops: &[Op]) -> Result<(), StateError>;
    fn run(&self, id: &str) -> Result<Option<RunRecord>, StateError>;
    fn runs(&self, limit: usize) -> Result<Vec<RunRecord>, StateError>;
    fn step_states(&self, run: &str) -> Result<Vec<StepState>, StateError>;
    fn attempts(&self, run: &str) -> Result<Vec<AttemptRecord>, StateError>;
    fn events(&self, run: &str) -> Result<Vec<EventRecord>, StateError>;
    fn request_control(&mut self, run: &str, control: Control) -> Result<i64, StateError>;
    /// Control requests with an id above `after`, oldest first.
    fn controls_after(&self, run: &str, after: i64) -> Result<Vec<(i64, Control)>, StateError>;
    fn last_control_id(&self, run: &str) -> Result<i64, StateError>;
    fn stats(&self) -> Result<Vec<WorkflowStats>, StateError>;
    /// Where committed events are published (CloudEvents), if anywhere.
    fn sink(&self) -> Option<&crate::cloudevents::EventSink>;
}
