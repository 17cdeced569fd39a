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

