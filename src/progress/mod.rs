//! Progress of a run on stderr.
//!
//! On a terminal: finished steps scroll by as lines, and below them a live
//! block shows each running step with its elapsed time and `done/total`,
//! redrawn by a small thread. Elsewhere (CI logs, pipes): one plain
//! timestamped line per event, `[2026-11-21T10:00:00Z] step research started`.

mod step_events;

use flowc_interpreter::state::{payload, Event, EventKind as K};
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use flowc_interpreter::runtime::{Observed, Observer, RunReport};
use flowc_interpreter::time;

use crate::Cli;

pub fn format_ms(ms: i64) -> String {
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.1}s", ms as f64 / 1000.0)
    } else {
        format!("{}m{:02}s", ms / 60_000, ms % 60_000 / 1000)
    }
}

#[derive(Default)]
struct Live {
    running: Vec<(String, Instant)>,
    done: usize,
    total: usize,
    drawn: usize,
}

pub struct Progress {
    live: bool,
    color: bool,
    state: Arc<Mutex<Live>>,
    stop: Arc<AtomicBool>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Progress {
    pub fn new(cli: &Cli) -> std::rc::Rc<Progress> {
        let live = std::io::stderr().is_terminal();
        let progress = std::rc::Rc::new(Progress {
            live,
            color: cli.stderr_color(),
            state: Arc::new(Mutex::new(Live::default())),
            stop: Arc::new(AtomicBool::new(false)),
            thread: Mutex::new(None),
        });
        if live {
            let state = progress.state.clone();
            let stop = progress.stop.clone();
            let handle = std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if let Ok(mut s) = state.lock() {
                        redraw(&mut s);
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            });
            if let Ok(mut t) = progress.thread.lock() {
                *t = Some(handle);
            }
        }
        progress
    }

    /// Ends the live block (before the summary is printed).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(handle) = self.thread.lock().ok().and_then(|mut t| t.take()) {
            let _ = handle.join();
        }
        if self.live
            && let Ok(mut s) = self.state.lock() {
                clear(&mut s);
            }
    }

    pub fn is_live(&self) -> bool {
        self.live
    }

    pub fn paint_pub(&self, text: &str, code: &str) -> String {
        self.paint(text, code)
    }

    fn paint(&self, text: &str, code: &str) -> String {
        if self.color { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_string() }
    }

    fn line(&self, text: String) {
        if self.live {
            if let Ok(mut s) = self.state.lock() {
                clear(&mut s);
                eprintln!("{text}");
                redraw(&mut s);
            }
        } else {
            eprintln!("[{}] {text}", time::rfc3339_s(time::now_ms()));
        }
    }
}

fn clear(s: &mut Live) {
    if s.drawn > 0 {
        eprint!("\x1b[{}A\x1b[J", s.drawn);
        s.drawn = 0;
    }
}

fn redraw(s: &mut Live) {
    clear(s);
    let mut out = String::new();
    let mut lines = 0;
    for (name, since) in s.running.iter().take(12) {
        out.push_str(&format!("  ⠿ {name}  {}\n", format_ms(since.elapsed().as_millis() as i64)));
        lines += 1;
    }
    if s.running.len() > 12 {
        out.push_str(&format!("  … and {} more running\n", s.running.len() - 12));
        lines += 1;
    }
    if s.total > 0 {
        out.push_str(&format!("  {}/{} steps done\n", s.done, s.total));
        lines += 1;
    }
    eprint!("{out}");
    let _ = std::io::stderr().flush();
    s.drawn = lines;
}

/// The attempt a step's entry is about, when it names one.
fn attempt_of(e: &Event) -> Option<u32> {
    match e {
        Event::Started(p) => p.attempt,
        Event::Resumed(p) => p.attempt,
        Event::Completed(p) => p.attempt,
        Event::Failed(p) => p.attempt,
        Event::Cancelled(p) => p.attempt,
        Event::Retried(p) => Some(p.attempt),
        Event::Interrupted(p) => Some(p.attempt),
        Event::ItemStarted(p) | Event::ItemCompleted(p) | Event::ItemBlocked(p) => Some(p.attempt),
        Event::ItemFailed(p) => Some(p.attempt),
        Event::GatePassed(p) | Event::GateFailed(p) => Some(p.attempt),
        Event::InvariantViolated(p) => Some(p.attempt),
        Event::RolledBack(p) => Some(p.attempt),
        Event::Blocked(p) => p.hold.as_ref().map(|h| h.attempt),
        _ => None,
    }
}

/// What a run-level entry says went wrong, or why it happened.
fn run_detail(e: &Event) -> Option<&str> {
    match e {
        Event::Failed(p) => Some(&p.error),
        Event::Paused(p) => Some(&p.reason),
        Event::Cancelled(p) => p.error.as_deref().or(p.reason.as_deref()),
        _ => None,
    }
}

/// Why a step with retries to give did not retry, after its failure:
/// " (3 attempts, no retries left)", " (exit 2 is not retried)".
fn no_retry_note(p: &payload::Failed) -> String {
    match (p.no_retry.as_deref(), p.attempt) {
        (None, _) => String::new(),
        (Some("attempts"), Some(n)) => format!(" ({n} attempts, no retries left)"),
        (Some("attempts"), None) => " (no retries left)".into(),
        (Some("max_duration"), _) => " (not retried: its max_duration is spent)".into(),
        (Some("final"), _) => " (not retried: a retry cannot change it)".into(),
        (Some(other), _) => format!(" ({other})"),
    }
}

