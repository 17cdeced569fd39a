//! Running one command: `sh -c` in its own process group, output captured.
//!
//! Owns child processes and nothing else. Every process starts as the leader
//! of a new process group, so a timeout or a cancel signals the whole tree a
//! command started (`kill(-pgid)`), and a step's background processes do not
//! outlive it. Both output streams go, line by line with a timestamp, to the
//! step's log file; stdout is also kept whole (it becomes the output) and
//! stderr's tail is kept for `STEP.stderr`.

use std::cell::RefCell;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::rc::Rc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::time;

/// Past this, stdout stops being kept (it is still logged) and the attempt fails.
pub const MAX_STDOUT: usize = 64 << 20;
/// The tail of stderr kept in memory and in the database.
pub const STDERR_TAIL: usize = 64 << 10;
/// After a polite SIGTERM, how long a process group gets before SIGKILL.
const KILL_GRACE: Duration = Duration::from_secs(2);

/// A process to start for an attempt.
pub struct Spec<'a> {
    /// The command line, run by `sh -c`.
    pub command: &'a str,
    /// What to write on its stdin (an agent's prompt); none gives it /dev/null.
    pub stdin: Option<String>,
    /// Environment variables added to flowc's own.
    pub env: &'a [(String, String)],
    /// The directory it runs in.
    pub cwd: &'a Path,
    /// The step's log file, which gets every line of stdout and stderr.
    pub log: &'a Path,
    /// A line written to the log before the command starts.
    pub header: Option<&'a str>,
    /// When to stop it (SIGTERM to its process group, then SIGKILL).
    pub deadline: Option<Instant>,
    /// Secret values to mask in the log (stdout and stderr are kept as
    /// printed; the runner redacts them when the attempt finishes).
    pub redact: Option<super::secrets::Redactor>,
}

/// How a process ended.
#[derive(Debug)]
pub enum Ending {
    /// It exited with this code.
    Exited(i32),
    /// A signal killed it before its deadline or a cancel (one flowc did not send).
    Signalled(i32),
    /// Its deadline passed and flowc stopped it.
    TimedOut,
    /// The run was cancelled and flowc stopped it.
    Aborted,
}

/// A process that ended, with what it printed.
#[derive(Debug)]
pub struct Finished {
    /// How it ended.
    pub ending: Ending,
    /// Its stdout, up to the output limit.
    pub stdout: String,
    /// The last [`STDERR_TAIL`] bytes of its stderr.
    pub stderr: String,
    /// Stdout went past the output limit and was cut.
    pub stdout_overflow: bool,
}

/// Sends `signal` to the process group `pgid`.
pub fn signal_group(pgid: i32, signal: i32) {
    if pgid > 1 {
        // SAFETY: kill(2) has no memory-safety preconditions; a stale pgid
        // only yields ESRCH.
        unsafe {
            libc::kill(-pgid, signal);
        }
    }
}

/// The `FLOW_STEP` of process `pid`, if its environment carries
/// `FLOW_RUN_ID=run`: how a resumed run recognises the orphaned processes of
/// the attempts it is replacing, without trusting a pid that may have been
/// reused.
fn attempt_step(pid: i64, run: &str) -> Option<String> {
    let environ = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    let want_run = format!("FLOW_RUN_ID={run}");
    let mut has_run = false;
    let mut step = None;
    for var in environ.split(|b| *b == 0) {
        has_run |= var == want_run.as_bytes();
        if let Some(name) = var.strip_prefix(b"FLOW_STEP=") {
            step = Some(String::from_utf8_lossy(name).into_owned());
        }
    }
    step.filter(|_| has_run)
}

/// Ends the processes of attempts that outlived the flowc that started
/// them: the process group of every process whose environment carries the
/// run and one of `steps`. One scan of `/proc` serves every attempt, and it
/// finds processes whose pid was never recorded (a pid is written with the
/// next batch, a moment after the spawn: a flowc killed in between recorded
/// none). Our own process group is never signalled.
pub fn stop_orphans(run: &str, steps: &[&str]) {
    if steps.is_empty() {
        return;
    }
    // SAFETY: getpgid(2) has no memory-safety preconditions.
    let own = unsafe { libc::getpgid(0) };
    let mut groups: Vec<i32> = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else { continue };
            if attempt_step(pid.into(), run).is_some_and(|step| steps.contains(&step.as_str())) {
                // SAFETY: as above; a process that is gone yields -1.
                let pgid = unsafe { libc::getpgid(pid) };
                if pgid > 1 && pgid != own && !groups.contains(&pgid) {
                    groups.push(pgid);
                }
            }
        }
    }
    for group in groups {
        signal_group(group, libc::SIGKILL);
    }
}

