//! Queries over runs that the runtime's scans use: runs by status, and the
//! child runs of a run.



use super::sqlite::SqliteStore;
use super::{RunRecord, RunStatus, StateError};

/// Runs by status and by parent.
pub trait RunQueries {
    fn runs_with_status(&self, statuses: &[RunStatus]) -> Result<Vec<RunRecord>, StateError>;
    fn child_runs(&self, parent: &str) -> Result<Vec<RunRecord>, StateError>;
}

impl RunQueries for SqliteStore {
    fn runs_with_status(&self, statuses: &[RunStatus]) -> Result<Vec<RunRecord>, StateError> {
        let list: Vec<String> = statuses.iter().map(|s| format!("'{}'", s.as_str())).collect();
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {} FROM workflow_runs WHERE status IN ({}) ORDER BY created_at, rowid",
                SqliteStore::RUN_COLUMNS,
                list.join(", ")
            ))
            .map_err(|e| self.err(e))?;
        let rows = stmt.query_map([], SqliteStore::run_from_row).map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.err(e))
    }

    fn child_runs(&self, parent: &str) -> Result<Vec<RunRecord>, StateError> {
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {} FROM workflow_runs WHERE parent_run = ?1 ORDER BY created_at, rowid", SqliteStore::RUN_COLUMNS))
            .map_err(|e| self.err(e))?;
        let rows = stmt.query_map([parent], SqliteStore::run_from_row).map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.err(e))
    }
}
