//! Projects whose runs wait on people or events: writing one from its files,
//! driving the binary as a given user, and reading the run back.

use std::process::{Command, Output, Stdio};

use serde_json::Value;

use super::{Project, code, flowc_bin, stderr};

/// A project with these files (paths relative to its root).
pub fn project(name: &str, files: &[(&str, &str)]) -> Project {
    let p = Project::new(&format!("blocking-{name}"));
    for (path, text) in files {
        let full = p.path(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, text).unwrap();
    }
    p
}

/// The `flowc ARGS` command in the project, as the OS user `tester`, with no `FLOW_USER` or events sink.
pub fn cmd(p: &Project, args: &[&str]) -> Command {
    let mut c = p.cmd(args);
    c.env_remove("FLOW_USER").env_remove("FLOW_EVENTS_SINK").env("USER", "tester");
    c
}

/// [`cmd`] run to its end, with no stdin.
pub fn flowc(p: &Project, args: &[&str]) -> Output {
    cmd(p, args).stdin(Stdio::null()).output().unwrap()
}

/// Runs flowc with `--json` and parses stdout.
pub fn flowc_json(p: &Project, args: &[&str]) -> (Output, Value) {
    let mut all = args.to_vec();
    all.push("--json");
    let out = flowc(p, &all);
    let v = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out, v)
}

/// Runs the "continue with:" hint of a blocked run's stderr as a person
/// pasting it would: through `sh`, with `flowc` on the PATH and no `$USER`.
pub fn paste_hint(p: &Project, stderr: &str) -> Output {
    let line = stderr.lines().find_map(|l| l.trim().strip_prefix("continue with: ")).expect("a hint");
    let command = line.split("   (or: ").next().unwrap();
    let bin_dir = std::path::Path::new(flowc_bin()).parent().unwrap();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    Command::new("sh")
        .arg("-c")
        .arg(format!("{command} --json"))
        .current_dir(&p.dir)
        .env("PATH", path)
        .env_remove("USER")
        .env_remove("FLOW_USER")
        .env_remove("FLOW_STATE")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// `flowc runs show RUN --json`, which must succeed.
pub fn show(p: &Project, run: &str) -> Value {
    let (out, v) = flowc_json(p, &["runs", "show", run]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    v
}

/// The events of a run, in order.
pub fn events(p: &Project, run: &str) -> Vec<Value> {
    p.events(run)
}

/// The event `name` of `step` (panics, listing the events, when there is none).
pub fn event<'a>(events: &'a [Value], step: &str, name: &str) -> &'a Value {
    events
        .iter()
        .find(|e| e["step"] == step && e["event"] == name)
        .unwrap_or_else(|| panic!("no {name} event for {step} in {events:#?}"))
}

/// A step's status, as `runs show` reports it.
pub fn step_status(p: &Project, run: &str, step: &str) -> String {
    show(p, run)["steps"][step]["status"].as_str().unwrap_or("").to_string()
}

/// A workflow whose `sign_off` approval (by `boss` or `carol`) sits between two commands.
pub const GATE: &str = r#"
workflow gate {
  input who: string = "v2"
  step prepare { command "echo ready" }
  step sign_off: approval after prepare {
    approvers ["boss", "carol"]
    message "Ship ${inputs.who}?"
  }
  step ship after sign_off { command "echo shipped" }
}
"#;

/// An approval that its initiator may not give (`distinct_from_initiator`).
pub const GATE_DISTINCT: &str = r#"
workflow gate {
  step sign_off: approval {
    approvers ["boss", "carol"]
    distinct_from_initiator
  }
  step ship after sign_off { command "echo shipped" }
}
"#;

