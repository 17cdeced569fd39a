//! [`RunQueries`](crate::state::RunQueries) on [`SqliteStore`]: the SQLite side of `state::run_queries`.

use super::SqliteStore;
use crate::state::{RunRecord, RunStatus, StateError};
use crate::state::run_queries::RunQueries;

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

}