/// A step's log file, shared by the readers of its stdout and stderr.
pub type Log = Rc<RefCell<LogFile>>;

/// A step's log file, bounded: past [`log_limit`] bytes one line says the
/// log was cut and nothing more is written (the output and the stderr tail
/// are still kept as usual).
pub struct LogFile {
    w: std::io::BufWriter<std::fs::File>,
    written: u64,
    limit: u64,
    capped: bool,
}

impl LogFile {
    /// Writes out what is buffered.
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.w.flush()
    }
}

/// The default cap of one step's log file.
pub const DEFAULT_LOG_LIMIT: u64 = 32 << 20;

/// The cap of a step's log file: `FLOW_LOG_LIMIT` (bytes, or with a `K`,
/// `M` or `G` suffix), else [`DEFAULT_LOG_LIMIT`].
pub fn log_limit() -> u64 {
    static LIMIT: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *LIMIT.get_or_init(|| std::env::var("FLOW_LOG_LIMIT").ok().and_then(|v| parse_size(&v)).unwrap_or(DEFAULT_LOG_LIMIT))
}

fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim();
    let (digits, unit) = match t.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => (&t[..i], t[i..].trim_end_matches(['i', 'B', 'b']).to_ascii_uppercase()),
        None => (t, String::new()),
    };
    let n: u64 = digits.parse().ok()?;
    let shift = match unit.as_str() {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        _ => return None,
    };
    n.checked_mul(1 << shift)
}

/// Opens (appending, private to the user) the log at `path`, creating its directory.
pub fn open_log(path: &Path) -> std::io::Result<Log> {
    if let Some(dir) = path.parent() {
        crate::private::private_dir(dir)?;
    }
    let file = crate::private::append_private(path)?;
    let written = file.metadata().map(|m| m.len()).unwrap_or(0);
    Ok(Rc::new(RefCell::new(LogFile { w: std::io::BufWriter::new(file), written, limit: log_limit(), capped: false })))
}

/// Appends one line of `stream` (`stdout`, `stderr`, `flowc`) to the log, unless it is full.
pub fn log_line(log: &Log, stream: &str, text: &str) {
    let mut log = log.borrow_mut();
    if log.capped {
        return;
    }
    let line = format!("{} {stream} | {text}\n", time::now());
    if log.written + line.len() as u64 > log.limit {
        log.capped = true;
        let limit = log.limit;
        let _ = writeln!(log.w, "{} --- | the log reached its limit of {limit} bytes (FLOW_LOG_LIMIT); later lines are not logged", time::now());
        return;
    }
    log.written += line.len() as u64;
    let _ = log.w.write_all(line.as_bytes());
}

/// The longest piece of a line logged (and kept) at once: a longer line is
/// logged in pieces, so memory stays bounded whatever a command prints.
const MAX_LINE: usize = 64 << 10;

/// Reads a stream to its end: each line (or piece of a long line) redacted
/// and logged; stdout kept whole up to `keep` bytes (`tail` false: past it,
/// `overflow`), or stderr's last `keep` bytes (`tail` true). The tail is
/// kept redacted: masking comes before every cut, and a cut through a
/// secret masks its fragment ([`super::secrets::Redactor::redact_cut`]).
async fn pump<R: AsyncRead + Unpin>(
    reader: R,
    stream: &'static str,
    log: Log,
    keep: usize,
    tail: bool,
    redact: Option<super::secrets::Redactor>,
) -> (Vec<u8>, bool) {
    let mut reader = BufReader::with_capacity(MAX_LINE, reader);
    let mut kept: Vec<u8> = Vec::new();
    let mut tail_text = String::new();
    let mut overflow = false;
    let mut line: Vec<u8> = Vec::new();
    // Whether the current line is the continuation of a piece already logged.
    let mut continued = false;
    loop {
        let (complete, eof) = {
            let buf = match reader.fill_buf().await {
                Ok(b) => b,
                Err(_) => &[][..],
            };
            if buf.is_empty() {
                (false, true)
            } else {
                let (end, newline) = match buf.iter().position(|b| *b == b'\n') {
                    Some(i) => (i + 1, true),
                    None => (buf.len(), false),
                };
                let take = end.min(MAX_LINE - line.len());
                line.extend_from_slice(&buf[..take]);
                reader.consume(take);
                (newline && take == end, false)
            }
        };
        let full = line.len() >= MAX_LINE;
        if !(complete || full || (eof && !line.is_empty())) {
            if eof {
                break;
            }
            continue;
        }
        let cut_after = !complete && !eof;
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\n', '\r']);
        let shown = match &redact {
            Some(r) if !r.is_empty() => r.redact_cut(text, continued, cut_after),
            _ => text.to_string(),
        };
        log_line(&log, stream, &shown);
        if tail {
            tail_text.push_str(&shown);
            if complete {
                tail_text.push('\n');
            }
            if tail_text.len() > keep {
                let mut cut = tail_text.len() - keep;
                while !tail_text.is_char_boundary(cut) {
                    cut += 1;
                }
                tail_text.drain(..cut);
                if let Some(r) = redact.as_ref().filter(|r| !r.is_empty()) {
                    tail_text = r.redact_cut(&tail_text, true, false);
                }
            }
        } else if !overflow && kept.len() + line.len() <= keep {
            kept.extend_from_slice(&line);
        } else if !overflow {
            // Too big to be the output: the attempt fails, so nothing of it
            // is kept (memory is not held for a value that will not be used).
            overflow = true;
            kept = Vec::new();
        }
        continued = cut_after;
        line.clear();
        if eof {
            break;
        }
    }
    if tail { (tail_text.into_bytes(), overflow) } else { (kept, overflow) }
}

