//! The SQLite schema and its versioned migrations.
//!
//! `PRAGMA user_version` is the schema version: migration `i` (0-based) takes
//! the database from version `i` to `i + 1`, inside one transaction.
//! `PRAGMA application_id` marks the file as flowc's, so an unrelated SQLite
//! database is refused rather than written into. A database whose version is
//! above [`SCHEMA_VERSION`] comes from a newer flowc and is refused untouched.
//! Migrations are append-only: never edit one that has shipped.

/// `flow` in ASCII.
pub const APPLICATION_ID: i32 = 0x666c_6f77;

/// The schema version this flowc writes: the number of migrations.
pub const SCHEMA_VERSION: i32 = MIGRATIONS.len() as i32;

/// The migrations, in order: entry N brings a database from version N to N+1.
pub const MIGRATIONS: &[&str] = &[
    // 1: runs, steps, attempts, the event log, control requests.
    r#"
CREATE TABLE plans (
    id             INTEGER PRIMARY KEY,
    format_version INTEGER NOT NULL,
    body           TEXT NOT NULL,
    created_at     TEXT NOT NULL
);

CREATE TABLE workflow_runs (
    id          TEXT PRIMARY KEY,
    plan_id     INTEGER NOT NULL REFERENCES plans(id),
    workflow    TEXT NOT NULL,
    parent_run  TEXT,
    parent_step TEXT,
    depth       INTEGER NOT NULL DEFAULT 0,
    status      TEXT NOT NULL,
    inputs      TEXT NOT NULL,
    outputs     TEXT,
    cost_usd    REAL NOT NULL DEFAULT 0,
    error       TEXT,
    project_dir TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    started_at  TEXT,
    finished_at TEXT
);
CREATE INDEX workflow_runs_parent ON workflow_runs(parent_run, parent_step);

-- The current state of each step of a run: one row per (run, step).
CREATE TABLE step_states (
    run_id      TEXT NOT NULL,
    step_id     INTEGER NOT NULL,
    step        TEXT NOT NULL,
    status      TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    output      TEXT,
    stdout      TEXT,
    stderr      TEXT,
    cost_usd    REAL NOT NULL DEFAULT 0,
    error       TEXT,
    started_at  TEXT,
    finished_at TEXT,
    PRIMARY KEY (run_id, step_id)
) WITHOUT ROWID;

-- One row per attempt of a step.
CREATE TABLE step_runs (
    run_id      TEXT NOT NULL,
    step_id     INTEGER NOT NULL,
    step        TEXT NOT NULL,
    attempt     INTEGER NOT NULL,
    status      TEXT NOT NULL,
    pid         INTEGER,
    exit_code   INTEGER,
    error       TEXT,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    duration_ms INTEGER,
    PRIMARY KEY (run_id, step_id, attempt)
) WITHOUT ROWID;

-- The event log: append-only, numbered per run.
CREATE TABLE step_events (
    run_id  TEXT NOT NULL,
    seq     INTEGER NOT NULL,
    step    TEXT,
    event   TEXT NOT NULL,
    payload TEXT NOT NULL,
    at      TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
CREATE TRIGGER step_events_no_update BEFORE UPDATE ON step_events
BEGIN SELECT RAISE(ABORT, 'step_events is append-only'); END;
CREATE TRIGGER step_events_no_delete BEFORE DELETE ON step_events
BEGIN SELECT RAISE(ABORT, 'step_events is append-only'); END;

-- Lifecycle requests from other processes; the process executing the run polls them.
CREATE TABLE run_controls (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id       TEXT NOT NULL,
    action       TEXT NOT NULL,
    requested_at TEXT NOT NULL
);
CREATE INDEX run_controls_run ON run_controls(run_id, id);
"#,
    // stores, spawns, checkpoints
    r#"
-- Persistent stores with `backend local`: one row per (store, key). `seq`
-- orders writes (eviction takes the lowest); `written_ms` dates them (ttl).
CREATE TABLE store_entries (
    store      TEXT NOT NULL,
    key        TEXT NOT NULL,
    value      TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    written_ms INTEGER NOT NULL,
    written_at TEXT NOT NULL,
    run_id     TEXT,
    PRIMARY KEY (store, key)
) WITHOUT ROWID;
CREATE INDEX store_entries_seq ON store_entries(store, seq);

-- A spawned child run carries the key of its spawn in the parent (`STEP#N`),
-- so a step that runs again does not spawn the same child twice.
ALTER TABLE workflow_runs ADD COLUMN spawn_key TEXT;
CREATE UNIQUE INDEX workflow_runs_spawn ON workflow_runs(parent_run, spawn_key) WHERE spawn_key IS NOT NULL;

-- What a run pinned when it started: its invariants (and their hash), its
-- spawn limits, and the fingerprints of its protected files.
CREATE TABLE run_pins (
    run_id     TEXT PRIMARY KEY,
    hash       TEXT NOT NULL,
    invariants TEXT NOT NULL,
    safety     TEXT NOT NULL,
    files      TEXT NOT NULL,
    pinned_at  TEXT NOT NULL
) WITHOUT ROWID;

-- The item list an `items` or `select` step produced.
CREATE TABLE step_items (
    run_id  TEXT NOT NULL,
    step_id INTEGER NOT NULL,
    items   TEXT NOT NULL,
    PRIMARY KEY (run_id, step_id)
) WITHOUT ROWID;

-- One checkpoint per completed step, in completion order, with the
-- fingerprints of the protected files at that moment.
CREATE TABLE checkpoints (
    run_id  TEXT NOT NULL,
    seq     INTEGER NOT NULL,
    step_id INTEGER NOT NULL,
    step    TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    files   TEXT NOT NULL,
    at      TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;

-- The content of protected files, by fingerprint (rollback and restore put it back).
CREATE TABLE file_blobs (
    hash    TEXT PRIMARY KEY,
    content BLOB NOT NULL
) WITHOUT ROWID;
"#,
    // people & events: who and what started each run and from which
    // definition, approvals and task completions filed by other processes,
    // inbound CloudEvents and which wait step each one satisfied, published
    // workflow versions.
    r#"
CREATE TABLE run_origins (
    run_id           TEXT PRIMARY KEY,
    initiator        TEXT,
    trigger          TEXT NOT NULL,
    trigger_detail   TEXT,
    workflow_version INTEGER,
    plan_hash        TEXT NOT NULL
) WITHOUT ROWID;

-- flowc approve / reject / complete: applied by the process executing the run.
CREATE TABLE gate_requests (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id       TEXT NOT NULL,
    step         TEXT NOT NULL,
    action       TEXT NOT NULL,
    actor        TEXT NOT NULL,
    comment      TEXT,
    output       TEXT,
    requested_at TEXT NOT NULL,
    handled_at   TEXT,
    result       TEXT
);
CREATE INDEX gate_requests_run ON gate_requests(run_id, id);

-- Inbound CloudEvents (flowc event send, POST /events, POST /webhooks/…).
CREATE TABLE inbound_events (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          TEXT NOT NULL,
    source      TEXT NOT NULL,
    type        TEXT NOT NULL,
    subject     TEXT,
    received_at TEXT NOT NULL,
    body        TEXT NOT NULL,
    UNIQUE (source, id)
);
CREATE INDEX inbound_events_received ON inbound_events(received_at);

-- Which inbound event satisfied which wait step (one per step and run).
CREATE TABLE event_deliveries (
    run_id    TEXT NOT NULL,
    step      TEXT NOT NULL,
    event_seq INTEGER NOT NULL,
    at        TEXT NOT NULL,
    PRIMARY KEY (run_id, step)
) WITHOUT ROWID;

CREATE TABLE workflow_definitions (
    name           TEXT PRIMARY KEY,
    description    TEXT,
    latest_version INTEGER NOT NULL,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE workflow_versions (
    workflow   TEXT NOT NULL,
    version    INTEGER NOT NULL,
    plan_hash  TEXT NOT NULL,
    plan_id    INTEGER NOT NULL REFERENCES plans(id),
    author     TEXT,
    created_at TEXT NOT NULL,
    PRIMARY KEY (workflow, version)
) WITHOUT ROWID;
CREATE INDEX workflow_versions_hash ON workflow_versions(workflow, plan_hash);
"#,
    // 5: a decision is bound to one attempt of one gate (NULL: filed by an
    // older flowc, for whichever attempt is blocked).
    r#"
ALTER TABLE gate_requests ADD COLUMN attempt INTEGER;
"#,
    // 6: when `flowc serve` last handled each schedule's fire times.
    super::schedules::MIGRATION,
    // 7: API tokens (hashes only), and who decided in full.
    super::auth::MIGRATION,
];
