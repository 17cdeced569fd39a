//! Runs by status, for the runtime's scans (child runs: `children`).

use super::{RunRecord, RunStatus, StateError};

/// Runs by status.
pub trait RunQueries {
    /// The runs with any of `statuses`, oldest first.
    fn runs_with_status(&self, statuses: &[RunStatus]) -> Result<Vec<RunRecord>, StateError>;
}
