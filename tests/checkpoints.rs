//! Checkpoints end to end: `flowc restore` resets the later steps and resumes.

mod support;

use serde_json::{json, Value};
use support::copies::*;
use support::*;

#[test]
fn restore_resets_the_later_steps_and_resumes() {
    let p = project("checkpoints", false);
    let (out, s) = run(&p, "chain", &[], &[]);
    assert_eq!(code(&out), 1);
    let run_id = s["run"].as_str().unwrap().to_string();
    let show = p.json(&["runs", "show", &run_id, "--json"]);
    let cps: Vec<&str> = show["checkpoints"].as_array().unwrap().iter().map(|c| c["step"].as_str().unwrap()).collect();
    assert_eq!(cps, ["a", "b"], "a checkpoint per completed step");
    assert_eq!(p.read("notes/plan.txt"), "edited\n");

    std::fs::write(p.path("ok"), "").unwrap();
    let out = p.flowc(&["restore", &run_id, "--to", "a", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["status"], "completed");
    assert_eq!(p.read("ran.txt"), "a\nb\nc\nb\nc\n", "a is kept, b and c run again");
    assert_eq!(s["steps"]["a"]["attempts"], 1);
    let events = p.events(&run_id);
    let restored = events_named(&events, "restored")[0].clone();
    assert_eq!(restored["payload"]["reset"], json!(["b", "c"]));
    assert_eq!(restored["payload"]["files"], json!(["notes/plan.txt (restored)"]), "protected files go back too");

    let out = p.flowc(&["restore", &run_id, "--to", "nowhere"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("step `nowhere` has no checkpoint"), "{}", stderr(&out));
}
