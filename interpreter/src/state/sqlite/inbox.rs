//! [`Inbox`](crate::state::Inbox) on [`SqliteStore`]: the SQLite side of `state::inbox`.

use rusqlite::{params, OptionalExtension};
use serde_json::Value;
use super::{describe, parse_json, SqliteStore};
use crate::state::StateError;
use crate::time;
use crate::state::inbox::{InboundEvent, Inbox};

impl Inbox for SqliteStore {
    fn put_inbound_events(&mut self, events: &[Value]) -> Result<Vec<(i64, bool)>, StateError> {
        let path = self.path().to_path_buf();
        let tx = self.write_tx()?;
        let mut out = Vec::with_capacity(events.len());
        for event in events {
            let text = |k: &str| event.get(k).and_then(Value::as_str).map(str::to_string);
            let (id, source, ty) = (text("id").unwrap_or_default(), text("source").unwrap_or_default(), text("type").unwrap_or_default());
            let existing: Option<i64> = tx
                .query_row("SELECT seq FROM inbound_events WHERE source = ?1 AND id = ?2", params![source, id], |r| r.get(0))
                .optional()
                .map_err(|e| describe(&path, e))?;
            if let Some(seq) = existing {
                out.push((seq, true));
                continue;
            }
            tx.execute(
                "INSERT INTO inbound_events (id, source, type, subject, received_at, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![id, source, ty, text("subject"), time::now(), event.to_string()],
            )
            .map_err(|e| describe(&path, e))?;
            out.push((tx.last_insert_rowid(), false));
        }
        tx.commit().map_err(|e| describe(&path, e))?;
        Ok(out)
    }

    fn inbound_events_after(&self, after: i64, since: &str) -> Result<Vec<InboundEvent>, StateError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT seq, body, received_at FROM inbound_events WHERE seq > ?1 AND received_at >= ?2 ORDER BY seq LIMIT 10000")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![after, since], |r| {
                Ok(InboundEvent { seq: r.get(0)?, event: parse_json(r.get(1)?).unwrap_or(Value::Null), received_at: r.get(2)? })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.err(e))
    }

    fn deliveries(&self, run: &str) -> Result<Vec<i64>, StateError> {
        let mut stmt = self.conn.prepare_cached("SELECT event_seq FROM event_deliveries WHERE run_id = ?1").map_err(|e| self.err(e))?;
        let rows = stmt.query_map([run], |r| r.get(0)).map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.err(e))
    }
}
