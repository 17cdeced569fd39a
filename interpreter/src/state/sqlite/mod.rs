//! The embedded SQLite backend of [`Store`].
//!
//! WAL mode with `synchronous = NORMAL`: a commit is durable against a crash
//! of the process (`kill -9`), which is what resume needs; only a power loss
//! can drop the last commits, and then the affected steps simply run again.
//! Several processes share the file (the one executing a run, and a second
//! terminal's `flowc pause`/`runs show`); `busy_timeout` makes them wait for
//! each other instead of failing.

// What each concept of `state` stores, in SQLite, and the database file itself.
pub mod auth;
mod checkpoint;
mod children;
mod decision;
pub mod files;
mod inbox;
mod kv;
mod origin;
mod quality_gate;
mod run_queries;
pub mod schedules;
pub mod schema;
mod version;

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension};

use schema::{APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION};
use super::*;
use crate::time;

/// The state in one SQLite database file, the embedded default.
pub struct SqliteStore {
    pub(super) conn: Connection,
    path: PathBuf,
    /// The database file's (device, inode) when opened: a write checks the
    /// file is still there and still the same, so a run whose state
    /// directory was removed (or replaced) fails instead of writing to a
    /// file nobody can see.
    identity: Option<(u64, u64)>,
    /// Where committed events are published as CloudEvents, if anywhere.
    sink: Option<crate::cloudevents::EventSink>,
    /// Workflow names of runs, for the CloudEvents of the sink.
    workflows: std::collections::HashMap<String, String>,
}

pub(crate) fn describe(path: &Path, e: rusqlite::Error) -> StateError {
    use rusqlite::ffi::ErrorCode;
    let shown = path.display();
    match &e {
        rusqlite::Error::SqliteFailure(f, _) if f.code == ErrorCode::NotADatabase => {
            mark_damaged(path);
            StateError(format!("{shown} is not a flowc state database (the file is not an SQLite database); {RECOVER}"))
        }
        rusqlite::Error::SqliteFailure(f, _) if f.code == ErrorCode::DatabaseCorrupt => {
            mark_damaged(path);
            StateError(format!("the state database {shown} is damaged ({e}); flowc will not write to it. {RECOVER}"))
        }
        // A commit the commit hook refused.
        rusqlite::Error::SqliteFailure(f, _) if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_COMMITHOOK => {
            refusal(path, None).unwrap_or_else(|| {
                StateError(format!(
                    "the state database {shown} was removed or replaced while flowc was using it; \
                     nothing more can be recorded, and what the run did since then is lost"
                ))
            })
        }
        rusqlite::Error::SqliteFailure(f, _) if f.code == ErrorCode::DatabaseBusy => {
            StateError(format!("the state database {shown} stayed locked by another process for too long"))
        }
        _ => StateError(format!("state database {shown}: {e}")),
    }
}

/// How to recover a damaged database, in every message that reports one.
pub(super) const RECOVER: &str = "To recover: restore a backup of the file, or copy what is readable into a new \
database with `sqlite3 state.db .recover | sqlite3 recovered.db` and use that (`--state recovered.db`), \
or move the file aside to start afresh";

/// State databases that reported damage in this process: nothing is written
/// to them again, whichever connection asks.
static DAMAGED: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

fn mark_damaged(path: &Path) {
    let mut damaged = DAMAGED.lock().unwrap_or_else(|e| e.into_inner());
    if !damaged.iter().any(|p| p == path) {
        damaged.push(path.to_path_buf());
    }
}

/// Whether this process has opened (and so checked) the file at `path`
/// before — the same file: a new one put at the path is checked again.
/// Remembers it.
fn opened_before(path: &Path) -> bool {
    type Seen = Vec<(PathBuf, Option<(u64, u64)>)>;
    static CHECKED: std::sync::Mutex<Seen> = std::sync::Mutex::new(Vec::new());
    let key = (path.to_path_buf(), file_identity(path));
    let mut checked = CHECKED.lock().unwrap_or_else(|e| e.into_inner());
    if checked.contains(&key) {
        return true;
    }
    checked.push(key);
    false
}

fn is_damaged(path: &Path) -> bool {
    DAMAGED.lock().unwrap_or_else(|e| e.into_inner()).iter().any(|p| p == path)
}

/// Why nothing may be written to the database at `path` any more, if so.
fn refusal(path: &Path, identity: Option<(u64, u64)>) -> Option<StateError> {
    let shown = path.display();
    if is_damaged(path) {
        return Some(StateError(format!("the state database {shown} is damaged; flowc will not write to it. {RECOVER}")));
    }
    if let Some(id) = identity
        && file_identity(path) != Some(id) {
            return Some(StateError(format!(
                "the state database {shown} was removed or replaced while flowc was using it; \
                 nothing more can be recorded, and what the run did since then is lost"
            )));
        }
    None
}

