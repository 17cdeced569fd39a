//! Child runs: the runs a step spawned (`then spawn`, `then spawn each`)
//! or called (`call`), and the spawn keys that make a spawn happen once.
//! This is the one place child runs are queried.

use serde::Serialize;

use super::{NewRun, RunRecord, StateError};

/// A child run with how it was started.
#[derive(Clone, Debug, Serialize)]
pub struct ChildRun {
    /// The child run.
    pub run: RunRecord,
    /// `STEP#N` for a spawned child; none for a `call` child.
    pub spawn_key: Option<String>,
}

/// The runs started by a run's steps.
pub trait Children {
    /// Creates a spawned child run unless the parent already has one with
    /// this key; returns the child's id and whether it was created now.
    fn create_spawned_run(&mut self, new: &NewRun, spawn_key: &str) -> Result<(String, bool), StateError>;
    /// How many children a run has spawned, and when the last was created (ms).
    fn spawn_count(&self, parent: &str) -> Result<(u64, Option<i64>), StateError>;
    /// Every child run (called and spawned), oldest first.
    fn children(&self, parent: &str) -> Result<Vec<ChildRun>, StateError>;
    /// The latest child run a step started, if any.
    fn child_run(&self, parent: &str, step: &str) -> Result<Option<RunRecord>, StateError>;
    /// The spawn key of a run, if it was spawned.
    fn spawn_key(&self, run: &str) -> Result<Option<String>, StateError>;
}
