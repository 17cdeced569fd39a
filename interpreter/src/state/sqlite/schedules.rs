//! What `flowc serve` remembers of its schedules between starts: per
//! workflow and cron expression, the time up to which fire times were
//! handled (fired, or deliberately not caught up). Fire times after it and
//! before the next start were missed while the server was down.

use rusqlite::{params, OptionalExtension};

use super::SqliteStore;
use crate::state::StateError;

/// The migration that adds the table (appended to `schema::MIGRATIONS`).
pub(super) const MIGRATION: &str = r#"
CREATE TABLE schedule_marks (
    workflow TEXT NOT NULL,
    cron     TEXT NOT NULL,
    -- Unix milliseconds: every fire time up to here was handled.
    handled_until INTEGER NOT NULL,
    PRIMARY KEY (workflow, cron)
) WITHOUT ROWID;
"#;

impl SqliteStore {
    /// Up to when the fire times of this schedule were handled; None for a
    /// schedule this database has never seen served.
    pub fn schedule_mark(&self, workflow: &str, cron: &str) -> Result<Option<i64>, StateError> {
        self.conn_ref()
            .query_row("SELECT handled_until FROM schedule_marks WHERE workflow = ?1 AND cron = ?2", params![workflow, cron], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Records that fire times up to `until` are handled (never moves back).
    pub fn set_schedule_mark(&mut self, workflow: &str, cron: &str, until: i64) -> Result<(), StateError> {
        let path = self.path().to_path_buf();
        let tx = self.write_tx()?;
        tx.execute(
            "INSERT INTO schedule_marks (workflow, cron, handled_until) VALUES (?1, ?2, ?3) \
             ON CONFLICT (workflow, cron) DO UPDATE SET handled_until = max(handled_until, excluded.handled_until)",
            params![workflow, cron, until],
        )
        .map_err(|e| super::describe(&path, e))?;
        tx.commit().map_err(|e| super::describe(&path, e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_only_move_forward() {
        let dir = std::env::temp_dir().join(format!("flowc-marks-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut store = SqliteStore::open(&dir.join("state.db")).unwrap();
        assert_eq!(store.schedule_mark("w", "* * * * *").unwrap(), None);
        store.set_schedule_mark("w", "* * * * *", 2000).unwrap();
        store.set_schedule_mark("w", "* * * * *", 1000).unwrap();
        assert_eq!(store.schedule_mark("w", "* * * * *").unwrap(), Some(2000));
        assert_eq!(store.schedule_mark("w", "0 * * * *").unwrap(), None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
