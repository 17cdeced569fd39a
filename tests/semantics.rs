//! What `flowc check` accepts runs exactly as written: branch arms, groups as
//! dependencies and trigger rules, end to end from `.flow` source. The cases
//! that are a source and the statuses and outputs its runs must end with are
//! data, in `tests/fixtures/semantics.flowtest` (format: `tests/README.md`);
//! what needs more (events, resume, kills, generated sources) is here.

mod support;

use std::path::Path;

use serde_json::Value;
use support::*;

#[test]
fn every_case_of_the_fixtures_checks_and_runs_as_expected() {
    let cases = fixture::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/semantics.flowtest"));
    assert!(cases.len() >= 6, "{} cases", cases.len());
    let failures: Vec<String> = cases.iter().filter_map(|c| fixture::run_case(c).err()).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn run(p: &Project, source: &str, args: &[&str]) -> Value {
    let (out, s) = p.run_source(source, "w", args);
    assert!(s.is_object(), "no summary: {}", stderr(&out));
    s
}

const ARM_TO_GROUP: &str = r#"workflow w {
  input go_a: bool = true
  step pick: branch {
    when `inputs.go_a` -> group_a
    else -> task_b
  }
  parallel group_a after pick {
    step a1 { command "echo a1" }
    step a2 { command "echo a2" }
  }
  step task_b after pick { command "echo b" }
  step after_a after group_a { command "echo after" }
}
"#;

#[test]
fn a_branch_arm_can_pick_a_group() {
    let p = Project::new("arm-group");
    let s = run(&p, ARM_TO_GROUP, &[]);
    assert_eq!(s["steps"]["pick"]["output"]["picked"], "group_a");
    assert_eq!(status(&s, "a1"), "completed");
    assert_eq!(status(&s, "a2"), "completed");
    assert_eq!(status(&s, "task_b"), "skipped");
    assert_eq!(status(&s, "after_a"), "completed");

    let s = run(&p, ARM_TO_GROUP, &["-i", "go_a=false"]);
    assert_eq!(s["steps"]["pick"]["output"]["picked"], "task_b");
    assert_eq!(status(&s, "a1"), "skipped", "the whole group is skipped");
    assert_eq!(status(&s, "a2"), "skipped");
    assert_eq!(status(&s, "task_b"), "completed");
    assert_eq!(status(&s, "after_a"), "skipped", "a skipped group skips what runs after it");
    let events = p.events(s["run"].as_str().unwrap());
    let skip = events.iter().find(|e| e["step"] == "a1" && e["event"] == "skipped").unwrap();
    assert_eq!(skip["payload"]["reason"], "branch pick picked task_b");
}

#[test]
fn a_false_outcome_condition_names_itself_in_its_event() {
    let p = Project::new("condition-events");
    let src = r#"workflow w {
  step a { command "exit 1" on_failure continue }
  step b { command "true" }
  step both after a && b { command "echo both" }
  step on_failure after failed(b) || upstream_failed(both) { command "echo on_failure" }
}
"#;
    let s = run(&p, src, &[]);
    assert_eq!(status(&s, "both"), "upstream_failed");
    assert_eq!(status(&s, "on_failure"), "completed", "both is upstream_failed");
    let events = p.events(s["run"].as_str().unwrap());
    let up = events.iter().find(|e| e["step"] == "both" && e["event"] == "upstream_failed").unwrap();
    assert_eq!(up["payload"], serde_json::json!({ "failed": ["a"], "condition": "succeeded(a), succeeded(b)" }));
    let src = src.replace("exit 1", "true");
    let s = run(&p, &src, &[]);
    assert_eq!(status(&s, "both"), "completed");
    let events = p.events(s["run"].as_str().unwrap());
    let skip = events.iter().find(|e| e["step"] == "on_failure" && e["event"] == "skipped").unwrap();
    assert_eq!(skip["payload"]["reason"], "its condition `failed(b) || upstream_failed(both)` is false");
}

