//! `flowc build`, `flowc graph` and running from source, end to end.
//!
//! Golden files (`tests/golden/`) pin the disassembly of every example's plan
//! and the drawn graphs; `FLOWC_BLESS=1 cargo test -p flowc --test build`
//! rewrites them after a deliberate change (review the diff). Each starts
//! with a line saying so, which the comparison skips.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn flowc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flowc")).args(args).output().expect("flowc runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// How to regenerate the goldens of this file: the first line of each, in
/// the comment syntax of its format, which the comparison skips.
const REGENERATE: &str = "regenerate: FLOWC_BLESS=1 cargo test -p flowc --test build";

/// The header line of a golden file: [`REGENERATE`] as a comment of its format.
fn header(path: &Path) -> String {
    let comment = match path.extension().and_then(|e| e.to_str()) {
        Some("dot") => "//",
        Some("mermaid") => "%%",
        _ => "#",
    };
    format!("{comment} {REGENERATE}\n")
}

/// Compares with a golden file (after its header line), or writes it under `FLOWC_BLESS=1`.
fn golden(name: &str, actual: &str) {
    let path = PathBuf::from("tests/golden").join(name);
    let header = header(&path);
    if std::env::var_os("FLOWC_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("golden dir");
        std::fs::write(&path, format!("{header}{actual}")).expect("write golden");
        return;
    }
    let file = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("no golden file {}; run with FLOWC_BLESS=1 to create it", path.display()));
    let expected = file
        .strip_prefix(&header)
        .unwrap_or_else(|| panic!("{} does not start with the line `{}`; run with FLOWC_BLESS=1", path.display(), header.trim_end()));
    assert_eq!(expected, actual, "{} changed; run with FLOWC_BLESS=1 if the change is right", path.display());
}

