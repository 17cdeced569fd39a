//! State of the advanced primitives: persistent store entries,
//! spawned children, pinned invariants, item lists, checkpoints and the
//! blobs of protected files.
//!
//! [`StateExt`] is a supertrait of [`Store`](super::Store), so the runtime
//! and the CLI reach these through the same `dyn Store`. The writes that
//! belong to a run's history ([`Op::Pin`], [`Op::StepItems`],
//! [`Op::Checkpoint`], [`Op::Blob`], [`Op::RunReset`]) are ops of the runner's batches, so they
//! commit in the transaction of the status change they go with. Store
//! entries are not run history: `kv_put` commits on its own (with the
//! retention it triggers), when the step that puts has succeeded.

use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use super::sqlite::SqliteStore;
use super::{NewRun, Op, RunRecord, StateError};
use crate::time;

/// One entry of a store.
#[derive(Clone, Debug, Serialize)]
pub struct KvEntry {
    pub key: String,
    pub value: serde_json::Value,
    pub written_at: String,
    /// The run whose step put it (none: `flowc store put`).
    pub run: Option<String>,
}

/// What a run pinned when it started.
#[derive(Clone, Debug, Serialize)]
pub struct RunPin {
    pub run: String,
    /// The hash of the invariants' definitions (see `runtime::invariants`).
    pub hash: String,
    pub invariants: serde_json::Value,
    pub safety: serde_json::Value,
    /// Protected files: `{path: fingerprint}`.
    pub files: serde_json::Value,
    pub pinned_at: String,
}

/// A checkpoint: written when a step completed.
#[derive(Clone, Debug, Serialize)]
pub struct Checkpoint {
    pub seq: i64,
    pub step_id: u32,
    pub step: String,
    pub attempt: u32,
    /// Protected files at that moment: `{path: fingerprint}`.
    pub files: serde_json::Value,
    pub at: String,
}

/// Per gate: how often its checks passed and failed.
#[derive(Clone, Debug, Serialize)]
pub struct QualityGateStats {
    pub workflow: String,
    pub gate: String,
    pub passed: i64,
    pub failed: i64,
}

/// A child run with how it was started.
#[derive(Clone, Debug, Serialize)]
pub struct ChildRun {
    pub run: RunRecord,
    /// `STEP#N` for a spawned child; none for a `call` child.
    pub spawn_key: Option<String>,
}

/// The state operations of the advanced primitives.
pub trait StateExt {
    /// The value of a key, unless absent or older than `ttl_ms` (expired
    /// entries of the store are purged first).
    fn kv_get(&mut self, store: &str, key: &str, ttl_ms: Option<u64>) -> Result<Option<KvEntry>, StateError>;
    /// Writes a key, then applies retention: entries older than `ttl_ms` and
    /// the oldest writes past `max_entries` are removed.
    fn kv_put(
        &mut self,
        store: &str,
        key: &str,
        value: &serde_json::Value,
        run: Option<&str>,
        max_entries: Option<u64>,
        ttl_ms: Option<u64>,
    ) -> Result<(), StateError>;
    /// Removes a key; `false` when it was not there.
    fn kv_delete(&mut self, store: &str, key: &str) -> Result<bool, StateError>;
    /// Every live entry, oldest write first.
    fn kv_list(&mut self, store: &str, ttl_ms: Option<u64>) -> Result<Vec<KvEntry>, StateError>;
    /// Creates a spawned child run unless the parent already has one with
    /// this key; returns the child's id and whether it was created now.
    fn create_spawned_run(&mut self, new: &NewRun, spawn_key: &str) -> Result<(String, bool), StateError>;
    /// How many children a run has spawned, and when the last was created (ms).
    fn spawn_count(&self, parent: &str) -> Result<(u64, Option<i64>), StateError>;
    /// Every child run (called and spawned), oldest first.
    fn children(&self, parent: &str) -> Result<Vec<ChildRun>, StateError>;
    /// The spawn key of a run, if it was spawned.
    fn spawn_key(&self, run: &str) -> Result<Option<String>, StateError>;
    fn pin(&self, run: &str) -> Result<Option<RunPin>, StateError>;
    /// The item lists of a run's steps.
    fn item_lists(&self, run: &str) -> Result<Vec<(u32, serde_json::Value)>, StateError>;
    fn checkpoints(&self, run: &str) -> Result<Vec<Checkpoint>, StateError>;
    fn blob(&self, hash: &str) -> Result<Option<Vec<u8>>, StateError>;
    fn gate_stats(&self) -> Result<Vec<QualityGateStats>, StateError>;
}

