//! Published workflows, ported to `.flow`, run end to end.
//!
//! Each directory of `tests/real/` is a flowc project holding one ported
//! workflow, a README.md naming its source and the step statuses its
//! original engine documents, and an `expected.json` holding those statuses
//! as data. Each test here checks one project (`flowc check` must report no
//! error, and exactly the warnings `expected.json` lists and the README
//! explains), runs its scenarios with `flowc run`, follows any further
//! commands a scenario gives (`flowc approve …`), and compares
//! `flowc runs show RUN --json` with the expected statuses, attempts and
//! outputs.
//!
//! `expected.json`:
//!
//! ```json
//! { "workflow": "NAME", "warnings": ["W0102"],
//!   "scenarios": [{ "name": "…", "inputs": { "k": "v" }, "exit": 0,
//!                   "status": "completed", "steps": { "STEP": "STATUS" },
//!                   "attempts": { "STEP": 3 }, "outputs": { … },
//!                   "step_outputs": { "STEP": … }, "max_running_items": 2,
//!                   "then": [{ "command": ["approve", "{run}", "STEP", "--as", "x"],
//!                              "exit": 0, "status": "…", "steps": { … } }] }],
//!   "defect_symptom": "text one of the mismatches contains (KNOWN_DEFECTS only)" }
//! ```
//!
//! `steps` lists every step of the workflow, so a step the run never
//! recorded is a mismatch too.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{json, Map, Value};
use support::{code, flowc_bin, stderr, stdout, Project};

/// Ported workflows that hit a defect of flowc: (directory, defect). Their
/// expected.json keeps the statuses the original engine documents; the test
/// asserts that flowc still gets them wrong, in the way `defect_symptom`
/// says. When a fix lands, the test fails: remove the entry.
const KNOWN_DEFECTS: &[(&str, &str)] = &[];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/real")
}

