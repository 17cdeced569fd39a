//! [`KeyValues`](crate::state::KeyValues) on [`SqliteStore`]: the SQLite side of `state::kv`.

use rusqlite::{params, OptionalExtension};
use super::{parse_json_text, SqliteStore};
use crate::state::StateError;
use crate::time;
use crate::state::kv::{KvEntry, KeyValues};

fn purge_expired(conn: &rusqlite::Connection, store: &str, ttl_ms: Option<u64>) -> rusqlite::Result<()> {
    if let Some(ttl) = ttl_ms {
        let cutoff = time::now_ms().saturating_sub(ttl.min(i64::MAX as u64) as i64);
        conn.prepare_cached("DELETE FROM store_entries WHERE store = ?1 AND written_ms < ?2")?.execute(params![store, cutoff])?;
    }
    Ok(())
}

fn entry(row: &rusqlite::Row<'_>) -> rusqlite::Result<KvEntry> {
    Ok(KvEntry { key: row.get(0)?, value: parse_json_text(row.get(1)?), written_at: row.get(2)?, run: row.get(3)? })
}

impl KeyValues for SqliteStore {
    fn kv_get(&mut self, store: &str, key: &str, ttl_ms: Option<u64>) -> Result<Option<KvEntry>, StateError> {
        let path = self.path().to_path_buf();
        let conn = self.conn();
        purge_expired(conn, store, ttl_ms).map_err(|e| super::describe(&path, e))?;
        conn.query_row(
            "SELECT key, value, written_at, run_id FROM store_entries WHERE store = ?1 AND key = ?2",
            params![store, key],
            entry,
        )
        .optional()
        .map_err(|e| super::describe(&path, e))
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
        let describe = |e| super::describe(&path, e);
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
            .map_err(|e| super::describe(&path, e))?;
        Ok(n > 0)
    }

    fn kv_list(&mut self, store: &str, ttl_ms: Option<u64>) -> Result<Vec<KvEntry>, StateError> {
        let path = self.path().to_path_buf();
        let describe = |e| super::describe(&path, e);
        let conn = self.conn();
        purge_expired(conn, store, ttl_ms).map_err(describe)?;
        let mut stmt = conn
            .prepare("SELECT key, value, written_at, run_id FROM store_entries WHERE store = ?1 ORDER BY seq")
            .map_err(describe)?;
        let rows = stmt.query_map([store], entry).map_err(describe)?;
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
