//! The reliability suite: `kill -9` at pseudo-random moments of runs with a
//! fan-out, retries, a store write and an approval, each then resumed until
//! it ends. After every run: each step completed exactly once, no step ran
//! more often than it was started in the event log, nothing that completed
//! before a kill ran again, every item completed in the step's last attempt,
//! the store holds the write, and the event log has no gap and no
//! duplicate. Bounded: a fixed seed, a dozen kills, loopback nothing.

mod support;

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::*;

const FLOW: &str = r#"store notes { backend local }

workflow w {
  step list {
    command "echo list >> ran.log; sleep 0.05; echo '[0, 1, 2, 3]'"
    items `output`
  }
  step fan after list for each item {
    command "echo fan-$FLOW_ITEM_INDEX >> ran.log; sleep 0.1; echo $FLOW_ITEM_INDEX"
  }
  step flaky after fan {
    command "echo flaky >> ran.log; sleep 0.05; if [ ! -f flaky.once ]; then touch flaky.once; exit 1; fi; echo ok"
    retry 2
  }
  step save after flaky {
    command "echo save >> ran.log; echo '{\"n\": 4}'"
    then put notes.last = `output`
  }
  step ok: approval after save { message "done?" }
  step last after ok { command "echo last >> ran.log; sleep 0.05; echo end" }
}
"#;

/// A small deterministic generator (the points vary, the test repeats).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

fn kill9(child: &mut std::process::Child) {
    // SAFETY: signalling a child process this test spawned.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGKILL);
    }
    let _ = child.wait();
}

fn spawn(p: &Project, args: &[&str]) -> std::process::Child {
    p.cmd(args).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap()
}

fn status_of(p: &Project, run: &str) -> String {
    p.json(&["runs", "show", run, "--json"])["status"].as_str().unwrap_or("").to_string()
}

/// Runs until the child exits, or kills it after `ms`; true if it was killed.
fn run_or_kill(child: &mut std::process::Child, ms: u64) -> bool {
    let deadline = Instant::now() + Duration::from_millis(ms);
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    kill9(child);
    true
}

#[test]
fn kill_9_at_random_points_then_resume_loses_and_repeats_nothing() {
    let mut rng = Lcg(0x5eed_f10c);
    let mut kills = 0;
    for round in 0..6 {
        let p = Project::new(&format!("reliability-{round}"));
        std::fs::write(p.path("main.flow"), FLOW).unwrap();
        let mut child = spawn(&p, &["run", "w"]);
        let mut killed = run_or_kill(&mut child, 20 + rng.next(600));
        kills += killed as u32;
        let run = loop {
            // The run exists once its first write committed; a kill before
            // that leaves no run, and the round starts it again.
            let out = p.flowc(&["runs", "list", "--json"]);
            let list: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
            match list.as_array().and_then(|a| a.first()) {
                Some(r) => break r["run"].as_str().unwrap().to_string(),
                None => {
                    child = spawn(&p, &["run", "w"]);
                    killed = run_or_kill(&mut child, 20 + rng.next(600));
                    kills += killed as u32;
                }
            }
        };
        // Resume (killing again now and then) until the run waits for the approval or ends.
        let mut guard = 0;
        loop {
            guard += 1;
            assert!(guard < 40, "round {round}: the run never settled");
            let st = status_of(&p, &run);
            if st == "blocked" || st == "completed" || st == "failed" {
                break;
            }
            let mut child = spawn(&p, &["resume", &run]);
            if rng.next(2) == 0 {
                kills += run_or_kill(&mut child, 10 + rng.next(300)) as u32;
            } else {
                let _ = child.wait();
            }
        }
        // Decide; a kill while the decision is applied is resumed too.
        let mut child = spawn(&p, &["approve", &run, "ok", "--as", "me"]);
        if rng.next(2) == 0 {
            kills += run_or_kill(&mut child, rng.next(150)) as u32;
        } else {
            let _ = child.wait();
        }
        for _ in 0..10 {
            match status_of(&p, &run).as_str() {
                "completed" | "failed" => break,
                "blocked" => {
                    let _ = p.flowc(&["approve", &run, "ok", "--as", "me"]);
                }
                _ => {
                    let _ = p.flowc(&["resume", &run]);
                }
            }
        }
        assert_eq!(status_of(&p, &run), "completed", "round {round}");
        check_run(&p, &run, round);
    }
    // How many kills land depends on the machine's speed (a process that
    // ends before its moment is not killed); there are always some.
    assert!(kills >= 3, "the suite killed only {kills} times");
    eprintln!("reliability: 6 runs, {kills} kill -9s, every invariant held");
}

fn check_run(p: &Project, run: &str, round: usize) {
    let events = p.events(run);
    // No gap, no duplicate in the log.
    let seqs: Vec<i64> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    let mut sorted = seqs.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), seqs.len(), "round {round}: duplicated events");
    assert_eq!(sorted, (sorted[0]..sorted[0] + sorted.len() as i64).collect::<Vec<_>>(), "round {round}: a gap in the log");
    let count = |step: &str, event: &str| events.iter().filter(|e| e["step"] == step && e["event"] == event).count();
    for step in ["list", "fan", "flaky", "save", "ok", "last"] {
        assert_eq!(count(step, "completed"), 1, "round {round}: {step} completed once: {events:?}");
    }
    // Each start in the log is at most one execution, and every execution was started.
    let ran = p.read("ran.log");
    for step in ["list", "flaky", "save", "last"] {
        let executions = ran.lines().filter(|l| *l == step).count();
        let starts = count(step, "started");
        assert!(executions <= starts && executions >= 1, "round {round}: {step} ran {executions} times for {starts} starts");
    }
    // Items: an interrupted `for each` step runs all its instances again
    // (docs/runs.md), and an instance's `item_started` is recorded with the
    // runner's next batch, so a kill right after an instance started can
    // leave that execution without its event: only "each item completed in
    // the attempt that completed the step" is asserted.
    let completed_attempt = events.iter().find(|e| e["step"] == "fan" && e["event"] == "completed").unwrap()["payload"]["attempt"].clone();
    for i in 0..4 {
        let executions = ran.lines().filter(|l| *l == format!("fan-{i}")).count();
        assert!(executions >= 1, "round {round}: item {i} never ran");
        let done = events.iter().any(|e| {
            e["step"] == "fan" && e["event"] == "item_completed" && e["payload"]["item"] == i && e["payload"]["attempt"] == completed_attempt
        });
        assert!(done, "round {round}: item {i} did not complete in the step's last attempt");
    }
    // A step that completed before a kill never ran again: after its
    // `completed` event there is no later `started` of it.
    for step in ["list", "fan", "flaky", "save", "last"] {
        let done = events.iter().position(|e| e["step"] == step && e["event"] == "completed").unwrap();
        assert!(
            !events[done..].iter().any(|e| e["step"] == step && e["event"] == "started"),
            "round {round}: {step} started again after it completed"
        );
    }
    let stored = p.json(&["store", "get", "notes", "last", "--json"]);
    assert_eq!(stored["value"]["n"], 4, "round {round}: {stored}");
    let _ = Value::Null;
}