/// The example of docs/language.md's "Routing on outcomes" runs as the
/// table after it says, for both values of `fail`.
#[test]
fn the_outcome_routing_example_of_the_docs_runs_as_its_table_says() {
    let page = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/language.md")).expect("the page");
    let section = page.split_once("\n## Routing on outcomes\n").expect("the section").1;
    let section = section.split_once("\n## ").map_or(section, |(s, _)| s);
    let (source, table) = section.split_once("```flow\n").expect("an example").1.split_once("```").expect("closed");
    let rows: Vec<Vec<&str>> = table
        .lines()
        .take_while(|l| !l.starts_with("**Checks.**"))
        .filter(|l| l.starts_with("| `") && l.matches('|').count() >= 4 && !l.contains("`fail=true`"))
        .filter(|l| l.contains("| upstream_failed |") || l.contains("| completed |") || l.contains("| skipped |"))
        .map(|l| l.trim_matches('|').split(" | ").map(str::trim).collect())
        .collect();
    assert_eq!(rows.len(), 5, "{rows:?}");
    let p = Project::new("docs-routing");
    for (column, args) in [(1, &["-i", "fail=true"][..]), (2, &["-i", "fail=false"][..])] {
        let (out, s) = p.run_source(source, "routes", args);
        assert_eq!(s["status"], "completed", "{}", stderr(&out));
        for row in &rows {
            let step = row[0].trim_start_matches('`').split('`').next().unwrap();
            assert_eq!(status(&s, step), row[column], "{step} with {args:?}");
        }
    }
}

#[test]
fn a_branch_whose_arms_all_miss_says_so() {
    let p = Project::new("arm-none");
    let src = r#"workflow w {
  input n: int = 1
  step pick: branch {
    when `inputs.n > 5` -> big
  }
  step big after pick { command "echo big" }
}
"#;
    let s = run(&p, src, &[]);
    assert_eq!(status(&s, "big"), "skipped");
    let events = p.events(s["run"].as_str().unwrap());
    let skip = events.iter().find(|e| e["step"] == "big" && e["event"] == "skipped").unwrap();
    assert_eq!(skip["payload"]["reason"], "no arm of branch pick matched");
}

/// A resumed run knows which arm the branch picked, group arms included.
#[test]
fn a_picked_group_arm_survives_resume() {
    let p = Project::new("arm-group-resume");
    let src = r#"workflow w {
  step pick: branch {
    when `true` -> group_a
    else -> task_b
  }
  parallel group_a after pick {
    step a1 { command "echo a1" }
    step hold after a1 { command "test -f go || exit 7" on_failure pause }
  }
  step task_b after pick { command "echo b" }
}
"#;
    let (out, s) = p.run_source(src, "w", &[]);
    assert_eq!(s["status"], "paused", "{}", stderr(&out));
    std::fs::write(p.path("go"), "").unwrap();
    let run = s["run"].as_str().unwrap();
    let out = p.flowc(&["resume", run, "--json"]);
    let s: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    assert_eq!(s["status"], "completed", "{}", stderr(&out));
    assert_eq!(status(&s, "hold"), "completed");
    assert_eq!(status(&s, "task_b"), "skipped");
}

const CALL_EACH: &str = r#"workflow child {
  input n: int
  output doubled = `twice.output.v`
  step twice {
    command "printf '{\"v\": %s}' $(($FLOW_INPUT_N * 2))"
    output { v: int }
  }
}
workflow w {
  step list {
    command "echo '[1, 2, 3]'"
    output [int]
    items `output`
  }
  step each: call child after list for each item {
    with { n: `item` }
  }
  step add_one after list for each item {
    command "echo $(($FLOW_ITEM + 1))"
    output int
  }
  step count after add_one { command "echo ${size(add_one.output)}" output int }
  output all = `each.output`
  output plus = `add_one.output`
}
"#;

/// One child run per item, each with its own item's inputs, the outputs in
/// item order; a `for each` step's `output T` types each instance.
#[test]
fn call_for_each_item_starts_one_child_per_item() {
    let p = Project::new("call-each");
    for concurrency in ["", "  concurrency 1\n"] {
        let src = CALL_EACH.replacen("workflow w {\n", &format!("workflow w {{\n{concurrency}"), 1);
        let s = run(&p, &src, &[]);
        assert_eq!(s["status"], "completed", "{s}");
        assert_eq!(s["outputs"]["all"], serde_json::json!([{ "doubled": 2 }, { "doubled": 4 }, { "doubled": 6 }]), "{concurrency}");
        assert_eq!(s["outputs"]["plus"], serde_json::json!([2, 3, 4]));
        assert_eq!(s["steps"]["count"]["output"], 3);
        let children = p.json(&["runs", "list", "--json"]);
        let parent = s["run"].as_str().unwrap();
        let mine: Vec<&Value> = children.as_array().unwrap().iter().filter(|r| r["parent_run"] == parent).collect();
        assert_eq!(mine.len(), 3, "one child run per item: {children}");
    }
}

