//! The outbound events sink: lifecycle CloudEvents, in commit order.

mod support;

use serde_json::Value;
use support::blocking::*;
use support::*;

#[test]
fn the_events_sink_receives_lifecycle_cloudevents_in_order() {
    let p = project("sink", &[("gate.flow", GATE)]);
    p.me_in(&["boss"]);
    let (out, summary) = flowc_json(&p, &["--events-sink", "file:out/events.jsonl", "run", "gate", "--as", "alice"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let run = summary["run"].as_str().unwrap().to_string();
    let out = cmd(&p, &["approve", &run, "sign_off"]).env("FLOW_EVENTS_SINK", "command:cat >> out/events.jsonl").output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let lines: Vec<Value> = p.read("out/events.jsonl").lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let types: Vec<&str> = lines.iter().map(|e| e["type"].as_str().unwrap()).collect();
    for t in ["flow.run.started", "flow.step.completed", "flow.step.blocked", "flow.run.blocked", "flow.run.resumed", "flow.step.approved", "flow.run.completed"] {
        assert!(types.contains(&t), "{t} missing from {types:?}");
    }
    let pos = |t: &str| types.iter().position(|x| *x == t).unwrap();
    assert!(pos("flow.run.started") < pos("flow.step.blocked") && pos("flow.step.approved") < pos("flow.run.completed"));
    for e in &lines {
        assert_eq!(e["specversion"], "1.0");
        assert_eq!(e["source"], format!("/flowc/runs/{run}"));
        assert_eq!(e["flowworkflow"], "gate");
    }
    let ids: std::collections::HashSet<&str> = lines.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), lines.len(), "ids are unique");
    let approved = lines.iter().find(|e| e["type"] == "flow.step.approved").unwrap();
    assert_eq!(approved["subject"], "sign_off");
    assert_eq!(approved["data"]["payload"]["by"], os_user().as_str());
    let out = flowc(&p, &["--events-sink", "smtp:x", "run", "gate"]);
    assert_eq!(code(&out), 2, "a bad sink is a usage error");
}
