//! Delivering a `notify` step's message to the run's sink (`--notify`): a line on stderr, nothing, or a command run in the background.

use std::path::Path;
use std::rc::Rc;

use super::Shared;
use crate::runtime::notify::NotifySink;
use crate::runtime::process;

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
