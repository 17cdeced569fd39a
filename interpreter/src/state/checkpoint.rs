//! What a run records to be restored and checked: the invariants and
//! protected files it pinned, its steps' item lists, checkpoints, and the
//! blobs of protected files. These writes belong to a run's history
//! ([`Op::Pin`], [`Op::StepItems`], [`Op::Checkpoint`], [`Op::Blob`],
//! [`Op::RunReset`]): they are ops of the runner's batches, so they commit in
//! the transaction of the status change they go with.

use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use super::sqlite::{parse_json_text, SqliteStore};
use super::{Op, StateError};

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
            .map_err(|e| super::sqlite::describe(self.path(), e))
    }

    fn item_lists(&self, run: &str) -> Result<Vec<(u32, serde_json::Value)>, StateError> {
        let describe = |e| super::sqlite::describe(self.path(), e);
        let mut stmt = self.conn_ref().prepare("SELECT step_id, items FROM step_items WHERE run_id = ?1").map_err(describe)?;
        let rows = stmt.query_map([run], |r| Ok((r.get::<_, u32>(0)?, parse_json_text(r.get(1)?)))).map_err(describe)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(describe)
    }

    fn checkpoints(&self, run: &str) -> Result<Vec<Checkpoint>, StateError> {
        let describe = |e| super::sqlite::describe(self.path(), e);
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
            .map_err(|e| super::sqlite::describe(self.path(), e))
    }
}
