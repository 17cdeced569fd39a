//! Lifecycle changes out, as CloudEvents (structured JSON, specversion 1.0).
//!
//! Configured per invocation with `--events-sink SINK` or `FLOW_EVENTS_SINK`:
//!
//! - `none` (the default): nothing is published;
//! - `file:PATH`: one JSON document per line, appended to PATH;
//! - `command:CMD`: `sh -c CMD` once per event, the event on stdin (one
//!   line), its type and id in `FLOW_EVENT_TYPE` and `FLOW_EVENT_ID`.
//!
//! The state store publishes an event only after the transaction that
//! recorded it committed, so a consumer never hears of a change the database
//! does not hold. Delivery happens on one background thread per process, in
//! commit order, and never blocks or fails a run: a failing sink is reported
//! on stderr. When the last handle is dropped, queued events are delivered
//! before the process goes on (at most 10 s per command).
//!
//! Types: `flow.run.<event>` for run-level events (`started`, `blocked`,
//! `paused`, `resumed`, `completed`, `failed`, `cancelled`, `compensated`, …),
//! `flow.step.<event>` for step-level ones (`started`, `completed`,
//! `blocked`, `approved`, `rejected`, `decided`, …) and
//! `flow.definition.published`. `source` is `/flowc/runs/RUN` (or
//! `/flowc/definitions`), `subject` the step (or the workflow), `id` is
//! `RUN/SEQ` (the event log's numbering), and the extension attributes
//! `flowrun` and `flowworkflow` name the run and the workflow.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

#[derive(Clone, Debug, PartialEq, Eq)]
enum Target {
    File(PathBuf),
    Command(String),
}

/// A handle on the background publisher; clones share it.
#[derive(Clone)]
pub struct EventSink {
    inner: Arc<Inner>,
}

struct Inner {
    tx: Mutex<Option<mpsc::Sender<Value>>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    description: String,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Ok(mut tx) = self.tx.lock() {
            tx.take();
        }
        if let Some(handle) = self.thread.lock().ok().and_then(|mut t| t.take()) {
            let _ = handle.join();
        }
    }
}

impl std::fmt::Debug for EventSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EventSink({})", self.inner.description)
    }
}

impl EventSink {
    /// Reads a sink setting; `none` is no sink. Relative file paths are taken
    /// from `cwd`.
    pub fn parse(text: &str, cwd: &std::path::Path) -> Result<Option<EventSink>, String> {
        let target = match text {
            "none" | "" => return Ok(None),
            _ => match (text.strip_prefix("file:"), text.strip_prefix("command:")) {
                (Some(path), _) if !path.trim().is_empty() => {
                    let path = PathBuf::from(path);
                    Target::File(if path.is_relative() { cwd.join(path) } else { path })
                }
                (_, Some(cmd)) if !cmd.trim().is_empty() => Target::Command(cmd.to_string()),
                _ => return Err(format!("`{text}` is not an events sink; use none, file:PATH or command:CMD")),
            },
        };
        if let Target::File(path) = &target {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                crate::private::private_dir(dir).map_err(|e| format!("events sink: cannot create {}: {e}", dir.display()))?;
            }
            crate::private::append_private(path)
                .map_err(|e| format!("events sink: cannot open {}: {e}", path.display()))?;
        }
        Ok(Some(EventSink::start(target, cwd.to_path_buf())))
    }

    fn start(target: Target, cwd: PathBuf) -> EventSink {
        let description = match &target {
            Target::File(p) => format!("file:{}", p.display()),
            Target::Command(c) => format!("command:{c}"),
        };
        let (tx, rx) = mpsc::channel::<Value>();
        let thread = std::thread::spawn(move || deliver_all(target, cwd, rx));
        EventSink { inner: Arc::new(Inner { tx: Mutex::new(Some(tx)), thread: Mutex::new(Some(thread)), description }) }
    }

    /// Queues one CloudEvent for delivery.
    pub fn publish(&self, event: Value) {
        if let Ok(tx) = self.inner.tx.lock()
            && let Some(tx) = tx.as_ref()
        {
            let _ = tx.send(event);
        }
    }
}

fn deliver_all(target: Target, cwd: PathBuf, rx: mpsc::Receiver<Value>) {
    let mut warned = false;
    let mut warn = |msg: String| {
        if !warned {
            eprintln!("warning: events sink: {msg}");
            warned = true;
        }
    };
    for event in rx {
        let line = event.to_string();
        match &target {
            Target::File(path) => {
                let written = crate::private::append_private(path)
                    .and_then(|mut f| f.write_all(format!("{line}\n").as_bytes()));
                if let Err(e) = written {
                    warn(format!("cannot append to {}: {e}", path.display()));
                }
            }
            Target::Command(cmd) => {
                if let Err(e) = run_command(cmd, &cwd, &event, &line) {
                    warn(e);
                }
            }
        }
    }
}

fn run_command(cmd: &str, cwd: &std::path::Path, event: &Value, line: &str) -> Result<(), String> {
    let text = |k: &str| event.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .current_dir(cwd)
        .env("FLOW_EVENT_TYPE", text("type"))
        .env("FLOW_EVENT_ID", text("id"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start `{cmd}`: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(format!("{line}\n").as_bytes());
    }
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => return Err(format!("`{cmd}` exited with {status}")),
            Ok(None) if start.elapsed() > Duration::from_secs(10) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("`{cmd}` took more than 10 s and was killed"));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(format!("`{cmd}`: {e}")),
        }
    }
}

/// The CloudEvent for one entry of a run's event log.
pub fn run_event(run: &str, workflow: &str, step: Option<&str>, event: &str, payload: &Value, at: &str, seq: i64) -> Value {
    let (ty, subject) = match step {
        Some(s) => (format!("flow.step.{event}"), s),
        None => (format!("flow.run.{event}"), workflow),
    };
    json!({
        "specversion": "1.0",
        "id": format!("{run}/{seq}"),
        "source": format!("/flowc/runs/{run}"),
        "type": ty,
        "subject": subject,
        "time": at,
        "datacontenttype": "application/json",
        "flowrun": run,
        "flowworkflow": workflow,
        "data": { "run": run, "workflow": workflow, "step": step, "event": event, "seq": seq, "payload": payload },
    })
}

/// `flow.definition.published` for a new version of a workflow.
pub fn definition_published(workflow: &str, version: i64, plan_hash: &str, author: Option<&str>) -> Value {
    json!({
        "specversion": "1.0",
        "id": format!("definitions/{workflow}/{version}"),
        "source": "/flowc/definitions",
        "type": "flow.definition.published",
        "subject": workflow,
        "time": crate::time::now(),
        "datacontenttype": "application/json",
        "flowworkflow": workflow,
        "data": { "workflow": workflow, "version": version, "plan_hash": plan_hash, "author": author },
    })
}
