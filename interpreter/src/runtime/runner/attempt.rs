//! One attempt of a step as the runner hands it out and gets it back: what it runs with (`AttemptCtx`), what it reports (`Outcome`), and the process an attempt starts.

use std::rc::Rc;

use serde_json::Value;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::pin::{FileMap, Pinned, Violation};
use super::{Msg, Shared};
use crate::plan::StepId;
use crate::runtime::process::{self, Ending};
use crate::runtime::scope::Scope;
use crate::state::{payload, Event};

/// What an attempt runs with: the run's shared state, its step, its scope
/// and environment, and where to report.
#[derive(Clone)]
pub(crate) struct AttemptCtx {
    pub sh: Rc<Shared>,
    /// What an attempt gets beyond the basics (items, pins, …).
    pub adv: AttemptExtras,
    pub wf: usize,
    pub step: StepId,
    pub attempt: u32,
    pub run: String,
    pub depth: u32,
    pub scope: Scope,
    pub env: Vec<(String, String)>,
    pub abort: watch::Receiver<bool>,
    pub tx: mpsc::UnboundedSender<Msg>,
    pub deadline: Option<Instant>,
    pub timeout_ms: Option<u64>,
}

/// What a successful attempt produced.
pub(crate) struct Success {
    pub output: Value,
    /// For a branch: the index of the arm it picked, if one matched.
    pub picked: Option<u32>,
}

/// What an attempt reports to the runner when it ends.
pub(crate) struct Outcome {
    pub result: Result<Success, String>,
    /// Stopped by a cancel (or the run's timeout/budget), not by its own fault.
    pub aborted: bool,
    pub stdout: String,
    pub stderr: String,
    pub cost: f64,
    pub exit_code: Option<i32>,
    /// The step's timeout stopped it (a command, a child run, a gate's check).
    pub timed_out: bool,
    /// The `notified` event, for a NOTIFY.
    pub notified: Option<payload::Notified>,
    pub duration_ms: i64,
    /// The step waits on a person or an event (`blocking`); the result holds
    /// its output so far.
    pub blocked: Option<crate::runtime::blocking::Hold>,
    /// Events to record before the step's outcome (a policy's decision).
    pub events: Vec<Event>,
    /// The failure is final: retrying cannot change it (a policy's deny).
    pub no_retry: bool,
    /// What an attempt reports beyond the basics (items, gate results, violations…).
    pub adv: OutcomeExtras,
}

/// What an attempt gets beyond the basics.
#[derive(Clone, Default)]
pub(crate) struct AttemptExtras {
    /// The current item list (`for each` instances, `select`).
    pub items: Option<Rc<Vec<Value>>>,
    /// `for each`: outputs of instances completed by earlier attempts.
    pub done: Vec<Option<Value>>,
    /// What the run pinned: invariants, spawn limits, protected files.
    pub pin: Option<Rc<Pinned>>,
    /// The protected files as of the last checkpoint.
    pub files: Option<Rc<FileMap>>,
}

/// What an attempt reports beyond the basics.
#[derive(Default)]
pub(crate) struct OutcomeExtras {
    /// The new item list (`items`, `select`).
    pub items: Option<Vec<Value>>,
    /// `for each`: each instance's output, `None` where it did not complete.
    pub instances: Option<Vec<Option<Value>>>,
    /// A gate's check results.
    pub gate: Option<payload::GateReport>,
    /// A select's scores and picks.
    pub select: Option<payload::Selected>,
    /// Child runs the step spawned: `(run, workflow)`.
    pub spawned: Vec<(String, String)>,
    pub violations: Vec<Violation>,
    /// Fingerprints of the protected files after the step (when checked).
    pub files: Option<FileMap>,
    /// Contents of protected files that changed, by fingerprint.
    pub blobs: Vec<(String, Vec<u8>)>,
    /// A job per item where nothing ran: the call of a job whose child run
    /// completed with every member skipped, or a `for each item` call where
    /// every item's did. The step ends skipped, as a group whose members
    /// were all skipped reads to the steps after it.
    pub nothing_ran: bool,
}

/// An outcome with nothing in it yet: no result, no output.
pub(crate) fn new_outcome() -> Outcome {
    Outcome {
        result: Err(String::new()),
        aborted: false,
        stdout: String::new(),
        stderr: String::new(),
        cost: 0.0,
        exit_code: None,
        timed_out: false,
        notified: None,
        duration_ms: 0,
        blocked: None,
        events: Vec::new(),
        no_retry: false,
        adv: Default::default(),
    }
}

fn describe_ending(ending: &Ending, timeout_ms: Option<u64>) -> String {
    match ending {
        Ending::Exited(code) => format!("the command exited with status {code}"),
        Ending::Signalled(sig) => format!("the command was killed by signal {sig}"),
        Ending::TimedOut => format!(
            "the step timed out after {}",
            crate::plan::disasm::format_duration(timeout_ms.unwrap_or(0))
        ),
        Ending::Aborted => "the run was stopped while the command ran".into(),
    }
}

/// Starts `command` for the attempt: in the project directory, logged, with
/// its deadline and the run's abort signal; the runner hears its pid.
pub(crate) async fn spawn(
    ctx: &AttemptCtx,
    command: &str,
    stdin: Option<String>,
    env: &[(String, String)],
    log: &std::path::Path,
    header: &str,
) -> Result<process::Finished, String> {
    let spec = process::Spec {
        command,
        stdin,
        env,
        cwd: &ctx.sh.options.project_dir,
        log,
        header: Some(header),
        deadline: ctx.deadline,
        redact: Some(ctx.sh.secrets.clone()),
    };
    let tx = ctx.tx.clone();
    let (step, attempt) = (ctx.step, ctx.attempt);
    process::run(spec, ctx.abort.clone(), move |pid| {
        let _ = tx.send(Msg::Spawned { step, attempt, pid });
    })
    .await
    .map_err(|e| format!("cannot start `sh -c`: {e}"))
}

/// Turns a finished process into its stdout, or the attempt's error.
pub(crate) fn settle_process(out: &mut Outcome, finished: process::Finished, timeout_ms: Option<u64>) -> Result<String, String> {
    out.stdout = finished.stdout.clone();
    out.stderr = finished.stderr;
    match finished.ending {
        Ending::Exited(0) if finished.stdout_overflow => {
            Err(format!("the command printed more than {} MiB on stdout", process::MAX_STDOUT >> 20))
        }
        Ending::Exited(0) => Ok(finished.stdout),
        ending => {
            if let Ending::Exited(code) = ending {
                out.exit_code = Some(code);
            }
            out.aborted = matches!(ending, Ending::Aborted);
            out.timed_out = matches!(ending, Ending::TimedOut);
            let mut msg = describe_ending(&ending, timeout_ms);
            if let Some(last) = out.stderr.lines().rev().find(|l| !l.trim().is_empty()) {
                msg.push_str(&format!(": {}", last.trim()));
            }
            Err(msg)
        }
    }
}
