//! Invariants end to end: abort or warn, their filters, rollback of protected
//! files, and the pin a resumed run keeps.

mod support;

use serde_json::json;
use support::copies::*;
use support::*;

#[test]
fn invariants_abort_warn_and_respect_their_filter() {
    let p = project("invariants", false);
    let (out, s) = run(&p, "guarded", &[], &[]);
    assert_eq!(code(&out), 1);
    assert_eq!(s["error"], r#"invariant mode_safe violated after step breaks: `cat config/mode` printed "unsafe", expected "safe""#);
    assert_eq!(s["steps"]["breaks"]["status"], "failed");
    assert_eq!(s["steps"]["never"]["status"], "cancelled");
    assert!(!p.path("never_ran").exists());
    let violated = events_named(&p.events(s["run"].as_str().unwrap()), "invariant_violated")[0].clone();
    assert_eq!(violated["payload"]["invariant"], "mode_safe");
    assert_eq!(violated["payload"]["action"], "abort");

    std::fs::write(p.path("config/mode"), "safe\n").unwrap();
    let (out, s) = run(&p, "warned", &[], &[]);
    assert_eq!(code(&out), 0, "warn goes on: {}", stderr(&out));
    assert!(p.path("next_ran").exists());
    let warned = events_named(&p.events(s["run"].as_str().unwrap()), "invariant_violated").len();
    assert_eq!(warned, 2, "after `breaks` and after `next`");

    let (out, s) = run(&p, "filtered", &[], &[]);
    assert_eq!(code(&out), 0, "checked only at `b`, where it holds: {}", stderr(&out));
    assert!(events_named(&p.events(s["run"].as_str().unwrap()), "invariant_violated").is_empty());
}

#[test]
fn a_rollback_restores_protected_files_and_pauses() {
    let p = project("invariants", false);
    let (out, s) = run(&p, "protected", &[], &[]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert_eq!(s["status"], "paused");
    assert_eq!(s["steps"]["tamper"]["status"], "paused");
    assert_eq!(s["steps"]["later"]["status"], "pending");
    assert_eq!(p.read("config/limits.json"), "{\"x\": 1}\n", "the protected file is back");
    assert!(!p.path("config/new.json").exists(), "a file added under a protected glob is removed");
    let events = p.events(s["run"].as_str().unwrap());
    let rolled = events_named(&events, "rolled_back")[0].clone();
    assert_eq!(rolled["payload"]["restored"], json!(["config/new.json (removed)", "config/limits.json (restored)"]));
    assert!(
        rolled["payload"]["error"].as_str().unwrap().contains("protected files changed: config/limits.json (modified), config/new.json (added)"),
        "{rolled}"
    );
}

#[test]
fn a_resumed_run_keeps_the_invariants_it_pinned() {
    let p = project("invariants", false);
    let (out, s) = run(&p, "pinned", &[], &[]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let run_id = s["run"].as_str().unwrap().to_string();
    // Weaken the source's invariant while the run waits.
    let text = std::fs::read_to_string(p.path("invariants.flow")).unwrap();
    let at = text.find("workflow pinned").unwrap();
    let weakened = format!("{}{}", &text[..at], text[at..].replacen("on_violation abort", "on_violation warn", 1));
    std::fs::write(p.path("invariants.flow"), weakened).unwrap();
    std::fs::write(p.path("go"), "").unwrap();
    let out = p.flowc(&["resume", &run_id, "--json"]);
    assert_eq!(code(&out), 1, "the pinned `abort` applies, not the source's `warn`");
    assert!(
        stderr(&out).contains(&format!("note: the invariants of workflow `pinned` changed since run {run_id} started; the run keeps the invariants it pinned then")),
        "{}",
        stderr(&out)
    );
    let events = p.events(&run_id);
    let pinned = events_named(&events, "invariants_pinned")[0].clone();
    assert_ne!(pinned["payload"]["pinned_hash"], pinned["payload"]["source_hash"]);
    assert_eq!(events_named(&events, "invariant_violated")[0]["payload"]["action"], "abort");
}
