//! The notify sink: where `notify` steps send their messages.
//!
//! Configured per invocation (`flowc run --notify SINK`, or `FLOW_NOTIFY`):
//!
//! - `stderr` (the default): one line on stderr, `[TIME] notify CHANNEL: MESSAGE`.
//! - `none`: nothing is sent; the `notified` event still records the message.
//! - `command:CMD`: `sh -c CMD` in the project dir, with the message on stdin
//!   (newline-terminated) and in `FLOW_NOTIFY_MESSAGE`, the channel in `FLOW_NOTIFY_CHANNEL`, and
//!   `FLOW_RUN_ID`/`FLOW_STEP`. It runs in the background: a notify never
//!   blocks and never fails its step or the run; a failing sink is written to
//!   the step's log.

use std::path::Path;
use std::rc::Rc;

use super::process;
use super::runner::Shared;

/// Where `notify` steps deliver (`--notify`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotifySink {
    /// A line on flowc's stderr (the default).
    Stderr,
    /// Nowhere: the message is only recorded.
    None,
    /// `sh -c CMD` per message, the message on stdin and its channel in the environment.
    Command(String),
}

impl NotifySink {
    /// Reads `stderr`, `none` or `command:CMD`.
    pub fn parse(text: &str) -> Result<NotifySink, String> {
        match text {
            "stderr" => Ok(NotifySink::Stderr),
            "none" => Ok(NotifySink::None),
            _ => match text.strip_prefix("command:") {
                Some(cmd) if !cmd.trim().is_empty() => Ok(NotifySink::Command(cmd.to_string())),
                _ => Err(format!("`{text}` is not a notify sink; use stderr, none or command:CMD")),
            },
        }
    }

    /// The sink's kind, as recorded in `notified` events.
    pub fn name(&self) -> &'static str {
        match self {
            NotifySink::Stderr => "stderr",
            NotifySink::None => "none",
            NotifySink::Command(_) => "command",
        }
    }
}

/// Sends one message; returns the sink's name for the event log.
pub(crate) fn deliver(sh: &Rc<Shared>, run: &str, step: &str, channel: Option<&str>, message: &str, log: &Path) -> &'static str {
    let sink = &sh.options.notify;
    match sink {
        NotifySink::None => {}
        NotifySink::Stderr => {
            let at = crate::time::rfc3339_s(crate::time::now_ms());
            match channel {
                Some(c) => eprintln!("[{at}] notify {c}: {message}"),
                None => eprintln!("[{at}] notify: {message}"),
            }
        }
        NotifySink::Command(cmd) => {
            let cmd = cmd.clone();
            let env = vec![
                ("FLOW_NOTIFY_CHANNEL".to_string(), channel.unwrap_or("").to_string()),
                ("FLOW_NOTIFY_MESSAGE".to_string(), message.to_string()),
                ("FLOW_RUN_ID".to_string(), run.to_string()),
                ("FLOW_STEP".to_string(), step.to_string()),
            ];
            let message = format!("{message}\n");
            let cwd = sh.options.project_dir.clone();
            let log = log.to_path_buf();
            let redact = sh.secrets.clone();
            let handle = tokio::task::spawn_local(async move {
                // Deliveries are not cancelled with the run: they are short and
                // the message was already recorded as sent.
                let (_keep, never) = tokio::sync::watch::channel(false);
                let spec = process::Spec {
                    command: &cmd,
                    stdin: Some(message),
                    env: &env,
                    cwd: &cwd,
                    log: &log,
                    header: None,
                    deadline: Some(tokio::time::Instant::now() + std::time::Duration::from_secs(30)),
                    redact: Some(redact),
                };
                let result = process::run(spec, never, |_| {}).await;
                let problem = match result {
                    Ok(f) => match f.ending {
                        process::Ending::Exited(0) => None,
                        other => Some(format!("{other:?}")),
                    },
                    Err(e) => Some(e.to_string()),
                };
                if let Some(problem) = problem
                    && let Ok(l) = process::open_log(&log) {
                        process::log_line(&l, "---", &format!("notify sink failed: {problem}"));
                        let _ = l.borrow_mut().flush();
                    }
            });
            sh.background.borrow_mut().push(handle);
        }
    }
    sink.name()
}
