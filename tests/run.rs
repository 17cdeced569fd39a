//! End-to-end tests of `flowc run` and the run lifecycle, one behaviour each.
//! Plans are built in each test (see `support::Wf`) and run by the binary.

mod support;

use serde_json::{json, Value};
use support::*;

fn events_of<'a>(events: &'a [Value], step: &str) -> Vec<&'a str> {
    events.iter().filter(|e| e["step"] == step).map(|e| e["event"].as_str().unwrap()).collect()
}

#[test]
fn run_json_summary_has_the_documented_shape() {
    let p = Project::new("shape");
    let mut wf = Wf::new("hello");
    wf.input("who", "string", None);
    wf.run("greet", r#"printf '{"text": "hi %s"}' ${inputs.who}"#, json!({}));
    wf.output("greeting", "greet.output.text");
    let (out, summary) = p.run(&plan(vec![wf]), &["-i", "who=Ada"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let keys: Vec<&String> = summary.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["cost_usd", "outputs", "run", "status", "steps", "workflow"]);
    assert_eq!(summary["status"], "completed");
    assert_eq!(summary["workflow"], "hello");
    assert_eq!(summary["outputs"], json!({ "greeting": "hi Ada" }));
    assert_eq!(summary["steps"]["greet"], json!({ "status": "completed", "attempts": 1, "output": { "text": "hi Ada" } }));
    assert_eq!(summary["cost_usd"], json!(0.0));
}

#[test]
fn all_success_propagates_failure_and_skips() {
    let p = Project::new("trigger");
    let mut wf = Wf::new("t");
    wf.run("bad", "exit 3", json!({}));
    wf.run("after_bad", "echo no", json!({ "after": ["bad"] }));
    wf.run("after_after_bad", "echo no", json!({ "after": ["after_bad"] }));
    wf.run("off", "echo no", json!({ "when": "1 > 2" }));
    wf.run("after_off", "echo no", json!({ "after": ["off"] }));
    wf.run("after_after_off", "echo no", json!({ "after": ["after_off"] }));
    wf.run("cleanup", "echo yes", json!({ "after": ["bad", "off"], "trigger": "all_done" }));
    wf.run("either", "echo yes", json!({ "after": ["bad", "cleanup"], "trigger": "one_success" }));
    wf.run("neither", "echo no", json!({ "after": ["bad", "off"], "trigger": "one_success" }));
    let (out, s) = p.run(&plan(vec![wf]), &[]);
    assert_eq!(code(&out), 1, "a failed step fails the run");
    assert_eq!(status(&s, "bad"), "failed");
    assert_eq!(status(&s, "after_bad"), "upstream_failed");
    assert_eq!(status(&s, "after_after_bad"), "upstream_failed");
    assert_eq!(status(&s, "off"), "skipped");
    assert_eq!(status(&s, "after_off"), "skipped");
    assert_eq!(status(&s, "after_after_off"), "skipped");
    assert_eq!(status(&s, "cleanup"), "completed");
    assert_eq!(status(&s, "either"), "completed");
    assert_eq!(status(&s, "neither"), "upstream_failed", "Airflow's one_success: nothing succeeded and one failed");
    assert_eq!(s["status"], "failed");
    let events = p.events(s["run"].as_str().unwrap());
    let upstream = events.iter().find(|e| e["step"] == "after_bad" && e["event"] == "upstream_failed").unwrap();
    assert_eq!(upstream["payload"]["failed"], json!(["bad"]));
}

#[test]
fn all_success_with_a_failed_and_a_skipped_dep_is_upstream_failed() {
    let p = Project::new("mixed");
    let mut wf = Wf::new("t");
    wf.run("bad", "false", json!({ "on_failure": "continue" }));
    wf.run("off", "true", json!({ "when": "false" }));
    wf.run("join", "true", json!({ "after": ["bad", "off"] }));
    let (out, s) = p.run(&plan(vec![wf]), &[]);
    assert_eq!(status(&s, "join"), "upstream_failed");
    assert_eq!(code(&out), 0, "on_failure continue does not fail the run: {}", stderr(&out));
    assert_eq!(s["status"], "completed");
}

#[test]
fn branch_runs_the_picked_arm_and_skips_the_others() {
    let p = Project::new("branch");
    let mut wf = Wf::new("sdr");
    wf.input("deal", "number", None);
    wf.branch("route", &[(Some("inputs.deal > 50000.0"), "manager"), (None, "auto")], json!({}));
    wf.run("manager", "echo manager", json!({ "after": ["route"] }));
    wf.run("auto", "echo auto", json!({ "after": ["route"] }));
    wf.run("send", "echo sent", json!({ "after": ["manager", "route"], "trigger": "one_success" }));
    wf.run("audit", "echo audit", json!({ "after": ["route"] }));
    wf.run("after_auto", "echo x", json!({ "after": ["auto"] }));
    let plan = plan(vec![wf]);

    let (_, big) = p.run(&plan, &["-i", "deal=75000"]);
    assert_eq!(big["steps"]["route"]["output"], json!({ "picked": "manager" }));
    assert_eq!(status(&big, "manager"), "completed");
    assert_eq!(status(&big, "auto"), "skipped");
    assert_eq!(status(&big, "after_auto"), "skipped");
    assert_eq!(status(&big, "send"), "completed");
    assert_eq!(status(&big, "audit"), "completed", "a non-arm dependent sees the branch as completed");

    let (_, small) = p.run(&plan, &["-i", "deal=10"]);
    assert_eq!(status(&small, "manager"), "skipped");
    assert_eq!(status(&small, "auto"), "completed");
    assert_eq!(status(&small, "send"), "completed", "the one_success join runs through the branch itself");
    let events = p.events(small["run"].as_str().unwrap());
    let skip = events.iter().find(|e| e["step"] == "manager" && e["event"] == "skipped").unwrap();
    assert_eq!(skip["payload"]["reason"], "branch route picked auto");
}

#[test]
fn when_false_skips_and_when_true_runs() {
    let p = Project::new("when");
    let mut wf = Wf::new("w");
    wf.input("flag", "bool", None);
    wf.run("maybe", "echo ran", json!({ "when": "inputs.flag" }));
    let plan = plan(vec![wf]);
    let (_, off) = p.run(&plan, &["-i", "flag=false"]);
    assert_eq!(status(&off, "maybe"), "skipped");
    assert_eq!(off["steps"]["maybe"]["attempts"], 0);
    let (_, on) = p.run(&plan, &["-i", "flag=true"]);
    assert_eq!(on["steps"]["maybe"]["output"], "ran");
}

#[test]
fn hostile_values_reach_commands_as_one_literal_argument() {
    let p = Project::new("quote");
    let mut wf = Wf::new("q");
    wf.input("name", "string", None);
    wf.run("echo_it", r#"printf '%s|' ${inputs.name}; touch marker"#, json!({}));
    let hostile = "'; touch pwned #";
    let (out, s) = p.run(&plan(vec![wf]), &["-i", &format!("name={hostile}")]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(s["steps"]["echo_it"]["output"], format!("{hostile}|"));
    assert!(p.path("marker").exists());
    assert!(!p.path("pwned").exists(), "the value was interpreted by the shell");
}

#[test]
fn inputs_and_upstream_outputs_are_in_the_environment() {
    let p = Project::new("env");
    let mut wf = Wf::new("e");
    wf.input("lead-id", "string", None);
    wf.run("first", r#"echo '{"n": 1}'"#, json!({}));
    wf.run("second", r#"printf '%s %s %s %s' "$FLOW_INPUT_LEAD_ID" "$FLOW_STEP_FIRST_OUTPUT" "$FLOW_STEP" "$FLOW_ATTEMPT""#, json!({ "after": ["first"] }));
    let (_, s) = p.run(&plan(vec![wf]), &["-i", "lead-id=L7"]);
    assert_eq!(s["steps"]["second"]["output"], r#"L7 {"n":1} second 1"#);
}

#[test]
fn retries_record_every_attempt() {
    let p = Project::new("retry");
    let mut wf = Wf::new("r");
    wf.run(
        "flaky",
        "echo x >> tries; [ $(wc -l < tries) -ge 3 ] && echo ok || { echo 'not yet' >&2; exit 1; }",
        json!({ "retry": { "count": 3, "backoff": "exponential", "delay_ms": 10, "max_ms": 20 } }),
    );
    let (out, s) = p.run(&plan(vec![wf]), &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(s["steps"]["flaky"]["attempts"], 3);
    let run = s["run"].as_str().unwrap();
    let events = p.events(run);
    assert_eq!(events_of(&events, "flaky"), ["started", "retried", "started", "retried", "started", "completed"]);
    let retried: Vec<&Value> = events.iter().filter(|e| e["event"] == "retried").collect();
    assert_eq!(retried[0]["payload"]["delay_ms"], 10);
    assert_eq!(retried[1]["payload"]["delay_ms"], 20);
    assert!(retried[0]["payload"]["error"].as_str().unwrap().contains("not yet"));
    let show = p.json(&["runs", "show", run, "--json"]);
    let attempts: Vec<(u64, &str)> = show["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["attempt"].as_u64().unwrap(), a["status"].as_str().unwrap()))
        .collect();
    assert_eq!(attempts, [(1, "failed"), (2, "failed"), (3, "completed")]);
}

#[test]
fn retries_run_out() {
    let p = Project::new("retry-out");
    let mut wf = Wf::new("r");
    wf.run("never", "exit 1", json!({ "retry": { "count": 1 } }));
    let (out, s) = p.run(&plan(vec![wf]), &[]);
    assert_eq!(code(&out), 1);
    assert_eq!(s["steps"]["never"]["attempts"], 2);
    assert_eq!(s["steps"]["never"]["status"], "failed");
    // The progress line says why no third attempt followed.
    assert!(stderr(&out).contains("never failed: the command exited with status 1 (2 attempts, no retries left)"), "{}", stderr(&out));
}

#[test]
fn a_step_timeout_kills_the_whole_process_group() {
    let p = Project::new("timeout");
    let mut wf = Wf::new("t");
    wf.run("slow", "sleep 30 & echo $! > bg.pid; wait", json!({ "timeout_ms": 300 }));
    let (out, s) = p.run(&plan(vec![wf]), &[]);
    assert_eq!(code(&out), 1);
    assert_eq!(status(&s, "slow"), "failed");
    let events = p.events(s["run"].as_str().unwrap());
    let failed = events.iter().find(|e| e["event"] == "failed" && e["step"] == "slow").unwrap();
    assert!(failed["payload"]["error"].as_str().unwrap().contains("timed out after 300ms"), "{failed}");
    let pid: i64 = p.read("bg.pid").trim().parse().unwrap();
    wait_until("the background sleep to die", || process_gone(pid));
}

#[test]
fn concurrency_bounds_running_steps() {
    let p = Project::new("concurrency");
    let mut wf = Wf::new("c");
    wf.defaults = json!({ "concurrency": 2 });
    // Each step marks itself running, records how many are running, waits
    // until a second one runs (or 10 s), and unmarks itself.
    let body = "touch running.$FLOW_STEP; ls running.* | wc -l >> counts; \
                i=0; while [ $(ls running.* | wc -l) -lt 2 ] && [ $i -lt 500 ] && [ ! -f finished ]; do sleep 0.02; i=$((i+1)); done; \
                rm running.$FLOW_STEP";
    for i in 0..6 {
        wf.run(&format!("s{i}"), body, json!({}));
    }
    wf.run("last", "touch finished", json!({ "after": ["s0", "s1", "s2", "s3", "s4", "s5"] }));
    let (out, _) = p.run(&plan(vec![wf]), &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let counts: Vec<u32> = p.read("counts").lines().map(|l| l.trim().parse().unwrap()).collect();
    assert_eq!(counts.len(), 6);
    assert!(counts.iter().all(|c| *c <= 2), "more than 2 steps ran at once: {counts:?}");
    assert_eq!(counts.iter().max(), Some(&2), "two steps should have run together: {counts:?}");
}

#[test]
fn output_type_mismatch_fails_the_step_clearly() {
    let p = Project::new("types");
    let mut wf = Wf::new("t");
    let ty = json!({ "type": "object", "fields": [
        { "name": "summary", "ty": { "type": "string" } },
        { "name": "deal_value", "ty": { "type": "number" } }
    ]});
    wf.run_typed("research", r#"echo '{"summary": 3, "deal_value": 10}'"#, ty.clone(), json!({}));
    wf.run_typed("good", r#"echo '{"summary": "ok", "deal_value": 1.5, "extra": true}'"#, ty.clone(), json!({}));
    wf.run_typed("not_json", "echo hello", ty, json!({}));
    let (out, s) = p.run(&plan(vec![wf]), &[]);
    assert_eq!(code(&out), 1);
    assert_eq!(status(&s, "research"), "failed");
    assert_eq!(status(&s, "good"), "completed");
    let events = p.events(s["run"].as_str().unwrap());
    let err = |step: &str| {
        events.iter().find(|e| e["event"] == "failed" && e["step"] == step).unwrap()["payload"]["error"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        err("research"),
        "the output does not match its declared type { summary: string, deal_value: number }: output.summary should be string but is a number"
    );
    assert!(err("not_json").starts_with("the output is not JSON"), "{}", err("not_json"));
}

fn agents() -> Value {
    json!([
        { "name": "echoer", "command": "read p; printf '{\"answer\": \"%s\", \"env\": \"%s\", \"cost_usd\": 0.25}' \"$p\" \"$FLOW_PROMPT\"" },
        { "name": "flat", "command": "cat >/dev/null; echo '{\"answer\": 42}'", "cost_per_call": 0.1 },
        { "name": "pricey", "command": "cat >/dev/null; echo '{}'", "cost_per_call": 0.6 }
    ])
}

#[test]
fn agents_get_the_prompt_and_charge_their_cost() {
    let p = Project::new("agent");
    let mut wf = Wf::new("a");
    wf.input("company", "string", None);
    wf.agent("research", 0, "Research ${inputs.company}", json!({}));
    wf.agent("qualify", 1, "Qualify ${research.output.answer}", json!({ "after": ["research"] }));
    let (out, s) = p.run(&plan_with_agents(vec![wf], agents()), &["-i", "company=Acme"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(s["steps"]["research"]["output"]["answer"], "Research Acme");
    assert_eq!(s["steps"]["research"]["output"]["env"], "Research Acme");
    assert_eq!(s["steps"]["qualify"]["output"]["answer"], 42);
    assert_eq!(s["cost_usd"], json!(0.35));
}

#[test]
fn budget_exceeded_fails_the_run() {
    let p = Project::new("budget");
    let mut wf = Wf::new("b");
    wf.defaults = json!({ "budget_usd": 1.0 });
    wf.agent("one", 2, "x", json!({}));
    wf.agent("two", 2, "x", json!({ "after": ["one"] }));
    wf.agent("three", 2, "x", json!({ "after": ["two"] }));
    let (out, s) = p.run(&plan_with_agents(vec![wf], agents()), &[]);
    assert_eq!(code(&out), 1);
    assert_eq!(s["status"], "failed");
    assert_eq!(status(&s, "two"), "completed");
    assert_eq!(status(&s, "three"), "cancelled");
    assert_eq!(s["error"], "the run spent $1.2000, over its budget of $1.00");
    let events = p.events(s["run"].as_str().unwrap());
    assert!(events.iter().any(|e| e["event"] == "budget_exceeded"));
}

#[test]
fn call_runs_a_child_whose_outputs_are_the_step_output() {
    let p = Project::new("call");
    let mut parent = Wf::new("parent");
    parent.call("double", "doubler", "{'x': 21}", json!({}));
    parent.run("show", "echo ${double.output.y}", json!({ "after": ["double"] }));
    let mut child = Wf::new("doubler");
    child.input("x", "int", None);
    child.run("calc", "echo $((${inputs.x} * 2))", json!({}));
    child.output("y", "calc.output");
    let (out, s) = p.run(&plan(vec![parent, child]), &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(s["steps"]["double"]["output"], json!({ "y": 42 }));
    assert_eq!(s["steps"]["show"]["output"], 42);
    let runs = p.json(&["runs", "list", "--json"]);
    let child_run = runs.as_array().unwrap().iter().find(|r| r["workflow"] == "doubler").unwrap();
    assert_eq!(child_run["parent_run"], s["run"]);
    assert_eq!(child_run["status"], "completed");
}

#[test]
fn notify_goes_to_stderr_by_default_and_to_a_command_sink() {
    let p = Project::new("notify");
    let mut wf = Wf::new("n");
    wf.input("company", "string", None);
    wf.notify("tell", "slack:#sales", "Outreach sent to ${inputs.company}", json!({}));
    let plan = plan(vec![wf]);
    let (out, s) = p.run(&plan, &["-i", "company=Acme"]);
    assert_eq!(code(&out), 0);
    assert!(stderr(&out).contains("notify slack:#sales: Outreach sent to Acme"), "{}", stderr(&out));
    let events = p.events(s["run"].as_str().unwrap());
    let notified = events.iter().find(|e| e["event"] == "notified").unwrap();
    assert_eq!(notified["payload"], json!({ "channel": "slack:#sales", "message": "Outreach sent to Acme", "sink": "stderr" }));

    let (out, _) = p.run(&plan, &["-i", "company=Acme", "--notify", "command:cat >> sent.txt; echo \"$FLOW_NOTIFY_CHANNEL\" >> sent.txt"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(p.read("sent.txt"), "Outreach sent to Acme\nslack:#sales\n");
    assert!(!stderr(&out).contains("notify slack"));
}

#[test]
fn notify_sink_failure_never_fails_the_run() {
    let p = Project::new("notify-fail");
    let mut wf = Wf::new("n");
    wf.notify("tell", "c", "m", json!({}));
    let (out, s) = p.run(&plan(vec![wf]), &["--notify", "command:exit 9"]);
    assert_eq!(code(&out), 0);
    assert_eq!(status(&s, "tell"), "completed");
}

#[test]
fn pause_and_resume_from_a_second_process() {
    let p = Project::new("pause");
    let mut wf = Wf::new("p");
    wf.run("a", "touch a.started; while [ ! -f go ]; do sleep 0.02; done; echo a >> ran", json!({}));
    wf.run("b", "echo b >> ran", json!({ "after": ["a"] }));
    let mut child = p.spawn_run(&plan(vec![wf]), &[]);
    wait_until("step a to start", || p.path("a.started").exists());
    let run = p.last_run();
    let out = p.flowc(&["pause", &run]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(p.json(&["runs", "show", &run, "--json"])["status"], "paused");
    std::fs::write(p.path("go"), "").unwrap();
    let (exit, stdout, _) = wait_exit(&mut child);
    assert_eq!(exit, 3, "a paused run exits 3");
    let summary: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(status(&summary, "a"), "completed", "the running step finished");
    assert_eq!(status(&summary, "b"), "pending", "no new step started");

    let out = p.flowc(&["resume", &run, "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["status"], "completed");
    assert_eq!(p.read("ran"), "a\nb\n");
    let events = p.events(&run);
    let run_events: Vec<&str> = events.iter().filter(|e| e["step"].is_null()).map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(run_events, ["started", "paused", "resumed", "completed"]);
}

#[test]
fn cancel_from_a_second_process_kills_running_steps() {
    let p = Project::new("cancel");
    let mut wf = Wf::new("c");
    wf.run("long", "echo $$ > long.pid; sleep 30", json!({}));
    wf.run("next", "echo no", json!({ "after": ["long"] }));
    let mut child = p.spawn_run(&plan(vec![wf]), &[]);
    wait_until("the step to start", || !p.read("long.pid").trim().is_empty());
    let pid: i64 = p.read("long.pid").trim().parse().unwrap();
    let run = p.last_run();
    let out = p.flowc(&["cancel", &run]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let (exit, stdout, _) = wait_exit(&mut child);
    assert_eq!(exit, 1);
    let summary: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(summary["status"], "cancelled");
    assert_eq!(status(&summary, "long"), "cancelled");
    assert_eq!(status(&summary, "next"), "cancelled");
    wait_until("the step's process to die", || process_gone(pid));
    let out = p.flowc(&["resume", &run]);
    assert_eq!(code(&out), 2, "a cancelled run cannot be resumed");
}

#[test]
fn compensate_walks_completed_steps_in_reverse_order() {
    let p = Project::new("compensate");
    let mut wf = Wf::new("saga");
    wf.input("lead", "string", None);
    let undo = |wf: &mut Wf, name: &str| json!({ "template": wf.template(&format!("echo undo-{name} ${{inputs.lead}} >> undo.log"), true) });
    let c = undo(&mut wf, "book");
    wf.run("book", "echo booked", json!({ "compensate": c }));
    let c = undo(&mut wf, "charge");
    wf.run("charge", "echo charged", json!({ "after": ["book"], "compensate": c }));
    wf.run("note", "echo no-undo", json!({ "after": ["charge"] }));
    let c = undo(&mut wf, "email");
    wf.run("email", "echo mailed", json!({ "after": ["note"], "compensate": c }));
    let c = undo(&mut wf, "never");
    wf.run("never", "exit 1", json!({ "after": ["email"], "compensate": c }));
    let (_, s) = p.run(&plan(vec![wf]), &["-i", "lead=L1"]);
    assert_eq!(s["status"], "failed");
    let run = s["run"].as_str().unwrap();
    let out = p.flowc(&["compensate", run, "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(p.read("undo.log"), "undo-email L1\nundo-charge L1\nundo-book L1\n");
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["status"], "compensated");
    assert_eq!(status(&summary, "book"), "compensated");
    assert_eq!(status(&summary, "note"), "completed");
    assert_eq!(status(&summary, "never"), "failed");
    let events = p.events(run);
    let compensated: Vec<&str> =
        events.iter().filter(|e| e["event"] == "compensated").map(|e| e["step"].as_str().unwrap_or("(run)")).collect();
    assert_eq!(compensated, ["email", "charge", "book", "(run)"]);
    assert_eq!(code(&p.flowc(&["compensate", run])), 2, "compensating twice is refused");
}

#[test]
fn compensation_can_be_a_step() {
    let p = Project::new("compensate-step");
    let mut wf = Wf::new("saga");
    wf.run("undo_book", "echo undone-by-step >> undo.log", json!({}));
    wf.run("book", "echo booked", json!({ "compensate": { "step": 0 } }));
    let (out, s) = p.run(&plan(vec![wf]), &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(s["steps"].get("undo_book").is_none(), "a compensation step does not run in the run");
    let run = s["run"].as_str().unwrap();
    assert_eq!(code(&p.flowc(&["compensate", run])), 0);
    assert_eq!(p.read("undo.log"), "undone-by-step\n");
}

#[test]
fn a_compensation_sees_env_and_run_as_its_step_saw_them() {
    let p = Project::new("compensate-env");
    let source = r#"workflow w {
  env { WHO = "bob" }
  step book {
    env { WHAT = "room for ${env.WHO}" }
    command "echo booked"
    compensate "echo undo ${env.WHAT} in ${run.workflow} ${run.id} > undo.log"
  }
  step fail after book { command "exit 1" }
}
"#;
    let (_, s) = p.run_source(source, "w", &[]);
    assert_eq!(s["status"], "failed");
    let run = s["run"].as_str().unwrap();
    let out = p.flowc(&["compensate", run]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(p.read("undo.log"), format!("undo room for bob in w {run}\n"));
}

#[test]
fn kill_9_then_resume_does_not_rerun_completed_steps() {
    let p = Project::new("kill9");
    let mut wf = Wf::new("k");
    wf.run("a", "echo a >> count", json!({}));
    wf.run("b", "echo b >> count; touch b.started; while [ ! -f go ]; do sleep 0.02; done", json!({ "after": ["a"] }));
    wf.run("c", "echo c >> count", json!({ "after": ["b"] }));
    let mut child = p.spawn_run(&plan(vec![wf]), &[]);
    wait_until("step b to start", || p.path("b.started").exists());
    let run = p.last_run();
    // SAFETY: signalling the child process this test spawned.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGKILL);
    }
    let _ = child.wait();
    std::fs::write(p.path("go"), "").unwrap();
    let out = p.flowc(&["resume", &run, "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["status"], "completed");
    let count = p.read("count");
    assert_eq!(count.matches('a').count(), 1, "a completed before the kill and must not run again: {count}");
    assert_eq!(count.matches('b').count(), 2, "b was in flight: it runs again: {count}");
    assert_eq!(count.matches('c').count(), 1);
    assert_eq!(summary["steps"]["b"]["attempts"], 2);
    let events = p.events(&run);
    assert_eq!(events_of(&events, "b"), ["started", "interrupted", "started", "completed"]);
    assert!(events.iter().any(|e| e["step"].is_null() && e["event"] == "resumed" && e["payload"]["after"] == "interrupted"));
}

#[test]
fn resume_stops_an_orphaned_attempt_whose_pid_was_never_recorded() {
    let p = Project::new("kill9-orphan");
    let mut wf = Wf::new("k");
    wf.run("b", "echo b >> count; while [ ! -f go ]; do sleep 0.02; done; echo $$ >> finished", json!({}));
    let mut child = p.spawn_run(&plan(vec![wf]), &[]);
    wait_until("step b to start", || p.read("count").contains('b'));
    // SAFETY: signalling the child process this test spawned.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGKILL);
    }
    let _ = child.wait();
    // As if flowc died before the batch holding the pid was written.
    let db = rusqlite::Connection::open(p.path(".flow/state.db")).unwrap();
    db.execute("UPDATE step_runs SET pid = NULL", []).unwrap();
    drop(db);
    let run = p.last_run();
    let resume = p.cmd(&["resume", &run, "--json"]).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    wait_until("step b to run again", || p.read("count").matches('b').count() == 2);
    std::fs::write(p.path("go"), "").unwrap();
    let out = resume.wait_with_output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(p.read("finished").lines().count(), 1, "only the new attempt finished: the orphan was stopped");
}

#[test]
fn on_failure_pause_pauses_the_run_and_resume_reruns_the_step() {
    let p = Project::new("pause-on-failure");
    let mut wf = Wf::new("p");
    wf.run("fragile", "[ -f fixed ] && echo ok || exit 1", json!({ "on_failure": "pause" }));
    wf.run("after", "echo after", json!({ "after": ["fragile"] }));
    let (out, s) = p.run(&plan(vec![wf]), &[]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert_eq!(s["status"], "paused");
    assert_eq!(status(&s, "fragile"), "paused");
    assert_eq!(status(&s, "after"), "pending");
    std::fs::write(p.path("fixed"), "").unwrap();
    let run = s["run"].as_str().unwrap();
    let out = p.flowc(&["resume", run, "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status(&s, "fragile"), "completed");
    assert_eq!(s["steps"]["fragile"]["attempts"], 2);
    assert_eq!(status(&s, "after"), "completed");
}

#[test]
fn run_timeout_fails_the_run() {
    let p = Project::new("run-timeout");
    let mut wf = Wf::new("t");
    wf.defaults = json!({ "run_timeout_ms": 300 });
    wf.run("slow", "sleep 30", json!({}));
    wf.run("later", "echo no", json!({ "after": ["slow"] }));
    let (out, s) = p.run(&plan(vec![wf]), &[]);
    assert_eq!(code(&out), 1);
    assert_eq!(s["status"], "failed");
    assert_eq!(s["error"], "the run exceeded its timeout of 300ms");
    assert_eq!(status(&s, "slow"), "cancelled");
    assert_eq!(status(&s, "later"), "cancelled");
}

#[test]
fn groups_show_in_progress_lines() {
    let p = Project::new("groups");
    let mut wf = Wf::new("g");
    wf.run("a", "true", json!({ "group": 0 }));
    wf.run("b", "true", json!({ "group": 0 }));
    wf.run("after_group", "true", json!({ "after": ["a", "b"] }));
    wf.groups = vec![json!({ "name": "design", "kind": "phase", "steps": [0, 1] })];
    let (out, _) = p.run(&plan(vec![wf]), &[]);
    assert_eq!(code(&out), 0);
    let err = stderr(&out);
    assert!(err.contains("] step a [design] started"), "{err}");
    assert!(err.contains("after_group completed"), "{err}");
}

#[test]
fn missing_and_mistyped_inputs_are_usage_errors() {
    let p = Project::new("inputs");
    let mut wf = Wf::new("i");
    wf.input("company", "string", None);
    wf.input("deal_value", "number", Some(json!(0)));
    wf.run("x", "true", json!({}));
    let plan = plan(vec![wf]);
    let (out, _) = p.run(&plan, &[]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("missing input `company` (string)"), "{}", stderr(&out));
    let (out, _) = p.run(&plan, &["-i", "company=A", "-i", "deal_value=lots"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("input `deal_value` (number): `lots` is not a number"), "{}", stderr(&out));
    let (out, _) = p.run(&plan, &["-i", "company=A", "-i", "nope=1"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("has no input `nope`"), "{}", stderr(&out));
    std::fs::write(p.path("in.json"), r#"{"company": "FromFile", "deal_value": 5}"#).unwrap();
    let (out, s) = p.run(&plan, &["--input-file", "in.json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(s["status"], "completed");
}

#[test]
fn bad_plans_are_usage_errors() {
    let p = Project::new("bad-plans");
    std::fs::write(p.path("broken.json"), "{ not json").unwrap();
    let out = p.flowc(&["run", "broken.json"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("the plan is not valid JSON"), "{}", stderr(&out));
    std::fs::write(p.path("future.json"), r#"{"format_version": 99, "entry": "x", "workflows": []}"#).unwrap();
    let out = p.flowc(&["run", "future.json"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("format_version 99, but this flowc reads format_version 2 to 4"), "{}", stderr(&out));
    let mut wf = Wf::new("cyc");
    wf.run("a", "true", json!({}));
    wf.run("b", "true", json!({ "after": ["a"] }));
    let mut plan = plan(vec![wf]);
    plan["workflows"][0]["steps"][0]["after"] = json!([1]);
    p.write_plan(&plan);
    let out = p.flowc(&["run", "plan.json"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("the step graph has a cycle through a, b"), "{}", stderr(&out));
    let out = p.flowc(&["run", "missing.json"]);
    assert_eq!(code(&out), 2);
}

#[test]
fn corrupt_and_newer_state_databases_are_refused() {
    let p = Project::new("bad-db");
    let mut wf = Wf::new("x");
    wf.run("a", "true", json!({}));
    let plan = plan(vec![wf]);
    std::fs::create_dir_all(p.path(".flow")).unwrap();
    std::fs::write(p.path(".flow/state.db"), vec![7u8; 4096]).unwrap();
    let (out, _) = p.run(&plan, &[]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("is not a flowc state database"), "{}", stderr(&out));

    std::fs::remove_file(p.path(".flow/state.db")).unwrap();
    let (out, _) = p.run(&plan, &[]);
    assert_eq!(code(&out), 0);
    // Pretend a newer flowc migrated the file: the schema version is the
    // big-endian `user_version` at byte 60 of the SQLite header.
    let db = p.path(".flow/state.db");
    let _ = std::fs::remove_file(p.path(".flow/state.db-wal"));
    let _ = std::fs::remove_file(p.path(".flow/state.db-shm"));
    let mut bytes = std::fs::read(&db).unwrap();
    bytes[60..64].copy_from_slice(&99u32.to_be_bytes());
    std::fs::write(&db, bytes).unwrap();
    let (out, _) = p.run(&plan, &[]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("has schema version 99, written by a newer flowc"), "{}", stderr(&out));
    let out = p.flowc(&["runs", "list"]);
    assert_eq!(code(&out), 2);
}

#[test]
fn state_path_follows_the_flag_and_the_environment() {
    let p = Project::new("state-path");
    let mut wf = Wf::new("x");
    wf.run("a", "true", json!({}));
    let (out, _) = p.run(&plan(vec![wf]), &["--state", "elsewhere/s.db"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(p.path("elsewhere/s.db").exists());
    assert!(!p.path(".flow/state.db").exists());
    let out = p.cmd(&["runs", "list", "--json"]).env("FLOW_STATE", "elsewhere/s.db").output().unwrap();
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
}

#[test]
fn runs_commands_print_the_documented_json() {
    let p = Project::new("runs-json");
    let mut wf = Wf::new("report");
    wf.run("first", "echo one; echo oops >&2", json!({}));
    wf.run("second", r#"echo '{"k": 1}'"#, json!({ "after": ["first"] }));
    let (_, s) = p.run(&plan(vec![wf]), &[]);
    let run = s["run"].as_str().unwrap();

    let events = p.events(run);
    assert_eq!(events[0]["seq"], 1);
    for (i, e) in events.iter().enumerate() {
        let keys: Vec<&String> = e.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["at", "event", "payload", "seq", "step"]);
        assert_eq!(e["seq"], i as u64 + 1, "seq numbers the run's events in order");
        assert!(e["at"].as_str().unwrap().ends_with('Z'));
    }
    let flow: Vec<(Option<&str>, &str)> = events.iter().map(|e| (e["step"].as_str(), e["event"].as_str().unwrap())).collect();
    assert_eq!(
        flow,
        [
            (None, "started"),
            (Some("first"), "started"),
            (Some("first"), "completed"),
            (Some("second"), "started"),
            (Some("second"), "completed"),
            (None, "completed")
        ]
    );

    let list = p.json(&["runs", "list", "--json"]);
    assert_eq!(list[0]["run"], run);
    assert_eq!(list[0]["status"], "completed");

    let show = p.json(&["runs", "show", run, "--json"]);
    assert_eq!(show["steps"]["second"]["output"], json!({ "k": 1 }));
    assert_eq!(show["run"], run);

    let logs = p.json(&["runs", "logs", run, "first", "--json"]);
    let log = logs[0]["log"].as_str().unwrap();
    assert!(log.contains(" out | one"), "{log}");
    assert!(log.contains(" err | oops"), "{log}");
    let out = p.flowc(&["runs", "logs", run]);
    assert!(stdout(&out).contains("==> second <=="));

    let stats = p.json(&["runs", "stats", "--json"]);
    assert_eq!(stats[0]["workflow"], "report");
    assert_eq!(stats[0]["runs"], 1);
    assert_eq!(stats[0]["by_status"]["completed"], 1);

    assert_eq!(code(&p.flowc(&["runs", "show", "no-such-run"])), 2);
}

/// `skip_on_exit`: one attempt (no retry), the step `skipped` with the
/// attempt and exit code in its event, and the run completed; another exit
/// code still fails and is retried.
#[test]
fn skip_on_exit_ends_the_step_skipped_at_the_first_attempt() {
    let p = Project::new("skip-on-exit");
    let source = r#"workflow w {
  input code: int = 99
  step probe {
    command "echo tried >> tries; exit ${inputs.code}"
    retry 2
    skip_on_exit 99
  }
  step after_probe after probe { command "echo ran" }
}
"#;
    let (_, s) = p.run_source(source, "w", &[]);
    assert_eq!(s["status"], "completed", "{s}");
    assert_eq!(p.read("tries"), "tried\n", "a skip is never retried");
    let run = s["run"].as_str().unwrap();
    let out = p.flowc(&["runs", "events", run, "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let events: Value = serde_json::from_slice(&out.stdout).unwrap();
    let of = |step: &str| -> Vec<(String, Value)> {
        events.as_array().unwrap().iter().filter(|e| e["step"] == step).map(|e| (e["event"].as_str().unwrap().to_string(), e["payload"].clone())).collect()
    };
    let probe = of("probe");
    assert_eq!(probe.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), ["started", "skipped"], "{probe:?}");
    assert_eq!(probe[1].1, json!({ "reason": "its command exited with 99 (skip_on_exit)", "attempt": 1, "exit_code": 99 }));
    assert_eq!(of("after_probe").last().map(|(k, _)| k.as_str()), Some("skipped"));

    let p = Project::new("skip-on-exit-other-code");
    let (_, s) = p.run_source(source, "w", &["-i", "code=3"]);
    assert_eq!(s["status"], "failed", "{s}");
    assert_eq!(p.read("tries"), "tried\ntried\ntried\n", "another code fails and is retried");
}

/// `on_failure compensate`: the failed run undoes what it did at once,
/// newest first, ends `compensated`, and `flowc run` still exits 1; the
/// failed step that says `compensate_on_failure` is compensated too (the
/// payment that may have been charged), another failed step is not.
#[test]
fn a_saga_compensates_when_the_run_fails() {
    let p = Project::new("saga");
    let source = r#"workflow trip {
  on_failure compensate
  step flight {
    command "echo flight >> log"
    compensate "echo cancel flight >> log"
  }
  step hotel after flight {
    command "echo hotel >> log"
    compensate "echo cancel hotel >> log"
  }
  step charge after hotel {
    command "echo charge >> log; exit 1"
    compensate "echo refund >> log"
    compensate_on_failure
  }
  step receipt after hotel {
    command "exit 2"
    compensate "echo void receipt >> log"
    on_failure continue
  }
}
"#;
    let (out, s) = p.run_source(source, "trip", &[]);
    assert_eq!(code(&out), 1, "a compensated failure is still a failure: {}", stderr(&out));
    assert_eq!(s["status"], "compensated", "{s}");
    let log = p.read("log");
    let lines: Vec<&str> = log.lines().collect();
    let undo: Vec<&str> = lines.iter().copied().filter(|l| l.starts_with("cancel") || l.starts_with("refund") || l.starts_with("void")).collect();
    assert_eq!(undo, ["refund", "cancel hotel", "cancel flight"], "newest first, the failed charge included, the receipt not: {log}");
    let run = s["run"].as_str().unwrap();
    let events = p.events(run);
    let compensated: Vec<&str> = events.iter().filter(|e| e["event"] == "compensated").map(|e| e["step"].as_str().unwrap_or("(run)")).collect();
    assert_eq!(compensated, ["charge", "hotel", "flight", "(run)"]);
    // Nothing is left to compensate by hand.
    let again = p.flowc(&["compensate", run]);
    assert_ne!(code(&again), 0, "already compensated");
}

/// A `for each item` step runs every item though one fails (GitHub's
/// `fail-fast: false`); with `fail_fast`, the first failure cancels the
/// running items (`item_cancelled`) and the rest never start.
#[test]
fn fail_fast_cancels_the_running_items_and_starts_no_more() {
    let p = Project::new("fail-fast-off");
    let source = r#"workflow w {
  step each for each item in [1, 2, 3, 4] {
    command "echo ${item} >> ran; test ${item} != 2"
  }
}
"#;
    let (_, s) = p.run_source(source, "w", &[]);
    assert_eq!(s["status"], "failed", "{s}");
    let mut ran: Vec<String> = p.read("ran").lines().map(str::to_string).collect();
    ran.sort();
    assert_eq!(ran, ["1", "2", "3", "4"], "without fail_fast every item runs");

    let p = Project::new("fail-fast-on");
    let source = r#"workflow w {
  concurrency 3
  step each for each item in [1, 2, 3, 4, 5] {
    command "if [ ${item} = 1 ]; then while [ ! -f slow.started ]; do sleep 0.01; done; exit 1; fi; echo ${item} >> ran; touch slow.started; sleep 30"
    fail_fast
  }
}
"#;
    let started = std::time::Instant::now();
    let (_, s) = p.run_source(source, "w", &[]);
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "the sleeping items were cancelled");
    assert_eq!(s["status"], "failed", "{s}");
    let run = s["run"].as_str().unwrap();
    let kinds: Vec<(String, u64)> = p
        .events(run)
        .iter()
        .filter(|e| e["event"].as_str().is_some_and(|k| k.starts_with("item_")))
        .map(|e| (e["event"].as_str().unwrap().to_string(), e["payload"]["item"].as_u64().unwrap()))
        .collect();
    assert!(kinds.contains(&("item_failed".to_string(), 0)), "{kinds:?}");
    assert!(kinds.iter().any(|(k, _)| k == "item_cancelled"), "a running item was cancelled: {kinds:?}");
    assert!(!kinds.iter().any(|(k, i)| k == "item_started" && *i >= 3), "no item starts after the failure: {kinds:?}");
}

/// Writes `main.flow` (it must check clean) and starts `flowc run WORKFLOW
/// --json` in the background.
fn spawn_source(p: &Project, source: &str, workflow: &str, args: &[&str]) -> std::process::Child {
    std::fs::write(p.path("main.flow"), source).unwrap();
    let check = p.flowc(&["check", "--deny-warnings"]);
    assert!(check.status.success(), "the source must check clean:\n{}{}", support::stdout(&check), stderr(&check));
    let mut all = vec!["run", workflow, "--json"];
    all.extend_from_slice(args);
    p.cmd(&all).stdin(std::process::Stdio::null()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap()
}

fn kill_9(child: &mut std::process::Child) {
    // SAFETY: signalling the child process this test spawned.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGKILL);
    }
    let _ = child.wait();
}

#[test]
fn cancel_runs_the_exit_handler_which_sees_cancelled() {
    let p = Project::new("finally-cancel");
    let source = r#"workflow w {
  step long { command "touch long.started; sleep 30" }
  step next after long { command "echo no" }
  finally {
    step report { command "echo ${run.status} ${long.status} > report" }
  }
}
"#;
    let mut child = spawn_source(&p, source, "w", &[]);
    wait_until("the step to start", || p.path("long.started").exists());
    let run = p.last_run();
    let out = p.flowc(&["cancel", &run]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let (exit, stdout, _) = wait_exit(&mut child);
    assert_eq!(exit, 1);
    let summary: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(summary["status"], "cancelled");
    assert_eq!(status(&summary, "next"), "cancelled");
    assert_eq!(status(&summary, "report"), "completed");
    assert_eq!(p.read("report"), "cancelled cancelled\n");
    let events = p.events(&run);
    let run_events: Vec<&str> = events.iter().filter(|e| e["step"].is_null()).map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(run_events, ["started", "finally_started", "cancelled"]);
    assert_eq!(events[0]["payload"]["steps"], 3, "the run's steps include the handler's");
    let started = events.iter().find(|e| e["event"] == "finally_started").unwrap();
    assert_eq!(started["payload"]["status"], "cancelled");
}

#[test]
fn kill_9_in_the_exit_handler_then_resume_finishes_it_without_rerunning_its_completed_steps() {
    let p = Project::new("finally-kill9");
    let source = r#"workflow w {
  step ship { command "echo ship >> count; exit 1" }
  finally {
    step first { command "echo first >> count" }
    step second after first {
      command "echo second >> count; touch second.started; while [ ! -f go ]; do sleep 0.02; done; echo ${run.status} > seen"
    }
  }
}
"#;
    let mut child = spawn_source(&p, source, "w", &[]);
    wait_until("the handler's second step to start", || p.path("second.started").exists());
    let run = p.last_run();
    kill_9(&mut child);
    std::fs::write(p.path("go"), "").unwrap();
    let out = p.flowc(&["resume", &run, "--json"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["status"], "failed", "the rest of the run failed before the kill: {summary}");
    assert_eq!(summary["error"], "step ship failed: the command exited with status 1");
    assert_eq!(status(&summary, "second"), "completed");
    assert_eq!(p.read("count"), "ship\nfirst\nsecond\nsecond\n", "only the interrupted step runs again");
    assert_eq!(p.read("seen"), "failed\n");
    let events = p.events(&run);
    assert_eq!(events.iter().filter(|e| e["event"] == "finally_started").count(), 1, "the handler starts once");
}

#[test]
fn kill_9_before_the_exit_handler_then_resume_runs_it() {
    let p = Project::new("finally-kill9-before");
    let source = r#"workflow w {
  step ship { command "touch ship.started; while [ ! -f go ]; do sleep 0.02; done" }
  finally {
    step report { command "echo ${run.status} >> report" }
  }
}
"#;
    let mut child = spawn_source(&p, source, "w", &[]);
    wait_until("the main step to start", || p.path("ship.started").exists());
    let run = p.last_run();
    kill_9(&mut child);
    assert!(!p.path("report").exists(), "the handler waits for the rest of the run");
    std::fs::write(p.path("go"), "").unwrap();
    let out = p.flowc(&["resume", &run, "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["status"], "completed");
    assert_eq!(p.read("report"), "completed\n");
}

#[test]
fn a_paused_run_does_not_run_its_exit_handler_until_it_ends() {
    let p = Project::new("finally-paused");
    let source = r#"workflow w {
  step fragile {
    command "[ -f fixed ] && echo ok || exit 1"
    on_failure pause
  }
  finally {
    step report { command "echo ${run.status} >> report" }
  }
}
"#;
    std::fs::write(p.path("main.flow"), source).unwrap();
    let out = p.flowc(&["run", "w", "--json"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(!p.path("report").exists(), "a paused run has not ended");
    std::fs::write(p.path("fixed"), "").unwrap();
    let run = p.last_run();
    let out = p.flowc(&["resume", &run, "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(p.read("report"), "completed\n");
}

#[test]
fn a_saga_runs_its_exit_handler_first_then_compensates() {
    let p = Project::new("finally-saga");
    let source = r#"workflow s {
  on_failure compensate
  step book {
    command "echo booked"
    compensate "echo undo-book >> order.log"
  }
  step charge after book { command "exit 1" }
  finally {
    step report { command "echo report ${run.status} >> order.log" }
  }
}
"#;
    let (out, s) = p.run_source(source, "s", &[]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert_eq!(s["status"], "compensated");
    assert_eq!(status(&s, "report"), "completed");
    assert_eq!(p.read("order.log"), "report failed\nundo-book\n", "the handler sees the failure, then the saga undoes the run");
}

#[test]
fn kill_9_after_a_step_failed_then_resume_still_fails_the_run() {
    let p = Project::new("kill9-failed");
    let source = r#"workflow w {
  step bad { command "exit 1" }
  step slow { command "touch slow.started; while [ ! -f go ]; do sleep 0.02; done" }
}
"#;
    let mut child = spawn_source(&p, source, "w", &[]);
    wait_until("the slow step to start", || p.path("slow.started").exists());
    wait_until("the failure to be recorded", || {
        let out = p.flowc(&["runs", "show", &p.last_run(), "--json"]);
        serde_json::from_slice::<Value>(&out.stdout).is_ok_and(|s| status(&s, "bad") == "failed")
    });
    let run = p.last_run();
    kill_9(&mut child);
    std::fs::write(p.path("go"), "").unwrap();
    let out = p.flowc(&["resume", &run, "--json"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["status"], "failed", "a failure recorded before the kill still fails the run: {summary}");
    assert_eq!(summary["error"], "step bad failed: the command exited with status 1");
}

/// Waits until the project's newest run recorded `timer_started`; its id.
fn wait_for_timer(p: &Project) -> String {
    let mut run = String::new();
    wait_until("the timer started", || {
        let list = p.flowc(&["runs", "list", "--json"]);
        let Some(id) = serde_json::from_slice::<Value>(&list.stdout).ok().and_then(|l| l[0]["run"].as_str().map(str::to_string)) else { return false };
        run = id;
        p.events(&run).iter().any(|e| e["event"] == "timer_started")
    });
    run
}

fn due_ms(e: &Value) -> i64 {
    let text = e["payload"]["due_at"].as_str().unwrap();
    flowc_interpreter::time::parse_rfc3339(text).unwrap()
}

/// A timer records its due time when it starts; killed (`kill -9`) and
/// resumed, it waits only for what is left of it, never from zero again,
/// and completes no earlier than that time.
#[test]
fn a_killed_timer_resumes_with_the_time_left_from_its_recorded_start() {
    let p = Project::new("timer-kill");
    let mut child = spawn_source(&p, "workflow w {\n  step hold: timer { for 4s }\n  step after_it after hold { command \"echo done\" }\n}\n", "w", &[]);
    let run = wait_for_timer(&p);
    kill_9(&mut child);
    let started = p.events(&run).into_iter().find(|e| e["event"] == "timer_started").unwrap();
    let due = due_ms(&started);
    // Dead for 2.5 of the 4 seconds.
    let resume_at = due - 1500;
    let wait = resume_at - flowc_interpreter::time::now_ms();
    if wait > 0 {
        std::thread::sleep(std::time::Duration::from_millis(wait as u64));
    }
    let clock = std::time::Instant::now();
    let out = p.flowc(&["resume", &run, "--json"]);
    let took = clock.elapsed();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(took < std::time::Duration::from_millis(3500), "waited the remaining ~1.5s, not 4s again: {took:?}");
    let events = p.events(&run);
    let timers: Vec<&Value> = events.iter().filter(|e| e["event"] == "timer_started").collect();
    assert_eq!(timers.len(), 1, "the timer did not start again: {events:?}");
    let done = events.iter().find(|e| e["step"] == "hold" && e["event"] == "completed").unwrap();
    let at = flowc_interpreter::time::parse_rfc3339(done["at"].as_str().unwrap()).unwrap();
    assert!(at >= due, "completed at {} before its due time {}", done["at"], started["payload"]["due_at"]);
    let show = p.json(&["runs", "show", &run, "--json"]);
    assert_eq!(show["status"], "completed", "{show}");
    let hold = &show["steps"]["hold"]["output"];
    assert_eq!(hold["due_at"], started["payload"]["due_at"], "{show}");
    assert!(hold["waited_ms"].as_i64().unwrap() >= 4000, "{show}");
}

/// A timer due later than a minute leaves the run `blocked` (exit 3), as a
/// wait for a person does; nobody approves it, and `flowc cancel` ends it.
#[test]
fn a_long_timer_leaves_the_run_blocked_and_cancel_ends_it() {
    let p = Project::new("timer-long");
    let (out, s) = p.run_source("workflow w {\n  step hold: timer { for 72h }\n  step later after hold { command \"touch ran\" }\n}\n", "w", &[]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert_eq!(s["status"], "blocked", "{s}");
    assert!(stderr(&out).contains("step hold of run") && stderr(&out).contains("is a timer due at"), "{}", stderr(&out));
    let run = s["run"].as_str().unwrap();
    let started = p.events(run).into_iter().find(|e| e["event"] == "timer_started").unwrap();
    let left = due_ms(&started) - flowc_interpreter::time::now_ms();
    assert!(left > 71 * 3_600_000, "due in 72 hours: {started}");
    let approve = p.flowc(&["approve", run, "hold"]);
    assert_eq!(code(&approve), 2);
    assert!(stderr(&approve).contains("it is a timer"), "{}", stderr(&approve));
    let cancel = p.flowc(&["cancel", run]);
    assert_eq!(code(&cancel), 0, "{}", stderr(&cancel));
    let show = p.json(&["runs", "show", run, "--json"]);
    assert_eq!(show["status"], "cancelled", "{show}");
    assert_eq!(show["steps"]["hold"]["status"], "cancelled", "{show}");
    assert!(!p.path("ran").exists());
}

/// A short timer is waited for in the process; one cancelled while it waits
/// ends the run `cancelled`.
#[test]
fn cancel_stops_a_timer_flowc_run_is_waiting_for() {
    let p = Project::new("timer-cancel");
    let mut child = spawn_source(&p, "workflow w {\n  step hold: timer { for 50s }\n}\n", "w", &[]);
    let run = wait_for_timer(&p);
    let clock = std::time::Instant::now();
    let cancel = p.flowc(&["cancel", &run]);
    assert_eq!(code(&cancel), 0, "{}", stderr(&cancel));
    let (rc, _, err) = wait_exit(&mut child);
    assert!(clock.elapsed() < std::time::Duration::from_secs(10), "the run did not wait out its timer");
    assert_eq!(rc, 1, "a cancelled run exits 1: {err}");
    assert_eq!(p.json(&["runs", "show", &run, "--json"])["steps"]["hold"]["status"], "cancelled");
}

/// `parallel NAME fail_fast`: the first failed member cancels the running
/// members (stopped, `cancelled`) and skips those not started, nested groups
/// included, each naming the failed member; without it every member runs.
#[test]
fn a_fail_fast_group_cancels_its_running_members_and_skips_the_rest() {
    let source = |ff: &str| {
        format!(
            "workflow w {{\n  concurrency 2\n  parallel g {ff}{{\n    step fails {{ command \"while [ ! -f slow.started ]; do sleep 0.01; done; exit 1\" }}\n    step slow {{ command \"touch slow.started; sleep 30\" }}\n    step later {{ command \"touch later.ran\" }}\n    parallel inner {{\n      step nested {{ command \"touch nested.ran\" }}\n    }}\n  }}\n  step after_g after g {{ command \"true\" }}\n  step report after all_done(g) {{ command \"true\" }}\n}}\n"
        )
    };
    let p = Project::new("ff-group-off");
    let (_, s) = p.run_source(&source("").replace("sleep 30", "sleep 0.2"), "w", &[]);
    assert_eq!(s["status"], "failed", "{s}");
    assert_eq!(status(&s, "slow"), "completed", "without fail_fast the others run");
    assert_eq!(status(&s, "later"), "completed");
    assert_eq!(status(&s, "nested"), "completed");

    let p = Project::new("ff-group-on");
    let clock = std::time::Instant::now();
    let (out, s) = p.run_source(&source("fail_fast "), "w", &[]);
    assert!(clock.elapsed() < std::time::Duration::from_secs(20), "the sleeping member was stopped");
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert_eq!(status(&s, "fails"), "failed");
    assert_eq!(status(&s, "slow"), "cancelled", "{s}");
    assert_eq!(status(&s, "later"), "skipped", "{s}");
    assert_eq!(status(&s, "nested"), "skipped", "{s}");
    assert_eq!(status(&s, "after_g"), "upstream_failed");
    assert_eq!(status(&s, "report"), "completed", "all_done runs after the group");
    assert!(!p.path("later.ran").exists() && !p.path("nested.ran").exists());
    let events = p.events(s["run"].as_str().unwrap());
    let reason = "step fails of group g failed (fail_fast)";
    for (step, kind) in [("slow", "cancelled"), ("later", "skipped"), ("nested", "skipped")] {
        let e = events.iter().find(|e| e["step"] == step && e["event"] == kind).unwrap_or_else(|| panic!("{step} {kind}: {events:?}"));
        assert_eq!(e["payload"]["reason"], reason, "{e}");
    }
}

/// A job per item killed mid-item resumes without re-running what had
/// completed: the finished item's job is not started again, and in the
/// interrupted item's job only the member that was running runs again.
#[test]
fn kill_9_in_a_job_per_item_then_resume_reruns_only_the_interrupted_member() {
    let p = Project::new("job-kill9");
    let source = r#"workflow w {
  concurrency 1
  parallel build for each item in ["x", "y"] {
    step compile { command "echo compile-${item} >> count" }
    step test after compile {
      command "echo test-${item} >> count; if [ ${item} = y ]; then touch y.started; while [ ! -f go ]; do sleep 0.02; done; fi; echo ok-${item}"
    }
  }
  step report after build { command "echo ${build.output.map(j, j.test).join(',')}" }
}
"#;
    let mut child = spawn_source(&p, source, "w", &[]);
    wait_until("item y's test to start", || p.path("y.started").exists());
    let list = p.json(&["runs", "list", "--json"]);
    let run = list.as_array().unwrap().iter().find(|r| r["workflow"] == "w").expect("the parent run")["run"].as_str().unwrap().to_string();
    kill_9(&mut child);
    std::fs::write(p.path("go"), "").unwrap();
    let out = p.flowc(&["resume", &run, "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["status"], "completed");
    assert_eq!(summary["steps"]["report"]["output"], "ok-x,ok-y");
    let count = p.read("count");
    let times = |line: &str| count.lines().filter(|l| *l == line).count();
    assert_eq!((times("compile-x"), times("test-x"), times("compile-y")), (1, 1, 1), "completed members never run again: {count}");
    assert_eq!(times("test-y"), 2, "the member in flight runs again: {count}");
    // The parent started one child run per item, and none again on resume.
    let children = p.flowc(&["runs", "show", &run, "--json"]);
    let shown: Value = serde_json::from_slice(&children.stdout).unwrap();
    let jobs = shown["jobs"].as_array().expect("jobs");
    assert_eq!(jobs.len(), 2, "{shown}");
    assert!(jobs.iter().all(|j| j["status"] == "completed"), "{shown}");
    assert_eq!(jobs[1]["steps"][1]["attempts"], 2, "{shown}");
}