impl Observer for Progress {
    fn observe(&self, e: &Observed<'_>) {
        let prefix = match e.job {
            Some(job) => format!("{job}."),
            None if e.depth > 0 => format!("{}/", e.workflow),
            None => String::new(),
        };
        let kind = e.event.kind();
        let Some(step) = e.step else {
            let text = match e.event {
                Event::Started(started) if e.depth == 0 => {
                    if let Ok(mut s) = self.state.lock() {
                        s.total = started.steps.unwrap_or(0) as usize;
                    }
                    format!("run {} started: workflow {}", e.run, e.workflow)
                }
                Event::Started(_) => match e.job {
                    Some(job) => format!("child run {} started: {job}, a job of group {}", e.run, job.split('[').next().unwrap_or(job)),
                    None => format!("child run {} started: workflow {}", e.run, e.workflow),
                },
                Event::BudgetExceeded(_) => format!("run {} is over its budget", e.run),
                Event::FinallyStarted(p) => format!("run {} ended {}: its exit handler starts", e.run, p.status),
                other => match run_detail(other) {
                    Some(d) => format!("run {} {kind}: {d}", e.run),
                    None => format!("run {} {kind}", e.run),
                },
            };
            self.line(text);
            return;
        };
        let label = match e.group {
            Some(g) => format!("{prefix}{step} [{g}]"),
            None => format!("{prefix}{step}"),
        };
        let attempt = attempt_of(e.event).unwrap_or(1);
        let terminal = matches!(kind, K::Completed | K::Failed | K::Skipped | K::UpstreamFailed | K::Cancelled | K::Compensated);
        if let Ok(mut s) = self.state.lock() {
            if kind == K::Started {
                s.running.push((label.clone(), Instant::now()));
            } else if terminal || matches!(kind, K::Retried | K::Interrupted | K::Blocked | K::RolledBack | K::GateFix) {
                s.running.retain(|(n, _)| n != &label);
            }
            if terminal && e.depth == 0 && kind != K::Compensated {
                s.done += 1;
            }
        }
        let text = match e.event {
            Event::Started(_) if self.live => return,
            Event::Started(_) if attempt > 1 => format!("step {label} started (attempt {attempt})"),
            Event::Started(_) => format!("step {label} started"),
            Event::Completed(p) => format!("{} {label} completed in {}", self.paint("✓", "32"), format_ms(p.duration_ms.unwrap_or(0))),
            Event::Failed(p) => format!("{} {label} failed: {}{}", self.paint("✗", "31"), p.error, no_retry_note(p)),
            Event::Retried(p) => {
                format!("{} {label} attempt {attempt} failed ({}); retrying in {}", self.paint("↻", "33"), p.error, format_ms(p.delay_ms as i64))
            }
            Event::Skipped(p) => format!("{} {label} skipped: {}", self.paint("-", "2"), p.reason),
            Event::UpstreamFailed(_) => format!("{} {label} upstream_failed", self.paint("✗", "31")),
            Event::Cancelled(_) => format!("{} {label} cancelled", self.paint("■", "33")),
            Event::Notified(_) => return,
            Event::Decided(p) => match &p.reason {
                Some(r) => format!("step {label}: policy {} decided {}: {r}", p.policy, p.decision),
                None => format!("step {label}: policy {} decided {}", p.policy, p.decision),
            },
            Event::Approved(payload::Approved { by, comment, .. }) | Event::Rejected(payload::Rejected { by, comment, .. }) => {
                match comment {
                    Some(w) => format!("step {label} {kind} {by}: {w}"),
                    None => format!("step {label} {kind} {by}"),
                }
            }
            Event::Refused(p) => format!("step {label} refused a decision by {}: {}", p.by, p.reason),
            Event::Blocked(p) => {
                let hold = p.hold.as_ref();
                let what = match hold.map(|h| h.gate.as_str()) {
                    Some("approval") => "waiting for an approval".to_string(),
                    Some("human") => "waiting for a person to complete the task".to_string(),
                    Some("wait") => format!("waiting for an event {}", hold.and_then(|h| h.event.as_deref()).unwrap_or("")),
                    // `timer_started` said when it is due.
                    Some("timer") => return,
                    _ => "waiting for a child run".to_string(),
                };
                format!("{} {label} blocked: {what}", self.paint("⏸", "36"))
            }
            other => match step_events::line(self, &label, other) {
                Some(text) => text,
                None => return,
            },
        };
        self.line(text);
    }
}

/// The table printed when a run ends.
pub fn print_summary(report: &RunReport) {
    let width = report.steps.iter().map(|s| s.name.len()).max().unwrap_or(4).max(4);
    eprintln!();
    eprintln!("run {} {}  cost ${:.4}", report.run, report.status, report.cost_usd);
    if let Some(e) = &report.error {
        eprintln!("  {e}");
    }
    if report.steps.len() <= 200 {
        eprintln!("  {:<width$}  {:<16} {:>8}", "STEP", "STATUS", "ATTEMPTS");
        for s in &report.steps {
            eprintln!("  {:<width$}  {:<16} {:>8}", s.name, s.status.as_str(), s.attempts);
        }
    } else {
        let mut counts = std::collections::BTreeMap::new();
        for s in &report.steps {
            *counts.entry(s.status.as_str()).or_insert(0) += 1;
        }
        let parts: Vec<String> = counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
        eprintln!("  {} steps: {}", report.steps.len(), parts.join(", "));
    }
}