fn tables_exist(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row("SELECT count(*) > 0 FROM sqlite_master", [], |r| r.get(0))
}

fn file_identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

fn json_text(value: &serde_json::Value) -> String {
    value.to_string()
}

/// A stored JSON text as a value (text that is not JSON as a string).
pub(super) fn parse_json_text(text: String) -> serde_json::Value {
    serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
}

/// An optional stored JSON text as a value (text that is not JSON as a string).
pub(super) fn parse_json(text: Option<String>) -> Option<serde_json::Value> {
    text.map(parse_json_text)
}

impl SqliteStore {
    /// Opens (creating if needed) and migrates the database at `path`.
    pub fn open(path: &Path) -> Result<SqliteStore, StateError> {
        files::check_before_open(path)?;
        let conn = Connection::open(path).map_err(|e| describe(path, e))?;
        let mut store = SqliteStore { conn, path: path.to_path_buf(), identity: None, sink: None, workflows: Default::default() };
        store.prepare().map_err(|e| describe(path, e)).and_then(|r| r)?;
        files::make_private(path);
        store.identity = file_identity(path);
        // Every commit, whoever makes it (a batch of ops, a single
        // statement), is refused once the database is known to be damaged or
        // its file is gone: SQLite then rolls it back.
        let (p, id) = (path.to_path_buf(), store.identity);
        store.conn.commit_hook(Some(move || refusal(&p, id).is_some()));
        Ok(store)
    }

    /// Begins a write transaction (IMMEDIATE: see [`Store::apply`]) unless
    /// the database is known to be damaged or its file is gone or replaced.
    pub(super) fn write_tx(&mut self) -> Result<rusqlite::Transaction<'_>, StateError> {
        if let Some(refused) = refusal(&self.path, self.identity) {
            return Err(refused);
        }
        let path = self.path.clone();
        self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(|e| describe(&path, e))
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Publishes every event this store commits to `sink` (after the commit).
    pub fn with_sink(mut self, sink: Option<crate::cloudevents::EventSink>) -> Self {
        self.sink = sink;
        self
    }

    pub(super) fn conn(&mut self) -> &mut Connection {
        &mut self.conn
    }

    pub(super) fn conn_ref(&self) -> &Connection {
        &self.conn
    }