fn parse(text: String) -> serde_json::Value {
    serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
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

fn purge_expired(conn: &rusqlite::Connection, store: &str, ttl_ms: Option<u64>) -> rusqlite::Result<()> {
    if let Some(ttl) = ttl_ms {
        let cutoff = time::now_ms().saturating_sub(ttl.min(i64::MAX as u64) as i64);
        conn.prepare_cached("DELETE FROM store_entries WHERE store = ?1 AND written_ms < ?2")?.execute(params![store, cutoff])?;
    }
    Ok(())
}

fn entry(row: &rusqlite::Row<'_>) -> rusqlite::Result<KvEntry> {
    Ok(KvEntry { key: row.get(0)?, value: parse(row.get(1)?), written_at: row.get(2)?, run: row.get(3)? })
}

impl StateExt for SqliteStore {
    fn kv_get(&mut self, store: &str, key: &str, ttl_ms: Option<u64>) -> Result<Option<KvEntry>, StateError> {
        let path = self.path().to_path_buf();
        let conn = self.conn();
        purge_expired(conn, store, ttl_ms).map_err(|e| super::sqlite::describe(&path, e))?;
        conn.query_row(
            "SELECT key, value, written_at, run_id FROM store_entries WHERE store = ?1 AND key = ?2",
            params![store, key],
            entry,
        )
        .optional()
        .map_err(|e| super::sqlite::describe(&path, e))
    }

    fn kv_put(
        &mut self,
        store: &str,
        key: &str,
        value: &serde_json::Value,
        run: Option<&str>,
        max_entries: Option<u64>,
        ttl_ms: Option<u64>,
    ) -> Result<(), StateError> {
        let path = self.path().to_path_buf();
        let describe = |e| super::sqlite::describe(&path, e);
        let tx = self.write_tx()?;
        let now = time::now_ms();
        tx.execute(
            "INSERT OR REPLACE INTO store_entries (store, key, value, seq, written_ms, written_at, run_id) VALUES \
             (?1, ?2, ?3, (SELECT COALESCE(MAX(seq), 0) + 1 FROM store_entries WHERE store = ?1), ?4, ?5, ?6)",
            params![store, key, value.to_string(), now, time::rfc3339_ms(now), run],
        )
        .map_err(describe)?;
        purge_expired(&tx, store, ttl_ms).map_err(describe)?;
        if let Some(max) = max_entries {
            tx.execute(
                "DELETE FROM store_entries WHERE store = ?1 AND seq <= \
                 (SELECT seq FROM store_entries WHERE store = ?1 ORDER BY seq DESC LIMIT 1 OFFSET ?2)",
                params![store, max.min(i64::MAX as u64) as i64],
            )
            .map_err(describe)?;
        }
        tx.commit().map_err(describe)
    }

    fn kv_delete(&mut self, store: &str, key: &str) -> Result<bool, StateError> {
        let path = self.path().to_path_buf();
        let n = self
            .conn()
            .execute("DELETE FROM store_entries WHERE store = ?1 AND key = ?2", params![store, key])
            .map_err(|e| super::sqlite::describe(&path, e))?;
        Ok(n > 0)
    }

    fn kv_list(&mut self, store: &str, ttl_ms: Option<u64>) -> Result<Vec<KvEntry>, StateError> {
        let path = self.path().to_path_buf();
        let describe = |e| super::sqlite::describe(&path, e);
        let conn = self.conn();
        purge_expired(conn, store, ttl_ms).map_err(describe)?;
        let mut stmt = conn
            .prepare("SELECT key, value, written_at, run_id FROM store_entries WHERE store = ?1 ORDER BY seq")
            .map_err(describe)?;
        let rows = stmt.query_map([store], entry).map_err(describe)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(describe)
    }

    fn create_spawned_run(&mut self, new: &NewRun, spawn_key: &str) -> Result<(String, bool), StateError> {
        let path = self.path().to_path_buf();
        let describe = |e| super::sqlite::describe(&path, e);
        let parent = new.parent_run.clone().unwrap_or_default();
        let existing: Option<String> = self
            .conn()
            .query_row("SELECT id FROM workflow_runs WHERE parent_run = ?1 AND spawn_key = ?2", params![parent, spawn_key], |r| r.get(0))
            .optional()
            .map_err(describe)?;
        if let Some(id) = existing {
            return Ok((id, false));
        }
        let id = super::Store::create_run(self, new)?;
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
            .map_err(|e| super::sqlite::describe(self.path(), e))?;
        Ok((n.max(0) as u64, last.as_deref().and_then(time::parse_rfc3339)))
    }

    fn children(&self, parent: &str) -> Result<Vec<ChildRun>, StateError> {
        let describe = |e| super::sqlite::describe(self.path(), e);
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

    fn spawn_key(&self, run: &str) -> Result<Option<String>, StateError> {
        self.conn_ref()
            .query_row("SELECT spawn_key FROM workflow_runs WHERE id = ?1", [run], |r| r.get::<_, Option<String>>(0))
            .optional()
            .map(Option::flatten)
            .map_err(|e| super::sqlite::describe(self.path(), e))
    }

    fn pin(&self, run: &str) -> Result<Option<RunPin>, StateError> {
        self.conn_ref()
            .query_row(
                "SELECT hash, invariants, safety, files, pinned_at FROM run_pins WHERE run_id = ?1",
                [run],
                |r| {
                    Ok(RunPin {
                        run: run.to_string(),
                        hash: r.get(0)?,
                        invariants: parse(r.get(1)?),
                        safety: parse(r.get(2)?),
                        files: parse(r.get(3)?),
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
        let rows = stmt.query_map([run], |r| Ok((r.get::<_, u32>(0)?, parse(r.get(1)?)))).map_err(describe)?;
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
                    files: parse(r.get(4)?),
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

    fn gate_stats(&self) -> Result<Vec<QualityGateStats>, StateError> {
        let describe = |e| super::sqlite::describe(self.path(), e);
        let mut stmt = self
            .conn_ref()
            .prepare(
                "SELECT r.workflow, e.step, SUM(e.event = 'gate_passed'), SUM(e.event = 'gate_failed') \
                 FROM step_events e JOIN workflow_runs r ON r.id = e.run_id \
                 WHERE e.event IN ('gate_passed', 'gate_failed') GROUP BY r.workflow, e.step ORDER BY r.workflow, e.step",
            )
            .map_err(describe)?;
        let rows = stmt
            .query_map([], |r| Ok(QualityGateStats { workflow: r.get(0)?, gate: r.get(1)?, passed: r.get(2)?, failed: r.get(3)? }))
            .map_err(describe)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(describe)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::SqliteStore;

    fn temp(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("flowc-kv-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("state.db")
    }

    #[test]
    fn retention_evicts_the_oldest_writes() {
        let mut store = SqliteStore::open(&temp("evict")).unwrap();
        for k in ["a", "b", "c"] {
            store.kv_put("s", k, &serde_json::json!(k), None, Some(2), None).unwrap();
        }
        let keys: Vec<String> = store.kv_list("s", None).unwrap().into_iter().map(|e| e.key).collect();
        assert_eq!(keys, ["b", "c"]);
        // Rewriting `b` makes it the newest: `c` goes next.
        store.kv_put("s", "b", &serde_json::json!(2), None, Some(2), None).unwrap();
        store.kv_put("s", "d", &serde_json::json!(4), None, Some(2), None).unwrap();
        let keys: Vec<String> = store.kv_list("s", None).unwrap().into_iter().map(|e| e.key).collect();
        assert_eq!(keys, ["b", "d"]);
        assert!(store.kv_delete("s", "b").unwrap());
        assert!(!store.kv_delete("s", "b").unwrap());
        assert!(store.kv_get("other", "d", None).unwrap().is_none(), "stores are separate");
    }
}
