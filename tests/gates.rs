//! Quality gates end to end: fix loops that re-run the fix, exhausted loops
//! that pause, and which gates may be skipped.

mod support;

use serde_json::{json, Value};
use support::copies::*;
use support::*;

#[test]
fn a_gate_fix_loop_reruns_the_fix_and_then_passes() {
    let p = project("gates", false);
    let (out, s) = run(&p, "fixloop", &[], &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(p.read("fixes"), "3\n", "the fix step ran three times");
    assert_eq!(p.read("builds.txt"), "built\n", "steps before the fix step do not run again");
    assert_eq!(s["steps"]["check"]["attempts"], 3);
    assert_eq!(s["steps"]["after_gate"]["status"], "completed");
    let events = p.events(s["run"].as_str().unwrap());
    assert_eq!(events_named(&events, "gate_failed").len(), 2);
    assert_eq!(events_named(&events, "gate_passed").len(), 1);
    let fix = events_named(&events, "gate_fix")[0].clone();
    assert_eq!(fix["payload"]["rerun"], json!(["fix", "check"]));
    let failed = events_named(&events, "gate_failed")[0].clone();
    assert_eq!(failed["payload"]["checks"][0]["passed"], false);
    assert_eq!(failed["payload"]["checks"][1]["passed"], true, "every check runs, even after one failed");
}

#[test]
fn an_exhausted_fix_loop_pauses_and_only_skippable_gates_can_be_skipped() {
    let p = project("gates", false);
    let (out, s) = run(&p, "exhausted", &[], &[]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert_eq!(s["steps"]["check"]["status"], "paused");
    assert_eq!(p.read("fixes").lines().count(), 3, "the first run and two fix rounds");
    let out = p.flowc(&["skip", s["run"].as_str().unwrap(), "check"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("gate `check` is not `skippable`"), "{}", stderr(&out));

    let (out, s) = run(&p, "skippable_gate", &[], &[]);
    assert_eq!(code(&out), 3);
    let out = p.flowc(&["skip", s["run"].as_str().unwrap(), "g", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["status"], "completed");
    assert_eq!(s["steps"]["g"]["status"], "skipped");
    assert_eq!(p.read("after.txt"), "ran\n", "a skipped gate lets its dependents run");

    let (out, s) = run(&p, "pausing", &[], &[]);
    assert_eq!(code(&out), 3);
    let out = p.flowc(&["skip", s["run"].as_str().unwrap(), "fragile", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(p.read("next.txt"), "next\n");

    let stats = p.json(&["runs", "stats", "--json"]);
    let gates = |wf: &str| stats.as_array().unwrap().iter().find(|s| s["workflow"] == wf).unwrap()["gates"].clone();
    assert_eq!(gates("exhausted"), json!([{ "gate": "check", "passed": 0, "failed": 3 }]));
    assert_eq!(gates("skippable_gate"), json!([{ "gate": "g", "passed": 0, "failed": 1 }]));
    assert!(stdout(&p.flowc(&["runs", "stats"])).contains("PASS RATE"));
}
