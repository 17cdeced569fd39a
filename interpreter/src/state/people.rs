//! State for people and the outside world: run origins (initiator, trigger,
//! version), gate requests (`flowc approve|reject|complete`), inbound
//! CloudEvents and their deliveries to `wait` steps, and published workflow
//! versions.
//!
//! A gate request is filed by any process and applied by the one executing
//! the run (the runner records the decision and the step's new status in one
//! batch, marking the request handled in the same transaction). Inbound
//! events are stored before anything reacts to them, so an event that
//! arrives before a `wait` step starts is not lost: the step matches events
//! received since its run started.

use std::collections::HashMap;

use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::sqlite::{describe, SqliteStore};
use super::{Op, RunRecord, RunStatus, StateError};
use crate::time;

/// Who or what started a run, and from which definition.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct RunOrigin {
    /// `--as`, `FLOW_USER` or `$USER` for runs started by a person; none for triggers.
    pub initiator: Option<String>,
    /// `manual`, `event`, `webhook`, `schedule` or `call`.
    pub trigger: String,
    /// What fired: the event id and type, the cron expression, the parent run…
    pub detail: Value,
    /// The published version whose plan this run executes, if any.
    pub version: Option<i64>,
    /// `sha256:…` of the plan (see `runtime::versions::plan_hash`).
    pub plan_hash: String,
}

impl RunOrigin {
    pub fn manual(initiator: Option<String>) -> RunOrigin {
        RunOrigin { initiator, trigger: "manual".into(), detail: Value::Null, version: None, plan_hash: String::new() }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GateAction {
    Approve,
    Reject,
    Complete,
}

impl GateAction {
    pub fn as_str(self) -> &'static str {
        match self {
            GateAction::Approve => "approve",
            GateAction::Reject => "reject",
            GateAction::Complete => "complete",
        }
    }
    pub fn parse(text: &str) -> Option<GateAction> {
        match text {
            "approve" => Some(GateAction::Approve),
            "reject" => Some(GateAction::Reject),
            "complete" => Some(GateAction::Complete),
            _ => None,
        }
    }
}

/// Who decides, and how they reached flowc: recorded with every decision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// The operating-system user (command line) or the token's principal (HTTP).
    pub principal: String,
    /// `--as` / `on_behalf_of`: recorded, never checked against approvers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<String>,
    /// The API token's id (never the token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// The client's address (HTTP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// `cli` or `http`.
    pub via: String,
}

impl Actor {
    /// "ann", or "ann (on behalf of bob)".
    pub fn describe(&self) -> String {
        match &self.on_behalf_of {
            Some(b) => format!("{} (on behalf of {b})", self.principal),
            None => self.principal.clone(),
        }
    }

    /// The fields an event records about the actor besides `by`.
    pub fn detail(&self) -> serde_json::Map<String, Value> {
        let mut m = serde_json::Map::new();
        if let Some(b) = &self.on_behalf_of {
            m.insert("on_behalf_of".into(), json!(b));
        }
        if let Some(t) = &self.token {
            m.insert("token".into(), json!(t));
        }
        if let Some(a) = &self.address {
            m.insert("address".into(), json!(a));
        }
        m.insert("via".into(), json!(self.via));
        m
    }
}

/// A decision about a blocked step, filed by `flowc approve|reject|complete`.
#[derive(Clone, Debug, Serialize)]
pub struct GateRequest {
    pub id: i64,
    pub run: String,
    pub step: String,
    pub action: GateAction,
    /// The principal.
    pub actor: String,
    /// Everything recorded about who (none for requests of an older flowc).
    pub actor_detail: Option<Actor>,
    pub comment: Option<String>,
    /// For `complete`: the task's output.
    pub output: Option<Value>,
    pub requested_at: String,
    /// `applied`, or `refused: why`; none while pending.
    pub result: Option<String>,
    /// The attempt of the gate the request decides; it applies to no other.
    pub attempt: Option<u32>,
}

/// An inbound CloudEvent as stored.
#[derive(Clone, Debug, Serialize)]
pub struct InboundEvent {
    pub seq: i64,
    /// The whole CloudEvent (structured JSON form).
    pub event: Value,
    pub received_at: String,
}

