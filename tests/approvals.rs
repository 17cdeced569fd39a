//! Steps that wait on a person, end to end: approvals (who may decide,
//! deadlines, approvals inside called workflows), human tasks, policies that
//! require an approval, and the hints a blocked run prints. Often two
//! processes drive one run.

mod support;

use std::process::{Stdio};

use serde_json::{json, Value};
use support::blocking::*;
use support::*;

#[test]
fn an_approval_blocks_the_run_with_exit_3_and_approve_from_another_process_completes_it() {
    let p = project("approve", &[("gate.flow", GATE)]);
    p.me_in(&["boss"]);
    let me = os_user();
    let (out, summary) = flowc_json(&p, &["run", "gate", "--as", "alice"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let run = summary["run"].as_str().unwrap().to_string();
    assert_eq!(summary["status"], "blocked");
    assert_eq!(summary["steps"]["sign_off"]["status"], "blocked");
    assert_eq!(summary["steps"]["ship"]["status"], "pending");
    let blocked = &summary["blocked"][0];
    assert_eq!(blocked["step"], "sign_off");
    assert_eq!(blocked["message"], "Ship v2?");
    assert_eq!(blocked["approvers"], json!(["boss", "carol"]));
    let err = stderr(&out);
    assert!(err.contains(&format!("flowc approve {run} sign_off --comment")), "{err}");
    assert!(err.contains("from boss or carol"), "{err}");

    let (_, waiting) = flowc_json(&p, &["runs", "waiting"]);
    assert_eq!(waiting[0]["run"], run.as_str());
    assert_eq!(waiting[0]["step"], "sign_off");
    assert_eq!(waiting[0]["gate"], "approval");
    let (out, done) = flowc_json(&p, &["approve", &run, "sign_off", "--comment", "looks good"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(done["status"], "completed");
    assert_eq!(done["steps"]["ship"]["output"], "shipped");
    assert_eq!(done["steps"]["sign_off"]["output"]["by"], me.as_str());
    let ev = events(&p, &run);
    assert_eq!(event(&ev, "sign_off", "approved")["payload"]["by"], me.as_str());
    assert_eq!(event(&ev, "sign_off", "approved")["payload"]["via"], "cli");
    assert_eq!(event(&ev, "sign_off", "approved")["payload"]["comment"], "looks good");
    let blocked_event = event(&ev, "sign_off", "blocked");
    assert_eq!(blocked_event["payload"]["gate"], "approval");
    assert!(ev.iter().any(|e| e["step"].is_null() && e["event"] == "blocked"), "the run was recorded blocked");
    // The initiator is the operating-system user; `--as` is recorded as on behalf of.
    assert_eq!(show(&p, &run)["origin"]["initiator"], me.as_str());
    assert_eq!(show(&p, &run)["origin"]["detail"]["on_behalf_of"], "alice");
}

#[test]
fn reject_fails_the_step_and_records_who_and_why() {
    let p = project("reject", &[("gate.flow", GATE)]);
    p.me_in(&["carol"]);
    let me = os_user();
    let (out, summary) = flowc_json(&p, &["run", "gate"]);
    assert_eq!(code(&out), 3);
    let run = summary["run"].as_str().unwrap().to_string();
    let (out, done) = flowc_json(&p, &["reject", &run, "sign_off", "--as", "Carol Danvers", "--comment", "not this week"]);
    assert_eq!(code(&out), 1, "the run fails: {}", stderr(&out));
    assert_eq!(done["steps"]["sign_off"]["status"], "failed");
    assert_eq!(done["steps"]["ship"]["status"], "upstream_failed");
    assert!(done["error"].as_str().unwrap().contains(&format!("rejected by {me}: not this week")), "{done}");
    let ev = events(&p, &run);
    let rejected = event(&ev, "sign_off", "rejected");
    assert_eq!(rejected["payload"]["by"], me.as_str());
    assert_eq!(rejected["payload"]["on_behalf_of"], "Carol Danvers");
    assert_eq!(rejected["payload"]["comment"], "not this week");
}

#[test]
fn approvers_and_distinct_from_initiator_are_enforced() {
    let p = project("who", &[("gate.flow", GATE_DISTINCT)]);
    let me = os_user();
    let (_, summary) = flowc_json(&p, &["run", "gate"]);
    let run = summary["run"].as_str().unwrap().to_string();
    // Not an approver: neither `--as` nor the environment makes one.
    let out = flowc(&p, &["approve", &run, "sign_off"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains(&format!("`{me}` is not among the approvers (boss, carol)")), "{}", stderr(&out));
    for (k, v) in [("FLOW_USER", "boss"), ("USER", "boss"), ("LOGNAME", "boss")] {
        let out = cmd(&p, &["approve", &run, "sign_off"]).env(k, v).output().unwrap();
        assert_eq!(code(&out), 2, "{k}={v} changed nothing: {}", stderr(&out));
    }
    let out = flowc(&p, &["approve", &run, "sign_off", "--as", "boss"]);
    assert_eq!(code(&out), 2, "--as is on behalf of, not an identity");
    assert!(stderr(&out).contains(&format!("`{me}` is not among the approvers")), "{}", stderr(&out));
    // In the group `boss` (flowc.toml): an approver — but the initiator, which the gate refuses.
    p.me_in(&["boss"]);
    let out = flowc(&p, &["approve", &run, "sign_off"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("started this run"), "{}", stderr(&out));
    assert_eq!(step_status(&p, &run, "sign_off"), "blocked", "a refused decision changes nothing");
    // Principals are compared after normalisation: a run recorded as started by
    // the same name in other case or width is still this user's.
    let db = rusqlite::Connection::open(p.path(".flow/state.db")).unwrap();
    let fullwidth: String = me.chars().map(|c| if c.is_ascii_alphanumeric() { char::from_u32(c as u32 + 0xFEE0).unwrap() } else { c }).collect();
    for variant in [me.to_uppercase(), fullwidth, format!(" {me} ")] {
        db.execute("UPDATE run_origins SET initiator = ?1 WHERE run_id = ?2", rusqlite::params![variant, run]).unwrap();
        let out = flowc(&p, &["approve", &run, "sign_off"]);
        assert_eq!(code(&out), 2, "initiator {variant:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("started this run"), "{}", stderr(&out));
    }
    // Someone else started it: the approval is accepted.
    db.execute("UPDATE run_origins SET initiator = 'alice' WHERE run_id = ?1", [&run]).unwrap();
    drop(db);
    let out = flowc(&p, &["approve", &run, "sign_off"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(step_status(&p, &run, "sign_off"), "completed");
    let out = flowc(&p, &["approve", &run, "sign_off"]);
    assert_eq!(code(&out), 2, "a finished run has nothing to approve");
}

#[test]
fn a_gate_nobody_resolves_fails_at_its_timeout_on_resume() {
    let p = project(
        "timeout",
        &[(
            "t.flow",
            r#"
workflow t {
  step ask: approval { message "ok?" timeout 1s }
  step after_ask after ask { command "echo no" }
  step cleanup after all_done(ask) { command "echo cleaned" }
}
"#,
        )],
    );
    let (out, summary) = flowc_json(&p, &["run", "t"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let run = summary["run"].as_str().unwrap().to_string();
    let deadline = summary["blocked"][0]["deadline"].as_str().unwrap().to_string();
    wait_until("the gate's deadline", || flowc_interpreter::time::now() > deadline);
    let (out, done) = flowc_json(&p, &["resume", &run]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert_eq!(done["steps"]["ask"]["status"], "failed");
    assert_eq!(done["steps"]["after_ask"]["status"], "upstream_failed");
    assert_eq!(done["steps"]["cleanup"]["status"], "completed");
    let ev = events(&p, &run);
    let failed = event(&ev, "ask", "failed");
    assert!(failed["payload"]["error"].as_str().unwrap().contains("nobody approved or rejected it within 1s"), "{failed}");
}

#[test]
fn a_waiting_run_fails_a_gate_at_its_deadline() {
    let p = project("timeout-wait", &[("t.flow", "workflow t {\n  step ask: human { timeout 1s }\n}\n")]);
    let (out, summary) = flowc_json(&p, &["run", "t", "--wait"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert_eq!(summary["steps"]["ask"]["status"], "failed");
    assert!(summary["error"].as_str().unwrap().contains("nobody completed the task within 1s"), "{summary}");
}

#[test]
fn run_wait_keeps_waiting_and_another_process_approves() {
    let p = project("wait-approve", &[("gate.flow", GATE)]);
    p.me_in(&["boss"]);
    let child = cmd(&p, &["run", "gate", "--wait", "--json", "--as", "alice"]).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut child = child;
    let mut run = String::new();
    wait_until("the run to block", || {
        let (_, list) = flowc_json(&p, &["runs", "list"]);
        if let Some(r) = list.get(0).and_then(|r| r["run"].as_str()) {
            run = r.to_string();
            return step_status(&p, &run, "sign_off") == "blocked";
        }
        false
    });
    assert_eq!(show(&p, &run)["status"], "running", "a --wait run is not recorded blocked");
    let out = flowc(&p, &["approve", &run, "sign_off", "--comment", "go"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("continues it"), "{}", stderr(&out));
    let (status, stdout, err) = wait_exit(&mut child);
    assert_eq!(status, 0, "{err}");
    let summary: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(summary["status"], "completed");
    assert_eq!(summary["steps"]["sign_off"]["output"]["comment"], "go");
}

const TASK: &str = r#"
workflow review {
  step triage: human {
    message "Triage the incident"
    output { severity: int, owner: string, notes?: string }
    approvers ["oncall"]
  }
  step page after triage { command "echo paging ${triage.output.owner} at ${triage.output.severity}" }
}
"#;

#[test]
fn a_human_task_completes_with_output_checked_against_its_type() {
    let p = project("human", &[("review.flow", TASK)]);
    let me = os_user();
    let (out, summary) = flowc_json(&p, &["run", "review"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let run = summary["run"].as_str().unwrap().to_string();
    assert_eq!(summary["blocked"][0]["output_type"], "{ severity: int, owner: string, notes?: string }");
    assert!(
        stderr(&out).contains(&format!(r#"flowc complete {run} triage --output '{{"owner":"","severity":0}}'"#)),
        "{}",
        stderr(&out)
    );

    let out = flowc(&p, &["complete", &run, "triage", "--as", "oncall", "--output", r#"{"severity": 2, "owner": "dana"}"#]);
    assert_eq!(code(&out), 2, "only the listed people may complete it: {}", stderr(&out));
    p.me_in(&["oncall"]);
    let out = flowc(&p, &["complete", &run, "triage", "--output", r#"{"severity": "high", "owner": "dana"}"#]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("output.severity should be int but is a string"), "{}", stderr(&out));
    let out = flowc(&p, &["complete", &run, "triage", "--output", "{not json"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("--output is not JSON"), "{}", stderr(&out));

    let (out, done) = flowc_json(&p, &["complete", &run, "triage", "--output", r#"{"severity": 2, "owner": "dana"}"#]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(done["steps"]["triage"]["output"], json!({ "severity": 2, "owner": "dana" }));
    assert_eq!(done["steps"]["page"]["output"], "paging dana at 2");
    assert_eq!(event(&events(&p, &run), "triage", "completed")["payload"]["by"], me.as_str());
}

const POLICY: &str = r#"
policy spend {
  deny when `input.amount > 1000` because "too much: ${input.amount} is over 1000"
  require_approval when `input.amount > 100` because "over 100 needs finance"
  allow when `true`
}

workflow buy {
  input amount: int
  retry 2
  step guard: check spend {
    with { amount: `inputs.amount` }
    approvers ["finance"]
  }
  step pay after guard { command "echo paid ${inputs.amount}" }
}
"#;

#[test]
fn a_policy_allows_denies_or_requires_an_implicit_approval() {
    let p = project("policy", &[("buy.flow", POLICY)]);

    let (out, allowed) = flowc_json(&p, &["run", "buy", "-i", "amount=50"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(allowed["steps"]["guard"]["output"]["decision"], "allow");
    let run = allowed["run"].as_str().unwrap();
    let decided = event(&events(&p, run), "guard", "decided").clone();
    assert_eq!(decided["payload"]["decision"], "allow");
    assert_eq!(decided["payload"]["input"], json!({ "amount": 50 }));

    let (out, denied) = flowc_json(&p, &["run", "buy", "-i", "amount=5000"]);
    assert_eq!(code(&out), 1);
    assert_eq!(denied["steps"]["guard"]["status"], "failed");
    assert_eq!(denied["steps"]["guard"]["attempts"], 1, "a deny is not retried");
    assert!(denied["error"].as_str().unwrap().contains("policy spend denied it: too much: 5000 is over 1000"), "{denied}");
    let run = denied["run"].as_str().unwrap();
    assert_eq!(event(&events(&p, run), "guard", "decided")["payload"]["decision"], "deny");

    let (out, gated) = flowc_json(&p, &["run", "buy", "-i", "amount=500"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let run = gated["run"].as_str().unwrap().to_string();
    let gate = &gated["blocked"][0];
    assert_eq!(gate["implicit"], true);
    assert_eq!(gate["policy"], "spend");
    assert_eq!(gate["message"], "over 100 needs finance");
    let out = flowc(&p, &["approve", &run, "guard"]);
    assert_eq!(code(&out), 2, "the check's approvers apply to the implicit gate");
    p.me_in(&["finance"]);
    let (out, done) = flowc_json(&p, &["approve", &run, "guard", "--comment", "budgeted"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(done["steps"]["guard"]["output"]["decision"], "require_approval");
    assert_eq!(done["steps"]["guard"]["output"]["approval"]["by"], os_user().as_str());
    assert_eq!(done["steps"]["pay"]["output"], "paid 500");
    let ev = events(&p, &run);
    assert_eq!(event(&ev, "guard", "approved")["payload"]["implicit"], true);
    assert_eq!(event(&ev, "guard", "blocked")["payload"]["implicit"], true);
}

#[test]
fn an_approval_inside_a_called_workflow_blocks_the_caller_until_approved() {
    let flow = r#"
workflow parent {
  step sub: call child { with { n: 2 } }
  step after_sub after sub { command "echo got ${sub.output.doubled}" }
}
workflow child {
  input n: int
  step ok: approval { approvers ["lead"] }
  step double after ok { command "echo $(( ${inputs.n} * 2 ))" }
  output doubled = `double.output`
}
"#;
    let p = project("call", &[("call.flow", flow)]);
    p.me_in(&["lead"]);
    let (out, summary) = flowc_json(&p, &["run", "parent"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let parent = summary["run"].as_str().unwrap().to_string();
    let gate = &summary["blocked"][0];
    assert_eq!(gate["step"], "ok");
    let child = gate["run"].as_str().unwrap().to_string();
    assert_ne!(child, parent);
    let (out, done) = flowc_json(&p, &["approve", &child, "ok"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(done["run"], parent.as_str(), "the caller continues");
    assert_eq!(done["steps"]["after_sub"]["output"], "got 4");
    assert_eq!(done["steps"]["sub"]["attempts"], 1);
}

#[test]
fn a_child_run_approved_while_its_caller_still_runs_continues_in_the_callers_process() {
    let flow = r#"
workflow parent {
  step sub: call child {}
  step slow { command "while [ ! -f release ]; do sleep 0.05; done; echo released" }
}
workflow child {
  step ok: approval {}
}
"#;
    let p = project("call-running", &[("call.flow", flow)]);
    let mut parent = cmd(&p, &["run", "parent", "--json"]).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut child = String::new();
    wait_until("the child run to block", || {
        let (_, waiting) = flowc_json(&p, &["runs", "waiting"]);
        match waiting.get(0).and_then(|w| w["run"].as_str()) {
            Some(r) => {
                child = r.to_string();
                true
            }
            None => false,
        }
    });
    let out = flowc(&p, &["approve", &child, "ok", "--as", "lead"]);
    // (the gate has no approvers: anyone may approve, `--as` is only recorded)
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("continues it"), "{}", stderr(&out));
    std::fs::write(p.path("release"), "").unwrap();
    let (status, stdout, err) = wait_exit(&mut parent);
    assert_eq!(status, 0, "{err}");
    let summary: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(summary["steps"]["sub"]["status"], "completed");
    assert_eq!(summary["steps"]["slow"]["output"], "released");
}

/// Every hint a blocked run prints is a command that works when pasted,
/// with no `$USER` set: approvals, human tasks, and waits on a glob.
#[test]
fn the_hints_of_blocked_runs_work_when_pasted() {
    let flow = r#"
workflow gates {
  step ok: approval { message "Ship it?" approvers ["release-manager"] }
  step task: human after ok {
    message "Fill this in"
    output { score: int, notes: string, tags: [string], extra?: bool }
  }
  step done: wait after task { event "deploy.*" subject "svc/[a-c]?" }
}
"#;
    let p = project("hints", &[("gates.flow", flow)]);
    p.me_in(&["release-manager"]);
    let (out, summary) = flowc_json(&p, &["run", "gates"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let run = summary["run"].as_str().unwrap().to_string();
    // Each command that continues the run prints the next hint.
    let mut hint = stderr(&out);
    for step in ["ok", "task", "done"] {
        let pasted = paste_hint(&p, &hint);
        assert!(matches!(code(&pasted), 0 | 3), "the hint for {step} failed when pasted:\n{hint}\n{}", stderr(&pasted));
        assert_eq!(show(&p, &run)["steps"][step]["status"], "completed", "{step}:\n{hint}\n{}", stderr(&pasted));
        hint = stderr(&pasted);
    }
    assert_eq!(show(&p, &run)["status"], "completed");
}

#[test]
fn a_decision_of_the_wrong_kind_is_refused_with_the_command_that_fits() {
    let p = project("wrong_kind", &[("gate.flow", GATE)]);
    p.me_in(&["boss"]);
    let (_, summary) = flowc_json(&p, &["run", "gate"]);
    let run = summary["run"].as_str().unwrap().to_string();
    let out = flowc(&p, &["complete", &run, "sign_off", "--output", "{}"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "cannot complete step `sign_off` of run `{run}`: it waits for an approval: use `flowc approve` or `flowc reject`"
        )),
        "{}",
        stderr(&out)
    );
    // Nothing was filed: the approval still decides the step.
    let (out, done) = flowc_json(&p, &["approve", &run, "sign_off"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(done["status"], "completed");
}