#[test]
fn a_for_each_steps_output_is_typed_as_the_list() {
    let p = Project::new("each-type");
    std::fs::write(
        p.path("main.flow"),
        r#"workflow w {
  step list {
    command "echo '[1, 2]'"
    items `output`
  }
  step add_one after list for each item {
    command "echo 1"
    output int
  }
  step bad after add_one { command "echo ${add_one.output + 1}" }
}
"#,
    )
    .unwrap();
    let out = p.flowc(&["check", "--format", "json"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let codes: Vec<&str> = report.as_array().unwrap().iter().map(|d| d["code"].as_str().unwrap()).collect();
    assert_eq!(codes.len(), 1, "{report}");
    assert!(report[0]["message"].as_str().unwrap().contains("list"), "{report}");
}

/// A NUL byte in a text output fails the step that printed it, clearly;
/// nothing downstream starts with a value it cannot receive.
#[test]
fn a_nul_byte_in_an_output_fails_the_producing_step() {
    let p = Project::new("nul-output");
    let src = r#"workflow w {
  step a { command "printf 'x\\000y'" }
  step b after a { command "echo b" }
  step c { command "printf '{\"v\": \"x\\\\u0000y\"}'" }
  step d after c { command "echo d" }
}
"#;
    let (out, s) = p.run_source(src, "w", &[]);
    assert_eq!(status(&s, "a"), "failed", "{}", stderr(&out));
    assert_eq!(status(&s, "b"), "upstream_failed");
    let events = p.events(s["run"].as_str().unwrap());
    let failed = events.iter().find(|e| e["step"] == "a" && e["event"] == "failed").unwrap();
    assert!(failed["payload"]["error"].as_str().unwrap().contains("NUL byte (byte 1"), "{failed}");
    // In JSON the NUL is escaped: the value is whole and reaches nobody raw.
    assert_eq!(status(&s, "c"), "completed", "{}", stderr(&out));
    assert_eq!(s["steps"]["c"]["output"]["v"], "x\u{0}y");
    assert_eq!(status(&s, "d"), "completed");
}

const ONE_SUCCESS_OF_ONE: &str = r#"workflow w {
  step a { command "true" }
  step b after one_success(a) { command "true" }
}
"#;

fn check_codes(p: &Project, args: &[&str]) -> (i32, Vec<String>) {
    let mut all = vec!["check", "--format", "json"];
    all.extend_from_slice(args);
    let out = p.flowc(&all);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    let codes = report.as_array().map(|a| a.iter().map(|d| d["code"].as_str().unwrap().to_string()).collect()).unwrap_or_default();
    (code(&out), codes)
}

/// A warning can be silenced where it is wrong: by a comment on its line or
/// the line before, or for the project in `flowc.toml`; `--deny-warnings`
/// respects both, and errors are never silenced.
#[test]
fn warnings_can_be_allowed_by_a_comment_or_the_project() {
    let p = Project::new("allow");
    std::fs::write(p.path("main.flow"), ONE_SUCCESS_OF_ONE).unwrap();
    assert_eq!(check_codes(&p, &["--deny-warnings"]), (1, vec!["W0104".to_string()]));

    let trailing = ONE_SUCCESS_OF_ONE.replace("{ command \"true\" }\n}", "{ command \"true\" } // flowc: allow W0104\n}");
    std::fs::write(p.path("main.flow"), &trailing).unwrap();
    assert_eq!(check_codes(&p, &["--deny-warnings"]), (0, vec![]));

    let before = ONE_SUCCESS_OF_ONE.replace("  step b", "  // flowc: allow W0104 (a join we will widen)\n  step b");
    std::fs::write(p.path("main.flow"), &before).unwrap();
    assert_eq!(check_codes(&p, &["--deny-warnings"]), (0, vec![]));

    // Another code, or the comment two lines up, silences nothing.
    let other = ONE_SUCCESS_OF_ONE.replace("  step b", "  // flowc: allow W0101\n  step b");
    std::fs::write(p.path("main.flow"), &other).unwrap();
    assert_eq!(check_codes(&p, &[]), (0, vec!["W0104".to_string()]));

    std::fs::write(p.path("main.flow"), ONE_SUCCESS_OF_ONE).unwrap();
    std::fs::write(p.path("flowc.toml"), "[check]\nallow = [\"W0104\"]\n").unwrap();
    assert_eq!(check_codes(&p, &["--deny-warnings"]), (0, vec![]));

    // A setting that would silence an error, or names no code, is refused.
    for bad in ["allow = [\"E0401\"]", "allow = [\"W0999\"]", "alow = []"] {
        std::fs::write(p.path("flowc.toml"), bad).unwrap();
        let out = p.flowc(&["check"]);
        assert_eq!(code(&out), 2, "{bad}: {}", stderr(&out));
        assert!(stderr(&out).contains("flowc.toml"), "{}", stderr(&out));
    }
    std::fs::remove_file(p.path("flowc.toml")).unwrap();

    // Errors stay.
    let error = "workflow w {\n  step a after nope { command \"true\" } // flowc: allow E0401\n}\n";
    std::fs::write(p.path("main.flow"), error).unwrap();
    let (exit, codes) = check_codes(&p, &[]);
    assert_eq!(exit, 1);
    assert!(!codes.is_empty(), "errors are never silenced");
}