#[test]
fn the_disassembly_of_every_example_is_pinned() {
    let mut examples: Vec<PathBuf> = std::fs::read_dir("examples")
        .expect("examples/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .collect();
    examples.sort();
    assert!(examples.len() >= 5);
    for dir in examples {
        let name = dir.file_name().expect("name").to_string_lossy().into_owned();
        let out = flowc(&["build", dir.to_str().expect("UTF-8"), "--emit", "plan"]);
        assert!(out.status.success(), "{name} does not build:\n{}", text(&out.stderr));
        golden(&format!("examples/{name}.golden"), &text(&out.stdout));
    }
}

#[test]
fn graphs_are_drawn_with_rules_and_arms_on_the_edges() {
    for format in ["dot", "mermaid"] {
        let out = flowc(&["graph", "tests/fixtures/graph/release.flow:release", "--format", format]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let drawn = text(&out.stdout);
        assert!(drawn.contains("one_success") && drawn.contains("all_done") && drawn.contains("else"), "{drawn}");
        golden(&format!("graph/release.{format}"), &drawn);
    }
    // Every other rule is drawn as the ones above are: its name on the edge.
    let out = flowc(&["graph", "tests/fixtures/graph/handlers.flow:handlers", "--format", "mermaid"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let drawn = text(&out.stdout);
    for rule in ["none_failed_min_one_success", "one_failed", "none_skipped", "none_failed", "all_skipped", "all_failed", "one_done", "always"] {
        assert!(drawn.contains(&format!("|\"{rule}\"|")), "{rule} is not on an edge: {drawn}");
    }
    golden("graph/handlers.mermaid", &drawn);
}

#[test]
fn the_exit_handler_is_drawn_as_a_box_of_its_own() {
    for format in ["dot", "mermaid"] {
        let out = flowc(&["graph", "tests/fixtures/graph/exit_handler.flow:deploy", "--format", format]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let drawn = text(&out.stdout);
        assert!(drawn.contains("finally (runs when the run ends)"), "{drawn}");
        assert!(!drawn.contains("\"ship\" -> \"report\"") && !drawn.contains("ship --> report"), "no edge into the handler: {drawn}");
        golden(&format!("graph/exit_handler.{format}"), &drawn);
    }
}

#[test]
fn an_outcome_condition_labels_each_edge_with_what_it_asks_of_that_dependency() {
    let out = flowc(&["graph", "tests/fixtures/graph/outcomes.flow:outcomes", "--format", "dot"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let drawn = text(&out.stdout);
    assert!(drawn.contains("\"test\" -> \"page\" [label=\"failed\"]"), "{drawn}");
    assert!(drawn.contains("\"test\" -> \"next\" [label=\"succeeded or skipped\"]"), "{drawn}");
    // A group dependency: every member's edge carries the group's outcome.
    assert!(drawn.contains("\"lint\" -> \"next\" [label=\"failed\"]"), "{drawn}");
    golden("graph/outcomes.dot", &drawn);
}

#[test]
fn a_job_per_item_is_drawn_as_a_box_of_its_steps() {
    for format in ["dot", "mermaid"] {
        let out = flowc(&["graph", "tests/fixtures/graph/jobs.flow:jobs", "--format", format]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let drawn = text(&out.stdout);
        assert!(drawn.contains("build (a job for each of 4 items)"), "{drawn}");
        if format == "dot" {
            assert!(drawn.contains("\"fetch\" -> \"compile\";"), "into the job's first step: {drawn}");
            assert!(drawn.contains("\"test\" -> \"report\";") && drawn.contains("\"docs\" -> \"report\";"), "from its last: {drawn}");
            assert!(drawn.contains("\"docs\" -> \"page\" [label=\"failed\"];"), "{drawn}");
            assert!(!drawn.contains("\"build\" ["), "the group's step is a box, not a node: {drawn}");
        }
        golden(&format!("graph/jobs.{format}"), &drawn);
    }
}

fn temp_state(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("flowc-build-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join("state.db")
}

#[test]
fn a_workflow_runs_from_source() {
    let state = temp_state("source");
    let out = flowc(&["-C", "examples/hello", "--state", state.to_str().expect("UTF-8"), "run", "hello", "-i", "name=Ada", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary: Value = serde_json::from_str(&text(&out.stdout)).expect("one JSON document");
    assert_eq!(summary["status"], "completed");
    assert_eq!(summary["workflow"], "hello");
    assert_eq!(summary["steps"]["greet"]["output"]["greeting"], "hello");
    assert_eq!(summary["steps"]["report"]["output"], "hello, Ada");
}

#[test]
fn a_built_plan_runs_like_the_source() {
    let state = temp_state("plan");
    let plan = state.with_file_name("hello.plan.json");
    let out = flowc(&["build", "examples/hello", "--emit", "json", "-o", plan.to_str().expect("UTF-8")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = flowc(&["-C", "examples/hello", "--state", state.to_str().expect("UTF-8"), "run", plan.to_str().expect("UTF-8"), "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary: Value = serde_json::from_str(&text(&out.stdout)).expect("JSON");
    assert_eq!(summary["steps"]["report"]["output"], "hello, world");
}

#[test]
fn a_project_with_errors_is_not_run() {
    let dir = temp_state("errors").with_file_name("project");
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("bad.flow"), "workflow w {\n  step a after nope { command \"true\" }\n}\n").expect("write");
    let out = flowc(&["-C", dir.to_str().expect("UTF-8"), "run", "w"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("E0203"), "{}", text(&out.stderr));
    assert!(!Path::new(&dir).join(".flow").join("state.db").exists(), "nothing ran, so no state was written");
}

#[test]
fn running_an_unknown_workflow_names_the_ones_there_are() {
    let out = flowc(&["-C", "examples/hello", "run", "helo"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("there is no workflow `helo`") && text(&out.stderr).contains("`hello`"), "{}", text(&out.stderr));
}

/// A job per item builds into a plan of its own (`w.build`, a job of group
/// `build`), and the built plan runs each item as a child run: the group's
/// output is one entry per item, each with its members' outputs.
#[test]
fn a_job_per_item_builds_into_a_job_workflow_and_runs_each_item() {
    let dir = temp_state("item-job").with_file_name("project");
    std::fs::create_dir_all(&dir).expect("dir");
    let src = "workflow w {\n  parallel build for each item in [\"a\", \"b\"] {\n    step compile { command \"echo ${item}\" }\n    step pack after compile { command \"echo ${compile.output}-packed\" }\n  }\n  step report after build { command \"echo ${build.output[1].pack}\" }\n}\n";
    std::fs::write(dir.join("jobs.flow"), src).expect("write");
    let out = flowc(&["build", dir.to_str().expect("UTF-8"), "--emit", "plan"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let disasm = text(&out.stdout);
    assert!(disasm.contains("workflow w.build  job of w group build"), "{disasm}");
    let plan = dir.join("jobs.plan.json");
    let out = flowc(&["build", dir.to_str().expect("UTF-8"), "--emit", "json", "-o", plan.to_str().expect("UTF-8")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let state = dir.join("state.db");
    let out = flowc(&["-C", dir.to_str().expect("UTF-8"), "--state", state.to_str().expect("UTF-8"), "run", plan.to_str().expect("UTF-8"), "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary: Value = serde_json::from_str(&text(&out.stdout)).expect("JSON");
    assert_eq!(summary["status"], "completed");
    assert_eq!(summary["steps"]["build"]["output"][0]["compile"], "a");
    assert_eq!(summary["steps"]["build"]["output"][1]["pack"], "b-packed");
    assert_eq!(summary["steps"]["report"]["output"], "b-packed");
}
