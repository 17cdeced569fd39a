//! Scratch copies of the project fixtures in `tests/fixtures/projects/` (and
//! of `examples/`), and what the tests read back from their runs.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::Project;

/// Copies `from` into `to`, recursively, leaving out `.flow/` (state).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            if entry.file_name() != ".flow" {
                copy_dir(&entry.path(), &target);
            }
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A scratch copy of `tests/fixtures/projects/NAME` (or of `examples/NAME`).
pub fn project(name: &str, from_examples: bool) -> Project {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let src = if from_examples { root.join("examples").join(name) } else { root.join("tests/fixtures/projects").join(name) };
    // Tests run in parallel and share fixtures: one scratch directory each.
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let p = Project::new(&format!("copy-{name}-{n}"));
    copy_dir(&src, &p.dir);
    p
}

/// `flowc run WORKFLOW ARGS --json` in the project; the output and the summary.
pub fn run(p: &Project, workflow: &str, args: &[&str], env: &[(&str, &str)]) -> (std::process::Output, Value) {
    let mut all = vec!["run", workflow, "--json"];
    all.extend_from_slice(args);
    let mut cmd = p.cmd(&all);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.stdin(std::process::Stdio::null()).output().unwrap();
    let summary = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out, summary)
}

/// The error of a step's last attempt, or `""`.
pub fn step_error(p: &Project, run: &str, step: &str) -> String {
    let show = p.json(&["runs", "show", run, "--json"]);
    let attempts = show["attempts"].as_array().unwrap();
    attempts.iter().rev().find(|a| a["step"] == step).and_then(|a| a["error"].as_str()).unwrap_or("").to_string()
}

/// The events of this name.
pub fn events_named<'a>(events: &'a [Value], event: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["event"] == event).collect()
}

/// The runs of a workflow, as `runs list` reports them.
pub fn runs_of(p: &Project, workflow: &str) -> Vec<Value> {
    p.json(&["runs", "list", "--json"]).as_array().unwrap().iter().filter(|r| r["workflow"] == workflow).cloned().collect()
}

/// Every file below `dir`, recursively.
pub fn all_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        if entry.file_type().unwrap().is_dir() {
            all_files(&entry.path(), out);
        } else {
            out.push(entry.path());
        }
    }
}

/// Whether `needle` occurs in the bytes of `haystack`.
pub fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}
