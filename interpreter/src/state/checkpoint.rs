//! What a run records to be restored and checked: the invariants and
//! protected files it pinned, its steps' item lists, checkpoints, and the
//! blobs of protected files. These writes belong to a run's history
//! ([`Op::Pin`], [`Op::StepItems`], [`Op::Checkpoint`], [`Op::Blob`],
//! [`Op::RunReset`]): they are ops of the runner's batches, so they commit in
//! the transaction of the status change they go with.

use serde::Serialize;

use super::StateError;

/// What a run pinned when it started.
#[derive(Clone, Debug, Serialize)]
pub struct RunPin {
    /// The run that pinned.
    pub run: String,
    /// The hash of the invariants' definitions (see `runtime::invariants`).
    pub hash: String,
    /// The invariants' definitions, as the plan had them.
    pub invariants: serde_json::Value,
    /// The spawn limits (`safety`) in force for the run.
    pub safety: serde_json::Value,
    /// Protected files: `{path: fingerprint}`.
    pub files: serde_json::Value,
    /// When the run pinned them.
    pub pinned_at: String,
}

/// A checkpoint: written when a step completed.
#[derive(Clone, Debug, Serialize)]
pub struct Checkpoint {
    /// Its number, per run, from 1.
    pub seq: i64,
    /// The step that completed (its index in the workflow).
    pub step_id: u32,
    /// That step's name.
    pub step: String,
    /// The attempt that completed.
    pub attempt: u32,
    /// Protected files at that moment: `{path: fingerprint}`.
    pub files: serde_json::Value,
    /// When it was written.
    pub at: String,
}

/// What runs pinned and recorded to be restored.
pub trait Checkpoints {
    /// What `run` pinned when it started; none for a run that pinned nothing.
    fn pin(&self, run: &str) -> Result<Option<RunPin>, StateError>;
    /// The item lists of a run's steps.
    fn item_lists(&self, run: &str) -> Result<Vec<(u32, serde_json::Value)>, StateError>;
    /// The checkpoints of `run`, oldest first.
    fn checkpoints(&self, run: &str) -> Result<Vec<Checkpoint>, StateError>;
    /// The content of a protected file, by fingerprint.
    fn blob(&self, hash: &str) -> Result<Option<Vec<u8>>, StateError>;
}
