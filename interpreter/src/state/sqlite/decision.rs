//! [`Decisions`](crate::state::Decisions) on [`SqliteStore`]: the SQLite side of `state::decision` and the rows its ops write in a batch.

use rusqlite::{params, OptionalExtension};
use serde_json::Value;
use super::{parse_json, SqliteStore};
use crate::state::origin::Actor;
use crate::state::{Op, StateError};
use crate::time;
use crate::state::decision::{GateAction, GateRequest, BlockedGate, Decisions};

/// The columns `request_from_row` reads, in its order.
const REQUEST_COLUMNS: &str = "id, run_id, step, action, actor, comment, output, requested_at, result, attempt, actor_detail";

fn request_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<GateRequest> {
    let action: String = r.get(3)?;
    Ok(GateRequest {
        id: r.get(0)?,
        run: r.get(1)?,
        step: r.get(2)?,
        action: GateAction::parse(&action).unwrap_or(GateAction::Reject),
        actor: r.get(4)?,
        comment: r.get(5)?,
        output: parse_json(r.get(6)?),
        requested_at: r.get(7)?,
        result: r.get(8)?,
        attempt: r.get(9)?,
        actor_detail: r.get::<_, Option<String>>(10)?.and_then(|t| serde_json::from_str(&t).ok()),
    })
}

impl Decisions for SqliteStore {
    fn file_gate_request(
        &mut self,
        run: &str,
        step: &str,
        attempt: u32,
        action: GateAction,
        actor: &Actor,
        comment: Option<&str>,
        output: Option<&Value>,
    ) -> Result<i64, StateError> {
        let detail = serde_json::to_string(actor).unwrap_or_default();
        self.conn
            .execute(
                "INSERT INTO gate_requests (run_id, step, action, actor, comment, output, requested_at, attempt, actor_detail) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![run, step, action.as_str(), actor.principal, comment, output.map(Value::to_string), time::now(), attempt, detail],
            )
            .map_err(|e| self.err(e))?;
        Ok(self.conn.last_insert_rowid())
    }

    fn pending_gate_requests(&self, run: &str, after: i64) -> Result<Vec<GateRequest>, StateError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {REQUEST_COLUMNS} FROM gate_requests WHERE run_id = ?1 AND id > ?2 AND result IS NULL ORDER BY id"
            ))
            .map_err(|e| self.err(e))?;
        let rows = stmt.query_map(params![run, after], request_from_row).map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.err(e))
    }

    fn gate_request(&self, id: i64) -> Result<Option<GateRequest>, StateError> {
        self.conn
            .query_row(&format!("SELECT {REQUEST_COLUMNS} FROM gate_requests WHERE id = ?1"), [id], request_from_row)
            .optional()
            .map_err(|e| self.err(e))
    }

    fn blocked_gates(&self, run: &str) -> Result<Vec<BlockedGate>, StateError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT s.step, \
                   (SELECT e.payload FROM step_events e WHERE e.run_id = s.run_id AND e.step = s.step AND e.event = 'blocked' ORDER BY e.seq DESC LIMIT 1), \
                   (SELECT e.at FROM step_events e WHERE e.run_id = s.run_id AND e.step = s.step AND e.event = 'blocked' ORDER BY e.seq DESC LIMIT 1) \
                 FROM step_states s WHERE s.run_id = ?1 AND s.status = 'blocked' ORDER BY s.step_id",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([run], |r| {
                Ok(BlockedGate {
                    run: run.to_string(),
                    step: r.get(0)?,
                    gate: parse_json(r.get(1)?).unwrap_or(Value::Null),
                    since: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.err(e))
    }
}

/// Writes of the ops of blocked steps, decisions and deliveries.
pub(super) fn apply_op(tx: &rusqlite::Transaction<'_>, op: &Op) -> rusqlite::Result<()> {
    match op {
        Op::AttemptBlocked { run, step_id, attempt } => {
            tx.prepare_cached("UPDATE step_runs SET status = 'blocked' WHERE run_id = ?1 AND step_id = ?2 AND attempt = ?3")?
                .execute(params![run, step_id, attempt])?;
        }
        Op::GateRequestHandled { id, result, at } => {
            tx.prepare_cached("UPDATE gate_requests SET result = ?2, handled_at = ?3 WHERE id = ?1 AND result IS NULL")?
                .execute(params![id, result, at])?;
        }
        Op::EventDelivered { run, step, event_seq, at } => {
            tx.prepare_cached("INSERT OR REPLACE INTO event_deliveries (run_id, step, event_seq, at) VALUES (?1, ?2, ?3, ?4)")?
                .execute(params![run, step, event_seq, at])?;
        }
        _ => {}
    }
    Ok(())
}
