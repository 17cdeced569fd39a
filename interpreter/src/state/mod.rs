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

pub mod checkpoint;
pub mod children;
pub mod decision;
pub mod event;
pub mod inbox;
pub mod kv;
pub mod origin;
pub mod quality_gate;
pub mod run_queries;
pub mod sqlite;
pub use sqlite::{auth, files, schedules, schema};
pub mod version;

use serde::Serialize;

pub use checkpoint::{Checkpoint, Checkpoints, RunPin};
pub use children::{ChildRun, Children};
pub use decision::{BlockedGate, Decisions, GateAction, GateRequest, Hold};
pub use event::{payload, Event, EventKind};
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
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $text:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vm])* $variant),* }
        impl $name {
            /// The status as stored and shown (`upstream_failed`).
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),* }
            }
            /// The status stored as `text`.
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
        /// Created (by a trigger, a call, a spawn) and not begun.
        Pending = "pending",
        /// A process is executing it, or was when it stopped (resume continues it).
        Running = "running",
        /// Nothing is left to run but steps that wait on people, events or child runs.
        Blocked = "blocked",
        /// Paused by request, at shutdown, or by a step's `on_failure pause`.
        Paused = "paused",
        /// Every step is decided and the outputs were evaluated.
        Completed = "completed",
        /// A step failed (and said `on_failure fail`), or a limit or invariant stopped it.
        Failed = "failed",
        /// Cancelled: nothing more runs, nothing is compensated.
        Cancelled = "cancelled",
        /// Its completed steps were compensated (`flowc compensate`).
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
        /// Not decided yet: its trigger rule waits for its dependencies (or a retry is due).
        Pending = "pending",
        /// An attempt runs.
        Running = "running",
        /// It waits on a person, an event or a child run.
        Blocked = "blocked",
        /// It failed with `on_failure pause`, which paused the run; resume runs it again.
        Paused = "paused",
        /// Its last attempt succeeded; its output is recorded.
        Completed = "completed",
        /// Its last attempt failed.
        Failed = "failed",
        /// The run stopped before or while it ran.
        Cancelled = "cancelled",
        /// Its `when` was false, its trigger rule skipped it, a branch did not pick it, or a person passed it.
        Skipped = "skipped",
        /// A dependency failed, so its trigger rule can never hold.
        UpstreamFailed = "upstream_failed",
        /// It completed and its `compensate` ran.
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
/// same batch, by the [`Op::Event`] that records them. The fields are the
/// columns they set (docs/runs.md, "The state database"): `run` a run's id,
/// `step_id`/`step` a step's index and name, `attempt` from 1, `at` the time
/// (RFC 3339).
#[derive(Clone, Debug)]
#[allow(missing_docs)] // Each variant's doc says what it writes; the fields are named for their columns.
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
    /// Sets what a run's agents cost so far, in US dollars.
    RunCost { run: String, cost_usd: f64 },
    /// Creates or replaces the current state of one step.
    StepState(StepState),
    /// The rows of a run's steps as it begins, each `pending` with no
    /// attempt: `(step_id, step)`. One op for the whole run rather than a
    /// `StepState` per step (a 100,000-step run's first batch held 24 MB of them).
    StepsPending { run: String, steps: Vec<(u32, String)> },
    /// A new attempt row.
    AttemptStarted { run: String, step_id: u32, step: String, attempt: u32, at: String },
    /// The process id of an attempt, once spawned (to find it after a crash).
    AttemptPid { run: String, step_id: u32, attempt: u32, pid: i64 },
    /// An attempt ended: how, its exit code, why it failed, how long it took (ms).
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
    /// The run the step belongs to.
    pub run: String,
    /// The step's index in its workflow.
    pub step_id: u32,
    /// The step's name.
    pub step: String,
    /// Its status now.
    pub status: StepStatus,
    /// Attempts started so far.
    pub attempts: u32,
    /// Its output, once it completed.
    pub output: Option<serde_json::Value>,
    /// The last attempt's stdout (redacted).
    pub stdout: Option<String>,
    /// The tail of the last attempt's stderr (redacted).
    pub stderr: Option<String>,
    /// What its agent cost, in US dollars.
    pub cost_usd: f64,
    /// Why its last attempt failed.
    pub error: Option<String>,
    /// When its first attempt started.
    pub started_at: Option<String>,
    /// When it became terminal.
    pub finished_at: Option<String>,
}

/// A run as stored.
#[derive(Clone, Debug, Serialize)]
pub struct RunRecord {
    /// The run's id (`YYYYMMDD-HHMMSS-xxxx`).
    pub id: String,
    /// The stored plan it executes.
    pub plan_id: i64,
    /// The workflow of the plan it executes.
    pub workflow: String,
    /// The run that called or spawned it.
    pub parent_run: Option<String>,
    /// The step of the parent that called or spawned it.
    pub parent_step: Option<String>,
    /// 0 for a top-level run, one more per call or spawn.
    pub depth: u32,
    /// Its status now.
    pub status: RunStatus,
    /// Its inputs, resolved against the workflow's declarations.
    pub inputs: serde_json::Value,
    /// Its `output` values, once it completed.
    pub outputs: Option<serde_json::Value>,
    /// What its agents cost so far, in US dollars.
    pub cost_usd: f64,
    /// Why it failed.
    pub error: Option<String>,
    /// Where its commands run.
    pub project_dir: String,
    /// When it was created (RFC 3339).
    pub created_at: String,
    /// When it began executing.
    pub started_at: Option<String>,
    /// When it became terminal.
    pub finished_at: Option<String>,
}

