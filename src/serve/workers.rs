//! The runs `flowc serve` executes: worker threads, one per run, each with
//! its own runtime (as `flowc run` does); resuming at start the runs a
//! previous server left; and the scanner that continues blocked runs with
//! something to act on.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use flowc_interpreter::cloudevents::EventSink;
use flowc_interpreter::runtime::{self, NotifySink, RunOptions};
use flowc_interpreter::state::{Event, RunStatus, Store};

use super::{log, Server};

/// What worker threads need to build their own run options.
#[derive(Clone)]
pub(super) struct RunConfig {
    pub(super) state_path: PathBuf,
    pub(super) project_dir: PathBuf,
    pub(super) notify: NotifySink,
    pub(super) events: Option<EventSink>,
}

impl RunConfig {
    pub(super) fn options(&self) -> RunOptions {
        let mut options = RunOptions::new(self.state_path.clone(), self.project_dir.clone());
        options.notify = self.notify.clone();
        options.events = self.events.clone();
        options
    }
}

/// Runs executing on worker threads.
#[derive(Clone, Default)]
pub(super) struct Workers {
    active: Arc<Mutex<HashSet<String>>>,
    handles: Arc<Mutex<Vec<std::thread::JoinHandle<()>>>>,
}

impl Workers {
    pub(super) fn is_active(&self, run: &str) -> bool {
        self.active.lock().map(|a| a.contains(run)).unwrap_or(false)
    }

    pub(super) fn active(&self) -> Vec<String> {
        self.active.lock().map(|a| a.iter().cloned().collect()).unwrap_or_default()
    }

    /// Starts or continues a run on a thread of its own.
    pub(super) fn start(&self, run: String, config: &RunConfig, why: &str) {
        if let Ok(mut active) = self.active.lock()
            && !active.insert(run.clone())
        {
            return;
        }
        log(&format!("run {run}: {why}"));
        let config = config.clone();
        let active = self.active.clone();
        let handle = std::thread::spawn(move || {
            let options = config.options();
            match runtime::resume(&run, &options) {
                Ok(runtime::Steered::Ran(report)) => {
                    let extra = report.error.as_deref().map(|e| format!(": {e}")).unwrap_or_default();
                    log(&format!("run {run} ({}) {}{extra}", report.workflow, report.status));
                }
                Ok(s) => log(&format!("run {run}: {}", crate::steering::say(crate::steering::Command::Resume, &s).unwrap_or_default())),
                Err(e) => log(&format!("run {run}: {e}")),
            }
            if let Ok(mut a) = active.lock() {
                a.remove(&run);
            }
        });
        if let Ok(mut h) = self.handles.lock() {
            h.retain(|h| !h.is_finished());
            h.push(handle);
        }
    }

    pub(super) fn join_all(&self) {
        let handles: Vec<_> = self.handles.lock().map(|mut h| h.drain(..).collect()).unwrap_or_default();
        for h in handles {
            let _ = h.join();
        }
    }
}

/// At start: runs paused by a previous `flowc serve`'s shutdown continue;
/// runs a trigger created but nobody started (a server that died) start; and
/// runs left `running` by a server that was killed, which no process holds
/// any more, resume (completed steps are not run again).
pub(super) fn resume_after_restart(server: &Server, store: &dyn Store) {
    let runs_dir = runtime::runs_dir_for(&server.config.state_path);
    let unheld = |run: &str| matches!(runtime::lock::try_lock(&runs_dir, run), Ok(Some(_)));
    let pending = store.runs_with_status(&[RunStatus::Pending]).unwrap_or_default();
    for run in pending.into_iter().filter(|r| r.parent_run.is_none() && r.started_at.is_none()) {
        if unheld(&run.id) {
            server.workers.start(run.id, &server.config, "starting a run that was created but never started");
        }
    }
    let running = store.runs_with_status(&[RunStatus::Running]).unwrap_or_default();
    for run in running.into_iter().filter(|r| r.parent_run.is_none()) {
        if unheld(&run.id) {
            server.workers.start(run.id, &server.config, "resuming a run no process was executing any more (the last flowc serve was killed?)");
        }
    }
    let runs = store.runs_with_status(&[RunStatus::Paused]).unwrap_or_default();
    for run in runs.into_iter().filter(|r| r.parent_run.is_none()) {
        let events = store.events(&run.id).unwrap_or_default();
        let last = events.iter().rev().find(|e| e.step.is_none());
        if last.and_then(|e| e.decode()).is_some_and(|e| matches!(e, Event::Paused(p) if p.reason == "shutdown")) {
            server.workers.start(run.id, &server.config, "resuming after the last shutdown");
        }
    }
}

/// Continues blocked runs that have a decision, a matching event or an
/// expired gate (`runtime::inbox::Scanner`).
pub(super) fn scan(server: &Server, store: &dyn Store) {
    let Ok(mut scanner) = server.scanned.lock() else { return };
    let due = match scanner.scan(store, &|run| server.workers.is_active(run)) {
        Ok(due) => due,
        Err(e) => return log(&format!("scan: {e}")),
    };
    for (run, news) in due {
        server.workers.start(run, &server.config, news.describe());
    }
}
