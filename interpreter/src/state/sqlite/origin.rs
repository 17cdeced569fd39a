//! [`Origins`](crate::state::Origins) on [`SqliteStore`]: the SQLite side of `state::origin`.

use rusqlite::{params, OptionalExtension};
use serde_json::Value;
use super::{parse_json, SqliteStore};
use crate::state::StateError;
use crate::state::origin::{RunOrigin, Origins};

impl Origins for SqliteStore {
    fn put_origin(&mut self, run: &str, origin: &RunOrigin) -> Result<(), StateError> {
        self.conn
            .execute(
                "INSERT OR IGNORE INTO run_origins (run_id, initiator, trigger, trigger_detail, workflow_version, plan_hash) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![run, origin.initiator, origin.trigger, origin.detail.to_string(), origin.version, origin.plan_hash],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    fn origin(&self, run: &str) -> Result<Option<RunOrigin>, StateError> {
        self.conn
            .query_row(
                "SELECT initiator, trigger, trigger_detail, workflow_version, plan_hash FROM run_origins WHERE run_id = ?1",
                [run],
                |r| {
                    Ok(RunOrigin {
                        initiator: r.get(0)?,
                        trigger: r.get(1)?,
                        detail: parse_json(r.get(2)?).unwrap_or(Value::Null),
                        version: r.get(3)?,
                        plan_hash: r.get(4)?,
                    })
                },
            )
            .optional()
            .map_err(|e| self.err(e))
    }
}
