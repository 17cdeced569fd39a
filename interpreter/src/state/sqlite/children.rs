//! [`Children`](crate::state::Children) on [`SqliteStore`]: the SQLite side of `state::children`.

use rusqlite::{params, OptionalExtension};
use super::SqliteStore;
use crate::state::{NewRun, RunRecord, StateError};
use crate::time;
use crate::state::children::{ChildRun, Children};

impl Children for SqliteStore {
    fn create_spawned_run(&mut self, new: &NewRun, spawn_key: &str) -> Result<(String, bool), StateError> {
        let path = self.path().to_path_buf();
        let describe = |e| super::describe(&path, e);
        let parent = new.parent_run.clone().unwrap_or_default();
        let existing: Option<String> = self
            .conn()
            .query_row("SELECT id FROM workflow_runs WHERE parent_run = ?1 AND spawn_key = ?2", params![parent, spawn_key], |r| r.get(0))
            .optional()
            .map_err(describe)?;
        if let Some(id) = existing {
            return Ok((id, false));
        }
        let id = crate::state::Store::create_run(self, new)?;
        self.conn()
            .execute("UPDATE workflow_runs SET spawn_key = ?2 WHERE id = ?1", params![id, spawn_key])
            .map_err(describe)?;
        Ok((id, true))
    }

    fn spawn_count(&self, parent: &str) -> Result<(u64, Option<i64>), StateError> {
        let (n, last): (i64, Option<String>) = self
            .conn_ref()
            .query_row(
                "SELECT count(*), MAX(created_at) FROM workflow_runs WHERE parent_run = ?1 AND spawn_key IS NOT NULL",
                [parent],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(|e| super::describe(self.path(), e))?;
        Ok((n.max(0) as u64, last.as_deref().and_then(time::parse_rfc3339)))
    }

    fn children(&self, parent: &str) -> Result<Vec<ChildRun>, StateError> {
        let describe = |e| super::describe(self.path(), e);
        let mut stmt = self
            .conn_ref()
            .prepare(&format!(
                "SELECT {}, spawn_key FROM workflow_runs WHERE parent_run = ?1 ORDER BY created_at, rowid",
                SqliteStore::RUN_COLUMNS
            ))
            .map_err(describe)?;
        let rows = stmt
            .query_map([parent], |r| Ok(ChildRun { run: SqliteStore::run_from_row(r)?, spawn_key: r.get(15)? }))
            .map_err(describe)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(describe)
    }

    fn child_run(&self, parent: &str, step: &str) -> Result<Option<RunRecord>, StateError> {
        self.conn_ref()
            .query_row(
                &format!(
                    "SELECT {} FROM workflow_runs WHERE parent_run = ?1 AND parent_step = ?2 \
                     ORDER BY created_at DESC, rowid DESC LIMIT 1",
                    SqliteStore::RUN_COLUMNS
                ),
                [parent, step],
                SqliteStore::run_from_row,
            )
            .optional()
            .map_err(|e| super::describe(self.path(), e))
    }

    fn spawn_key(&self, run: &str) -> Result<Option<String>, StateError> {
        self.conn_ref()
            .query_row("SELECT spawn_key FROM workflow_runs WHERE id = ?1", [run], |r| r.get::<_, Option<String>>(0))
            .optional()
            .map(Option::flatten)
            .map_err(|e| super::describe(self.path(), e))
    }
}