impl InboundEvent {
    pub fn event_type(&self) -> &str {
        self.event.get("type").and_then(Value::as_str).unwrap_or("")
    }
    pub fn subject(&self) -> Option<&str> {
        self.event.get("subject").and_then(Value::as_str)
    }
}

/// A step that is blocked, with the payload of its `blocked` event (what it waits for).
#[derive(Clone, Debug, Serialize)]
pub struct BlockedGate {
    pub run: String,
    pub step: String,
    pub gate: Value,
    pub since: String,
}

/// One published version of a workflow.
#[derive(Clone, Debug, Serialize)]
pub struct VersionRecord {
    pub workflow: String,
    pub version: i64,
    pub plan_hash: String,
    pub plan_id: i64,
    pub author: Option<String>,
    pub created_at: String,
    /// Runs that recorded this version.
    pub runs: i64,
}

/// A version to publish: the workflow, its plan (compact JSON) and hash.
#[derive(Clone, Debug)]
pub struct NewVersion {
    pub workflow: String,
    pub description: Option<String>,
    pub plan_json: String,
    pub format_version: u32,
    pub plan_hash: String,
}

/// What publishing did for one workflow.
#[derive(Clone, Debug, Serialize)]
pub struct Published {
    pub workflow: String,
    pub version: i64,
    pub plan_hash: String,
    /// False when the plan's hash equals the latest version's: nothing was stored.
    pub new: bool,
}

pub trait PeopleStore {
    /// Records a run's origin once (a later call for the same run is ignored).
    fn put_origin(&mut self, run: &str, origin: &RunOrigin) -> Result<(), StateError>;
    fn origin(&self, run: &str) -> Result<Option<RunOrigin>, StateError>;
    /// Files a gate request and returns its id.
    #[allow(clippy::too_many_arguments)]
    fn file_gate_request(
        &mut self,
        run: &str,
        step: &str,
        attempt: u32,
        action: GateAction,
        actor: &Actor,
        comment: Option<&str>,
        output: Option<&Value>,
    ) -> Result<i64, StateError>;
    /// Unhandled requests of a run with an id above `after`, oldest first.
    fn pending_gate_requests(&self, run: &str, after: i64) -> Result<Vec<GateRequest>, StateError>;
    fn gate_request(&self, id: i64) -> Result<Option<GateRequest>, StateError>;
    /// Stores inbound events in one transaction, all or none. Each returns its
    /// sequence number and whether it was a duplicate (same `source` and `id`
    /// as an event already stored, which is kept as it was).
    fn put_inbound_events(&mut self, events: &[Value]) -> Result<Vec<(i64, bool)>, StateError>;
    /// Events with a sequence number above `after` received at or after `since`.
    fn inbound_events_after(&self, after: i64, since: &str) -> Result<Vec<InboundEvent>, StateError>;
    /// Sequence numbers of the events already delivered to steps of the run.
    fn deliveries(&self, run: &str) -> Result<Vec<i64>, StateError>;
    /// The blocked steps of a run and what each waits for.
    fn blocked_gates(&self, run: &str) -> Result<Vec<BlockedGate>, StateError>;
    fn runs_with_status(&self, statuses: &[RunStatus]) -> Result<Vec<RunRecord>, StateError>;
    fn child_runs(&self, parent: &str) -> Result<Vec<RunRecord>, StateError>;
    /// The latest published version of `workflow` whose plan has this hash.
    fn version_of(&self, workflow: &str, plan_hash: &str) -> Result<Option<i64>, StateError>;
    /// Publishes, in one transaction, each workflow whose hash differs from its latest version.
    fn publish(&mut self, versions: &[NewVersion], author: Option<&str>) -> Result<Vec<Published>, StateError>;
    fn versions(&self, workflow: &str) -> Result<Vec<VersionRecord>, StateError>;
    /// The stored plan of a published version.
    fn version_plan(&self, workflow: &str, version: i64) -> Result<Option<String>, StateError>;
}

fn parse_json(text: Option<String>) -> Option<Value> {
    text.map(|t| serde_json::from_str(&t).unwrap_or(Value::String(t)))
}

/// Writes of the ops this module adds to [`Op`].
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

const REQUEST_COLUMNS: &str = "id, run_id, step, action, actor, comment, output, requested_at, result, attempt, actor_detail";

impl PeopleStore for SqliteStore {
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