/// `flowc -C tests/real/DIR --state SCRATCH/state.db ARGS`.
fn flowc(dir: &Path, scratch: &Project, args: &[&str]) -> Output {
    Command::new(flowc_bin())
        .arg("-C")
        .arg(dir)
        .arg("--state")
        .arg(scratch.path("state.db"))
        .args(args)
        .env_remove("FLOW_STATE")
        .env_remove("FLOW_NOTIFY")
        .env_remove("FLOW_USER")
        .env_remove("FLOW_EVENTS_SINK")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn json_of(out: &Output, what: &str) -> Result<Value, String> {
    serde_json::from_slice(&out.stdout).map_err(|e| format!("{what}: not JSON ({e}): {}\n{}", stdout(out), stderr(out)))
}

/// An input value as `-i` takes it: strings as they are, anything else as JSON.
fn input_arg(name: &str, value: &Value) -> String {
    match value {
        Value::String(s) => format!("{name}={s}"),
        other => format!("{name}={other}"),
    }
}

/// Compares a run as `runs show` reports it with an expectation (`steps`,
/// `status`, `attempts`, `outputs`, `step_outputs`), adding a line to
/// `wrong` for every difference.
fn compare_run(what: &str, shown: &Value, expect: &Map<String, Value>, wrong: &mut Vec<String>) {
    if let Some(status) = expect.get("status").filter(|status| &shown["status"] != *status) {
        wrong.push(format!("{what}: run status is {}, expected {status}", shown["status"]));
    }
    let steps = shown["steps"].as_object().cloned().unwrap_or_default();
    let want = expect["steps"].as_object().expect("`steps` is an object");
    for (step, status) in want {
        match steps.get(step) {
            None => wrong.push(format!("{what}: step {step} is not in the run (expected {status})")),
            Some(got) if &got["status"] != status => {
                wrong.push(format!("{what}: step {step} is {}, expected {status}", got["status"]))
            }
            Some(_) => {}
        }
    }
    for step in steps.keys().filter(|s| !want.contains_key(*s)) {
        wrong.push(format!("{what}: step {step} is in the run but not in expected.json"));
    }
    for (step, attempts) in expect.get("attempts").and_then(Value::as_object).into_iter().flatten() {
        let got = &steps.get(step).cloned().unwrap_or_default()["attempts"];
        if got != attempts {
            wrong.push(format!("{what}: step {step} took {got} attempts, expected {attempts}"));
        }
    }
    for (step, output) in expect.get("step_outputs").and_then(Value::as_object).into_iter().flatten() {
        let got = &steps.get(step).cloned().unwrap_or_default()["output"];
        if got != output {
            wrong.push(format!("{what}: step {step} output {got}, expected {output}"));
        }
    }
    if let Some(outputs) = expect.get("outputs").filter(|outputs| &shown["outputs"] != *outputs) {
        wrong.push(format!("{what}: run outputs {}, expected {outputs}", shown["outputs"]));
    }
}

/// The most `for each` instances running at once, from the event log
/// (`item_started` up to `item_completed` / `item_failed`).
fn max_running_items(events: &[Value]) -> i64 {
    let (mut running, mut most) = (0i64, 0i64);
    for event in events {
        match event["event"].as_str() {
            Some("item_started") => running += 1,
            Some("item_completed" | "item_failed") => running -= 1,
            _ => {}
        }
        most = most.max(running);
    }
    most
}

/// Runs a flowc command of a scenario and compares its exit code and the run
/// it leaves with `expect`.
fn step_of_scenario(dir: &Path, scratch: &Project, what: &str, args: &[&str], run: Option<&str>, expect: &Map<String, Value>, wrong: &mut Vec<String>) -> Option<String> {
    let out = flowc(dir, scratch, args);
    let exit = expect["exit"].as_i64().expect("`exit` is a number") as i32;
    if code(&out) != exit {
        wrong.push(format!("{what}: `flowc {}` exited {}, expected {exit}: {}", args.join(" "), code(&out), stderr(&out)));
    }
    let run = match run {
        Some(run) => run.to_string(),
        None => match json_of(&out, what) {
            Ok(summary) => summary["run"].as_str()?.to_string(),
            Err(e) => {
                wrong.push(e);
                return None;
            }
        },
    };
    let shown = flowc(dir, scratch, &["runs", "show", &run, "--json"]);
    match json_of(&shown, what) {
        Ok(shown) => compare_run(what, &shown, expect, wrong),
        Err(e) => wrong.push(e),
    }
    if let Some(limit) = expect.get("max_running_items") {
        let events = flowc(dir, scratch, &["runs", "events", &run, "--json"]);
        match json_of(&events, what) {
            Ok(events) => {
                let most = max_running_items(events.as_array().map(Vec::as_slice).unwrap_or_default());
                if json!(most) != *limit {
                    wrong.push(format!("{what}: at most {most} `for each` instances ran at once, expected {limit}"));
                }
            }
            Err(e) => wrong.push(e),
        }
    }
    Some(run)
}

/// Everything that differs between what flowc does with the project and
/// what its expected.json says.
fn mismatches(name: &str, dir: &Path, expected: &Value) -> Vec<String> {
    let mut wrong = vec![];
    let scratch = Project::new(&format!("real-{name}"));

    // The project directory is named, not `.`: `flowc -C DIR check` checks
    // the current directory, not DIR (reported with this suite).
    let check = flowc(dir, &scratch, &["check", dir.to_str().unwrap(), "--format", "json"]);
    match json_of(&check, "flowc check") {
        Ok(diags) => {
            let diags = diags.as_array().cloned().unwrap_or_default();
            for d in diags.iter().filter(|d| d["severity"] != "warning") {
                wrong.push(format!("flowc check: {} {} at line {}: {}", d["severity"], d["code"], d["line"], d["message"]));
            }
            let mut warnings: Vec<&str> = diags.iter().filter(|d| d["severity"] == "warning").filter_map(|d| d["code"].as_str()).collect();
            warnings.sort_unstable();
            let mut want: Vec<&str> = expected["warnings"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            want.sort_unstable();
            if warnings != want {
                wrong.push(format!("flowc check: warnings {warnings:?}, expected {want:?} (see the README)"));
            }
        }
        Err(e) => wrong.push(e),
    }
    if !wrong.is_empty() {
        return wrong;
    }

    let workflow = expected["workflow"].as_str().expect("`workflow` is a string");
    for scenario in expected["scenarios"].as_array().expect("`scenarios` is a list") {
        let scenario = scenario.as_object().expect("a scenario is an object");
        let what = scenario["name"].as_str().unwrap_or("scenario").to_string();
        let inputs: Vec<String> =
            scenario.get("inputs").and_then(Value::as_object).into_iter().flatten().map(|(k, v)| input_arg(k, v)).collect();
        let mut args = vec!["run", workflow, "--json"];
        for input in &inputs {
            args.extend(["-i", input.as_str()]);
        }
        let Some(run) = step_of_scenario(dir, &scratch, &what, &args, None, scenario, &mut wrong) else { continue };
        for (i, then) in scenario.get("then").and_then(Value::as_array).into_iter().flatten().enumerate() {
            let then = then.as_object().expect("a `then` entry is an object");
            let command: Vec<String> = then["command"]
                .as_array()
                .expect("`command` is a list")
                .iter()
                .map(|a| a.as_str().expect("command words are strings").replace("{run}", &run))
                .collect();
            let mut args: Vec<&str> = command.iter().map(String::as_str).collect();
            args.push("--json");
            step_of_scenario(dir, &scratch, &format!("{what}, then #{}", i + 1), &args, Some(&run), then, &mut wrong);
        }
    }
    wrong
}

/// Checks and runs `tests/real/NAME` against its expected.json.
fn port(name: &str) {
    let dir = root().join(name);
    assert!(dir.join("README.md").is_file(), "{name} has no README.md");
    let text = std::fs::read_to_string(dir.join("expected.json")).unwrap();
    let expected: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}/expected.json: {e}"));
    let wrong = mismatches(name, &dir, &expected);
    match KNOWN_DEFECTS.iter().find(|(dir, _)| *dir == name) {
        None => assert!(wrong.is_empty(), "{name} does not behave as its original engine documents:\n  {}", wrong.join("\n  ")),
        Some((_, defect)) => {
            let symptom = expected["defect_symptom"].as_str().unwrap_or_else(|| panic!("{name} is a known defect: expected.json needs `defect_symptom`"));
            assert!(
                wrong.iter().any(|w| w.contains(symptom)),
                "{name} no longer shows its known defect ({defect}): expected a mismatch containing {symptom:?}, got {wrong:#?}. \
                 If it is fixed, remove its entry from KNOWN_DEFECTS and its `defect_symptom`."
            );
        }
    }
}

#[test]
fn every_directory_has_a_test_and_every_known_defect_a_directory() {
    let source = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/real.rs")).unwrap();
    for entry in std::fs::read_dir(root()).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            let name = entry.file_name().into_string().unwrap();
            assert!(source.contains(&format!("fn {name}() {{\n    port(\"{name}\")")), "tests/real/{name} has no test function");
        }
    }
    for (dir, _) in KNOWN_DEFECTS {
        assert!(root().join(dir).is_dir(), "KNOWN_DEFECTS names {dir}, which is not a directory of tests/real");
    }
}

