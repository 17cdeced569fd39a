//! [`Checkpoints`](crate::state::Checkpoints) on [`SqliteStore`]: the SQLite side of `state::checkpoint` and the rows its ops write in a batch.

use rusqlite::{params, OptionalExtension};
use super::{parse_json_text, SqliteStore};
use crate::state::{Op, StateError};
use crate::state::checkpoint::{RunPin, Checkpoint, Checkpoints};

/// The ops of this module, applied inside the batch's transaction.
pub(super) fn apply_op(tx: &rusqlite::Transaction<'_>, op: &Op) -> rusqlite::Result<()> {
    match op {
        Op::Pin(pin) => {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO run_pins (run_id, hash, invariants, safety, files, pinned_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![pin.run, pin.hash, pin.invariants.to_string(), pin.safety.to_string(), pin.files.to_string(), pin.pinned_at])?;
        }
        Op::StepItems { run, step_id, items } => {
            tx.prepare_cached("INSERT OR REPLACE INTO step_items (run_id, step_id, items) VALUES (?1, ?2, ?3)")?
                .execute(params![run, step_id, items.to_string()])?;
        }
        Op::RunReset { run } => {
            tx.prepare_cached("UPDATE workflow_runs SET error = NULL, outputs = NULL, finished_at = NULL WHERE id = ?1")?.execute([run])?;
        }
        Op::Blob { hash, content } => {
            tx.prepare_cached("INSERT OR IGNORE INTO file_blobs (hash, content) VALUES (?1, ?2)")?.execute(params![hash, content])?;
        }
        _ => {}
    }
    Ok(())
}

impl Checkpoints for SqliteStore {
    fn pin(&self, run: &str) -> Result<Option<RunPin>, StateError> {
        self.conn_ref()
            .query_row(
                "SELECT hash, invariants, safety, files, pinned_at FROM run_pins WHERE run_id = ?1",
                [run],
                |r| {
                    Ok(RunPin {
                        run: run.to_string(),
                        hash: r.get(0)?,
                        invariants: parse_json_text(r.get(1)?),
                        safety: parse_json_text(r.get(2)?),
                        files: parse_json_text(r.get(3)?),
                        pinned_at: r.get(4)?,
                    })
                },
            )
            .optional()
            .map_err(|e| super::describe(self.path(), e))
    }

    fn item_lists(&self, run: &str) -> Result<Vec<(u32, serde_json::Value)>, StateError> {
        let describe = |e| super::describe(self.path(), e);
        let mut stmt = self.conn_ref().prepare("SELECT step_id, items FROM step_items WHERE run_id = ?1").map_err(describe)?;
        let rows = stmt.query_map([run], |r| Ok((r.get::<_, u32>(0)?, parse_json_text(r.get(1)?)))).map_err(describe)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(describe)
    }

    fn checkpoints(&self, run: &str) -> Result<Vec<Checkpoint>, StateError> {
        let describe = |e| super::describe(self.path(), e);
        let mut stmt = self
            .conn_ref()
            .prepare("SELECT seq, step_id, step, attempt, files, at FROM checkpoints WHERE run_id = ?1 ORDER BY seq")
            .map_err(describe)?;
        let rows = stmt
            .query_map([run], |r| {
                Ok(Checkpoint {
                    seq: r.get(0)?,
                    step_id: r.get(1)?,
                    step: r.get(2)?,
                    attempt: r.get(3)?,
                    files: parse_json_text(r.get(4)?),
                    at: r.get(5)?,
                })
            })
            .map_err(describe)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(describe)
    }

    fn blob(&self, hash: &str) -> Result<Option<Vec<u8>>, StateError> {
        self.conn_ref()
            .query_row("SELECT content FROM file_blobs WHERE hash = ?1", [hash], |r| r.get(0))
            .optional()
            .map_err(|e| super::describe(self.path(), e))
    }
}