    fn child_runs(&self, parent: &str) -> Result<Vec<RunRecord>, StateError> {
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {} FROM workflow_runs WHERE parent_run = ?1 ORDER BY created_at, rowid", SqliteStore::RUN_COLUMNS))
            .map_err(|e| self.err(e))?;
        let rows = stmt.query_map([parent], SqliteStore::run_from_row).map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.err(e))
    }

    fn version_of(&self, workflow: &str, plan_hash: &str) -> Result<Option<i64>, StateError> {
        self.conn
            .query_row(
                "SELECT MAX(version) FROM workflow_versions WHERE workflow = ?1 AND plan_hash = ?2",
                params![workflow, plan_hash],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))
    }

    fn publish(&mut self, versions: &[NewVersion], author: Option<&str>) -> Result<Vec<Published>, StateError> {
        let path = self.path().to_path_buf();
        let tx = self.write_tx()?;
        let now = time::now();
        let mut out = Vec::new();
        for v in versions {
            let latest: Option<(i64, String)> = tx
                .query_row(
                    "SELECT version, plan_hash FROM workflow_versions WHERE workflow = ?1 ORDER BY version DESC LIMIT 1",
                    [&v.workflow],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(|e| describe(&path, e))?;
            if let Some((version, hash)) = &latest
                && *hash == v.plan_hash
            {
                out.push(Published { workflow: v.workflow.clone(), version: *version, plan_hash: hash.clone(), new: false });
                continue;
            }
            let version = latest.map_or(1, |(n, _)| n + 1);
            tx.execute(
                "INSERT INTO plans (format_version, body, created_at) VALUES (?1, ?2, ?3)",
                params![v.format_version, v.plan_json, now],
            )
            .map_err(|e| describe(&path, e))?;
            let plan_id = tx.last_insert_rowid();
            tx.execute(
                "INSERT INTO workflow_versions (workflow, version, plan_hash, plan_id, author, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![v.workflow, version, v.plan_hash, plan_id, author, now],
            )
            .map_err(|e| describe(&path, e))?;
            tx.execute(
                "INSERT INTO workflow_definitions (name, description, latest_version, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4) \
                 ON CONFLICT(name) DO UPDATE SET description = ?2, latest_version = ?3, updated_at = ?4",
                params![v.workflow, v.description, version, now],
            )
            .map_err(|e| describe(&path, e))?;
            out.push(Published { workflow: v.workflow.clone(), version, plan_hash: v.plan_hash.clone(), new: true });
        }
        tx.commit().map_err(|e| describe(&path, e))?;
        Ok(out)
    }

    fn versions(&self, workflow: &str) -> Result<Vec<VersionRecord>, StateError> {
        let mut counts: HashMap<i64, i64> = HashMap::new();
        {
            let mut stmt = self
                .conn
                .prepare(
                    "SELECT o.workflow_version, count(*) FROM run_origins o JOIN workflow_runs r ON r.id = o.run_id \
                     WHERE r.workflow = ?1 AND o.workflow_version IS NOT NULL GROUP BY o.workflow_version",
                )
                .map_err(|e| self.err(e))?;
            let rows = stmt.query_map([workflow], |r| Ok((r.get(0)?, r.get(1)?))).map_err(|e| self.err(e))?;
            for row in rows {
                let (v, n) = row.map_err(|e| self.err(e))?;
                counts.insert(v, n);
            }
        }
        let mut stmt = self
            .conn
            .prepare("SELECT version, plan_hash, plan_id, author, created_at FROM workflow_versions WHERE workflow = ?1 ORDER BY version")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([workflow], |r| {
                let version: i64 = r.get(0)?;
                Ok(VersionRecord {
                    workflow: workflow.to_string(),
                    version,
                    plan_hash: r.get(1)?,
                    plan_id: r.get(2)?,
                    author: r.get(3)?,
                    created_at: r.get(4)?,
                    runs: counts.get(&version).copied().unwrap_or(0),
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.err(e))
    }

    fn version_plan(&self, workflow: &str, version: i64) -> Result<Option<String>, StateError> {
        self.conn
            .query_row(
                "SELECT p.body FROM workflow_versions v JOIN plans p ON p.id = v.plan_id WHERE v.workflow = ?1 AND v.version = ?2",
                params![workflow, version],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))
    }
}