const CALL_EACH_SLOW: &str = r#"workflow child {
  input n: int
  output n = `work.output`
  step work {
    command "echo $FLOW_INPUT_N >> count; if [ $FLOW_INPUT_N = 3 ]; then touch started3; while [ ! -f go ]; do sleep 0.02; done; fi; echo $FLOW_INPUT_N"
    output int
  }
}
workflow w {
  concurrency 1
  step list {
    command "echo '[1, 2, 3]'"
    items `output`
  }
  step each: call child after list for each item {
    with { n: `item` }
  }
  output all = `each.output`
}
"#;

fn spawn(p: &Project, source: &str) -> std::process::Child {
    std::fs::write(p.path("main.flow"), source).unwrap();
    p.cmd(&["run", "w", "--json"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// kill -9 while the third item's child runs: resume finds the first two
/// children completed (not re-run) and continues the third.
#[test]
fn resume_of_call_for_each_reruns_no_completed_child() {
    let p = Project::new("call-each-kill");
    let mut child = spawn(&p, CALL_EACH_SLOW);
    wait_until("the third child to start", || p.path("started3").exists());
    let run = p.json(&["runs", "list", "--json"]).as_array().unwrap().iter().find(|r| r["parent_run"].is_null()).unwrap()["run"]
        .as_str()
        .unwrap()
        .to_string();
    // SAFETY: signalling the child process this test spawned.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGKILL);
    }
    let _ = child.wait();
    std::fs::write(p.path("go"), "").unwrap();
    let out = p.flowc(&["resume", &run, "--json"]);
    let s: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    assert_eq!(s["status"], "completed", "{}", stderr(&out));
    assert_eq!(s["outputs"]["all"], serde_json::json!([{ "n": 1 }, { "n": 2 }, { "n": 3 }]));
    let count = p.read("count");
    assert_eq!(count.lines().collect::<Vec<_>>(), ["1", "2", "3", "3"], "only the interrupted child's step runs again");
    let runs = p.json(&["runs", "list", "--json"]);
    assert_eq!(runs.as_array().unwrap().iter().filter(|r| r["parent_run"] == run.as_str()).count(), 3);
}

/// Cancelling the parent cancels the child of the running item.
#[test]
fn cancel_of_call_for_each_cancels_the_running_child() {
    let p = Project::new("call-each-cancel");
    let mut child = spawn(&p, CALL_EACH_SLOW);
    wait_until("the third child to start", || p.path("started3").exists());
    let runs = p.json(&["runs", "list", "--json"]);
    let run = runs.as_array().unwrap().iter().find(|r| r["parent_run"].is_null()).unwrap()["run"].as_str().unwrap().to_string();
    let out = p.flowc(&["cancel", &run]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let (_, stdout, stderr_text) = wait_exit(&mut child);
    let s: Value = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    assert_eq!(s["status"], "cancelled", "{stderr_text}");
    let runs = p.json(&["runs", "list", "--json"]);
    let children: Vec<&Value> = runs.as_array().unwrap().iter().filter(|r| r["parent_run"] == run.as_str()).collect();
    assert_eq!(children.len(), 3);
    let statuses: Vec<&str> = children.iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == "completed").count(), 2, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == "cancelled").count(), 1, "{statuses:?}");
}

/// The checker reserves exactly the names the interpreter binds.
#[test]
fn reserved_step_names_agree_with_the_interpreter() {
    assert_eq!(flowc_compiler::checks::names::RESERVED_STEP_NAMES, flowc_interpreter::plan::load::RESERVED_NAMES);
}