/// Runs `spec.command` to its end, its deadline, or an abort signal.
/// `on_spawn` receives the process id (which is also its process group id).
pub async fn run(
    spec: Spec<'_>,
    mut abort: watch::Receiver<bool>,
    on_spawn: impl FnOnce(u32),
) -> std::io::Result<Finished> {
    let log = open_log(spec.log)?;
    if let Some(header) = spec.header {
        match &spec.redact {
            Some(r) if !r.is_empty() => log_line(&log, "---", &r.redact_str(header)),
            _ => log_line(&log, "---", header),
        }
    }
    let mut cmd = tokio::process::Command::new("sh");
    cmd.arg("-c")
        .arg(spec.command)
        .current_dir(spec.cwd)
        .envs(spec.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(if spec.stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd.spawn()?;
    let pid = child.id().unwrap_or(0);
    on_spawn(pid);
    let pgid = pid as i32;

    if let (Some(text), Some(mut stdin)) = (spec.stdin, child.stdin.take()) {
        tokio::task::spawn_local(async move {
            // A command that does not read its stdin closes the pipe: not an error.
            let _ = stdin.write_all(text.as_bytes()).await;
            let _ = stdin.shutdown().await;
        });
    }
    let out = tokio::task::spawn_local(pump(child.stdout.take().expect("piped"), "out", log.clone(), MAX_STDOUT, false, spec.redact.clone()));
    let err = tokio::task::spawn_local(pump(child.stderr.take().expect("piped"), "err", log.clone(), STDERR_TAIL, true, spec.redact.clone()));

    let deadline = async {
        match spec.deadline {
            Some(d) => tokio::time::sleep_until(d).await,
            None => std::future::pending().await,
        }
    };
    let aborted = async {
        loop {
            if *abort.borrow_and_update() {
                return;
            }
            if abort.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    };
    let ending = tokio::select! {
        status = child.wait() => {
            let status = status?;
            use std::os::unix::process::ExitStatusExt;
            match (status.code(), status.signal()) {
                (Some(code), _) => Ending::Exited(code),
                (None, Some(sig)) => Ending::Signalled(sig),
                (None, None) => Ending::Exited(-1),
            }
        }
        _ = deadline => Ending::TimedOut,
        _ = aborted => Ending::Aborted,
    };
    if matches!(ending, Ending::TimedOut | Ending::Aborted) {
        signal_group(pgid, libc::SIGTERM);
        if tokio::time::timeout(KILL_GRACE, child.wait()).await.is_err() {
            signal_group(pgid, libc::SIGKILL);
            let _ = child.wait().await;
        }
        // Members of the group that ignored SIGTERM.
        signal_group(pgid, libc::SIGKILL);
    }

    // The pipes close when every process holding them is gone. Background
    // processes left behind by the command keep them open: give them a
    // moment, then end the group.
    let readers = async { (out.await, err.await) };
    tokio::pin!(readers);
    let (out, err) = match tokio::time::timeout(Duration::from_millis(200), &mut readers).await {
        Ok(r) => r,
        Err(_) => {
            signal_group(pgid, libc::SIGKILL);
            match tokio::time::timeout(Duration::from_secs(1), &mut readers).await {
                Ok(r) => r,
                Err(_) => (Ok((Vec::new(), false)), Ok((Vec::new(), false))),
            }
        }
    };
    let (stdout, stdout_overflow) = out.unwrap_or_default();
    let (stderr, _) = err.unwrap_or_default();
    let _ = log.borrow_mut().flush();
    Ok(Finished {
        ending,
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        stdout_overflow,
    })
}

/// The log file of a step: `RUNS_DIR/RUN/STEP.log`.
pub fn log_path(runs_dir: &Path, run: &str, step: &str) -> PathBuf {
    runs_dir.join(run).join(format!("{step}.log"))
}
