//! Delivering inbound events, once for `flowc event send` and `flowc serve`: store them, find the runs waiting for each, create the runs its `on event` triggers fire; and continue a run that waits for one.

use serde_json::Value;

use super::inbox::{store_events, waiting_for, Stored, Waiting};
use super::triggers::{create_for_event, Created};
use super::{Error, RunOptions, Steered};
use crate::plan::LoadedPlan;
use crate::state::{RunOrigin, RunStatus, Store};

/// What delivering one event did.
#[derive(Debug)]
pub struct Delivered {
    /// The event as stored, with its sequence number; a duplicate (same
    /// source and id as one received before) does nothing else.
    pub stored: Stored,
    /// The blocked `wait` steps it satisfies, found before any trigger's run
    /// exists: the runs that were waiting when it arrived.
    pub waiting: Vec<Waiting>,
    /// The runs its `on event` triggers created, not yet started; a run
    /// whose inputs did not fit is recorded failed (`Created::error`).
    pub created: Vec<Result<Created, Error>>,
    /// Trigger filters that could not be evaluated.
    pub problems: Vec<String>,
}

/// Validates and stores `events` (all or none), then, for each new one, finds
/// the runs waiting for it and creates the runs that `plans`' `on event`
/// triggers fire, started by `origin(event)`. Nothing is started here: the
/// caller continues the waiting runs ([`continue_waiting`]) and starts the
/// created ones where it runs them.
pub fn deliver(
    store: &mut dyn Store,
    events: Vec<Value>,
    plans: &[LoadedPlan],
    origin: &dyn Fn(&Value) -> RunOrigin,
    options: &RunOptions,
) -> Result<Vec<Delivered>, Error> {
    let mut out = Vec::new();
    for stored in store_events(store, events)? {
        if stored.duplicate {
            out.push(Delivered { stored, waiting: Vec::new(), created: Vec::new(), problems: Vec::new() });
            continue;
        }
        let waiting = waiting_for(store, stored.seq, &stored.event)?;
        let (created, problems) = if plans.is_empty() {
            (Vec::new(), Vec::new())
        } else {
            create_for_event(plans, &stored.event, &origin(&stored.event), options)
        };
        out.push(Delivered { stored, waiting, created, problems });
    }
    Ok(out)
}

/// The top-level runs to continue for `waiting`, each once, in order.
pub fn roots(waiting: &[Waiting]) -> Vec<String> {
    let mut roots: Vec<String> = Vec::new();
    for w in waiting {
        if !roots.contains(&w.root) {
            roots.push(w.root.clone());
        }
    }
    roots
}

/// Continues `root`, a run an event was delivered to: a blocked run is
/// resumed here ([`Steered::Ran`], or [`Steered::Continues`] when another
/// process took it first); a paused one applies the event when it is resumed
/// ([`Steered::Recorded`]); one that is running already applies it in the
/// process executing it ([`Steered::Continues`]).
pub fn continue_waiting(root: &str, options: &RunOptions) -> Result<Steered, Error> {
    let status = super::open_store(options)?.run(root)?.map(|r| r.status);
    match status {
        Some(RunStatus::Blocked) => super::resume(root, options),
        Some(RunStatus::Paused) => Ok(Steered::Recorded { run: root.to_string(), paused: true }),
        _ => Ok(Steered::Continues { run: root.to_string() }),
    }
}