#[test]
fn airflow_example_bash_operator() {
    port("airflow_example_bash_operator")
}

#[test]
fn airflow_example_branch_operator() {
    port("airflow_example_branch_operator")
}

#[test]
fn airflow_example_latest_only_with_trigger() {
    port("airflow_example_latest_only_with_trigger")
}

#[test]
fn airflow_example_nested_branch_dag() {
    port("airflow_example_nested_branch_dag")
}

#[test]
fn airflow_example_short_circuit_operator() {
    port("airflow_example_short_circuit_operator")
}

#[test]
fn airflow_example_skip_dag() {
    port("airflow_example_skip_dag")
}

#[test]
fn airflow_example_task_group() {
    port("airflow_example_task_group")
}

#[test]
fn airflow_tutorial() {
    port("airflow_tutorial")
}

#[test]
fn argo_coinflip() {
    port("argo_coinflip")
}

#[test]
fn argo_conditionals_complex() {
    port("argo_conditionals_complex")
}

#[test]
fn argo_continue_on_fail() {
    port("argo_continue_on_fail")
}

#[test]
fn argo_dag_conditional_parameters() {
    port("argo_dag_conditional_parameters")
}

#[test]
fn argo_dag_diamond() {
    port("argo_dag_diamond")
}

#[test]
fn argo_dag_disable_failfast() {
    port("argo_dag_disable_failfast")
}

#[test]
fn argo_dag_enhanced_depends() {
    port("argo_dag_enhanced_depends")
}

#[test]
fn argo_dag_multiroot() {
    port("argo_dag_multiroot")
}

#[test]
fn argo_dag_nested() {
    port("argo_dag_nested")
}

#[test]
fn argo_exit_handlers() {
    port("argo_exit_handlers")
}

#[test]
fn argo_expression_fallback() {
    port("argo_expression_fallback")
}

#[test]
fn argo_intermediate_parameters() {
    port("argo_intermediate_parameters")
}

#[test]
fn argo_loops() {
    port("argo_loops")
}

#[test]
fn argo_loops_maps() {
    port("argo_loops_maps")
}

#[test]
fn argo_loops_param_result() {
    port("argo_loops_param_result")
}

#[test]
fn argo_output_parameter() {
    port("argo_output_parameter")
}

#[test]
fn argo_parallelism_limit() {
    port("argo_parallelism_limit")
}

#[test]
fn argo_parallelism_nested() {
    port("argo_parallelism_nested")
}

#[test]
fn argo_parameter_aggregation() {
    port("argo_parameter_aggregation")
}

#[test]
fn argo_parameter_aggregation_dag() {
    port("argo_parameter_aggregation_dag")
}

#[test]
fn argo_retry_backoff() {
    port("argo_retry_backoff")
}

#[test]
fn argo_status_reference() {
    port("argo_status_reference")
}

#[test]
fn argo_step_level_timeout() {
    port("argo_step_level_timeout")
}

#[test]
fn argo_steps() {
    port("argo_steps")
}

#[test]
fn argo_suspend_template() {
    port("argo_suspend_template")
}

#[test]
fn argo_timeouts_workflow() {
    port("argo_timeouts_workflow")
}

#[test]
fn gha_rust_analyzer_ci() {
    port("gha_rust_analyzer_ci")
}

#[test]
fn sfn_saga_pattern() {
    port("sfn_saga_pattern")
}

#[test]
fn sfn_human_in_the_loop() {
    port("sfn_human_in_the_loop")
}

/// The ported workflows stay in the formatter's layout.
#[test]
fn every_port_is_formatted() {
    let out = Command::new(flowc_bin()).arg("fmt").arg("--check").arg(root()).stdin(Stdio::null()).output().unwrap();
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
}
