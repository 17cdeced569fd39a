//! The `.flow` language server (`flowc lsp`): the only crate that knows LSP
//! types.
//!
//! **Threads.** Three kinds, and one rule: only the state thread writes to
//! the salsa database.
//! - The tokio runtime (one thread) speaks JSON-RPC through
//!   `tower-lsp-server`. Its handlers never compute: a notification is put on
//!   the state thread's queue, a request is put there too, as a job, and the
//!   handler awaits the job's answer.
//! - The state thread ([`state`]) owns the [`flowc_compiler::Database`], the
//!   table of files and the projects. It applies edits in the order they
//!   arrived, then hands each job a *snapshot*: the features' world (a
//!   clone of the database, and the files and projects by compiler path)
//!   plus the server's tables (URIs, versions) as they were at that point
//!   in the stream.
//! - Workers (one short-lived thread per job) run the features and the
//!   diagnostics on their snapshot.
//!
//! **Cancellation.** An edit calls a salsa setter, which blocks until every
//! clone of the database is dropped, after telling the clones to stop: a
//! worker inside a query unwinds with `salsa::Cancelled`. That payload is
//! caught in exactly one place, [`state::run_job`], and turned into the
//! protocol's answer (`ContentModified` for a request whose text changed
//! under it). A request the client cancels (`$/cancelRequest`) is answered
//! `RequestCancelled` by tower-lsp-server, and its worker is stopped through
//! its snapshot's salsa cancellation token.
//!
//! A worker only stops at a query boundary, and a setter waits for every
//! clone: a parse stuck on a pathological text would hold every edit and
//! request behind it. So an edit never waits long for stale work: after
//! [`state::GRACE`] the state thread leaves the stale snapshots on the old
//! database and continues on a fresh one with the same inputs, and a
//! request whose snapshot an edit made stale answers `ContentModified`.
//!
//! **Versions.** Every edit bumps a generation. A diagnostics job is
//! stamped with the generation it started at, and its result is published
//! only if no edit came since; otherwise a newer job is already running and
//! its projects stay dirty until an up-to-date result is accepted. Publishes
//! go through one queue, in order, so an older result can never land after
//! a newer one.

#![deny(missing_docs)]

mod convert;
mod diagnostics;
mod framing;
mod ide;
mod server;
mod snapshot;
mod state;
mod text;
mod workspace;

use std::time::Duration;

pub use server::serve;

/// How the server runs; `flowc lsp` fills it from the environment.
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// Log, after each publish of diagnostics, the time from the first edit
    /// to the publish and the salsa queries that re-executed on the way
    /// (`window/logMessage`, lines starting `flowc-trace `).
    pub trace: bool,
    /// A pause before each request's work. Tests use it to make "a request
    /// is in flight when an edit or a cancellation arrives" deterministic.
    pub request_delay: Option<Duration>,
}

impl Config {
    /// `FLOWC_LSP_TRACE=1` and `FLOWC_LSP_REQUEST_DELAY_MS=N`.
    pub fn from_env() -> Config {
        let trace = std::env::var_os("FLOWC_LSP_TRACE").is_some_and(|v| !v.is_empty() && v != "0");
        let request_delay = std::env::var("FLOWC_LSP_REQUEST_DELAY_MS")
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|ms| *ms > 0)
            .map(Duration::from_millis);
        Config { trace, request_delay }
    }
}

/// Runs the server on stdin/stdout until the client says `exit`. Returns
/// whether `shutdown` came first (the process should then exit 0).
pub fn run_stdio(config: Config) -> std::io::Result<bool> {
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    let clean = runtime.block_on(serve(tokio::io::stdin(), tokio::io::stdout(), config));
    // tokio's stdin reader sits in a blocking read that only the next byte
    // would end; do not wait for it.
    runtime.shutdown_background();
    Ok(clean)
}