#[test]
fn item_in_the_when_of_a_for_each_step_is_an_error_with_the_filter_as_fix() {
    let p = Project::new("each-when");
    std::fs::write(
        p.path("main.flow"),
        "workflow w {\n  step nums { command \"echo '[1,2,3]'\" items `output` }\n  step even after nums for each item { when `item % 2 == 0` command \"echo ${item}\" }\n}\n",
    )
    .unwrap();
    let out = p.flowc(&["check", "--format", "json"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report[0]["code"], "E0403", "{report}");
    assert!(report[0]["help"].as_str().unwrap().contains("filter"), "{report}");
}

/// `-C DIR` is the project for `check` and `fmt` too, as for `run`.
#[test]
fn check_and_fmt_honour_dash_c() {
    let p = Project::new("dash-c");
    std::fs::create_dir_all(p.path("proj")).unwrap();
    std::fs::write(p.path("proj/main.flow"), "workflow w {\n  step a after nope { command \"true\" }\n}\n").unwrap();
    let out = p.flowc(&["-C", "proj", "check", "--format", "json"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stdout(&out).contains("E0203"), "{}", stdout(&out));
    let out = p.flowc(&["-C", "proj", "check", "main.flow"]);
    assert_eq!(code(&out), 1, "a relative path is under DIR: {}", stderr(&out));
    std::fs::write(p.path("proj/main.flow"), "workflow w {\nstep a { command \"true\" }\n}\n").unwrap();
    let out = p.flowc(&["-C", "proj", "fmt", "--check"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let out = p.flowc(&["-C", "proj", "fmt"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(p.path("proj/main.flow")).unwrap(), "workflow w {\n  step a {\n    command \"true\"\n  }\n}\n");
}

/// A step that did not complete has an empty output in its declared shape:
/// `{}` for an object (so `has()` is false), `[]` for a for-each step or a
/// list, null for a scalar. The expressions that test first run clean; the
/// checker warns (W0107) about the untested read.
#[test]
fn a_step_that_did_not_complete_has_an_empty_output() {
    let p = Project::new("empty-output");
    let source = r#"workflow w {
  input go: bool = false
  output obj = `has(obj.output.msg) ? obj.output.msg : 'fallback'`
  output obj_size = `size(obj.output)`
  output list_size = `size(each.output)`
  output text_is_null = `text.output == null`
  output listed = `size(listed.output)`
  output by_status = `obj.status`

  step items_of { command "echo '[1, 2]'" items `output` }
  step obj {
    when `inputs.go`
    command "echo '{\"msg\": \"real\"}'"
    output { msg: string }
  }
  step each after items_of for each item {
    when `inputs.go`
    command "echo ${item}"
  }
  step text {
    when `inputs.go`
    command "echo '\"hi\"'"
    output string
  }
  step listed {
    command "exit 3"
    output [int]
    on_failure continue
  }
  step after_all after all_done(obj, listed) {
    command "echo ${has(obj.output.msg) ? obj.output.msg : 'none'} ${listed.status}"
  }
}
"#;
    std::fs::write(p.path("main.flow"), source).unwrap();
    let out = p.flowc(&["check", "--format", "json"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report, serde_json::json!([]), "every read is tested or whole");

    let s = run(&p, source, &[]);
    assert_eq!(s["status"], "completed", "{s}");
    assert_eq!(s["outputs"]["obj"], "fallback");
    assert_eq!(s["outputs"]["obj_size"], 0);
    assert_eq!(s["outputs"]["list_size"], 0);
    assert_eq!(s["outputs"]["text_is_null"], true);
    assert_eq!(s["outputs"]["listed"], 0);
    assert_eq!(s["outputs"]["by_status"], "skipped");
    assert_eq!(status(&s, "after_all"), "completed");
    assert_eq!(status(&s, "listed"), "failed");
    assert_eq!(s["steps"]["obj"]["output"], Value::Null, "nothing is recorded as its output");

    let s = run(&p, source, &["-i", "go=true"]);
    assert_eq!(s["status"], "completed", "{s}");
    assert_eq!(s["outputs"]["obj"], "real");
    assert_eq!(s["outputs"]["list_size"], 2);
    assert_eq!(s["outputs"]["text_is_null"], false);

    // The untested read: warned about, and it fails the run when the step
    // was skipped.
    let untested = source.replace("`has(obj.output.msg) ? obj.output.msg : 'fallback'`", "`obj.output.msg`");
    std::fs::write(p.path("main.flow"), &untested).unwrap();
    let out = p.flowc(&["check", "--format", "json"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let codes: Vec<&str> = report.as_array().unwrap().iter().map(|d| d["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["W0107"], "{report}");
    let out = p.flowc(&["run", "w", "--json"]);
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["status"], "failed", "{s}");
    assert!(s["error"].as_str().unwrap().contains("obj.output.msg"), "{s}");
}

/// W0107 is sound: in random workflows (trigger rules, outcome conditions, `when`s, failures
/// let through by `on_failure continue`, groups) where every step reads a
/// field of every step upstream of it and the workflow outputs read every
/// step, guarding exactly the reads the checker warns about leaves no read
/// that fails at run time, whatever the `when`s decide and whichever steps
/// fail under `on_failure continue`.
#[test]
fn the_reads_w0107_leaves_alone_never_meet_an_empty_output() {
    let mut seed: u64 = 0x5eed_0107;
    let mut next = move |m: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % m
    };
    let p = Project::new("w0107-sound");
    let mut warned_total = 0;
    let mut conditions = 0;
    for case in 0..24 {
        let n = 3 + next(5) as usize;
        // A group of two consecutive steps, named in later steps' `after`.
        let group = (next(3) == 0 && n >= 4).then(|| next(n as u64 - 3) as usize);
        let in_group = |i: usize| group.is_some_and(|g| i == g || i == g + 1);
        let mut deps: Vec<Vec<String>> = Vec::new();
        let mut rules: Vec<&str> = Vec::new();
        let mut up: Vec<std::collections::BTreeSet<usize>> = Vec::new();
        for i in 0..n {
            let mut ds: Vec<String> = Vec::new();
            let mut u = std::collections::BTreeSet::new();
            let candidates: Vec<usize> = (0..i).filter(|j| !in_group(i) || !in_group(*j)).collect();
            for _ in 0..next(3) {
                if candidates.is_empty() {
                    break;
                }
                let j = candidates[next(candidates.len() as u64) as usize];
                let name = if in_group(j) && !in_group(i) && next(2) == 0 { "g".to_string() } else { format!("s{j}") };
                if ds.contains(&name) {
                    continue;
                }
                if name == "g" {
                    let g = group.unwrap();
                    for m in [g, g + 1] {
                        u.insert(m);
                        u.extend(up[m].iter().copied());
                    }
                } else {
                    u.insert(j);
                    u.extend(up[j].iter().copied());
                }
                ds.push(name);
            }
            rules.push(match next(7) {
                3 if ds.len() >= 2 => "one_success",
                4 if !ds.is_empty() => "all_done",
                // Outcome conditions: the first dependency must succeed
                // (`a, failed(b)`), or is one way among others (`a || failed(b)`).
                5 if ds.len() >= 2 => "cond_and",
                6 if ds.len() >= 2 => "cond_or",
                _ => "all_success",
            });
            conditions += rules.last().is_some_and(|r| r.starts_with("cond")) as usize;
            deps.push(ds);
            up.push(u);
        }
        let when: Vec<bool> = (0..n).map(|_| next(3) == 0).collect();
        let cont: Vec<bool> = (0..n).map(|_| next(3) == 0).collect();

        // The source, with the byte offset of every read, so warned ones can
        // be guarded.
        let build = |guard: &dyn Fn(usize) -> bool| -> (String, Vec<(usize, usize)>) {
            let mut src = String::from("workflow w {\n");
            let mut reads = Vec::new();
            for i in 0..n {
                src += &format!("  input w{i}: bool = true\n  input f{i}: bool = false\n");
            }
            for i in 0..n {
                src += &format!("  output o{i} = `");
                reads.push((src.len(), reads.len()));
                let k = reads.len() - 1;
                src += &if guard(k) { format!("has(s{i}.output.v) ? s{i}.output.v : -1") } else { format!("s{i}.output.v") };
                src += "`\n";
            }
            let step = |i: usize, src: &mut String, reads: &mut Vec<(usize, usize)>, indent: &str| {
                let after = match (deps[i].is_empty(), rules[i]) {
                    (true, _) => String::new(),
                    (false, "all_success") => format!(" after {}", deps[i].join(", ")),
                    (false, "cond_and") => format!(" after {}, failed({})", deps[i][0], deps[i][1..].join("), failed(")),
                    (false, "cond_or") => format!(" after {} || failed({})", deps[i][0], deps[i][1..].join(") || failed(")),
                    (false, rule) => format!(" after {rule}({})", deps[i].join(", ")),
                };
                *src += &format!("{indent}step s{i}{after} {{\n");
                if when[i] {
                    *src += &format!("{indent}  when `inputs.w{i}`\n");
                }
                *src += &format!("{indent}  command \": ");
                for s in &up[i] {
                    *src += "${";
                    reads.push((src.len(), reads.len()));
                    let k = reads.len() - 1;
                    *src += &if guard(k) { format!("has(s{s}.output.v) ? s{s}.output.v : -1") } else { format!("s{s}.output.v") };
                    *src += "} ";
                }
                *src += &format!("; if [ ${{inputs.f{i}}} = true ]; then exit 1; fi; echo '{{\\\"v\\\": {i}}}'\"\n");
                *src += &format!("{indent}  output {{ v: int }}\n");
                if cont[i] {
                    *src += &format!("{indent}  on_failure continue\n");
                }
                *src += &format!("{indent}}}\n");
            };
            for i in 0..n {
                if group == Some(i) {
                    src += "  parallel g {\n";
                    step(i, &mut src, &mut reads, "    ");
                    step(i + 1, &mut src, &mut reads, "    ");
                    src += "  }\n";
                } else if group.is_none_or(|g| i != g + 1) {
                    step(i, &mut src, &mut reads, "  ");
                }
            }
            src += "}\n";
            (src, reads)
        };

        let (plain, reads) = build(&|_| false);
        std::fs::write(p.path("main.flow"), &plain).unwrap();
        let out = p.flowc(&["check", "--format", "json"]);
        let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("case {case}:\n{plain}\n{}", stderr(&out)));
        let mut warned = std::collections::BTreeSet::new();
        for d in report.as_array().unwrap() {
            assert_eq!(d["code"], "W0107", "case {case}: only W0107 is expected:\n{plain}\n{d}");
            let start = d["span"]["start"].as_u64().unwrap() as usize;
            let k = reads.iter().find(|(at, _)| *at == start).unwrap_or_else(|| panic!("case {case}: a warning off any read: {d}\n{plain}")).1;
            warned.insert(k);
        }
        warned_total += warned.len();
        let (guarded, _) = build(&|k| warned.contains(&k));
        for _ in 0..3 {
            let mut args: Vec<String> = Vec::new();
            let mut fails = Vec::new();
            for (i, continues) in cont.iter().enumerate() {
                args.push("-i".into());
                args.push(format!("w{i}={}", next(2) == 0));
                // Only failures the run goes on after: a failure that fails
                // the run is beside the point (W0107 is about runs that go on).
                let f = *continues && next(2) == 0;
                fails.push(f);
                args.push("-i".into());
                args.push(format!("f{i}={f}"));
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let s = run(&p, &guarded, &args);
            for i in 0..n {
                if s["steps"][format!("s{i}")]["status"] == "failed" {
                    assert!(fails[i], "case {case}: step s{i} failed though nothing made it fail ({args:?}):\n{guarded}\n{s}");
                }
            }
            assert_eq!(s["status"], "completed", "case {case} ({args:?}):\n{guarded}\n{s}");
        }
    }
    assert!(warned_total > 10, "the cases exercise the warning ({warned_total} warned reads)");
    assert!(conditions >= 4, "the cases exercise outcome conditions ({conditions})");
}

/// The events of `step` in a run, with their payloads.
fn step_events<'a>(events: &'a [Value], step: &str) -> Vec<(&'a str, &'a Value)> {
    events.iter().filter(|e| e["step"] == step).map(|e| (e["event"].as_str().unwrap_or(""), &e["payload"])).collect()
}

#[test]
fn retry_on_exit_codes_records_why_each_attempt_was_retried_and_why_none_followed() {
    let p = Project::new("retry-on-exit");
    let s = run(
        &p,
        r#"workflow w {
  step busy {
    command "[ $FLOW_ATTEMPT -ge 3 ] && echo done || exit 75"
    retry 3 on exit 75, 111 backoff exponential 2ms factor 3 jitter 50%
  }
  step broken after busy {
    command "exit 2"
    timeout 1m
    retry 3 on exit 75 or timeout
  }
}
"#,
        &[],
    );
    assert_eq!(s["steps"]["busy"]["status"], "completed");
    assert_eq!(s["steps"]["busy"]["attempts"], 3);
    assert_eq!(s["steps"]["broken"]["status"], "failed");
    assert_eq!(s["steps"]["broken"]["attempts"], 1, "exit 2 is not retried");
    let events = p.events(s["run"].as_str().unwrap());
    let busy = step_events(&events, "busy");
    let retried: Vec<&Value> = busy.iter().filter(|(k, _)| *k == "retried").map(|(_, p)| *p).collect();
    assert_eq!(retried.len(), 2, "{busy:?}");
    for (i, r) in retried.iter().enumerate() {
        assert_eq!(r["reason"], "exit", "{r}");
        assert_eq!(r["exit_code"], 75, "{r}");
        // 2ms, then 6ms (factor 3), each spread by up to ±50%.
        let base = [2.0, 6.0][i];
        let delay = r["delay_ms"].as_f64().unwrap();
        assert!(delay >= (base * 0.5_f64).floor() && delay <= (base * 1.5_f64).ceil(), "{r}");
    }
    let broken = step_events(&events, "broken");
    assert!(!broken.iter().any(|(k, _)| *k == "retried"), "{broken:?}");
    let failed = broken.iter().find(|(k, _)| *k == "failed").map(|(_, p)| *p).unwrap();
    assert_eq!(failed["no_retry"], "exit 2 is not retried", "{failed}");
}

#[test]
fn retry_on_timeout_retries_a_timeout_and_nothing_else() {
    let p = Project::new("retry-on-timeout");
    let s = run(
        &p,
        r#"workflow w {
  step slow {
    command "[ $FLOW_ATTEMPT -ge 2 ] || sleep 5; echo done"
    timeout 200ms
    retry 2 on timeout
  }
  step stuck after slow {
    command "sleep 5"
    timeout 100ms
    retry 2 on exit 75
  }
}
"#,
        &[],
    );
    assert_eq!(s["steps"]["slow"]["status"], "completed");
    assert_eq!(s["steps"]["slow"]["attempts"], 2);
    assert_eq!(s["steps"]["stuck"]["status"], "failed");
    assert_eq!(s["steps"]["stuck"]["attempts"], 1);
    let events = p.events(s["run"].as_str().unwrap());
    let slow = step_events(&events, "slow");
    let retried = slow.iter().find(|(k, _)| *k == "retried").map(|(_, p)| *p).unwrap();
    assert_eq!(retried["reason"], "timeout", "{retried}");
    assert!(retried.get("exit_code").is_none(), "{retried}");
    let stuck = step_events(&events, "stuck");
    let failed = stuck.iter().find(|(k, _)| *k == "failed").map(|(_, p)| *p).unwrap();
    assert_eq!(failed["no_retry"], "a timeout is not retried", "{failed}");
}

#[test]
fn max_duration_stops_the_retries_and_a_spent_count_says_attempts() {
    let p = Project::new("retry-max-duration");
    let s = run(
        &p,
        r#"workflow w {
  step slow_failure {
    command "sleep 0.15; exit 1"
    retry 5 backoff fixed 10ms max_duration 250ms
    on_failure continue
  }
  step quick_failure {
    command "exit 1"
    retry 1
  }
}
"#,
        &[],
    );
    // Attempt 1 ends after 150ms and the next may start; attempt 2 ends past
    // 250ms, so no third starts (a slow machine may stop after the first).
    let attempts = s["steps"]["slow_failure"]["attempts"].as_u64().unwrap();
    assert!((1..=2).contains(&attempts), "{s}");
    assert_eq!(s["steps"]["quick_failure"]["attempts"], 2);
    let events = p.events(s["run"].as_str().unwrap());
    let failed_of = |step: &str| {
        step_events(&events, step).into_iter().find(|(k, _)| *k == "failed").map(|(_, p)| p.clone()).unwrap()
    };
    assert_eq!(failed_of("slow_failure")["no_retry"], "max_duration");
    assert_eq!(failed_of("quick_failure")["no_retry"], "attempts");
    let retried = step_events(&events, "quick_failure").into_iter().find(|(k, _)| *k == "retried").map(|(_, p)| p.clone()).unwrap();
    assert_eq!(retried["reason"], "exit");
}

/// A template argument that fails to evaluate fails the step with its own
/// error, not with "undeclared reference to `params`".
#[test]
fn a_failing_template_argument_fails_the_step_with_its_own_error() {
    let p = Project::new("template-argument-error");
    let s = run(
        &p,
        r#"template show(n: int): run {
  command "echo ${params.n}"
}

workflow w {
  step a {
    command "echo '{\"x\": 1}'"
    output { x: int, y?: int }
  }
  step s: use show with { n: `a.output.y` } after a {}
}
"#,
        &[],
    );
    assert_eq!(s["steps"]["s"]["status"], "failed", "{s}");
    let error = s["error"].as_str().unwrap();
    assert!(error.contains("`params` is not bound: the template arguments failed:") && error.contains("No such key: y"), "{error}");
    assert!(!error.contains("Undeclared reference"), "{error}");
}