    fn prepare(&mut self) -> rusqlite::Result<Result<(), StateError>> {
        let conn = &mut self.conn;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        let app_id: i32 = conn.query_row("PRAGMA application_id", [], |r| r.get(0))?;
        let version: i32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let shown = self.path.display();
        if version > SCHEMA_VERSION {
            return Ok(Err(StateError(format!(
                "the state database {shown} has schema version {version}, written by a newer flowc; \
                 this flowc understands up to version {SCHEMA_VERSION}. Use the newer flowc, or --state for another database"
            ))));
        }
        if app_id != APPLICATION_ID {
            let tables: i64 = conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))?;
            if app_id != 0 || version != 0 || tables != 0 {
                return Ok(Err(StateError(format!(
                    "{shown} is an SQLite database, but not a flowc state database; use --state for another path"
                ))));
            }
        }
        // Damage is found on open, before anything writes: `quick_check`
        // reads every page once (1–3 ms per megabyte here: docs/runs.md),
        // without the index cross-checks of `integrity_check`. Once per
        // database and process: `flowc serve` and `approve` open the store
        // again per run they continue, and damage found later poisons the
        // path anyway (`mark_damaged`).
        if !opened_before(&self.path) && tables_exist(conn)? {
            let verdict: String = conn.query_row("PRAGMA quick_check(1)", [], |r| r.get(0))?;
            if verdict != "ok" {
                mark_damaged(&self.path);
                return Ok(Err(StateError(format!(
                    "the state database {shown} is damaged ({verdict}); flowc will not write to it. {RECOVER}"
                ))));
            }
        }
        // WAL must be set outside a transaction; it persists in the file.
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if mode != "wal" && mode != "memory" {
            return Ok(Err(StateError(format!("cannot switch {shown} to WAL mode (got {mode})"))));
        }
        conn.execute_batch("PRAGMA synchronous = NORMAL;")?;
        for (i, migration) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            // Two processes may open a new database at once: take the write
            // lock first and skip a migration the other one applied meanwhile.
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let current: i32 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
            if current > i as i32 {
                tx.commit()?;
                continue;
            }
            tx.execute_batch(migration)?;
            tx.execute_batch(&format!("PRAGMA user_version = {}; PRAGMA application_id = {APPLICATION_ID};", i + 1))?;
            tx.commit()?;
        }
        Ok(Ok(()))
    }

    pub(super) fn err(&self, e: rusqlite::Error) -> StateError {
        describe(&self.path, e)
    }

    pub(super) fn run_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<RunRecord> {
        let status: String = row.get(6)?;
        Ok(RunRecord {
            id: row.get(0)?,
            plan_id: row.get(1)?,
            workflow: row.get(2)?,
            parent_run: row.get(3)?,
            parent_step: row.get(4)?,
            depth: row.get(5)?,
            status: RunStatus::parse(&status).unwrap_or(RunStatus::Failed),
            inputs: parse_json(row.get(7)?).unwrap_or(serde_json::Value::Null),
            outputs: parse_json(row.get(8)?),
            cost_usd: row.get(9)?,
            error: row.get(10)?,
            project_dir: row.get(11)?,
            created_at: row.get(12)?,
            started_at: row.get(13)?,
            finished_at: row.get(14)?,
        })
    }

    pub(super) const RUN_COLUMNS: &'static str = "id, plan_id, workflow, parent_run, parent_step, depth, status, inputs, outputs, \
         cost_usd, error, project_dir, created_at, started_at, finished_at";

    /// An attempt that started and ended (or got its pid) within one batch:
    /// one row written whole instead of an insert and one or two updates.
    /// `started` is the `AttemptStarted` op, `finished` its `AttemptFinished`.
    fn insert_attempt<'a>(
        tx: &rusqlite::Transaction<'_>,
        started: &'a Op,
        finished: Option<&Op>,
        pid: Option<i64>,
        numbering: &mut Numbering<'a>,
    ) -> rusqlite::Result<()> {
        let Op::AttemptStarted { run, step_id, step, attempt, at } = started else {
            return Self::apply_one(tx, started, numbering).map(|_| ());
        };
        let (status, exit_code, error, finished_at, duration_ms) = match finished {
            Some(Op::AttemptFinished { status, exit_code, error, at, duration_ms, .. }) => {
                (status.as_str(), *exit_code, error.as_deref(), Some(at.as_str()), Some(*duration_ms))
            }
            _ => ("running", None, None, None, None),
        };
        tx.prepare_cached(
            "INSERT OR REPLACE INTO step_runs (run_id, step_id, step, attempt, status, pid, exit_code, error, \
             started_at, finished_at, duration_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )?
        .execute(params![run, step_id, step, attempt, status, pid, exit_code, error, at, finished_at, duration_ms])?;
        Ok(())
    }

    /// Writes one op; an event's sequence number is returned, for the sink.
    fn apply_one<'a>(tx: &rusqlite::Transaction<'_>, op: &'a Op, numbering: &mut Numbering<'a>) -> rusqlite::Result<Option<i64>> {
        match op {
            Op::Event { run, step, event, payload, at } => {
                let seq = numbering.next(tx, "step_events", run)?;
                tx.prepare_cached("INSERT INTO step_events (run_id, seq, step, event, payload, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?
                    .execute(params![run, seq, step, event.as_str(), json_text(payload), at])?;
                return Ok(Some(seq));
            }
            Op::Checkpoint { run, step_id, step, attempt, files, at } => {
                let seq = numbering.next(tx, "checkpoints", run)?;
                tx.prepare_cached("INSERT INTO checkpoints (run_id, seq, step_id, step, attempt, files, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")?
                    .execute(params![run, seq, step_id, step, attempt, files.to_string(), at])?;
            }
            Op::RunStatus { run, status, error, outputs, started_at, finished_at } => {
                tx.prepare_cached(
                    "UPDATE workflow_runs SET status = ?2, error = COALESCE(?3, error), outputs = COALESCE(?4, outputs), \
                     started_at = COALESCE(?5, started_at), finished_at = ?6 WHERE id = ?1",
                )?
                .execute(params![
                    run,
                    status.as_str(),
                    error,
                    outputs.as_ref().map(json_text),
                    started_at,
                    finished_at
                ])?;
            }
            Op::RunCost { run, cost_usd } => {
                tx.prepare_cached("UPDATE workflow_runs SET cost_usd = ?2 WHERE id = ?1")?.execute(params![run, cost_usd])?;
            }
            Op::StepState(s) => {
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO step_states (run_id, step_id, step, status, attempts, output, stdout, stderr, \
                     cost_usd, error, started_at, finished_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                )?
                .execute(params![
                    s.run,
                    s.step_id,
                    s.step,
                    s.status.as_str(),
                    s.attempts,
                    s.output.as_ref().map(json_text),
                    s.stdout,
                    s.stderr,
                    s.cost_usd,
                    s.error,
                    s.started_at,
                    s.finished_at
                ])?;
            }
            Op::StepsPending { run, steps } => {
                let mut insert = tx.prepare_cached(
                    "INSERT OR REPLACE INTO step_states (run_id, step_id, step, status, attempts, output, stdout, stderr, \
                     cost_usd, error, started_at, finished_at) VALUES (?1, ?2, ?3, 'pending', 0, NULL, NULL, NULL, 0.0, NULL, NULL, NULL)",
                )?;
                for (step_id, step) in steps {
                    insert.execute(params![run, step_id, step])?;
                }
            }
            Op::AttemptStarted { run, step_id, step, attempt, at } => {
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO step_runs (run_id, step_id, step, attempt, status, started_at) \
                     VALUES (?1, ?2, ?3, ?4, 'running', ?5)",
                )?
                .execute(params![run, step_id, step, attempt, at])?;
            }
            Op::AttemptPid { run, step_id, attempt, pid } => {
                tx.prepare_cached("UPDATE step_runs SET pid = ?4 WHERE run_id = ?1 AND step_id = ?2 AND attempt = ?3")?
                    .execute(params![run, step_id, attempt, pid])?;
            }
            Op::AttemptFinished { run, step_id, attempt, status, exit_code, error, at, duration_ms } => {
                tx.prepare_cached(
                    "UPDATE step_runs SET status = ?4, exit_code = ?5, error = ?6, finished_at = ?7, duration_ms = ?8 \
                     WHERE run_id = ?1 AND step_id = ?2 AND attempt = ?3",
                )?
                .execute(params![run, step_id, attempt, status.as_str(), exit_code, error, at, duration_ms])?;
            }
            Op::AttemptBlocked { .. } | Op::GateRequestHandled { .. } | Op::EventDelivered { .. } => {
                decision::apply_op(tx, op)?;
            }
            other => checkpoint::apply_op(tx, other)?,
        }
        Ok(None)
    }
}

