//! Inbound events end to end: `wait` steps satisfied by `flowc event send`
//! (from another process, or with nobody executing the run), events stored
//! before the wait, and triggers that start runs.

mod support;

use std::process::{Stdio};

use serde_json::{json, Value};
use support::blocking::*;
use support::*;

const WAIT: &str = r#"
workflow reply {
  input lead: string
  step send { command "echo sent" }
  step wait_reply: wait after send {
    event "email.reply" subject "leads/${inputs.lead}"
    timeout 1h
  }
  output text = `wait_reply.output.data.text`
}
"#;

#[test]
fn a_wait_is_satisfied_by_event_send_from_another_process() {
    let p = project("wait-send", &[("reply.flow", WAIT)]);
    let mut child = cmd(&p, &["run", "reply", "-i", "lead=L-1", "--wait", "--json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut run = String::new();
    wait_until("the wait to block", || {
        let (_, list) = flowc_json(&p, &["runs", "list"]);
        match list.get(0).and_then(|r| r["run"].as_str()) {
            Some(r) => {
                run = r.to_string();
                step_status(&p, &run, "wait_reply") == "blocked"
            }
            None => false,
        }
    });
    // Another lead's reply, and another type, do not match.
    let out = flowc(&p, &["event", "send", "email.reply", "--subject", "leads/L-2", "--data", r#"{"text": "wrong lead"}"#]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = flowc(&p, &["event", "send", "email.bounce", "--subject", "leads/L-1"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let (out, sent) = flowc_json(&p, &["event", "send", "email.reply", "--subject", "leads/L-1", "--data", r#"{"text": "Interested"}"#]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(sent["duplicate"], false);
    assert_eq!(sent["continued"][0]["status"], "running", "the --wait process applies it");
    let (status, stdout, err) = wait_exit(&mut child);
    assert_eq!(status, 0, "{err}");
    let summary: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(summary["outputs"]["text"], "Interested");
    assert_eq!(summary["steps"]["wait_reply"]["output"]["type"], "email.reply");
    assert_eq!(summary["steps"]["wait_reply"]["output"]["subject"], "leads/L-1");
}

#[test]
fn event_send_continues_a_blocked_run_that_nobody_is_executing() {
    let p = project("wait-resume", &[("reply.flow", WAIT)]);
    let (out, summary) = flowc_json(&p, &["run", "reply", "-i", "lead=L-9"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let run = summary["run"].as_str().unwrap().to_string();
    assert_eq!(summary["blocked"][0]["event"], "email.reply");
    assert_eq!(summary["blocked"][0]["subject"], "leads/L-9");
    assert!(stderr(&out).contains("flowc event send email.reply --subject leads/L-9 --data '{}'"), "{}", stderr(&out));
    let (out, sent) = flowc_json(&p, &["event", "send", "email.reply", "--subject", "leads/L-9", "--data", r#"{"text": "yes"}"#, "--id", "m-1"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(sent["continued"][0]["run"], run.as_str());
    assert_eq!(sent["continued"][0]["status"], "completed");
    assert_eq!(show(&p, &run)["outputs"]["text"], "yes");
    // The same source and id again is a duplicate.
    let (_, again) = flowc_json(&p, &["event", "send", "email.reply", "--subject", "leads/L-9", "--id", "m-1"]);
    assert_eq!(again["duplicate"], true);
}

#[test]
fn events_that_arrive_after_the_run_starts_but_before_the_wait_are_not_lost() {
    let flowc = flowc_bin();
    let flow = format!(
        r#"
workflow early {{
  step announce {{ command "{flowc} --state .flow/state.db event send build.done --subject b/1 --data '{{\"ok\": true}}' -q" }}
  step wait_build: wait after announce {{ event "build.*" subject "b/1" }}
}}
"#
    );
    let p = project("early", &[("early.flow", &flow)]);
    // An event from before the run started does not count.
    let out = flowc_json(&p, &["event", "send", "build.done", "--subject", "b/1", "--data", r#"{"ok": false}"#]).0;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let (out, summary) = flowc_json(&p, &["run", "early"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(summary["steps"]["wait_build"]["output"]["data"], json!({ "ok": true }));
}

#[test]
fn wait_subjects_match_rendered_values_literally() {
    let p = project("glob", &[("reply.flow", WAIT)]);
    let (out, summary) = flowc_json(&p, &["run", "reply", "-i", "lead=L*"]);
    assert_eq!(code(&out), 3);
    assert!(stderr(&out).contains("flowc event send email.reply --subject 'leads/L*' --data '{}'"), "{}", stderr(&out));
    let run = summary["run"].as_str().unwrap().to_string();
    let (_, sent) = flowc_json(&p, &["event", "send", "email.reply", "--subject", "leads/L-7"]);
    assert_eq!(sent["continued"], json!([]), "`*` in an input is not a wildcard");
    assert_eq!(step_status(&p, &run, "wait_reply"), "blocked");
    let (_, sent) = flowc_json(&p, &["event", "send", "email.reply", "--subject", "leads/L*", "--data", r#"{"text": "star"}"#]);
    assert_eq!(sent["continued"][0]["status"], "completed");
}

const TRIGGERED: &str = r#"
workflow intake {
  input lead_id: string
  input score: int = 0
  on event "crm.lead.*" subject "leads.*" where `event.data.score > 50`
  on webhook github.pull_request.opened
  on schedule "*/5 * * * *"
  step note { command "echo lead ${inputs.lead_id} scored ${inputs.score}" }
}
"#;

#[test]
fn event_send_starts_runs_whose_trigger_and_filter_match() {
    let p = project("trigger", &[("intake.flow", TRIGGERED)]);
    let (out, sent) = flowc_json(&p, &["event", "send", "crm.lead.qualified", "--subject", "leads.L-3", "--data", r#"{"lead_id": "L-3", "score": 80}"#]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(sent["started"][0]["workflow"], "intake");
    assert_eq!(sent["started"][0]["status"], "completed");
    let run = sent["started"][0]["run"].as_str().unwrap();
    let s = show(&p, run);
    assert_eq!(s["steps"]["note"]["output"], "lead L-3 scored 80");
    assert_eq!(s["origin"]["trigger"], "event");
    assert_eq!(s["origin"]["detail"]["type"], "crm.lead.qualified");
    let (_, low) = flowc_json(&p, &["event", "send", "crm.lead.qualified", "--subject", "leads.L-4", "--data", r#"{"lead_id": "L-4", "score": 10}"#]);
    assert_eq!(low["started"], json!([]), "the where filter is false");
    let (_, other) = flowc_json(&p, &["event", "send", "crm.lead.qualified", "--subject", "accounts.A", "--data", r#"{"lead_id": "L-5", "score": 90}"#]);
    assert_eq!(other["started"], json!([]), "the subject glob does not match");
    // A missing required input fails the triggered run at once, visibly.
    let (_, bad) = flowc_json(&p, &["event", "send", "crm.lead.new", "--subject", "leads.L-6", "--data", r#"{"score": 99}"#]);
    assert_eq!(bad["started"][0]["status"], "failed");
    assert!(bad["started"][0]["error"].as_str().unwrap().contains("missing input `lead_id`"), "{bad}");
}