/// What a new run row starts with.
#[derive(Clone, Debug)]
pub struct NewRun {
    /// The stored plan it executes.
    pub plan_id: i64,
    /// The workflow of the plan.
    pub workflow: String,
    /// The run that calls or spawns it.
    pub parent_run: Option<String>,
    /// The step of the parent that calls or spawns it.
    pub parent_step: Option<String>,
    /// 0 for a top-level run, one more per call or spawn.
    pub depth: u32,
    /// Its inputs, resolved.
    pub inputs: serde_json::Value,
    /// Where its commands run.
    pub project_dir: String,
}

impl Op {
    /// The op that appends `event` to `run`'s log, stamped now.
    pub fn event(run: &str, step: Option<String>, event: &Event) -> Op {
        Op::Event { run: run.to_string(), step, event: event.kind(), payload: event.to_json(), at: crate::time::now() }
    }
}

/// One entry of a run's event log, as stored.
#[derive(Clone, Debug, Serialize)]
pub struct EventRecord {
    /// Its number, per run, from 1: the log's order.
    pub seq: i64,
    /// The step, for a step-level entry.
    pub step: Option<String>,
    /// The kind as stored; [`EventRecord::kind`] reads it.
    pub event: String,
    /// What the entry says beyond its kind (docs/runs.md).
    pub payload: serde_json::Value,
    /// When it was recorded (RFC 3339).
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

    /// The entry with its typed payload; `None` for a kind this flowc does
    /// not record or a payload without the fields its kind records.
    pub fn decode(&self) -> Option<Event> {
        Event::decode(self.kind()?, &self.payload).ok()
    }
}

/// One attempt of a step, as stored (`step_runs`).
#[derive(Clone, Debug, Serialize)]
pub struct AttemptRecord {
    /// The step's index in its workflow.
    pub step_id: u32,
    /// The step's name.
    pub step: String,
    /// The attempt's number, from 1.
    pub attempt: u32,
    /// `running` while it runs, then how it ended.
    pub status: StepStatus,
    /// Its process id, once spawned.
    pub pid: Option<i64>,
    /// Its process's exit code.
    pub exit_code: Option<i32>,
    /// Why it failed.
    pub error: Option<String>,
    /// When it started (RFC 3339).
    pub started_at: String,
    /// When it ended.
    pub finished_at: Option<String>,
    /// How long it took, in milliseconds.
    pub duration_ms: Option<i64>,
}

/// A lifecycle request from another process (`flowc pause|resume|cancel`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    /// No new steps start; running ones finish.
    Pause,
    /// A paused run continues.
    Resume,
    /// Running steps are stopped and nothing more runs.
    Cancel,
    /// `flowc serve` is stopping: pause like `Pause`, recorded with reason
    /// `shutdown`, so the next `flowc serve` resumes the run.
    Shutdown,
}

impl Control {
    /// The request as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Control::Pause => "pause",
            Control::Resume => "resume",
            Control::Cancel => "cancel",
            Control::Shutdown => "shutdown",
        }
    }
    /// The request stored as `text`.
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
    /// The workflow.
    pub workflow: String,
    /// How many runs it has.
    pub runs: i64,
    /// How many runs have each status.
    pub by_status: std::collections::BTreeMap<String, i64>,
    /// The mean duration of its finished runs, in milliseconds.
    pub avg_duration_ms: Option<f64>,
    /// Attempts beyond the first, over all its runs.
    pub retries: i64,
    /// What all its runs cost, in US dollars.
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
    /// The JSON of the stored plan `plan_id`.
    fn plan(&self, plan_id: i64) -> Result<String, StateError>;
    /// Creates a run in status `pending` with a fresh id and returns the id.
    fn create_run(&mut self, new: &NewRun) -> Result<String, StateError>;
    /// Commits a batch atomically, in order.
    fn apply(&mut self, ops: &[Op]) -> Result<(), StateError>;
    /// The run with id `id`.
    fn run(&self, id: &str) -> Result<Option<RunRecord>, StateError>;
    /// The newest `limit` runs, newest first.
    fn runs(&self, limit: usize) -> Result<Vec<RunRecord>, StateError>;
    /// The current state of each step of `run` that has one.
    fn step_states(&self, run: &str) -> Result<Vec<StepState>, StateError>;
    /// Every attempt of `run`, in start order.
    fn attempts(&self, run: &str) -> Result<Vec<AttemptRecord>, StateError>;
    /// The event log of `run`, in order.
    fn events(&self, run: &str) -> Result<Vec<EventRecord>, StateError>;
    /// Asks the process executing `run` to pause, resume, cancel or shut down; returns the request's id.
    fn request_control(&mut self, run: &str, control: Control) -> Result<i64, StateError>;
    /// Control requests with an id above `after`, oldest first.
    fn controls_after(&self, run: &str, after: i64) -> Result<Vec<(i64, Control)>, StateError>;
    /// The id of the last control request for `run` (0 if none), so a runner reads only newer ones.
    fn last_control_id(&self, run: &str) -> Result<i64, StateError>;
    /// Per workflow: its runs, statuses, durations, retries and cost.
    fn stats(&self) -> Result<Vec<WorkflowStats>, StateError>;
    /// Where committed events are published (CloudEvents), if anywhere.
    fn sink(&self) -> Option<&crate::cloudevents::EventSink>;
}