/// The last sequence number of each run's events and of its checkpoints
/// that a batch appends to, read once per run and table and counted on: the
/// batch's transaction holds the write lock, and nothing else appends to
/// these tables, so the numbers are the ones a `MAX(seq) + 1` per insert
/// gives, without an index search per row.
#[derive(Default)]
struct Numbering<'a> {
    last: HashMap<(&'static str, &'a str), i64>,
}

impl<'a> Numbering<'a> {
    /// The next number of `run` in `table` (`step_events` or `checkpoints`).
    fn next(&mut self, tx: &rusqlite::Transaction<'_>, table: &'static str, run: &'a str) -> rusqlite::Result<i64> {
        let seq = match self.last.entry((table, run)) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                let max: i64 = tx.query_row(&format!("SELECT COALESCE(MAX(seq), 0) FROM {table} WHERE run_id = ?1"), [run], |r| r.get(0))?;
                e.insert(max)
            }
        };
        *seq += 1;
        Ok(*seq)
    }
}

/// How an op of a batch is written when [`merge_attempts`] folded it.
#[derive(Debug, PartialEq)]
enum Merged {
    /// An `AttemptStarted` written as one row with its later pid and end.
    Into { finished: usize, pid: Option<i64> },
    /// An `AttemptPid` or `AttemptFinished` already in that row.
    Skip,
}

/// Finds the attempts of a batch whose row can be written once: an
/// `AttemptStarted` followed, for the same attempt, by `AttemptPid`s and an
/// `AttemptFinished`, with nothing else touching that row between. The ops
/// are applied in one transaction either way, so the rows it leaves are the
/// ones the ops applied one by one leave; this only saves an update per
/// attempt (one statement in six of a step).
fn merge_attempts(ops: &[Op]) -> HashMap<usize, Merged> {
    let mut merged = HashMap::new();
    /// An attempt started in the batch: the index of its `AttemptStarted`,
    /// of its `AttemptPid`s so far, and the last pid.
    type Open = (usize, Vec<usize>, Option<i64>);
    let mut open: HashMap<(&str, u32, u32), Open> = HashMap::new();
    for (i, op) in ops.iter().enumerate() {
        match op {
            Op::AttemptStarted { run, step_id, attempt, .. } => {
                open.insert((run.as_str(), *step_id, *attempt), (i, Vec::new(), None));
            }
            Op::AttemptPid { run, step_id, attempt, pid } => {
                if let Some((_, pids, last)) = open.get_mut(&(run.as_str(), *step_id, *attempt)) {
                    pids.push(i);
                    *last = Some(*pid);
                }
            }
            Op::AttemptFinished { run, step_id, attempt, .. } => {
                if let Some((started, pids, pid)) = open.remove(&(run.as_str(), *step_id, *attempt)) {
                    merged.insert(started, Merged::Into { finished: i, pid });
                    for p in pids {
                        merged.insert(p, Merged::Skip);
                    }
                    merged.insert(i, Merged::Skip);
                }
            }
            Op::AttemptBlocked { run, step_id, attempt } => {
                open.remove(&(run.as_str(), *step_id, *attempt));
            }
            _ => {}
        }
    }
    merged
}

/// A short, sortable, unique-enough run id: `20261121-100000-3f2a`.
fn new_run_id() -> String {
    let now = time::rfc3339_ms(time::now_ms());
    let stamp: String = now[..19].chars().filter(|c| c.is_ascii_digit() || *c == 'T').collect::<String>().replace('T', "-");
    // RandomState is seeded from the OS per process; mixing in the clock and
    // the pid keeps ids from two processes in the same second apart.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_i64(time::now_ms());
    h.write_u32(std::process::id());
    format!("{stamp}-{:04x}", h.finish() & 0xffff)
}

impl Store for SqliteStore {
    fn put_plan(&mut self, format_version: u32, body: &str) -> Result<i64, StateError> {
        self.conn
            .execute(
                "INSERT INTO plans (format_version, body, created_at) VALUES (?1, ?2, ?3)",
                params![format_version, body, time::now()],
            )
            .map_err(|e| self.err(e))?;
        Ok(self.conn.last_insert_rowid())
    }

    fn plan(&self, plan_id: i64) -> Result<String, StateError> {
        self.conn
            .query_row("SELECT body FROM plans WHERE id = ?1", [plan_id], |r| r.get(0))
            .map_err(|e| self.err(e))
    }

    fn create_run(&mut self, new: &NewRun) -> Result<String, StateError> {
        for _ in 0..20 {
            let id = new_run_id();
            let inserted = self
                .conn
                .execute(
                    "INSERT OR IGNORE INTO workflow_runs (id, plan_id, workflow, parent_run, parent_step, depth, status, \
                     inputs, project_dir, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7, ?8, ?9)",
                    params![
                        id,
                        new.plan_id,
                        new.workflow,
                        new.parent_run,
                        new.parent_step,
                        new.depth,
                        json_text(&new.inputs),
                        new.project_dir,
                        time::now()
                    ],
                )
                .map_err(|e| self.err(e))?;
            if inserted == 1 {
                return Ok(id);
            }
        }
        Err(StateError("could not find a free run id".into()))
    }

    fn apply(&mut self, ops: &[Op]) -> Result<(), StateError> {
        if ops.is_empty() {
            return Ok(());
        }
        let path = self.path.clone();
        // IMMEDIATE: the write lock is taken (waiting out `busy_timeout`) before
        // the batch reads anything. A deferred transaction that reads and then
        // writes fails at once with SQLITE_BUSY when another connection wrote
        // in between (in WAL mode its snapshot is stale), which `flowc serve`,
        // running several runs at once, hit under load. Every write
        // transaction of the state database is IMMEDIATE for that reason.
        let with_sink = self.sink.is_some();
        let tx = self.write_tx()?;
        // With a sink, remember each event's sequence number to publish it after the commit.
        let mut published = Vec::new();
        let merged = merge_attempts(ops);
        let mut numbering = Numbering::default();
        for (i, op) in ops.iter().enumerate() {
            let seq = match merged.get(&i) {
                Some(Merged::Into { finished, pid }) => {
                    Self::insert_attempt(&tx, op, ops.get(*finished), *pid, &mut numbering).map_err(|e| describe(&path, e))?;
                    None
                }
                Some(Merged::Skip) => None,
                None => Self::apply_one(&tx, op, &mut numbering).map_err(|e| describe(&path, e))?,
            };
            if let (true, Some(seq)) = (with_sink, seq) {
                published.push((op, seq));
            }
        }
        tx.commit().map_err(|e| describe(&path, e))?;
        if let Some(sink) = &self.sink {
            for (op, seq) in published {
                if let Op::Event { run, step, event, payload, at } = op {
                    if !self.workflows.contains_key(run) {
                        let name: String = self
                            .conn
                            .query_row("SELECT workflow FROM workflow_runs WHERE id = ?1", [run], |r| r.get(0))
                            .unwrap_or_default();
                        self.workflows.insert(run.clone(), name);
                    }
                    let workflow = self.workflows.get(run).map(String::as_str).unwrap_or("");
                    sink.publish(crate::cloudevents::run_event(run, workflow, step.as_deref(), event.as_str(), payload, at, seq));
                }
            }
        }
        Ok(())
    }

    fn run(&self, id: &str) -> Result<Option<RunRecord>, StateError> {
        self.conn
            .query_row(&format!("SELECT {} FROM workflow_runs WHERE id = ?1", Self::RUN_COLUMNS), [id], Self::run_from_row)
            .optional()
            .map_err(|e| self.err(e))
    }

    fn runs(&self, limit: usize) -> Result<Vec<RunRecord>, StateError> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {} FROM workflow_runs ORDER BY created_at DESC, rowid DESC LIMIT ?1",
                Self::RUN_COLUMNS
            ))
            .map_err(|e| self.err(e))?;
        let rows = stmt.query_map([limit as i64], Self::run_from_row).map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.err(e))
    }


    fn step_states(&self, run: &str) -> Result<Vec<StepState>, StateError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT step_id, step, status, attempts, output, stdout, stderr, cost_usd, error, started_at, finished_at \
                 FROM step_states WHERE run_id = ?1 ORDER BY step_id",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([run], |r| {
                let status: String = r.get(2)?;
                Ok(StepState {
                    run: run.to_string(),
                    step_id: r.get(0)?,
                    step: r.get(1)?,
                    status: StepStatus::parse(&status).unwrap_or(StepStatus::Pending),
                    attempts: r.get(3)?,
                    output: parse_json(r.get(4)?),
                    stdout: r.get(5)?,
                    stderr: r.get(6)?,
                    cost_usd: r.get(7)?,
                    error: r.get(8)?,
                    started_at: r.get(9)?,
                    finished_at: r.get(10)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.err(e))
    }

    fn attempts(&self, run: &str) -> Result<Vec<AttemptRecord>, StateError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT step_id, step, attempt, status, pid, exit_code, error, started_at, finished_at, duration_ms \
                 FROM step_runs WHERE run_id = ?1 ORDER BY started_at, step_id, attempt",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([run], |r| {
                let status: String = r.get(3)?;
                Ok(AttemptRecord {
                    step_id: r.get(0)?,
                    step: r.get(1)?,
                    attempt: r.get(2)?,
                    status: StepStatus::parse(&status).unwrap_or(StepStatus::Pending),
                    pid: r.get(4)?,
                    exit_code: r.get(5)?,
                    error: r.get(6)?,
                    started_at: r.get(7)?,
                    finished_at: r.get(8)?,
                    duration_ms: r.get(9)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.err(e))
    }

    fn events(&self, run: &str) -> Result<Vec<EventRecord>, StateError> {
        let mut stmt = self
            .conn
            .prepare("SELECT seq, step, event, payload, at FROM step_events WHERE run_id = ?1 ORDER BY seq")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([run], |r| {
                Ok(EventRecord {
                    seq: r.get(0)?,
                    step: r.get(1)?,
                    event: r.get(2)?,
                    payload: parse_json(r.get(3)?).unwrap_or(serde_json::Value::Null),
                    at: r.get(4)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.err(e))
    }

    fn request_control(&mut self, run: &str, control: Control) -> Result<i64, StateError> {
        self.conn
            .execute(
                "INSERT INTO run_controls (run_id, action, requested_at) VALUES (?1, ?2, ?3)",
                params![run, control.as_str(), time::now()],
            )
            .map_err(|e| self.err(e))?;
        Ok(self.conn.last_insert_rowid())
    }

    fn controls_after(&self, run: &str, after: i64) -> Result<Vec<(i64, Control)>, StateError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, action FROM run_controls WHERE run_id = ?1 AND id > ?2 ORDER BY id")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![run, after], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, action) = row.map_err(|e| self.err(e))?;
            if let Some(c) = Control::parse(&action) {
                out.push((id, c));
            }
        }
        Ok(out)
    }

    fn last_control_id(&self, run: &str) -> Result<i64, StateError> {
        self.conn
            .query_row("SELECT COALESCE(MAX(id), 0) FROM run_controls WHERE run_id = ?1", [run], |r| r.get(0))
            .map_err(|e| self.err(e))
    }

    fn sink(&self) -> Option<&crate::cloudevents::EventSink> {
        self.sink.as_ref()
    }

    fn stats(&self) -> Result<Vec<WorkflowStats>, StateError> {
        let mut by_workflow: BTreeMap<String, (WorkflowStats, Vec<i64>)> = BTreeMap::new();
        let mut stmt = self
            .conn
            .prepare("SELECT workflow, status, cost_usd, started_at, finished_at FROM workflow_runs")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, f64>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, Option<String>>(4)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        for row in rows {
            let (workflow, status, cost, started, finished) = row.map_err(|e| self.err(e))?;
            let entry = by_workflow.entry(workflow.clone()).or_insert_with(|| {
                (
                    WorkflowStats {
                        workflow,
                        runs: 0,
                        by_status: BTreeMap::new(),
                        avg_duration_ms: None,
                        retries: 0,
                        cost_usd: 0.0,
                    },
                    Vec::new(),
                )
            });
            entry.0.runs += 1;
            *entry.0.by_status.entry(status).or_insert(0) += 1;
            entry.0.cost_usd += cost;
            if let (Some(s), Some(f)) = (started.and_then(|s| time::parse_rfc3339(&s)), finished.and_then(|f| time::parse_rfc3339(&f))) {
                entry.1.push(f - s);
            }
        }
        let mut retries = self
            .conn
            .prepare(
                "SELECT r.workflow, count(*) FROM step_runs s JOIN workflow_runs r ON r.id = s.run_id \
                 WHERE s.attempt > 1 GROUP BY r.workflow",
            )
            .map_err(|e| self.err(e))?;
        let rows = retries
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .map_err(|e| self.err(e))?;
        for row in rows {
            let (workflow, n) = row.map_err(|e| self.err(e))?;
            if let Some(entry) = by_workflow.get_mut(&workflow) {
                entry.0.retries = n;
            }
        }
        Ok(by_workflow
            .into_values()
            .map(|(mut stats, durations)| {
                if !durations.is_empty() {
                    stats.avg_duration_ms = Some(durations.iter().sum::<i64>() as f64 / durations.len() as f64);
                }
                stats
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("flowc-state-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("state.db")
    }

    /// A run of workflow `w` of a new empty plan.
    fn new_run(store: &mut SqliteStore) -> String {
        let plan = store.put_plan(1, "{}").unwrap();
        store
            .create_run(&NewRun {
                plan_id: plan,
                workflow: "w".into(),
                parent_run: None,
                parent_step: None,
                depth: 0,
                inputs: serde_json::json!({}),
                project_dir: ".".into(),
            })
            .unwrap()
    }

    #[test]
    fn events_are_append_only() {
        let path = temp("append");
        let mut store = SqliteStore::open(&path).unwrap();
        let run = new_run(&mut store);
        let event = |e| Op::Event { run: run.clone(), step: None, event: e, payload: serde_json::json!({}), at: time::now() };
        store.apply(&[event(EventKind::Started), event(EventKind::Completed)]).unwrap();
        let events = store.events(&run).unwrap();
        assert_eq!(events.iter().map(|e| (e.seq, e.event.as_str())).collect::<Vec<_>>(), vec![(1, "started"), (2, "completed")]);
        let err = store.conn.execute("UPDATE step_events SET event = 'x'", []).unwrap_err();
        assert!(err.to_string().contains("append-only"), "{err}");
        let err = store.conn.execute("DELETE FROM step_events", []).unwrap_err();
        assert!(err.to_string().contains("append-only"), "{err}");
    }

    #[test]
    fn events_of_several_runs_in_one_batch_are_numbered_per_run_across_batches() {
        let path = temp("seq");
        let mut store = SqliteStore::open(&path).unwrap();
        let (a, b) = (new_run(&mut store), new_run(&mut store));
        // Each event carries a label (in its payload) saying which it should be.
        let event = |run: &str, label: &str| Op::Event {
            run: run.to_string(),
            step: None,
            event: EventKind::Started,
            payload: serde_json::json!({ "label": label }),
            at: time::now(),
        };
        store.apply(&[event(&a, "a1")]).unwrap();
        store.apply(&[event(&b, "b1"), event(&a, "a2"), event(&b, "b2"), event(&a, "a3")]).unwrap();
        store.apply(&[event(&a, "a4"), event(&b, "b3")]).unwrap();
        let seqs = |store: &SqliteStore, run: &str| {
            store.events(run).unwrap().into_iter().map(|e| (e.seq, e.payload["label"].as_str().unwrap().to_string())).collect::<Vec<_>>()
        };
        let want = |p: &str, n: i64| (1..=n).map(|i| (i, format!("{p}{i}"))).collect::<Vec<_>>();
        assert_eq!(seqs(&store, &a), want("a", 4));
        assert_eq!(seqs(&store, &b), want("b", 3));
        let checkpoint = |run: &str, step_id: u32| Op::Checkpoint {
            run: run.to_string(),
            step_id,
            step: format!("s{step_id}"),
            attempt: 1,
            files: serde_json::json!({}),
            at: time::now(),
        };
        store.apply(&[checkpoint(&a, 0)]).unwrap();
        store.apply(&[checkpoint(&b, 0), checkpoint(&a, 1), event(&a, "a5"), checkpoint(&a, 2)]).unwrap();
        store.apply(&[checkpoint(&b, 1)]).unwrap();
        let numbered = |run: &str| store.checkpoints(run).unwrap().into_iter().map(|c| (c.seq, c.step_id)).collect::<Vec<_>>();
        assert_eq!(numbered(&a), vec![(1, 0), (2, 1), (3, 2)]);
        assert_eq!(numbered(&b), vec![(1, 0), (2, 1)]);
        assert_eq!(seqs(&store, &a), want("a", 5));
    }

    #[test]
    fn attempts_merged_in_one_batch_leave_the_rows_applied_one_by_one() {
        let batch = |run: &str| {
            let run = run.to_string();
            let started = |s: u32, a: u32| Op::AttemptStarted { run: run.clone(), step_id: s, step: format!("s{s}"), attempt: a, at: format!("t{s}.{a}") };
            let pid = |s: u32, a: u32, pid: i64| Op::AttemptPid { run: run.clone(), step_id: s, attempt: a, pid };
            let finished = |s: u32, a: u32, status: StepStatus| Op::AttemptFinished {
                run: run.clone(),
                step_id: s,
                attempt: a,
                status,
                exit_code: (status == StepStatus::Failed).then_some(3),
                error: (status == StepStatus::Failed).then(|| "boom".to_string()),
                at: format!("end{s}.{a}"),
                duration_ms: i64::from(s * 10 + a),
            };
            vec![
                started(0, 1),
                pid(0, 1, 100),
                finished(0, 1, StepStatus::Completed),
                started(1, 1),
                finished(1, 1, StepStatus::Failed),
                started(1, 2),
                pid(1, 2, 101),
                pid(1, 2, 102),
                finished(1, 2, StepStatus::Completed),
                // Started and given a pid, still running at the end of the batch.
                started(2, 1),
                pid(2, 1, 103),
                // Blocked between its start and its end: applied op by op.
                started(3, 1),
                Op::AttemptBlocked { run: run.clone(), step_id: 3, attempt: 1 },
                finished(3, 1, StepStatus::Completed),
                // Started again within the batch: the second row replaces the first.
                started(4, 1),
                pid(4, 1, 104),
                started(4, 1),
                finished(4, 1, StepStatus::Completed),
                // Its end comes in a later batch.
                started(5, 1),
            ]
        };
        let mut whole = SqliteStore::open(&temp("merged-whole")).unwrap();
        let run = new_run(&mut whole);
        let ops = batch(&run);
        let merged = merge_attempts(&ops);
        assert_eq!(merged.get(&0), Some(&Merged::Into { finished: 2, pid: Some(100) }));
        assert_eq!(merged.get(&5), Some(&Merged::Into { finished: 8, pid: Some(102) }));
        assert!(!merged.contains_key(&9) && !merged.contains_key(&11), "{merged:?}");
        whole.apply(&ops).unwrap();
        let late = vec![Op::AttemptFinished {
            run: run.clone(),
            step_id: 5,
            attempt: 1,
            status: StepStatus::Completed,
            exit_code: Some(0),
            error: None,
            at: "late".into(),
            duration_ms: 7,
        }];
        whole.apply(&late).unwrap();

        let mut single = SqliteStore::open(&temp("merged-single")).unwrap();
        let run2 = new_run(&mut single);
        let rename = |op: Op| match op {
            Op::AttemptFinished { step_id, attempt, status, exit_code, error, at, duration_ms, .. } => {
                Op::AttemptFinished { run: run2.clone(), step_id, attempt, status, exit_code, error, at, duration_ms }
            }
            other => other,
        };
        for op in batch(&run2).into_iter().chain(late.into_iter().map(rename)) {
            single.apply(&[op]).unwrap();
        }
        let strip = |rows: Vec<AttemptRecord>| rows.into_iter().map(|r| format!("{r:?}")).collect::<Vec<_>>();
        let (a, b) = (strip(whole.attempts(&run).unwrap()), strip(single.attempts(&run2).unwrap()));
        assert_eq!(a.len(), 7, "{a:#?}");
        assert_eq!(a, b);
    }

    #[test]
    fn newer_schema_is_refused() {
        let path = temp("newer");
        drop(SqliteStore::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("PRAGMA user_version = 99").unwrap();
        drop(conn);
        let err = SqliteStore::open(&path).err().unwrap();
        assert!(err.0.contains("newer flowc"), "{err}");
    }

    #[test]
    fn foreign_and_corrupt_files_are_refused() {
        let path = temp("foreign");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE other (x)").unwrap();
        drop(conn);
        let err = SqliteStore::open(&path).err().unwrap();
        assert!(err.0.contains("not a flowc state database"), "{err}");

        let path = temp("corrupt");
        std::fs::write(&path, vec![0x42u8; 8192]).unwrap();
        let err = SqliteStore::open(&path).err().unwrap();
        assert!(err.0.contains("not a flowc state database"), "{err}");
    }
}
