//! The examples whose runs wait on people and events, run end to end offline
//! with the commands their READMEs give.

mod support;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};
use support::*;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `flowc -C SCRATCH/NAME --state SCRATCH/state.db ARGS`, on a copy of
/// examples/NAME (made once) whose flowc.toml puts the test's user in the
/// example's approver groups.
fn flowc_in(example: &str, scratch: &Project, args: &[&str]) -> Output {
    let state = scratch.path("state.db");
    let copy = scratch.path(example);
    if !copy.exists() {
        fn copy_dir(from: &Path, to: &Path) {
            std::fs::create_dir_all(to).unwrap();
            for e in std::fs::read_dir(from).unwrap().flatten() {
                let (src, dst) = (e.path(), to.join(e.file_name()));
                if e.file_name() == ".flow" {
                    continue;
                }
                if src.is_dir() {
                    copy_dir(&src, &dst);
                } else {
                    std::fs::copy(&src, &dst).unwrap();
                }
            }
        }
        copy_dir(&root().join("examples").join(example), &copy);
        std::fs::write(copy.join("flowc.toml"), directory_with_me_in(&["sales-manager", "tech-lead", "security"])).unwrap();
    }
    Command::new(flowc_bin())
        .current_dir(root())
        .arg("-C")
        .arg(&copy)
        .arg("--state")
        .arg(&state)
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

/// Records the run as started by `dana`, as if another person had run it
/// (one test process is one operating-system user).
fn started_by_someone_else(scratch: &Project, run: &str) {
    let db = rusqlite::Connection::open(scratch.path("state.db")).unwrap();
    assert_eq!(db.execute("UPDATE run_origins SET initiator = 'dana' WHERE run_id = ?1", [run]).unwrap(), 1);
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", stdout(out), stderr(out)))
}

#[test]
fn outbound_sdr_blocks_for_approval_is_approved_and_completes_on_the_reply() {
    let scratch = Project::new("example-sdr");
    let out = flowc_in("outbound_sdr", &scratch, &["run", "outbound_sdr", "-i", "company=Globex", "-i", "lead_id=L-1", "--json"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let summary = json_of(&out);
    let run = summary["run"].as_str().unwrap().to_string();
    // distinct_from_initiator: the test's user started it and may not approve it…
    let refused = flowc_in("outbound_sdr", &scratch, &["approve", &run, "manager_approval"]);
    assert_eq!(code(&refused), 2, "{}", stderr(&refused));
    assert!(stderr(&refused).contains("started this run"), "{}", stderr(&refused));
    // …so let someone else have started it.
    started_by_someone_else(&scratch, &run);
    assert_eq!(summary["steps"]["governance"]["output"]["decision"], "allow");
    assert_eq!(summary["steps"]["route"]["output"]["picked"], "manager_approval");
    assert_eq!(summary["steps"]["manager_approval"]["status"], "blocked");
    assert!(stderr(&out).contains(&format!("flowc approve {run} manager_approval")), "{}", stderr(&out));

    let out = flowc_in("outbound_sdr", &scratch, &["approve", &run, "manager_approval", "--comment", "Go ahead", "--json"]);
    assert_eq!(code(&out), 3, "blocks again at the reply wait: {}", stderr(&out));
    let summary = json_of(&out);
    assert_eq!(summary["steps"]["send_outreach"]["output"]["message_id"], "msg-L-1");
    assert_eq!(summary["steps"]["tell_team"]["status"], "completed");
    assert_eq!(summary["steps"]["wait_reply"]["status"], "blocked");

    let out = flowc_in(
        "outbound_sdr",
        &scratch,
        &["event", "send", "email.reply", "--subject", "leads/L-1", "--data", r#"{"text": "Interested, let's talk"}"#, "--json"],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(json_of(&out)["continued"][0]["status"], "completed");
    let out = flowc_in("outbound_sdr", &scratch, &["runs", "show", &run, "--json"]);
    let shown = json_of(&out);
    assert_eq!(shown["status"], "completed");
    assert_eq!(shown["outputs"]["reply"], json!({ "text": "Interested, let's talk" }));
    assert_eq!(shown["outputs"]["deal_value"], 85000);
}

#[test]
fn outbound_sdr_small_deals_skip_the_approval() {
    let scratch = Project::new("example-sdr-small");
    let out = flowc_in("outbound_sdr", &scratch, &["run", "outbound_sdr", "-i", "company=Initech", "-i", "lead_id=L-2", "--json"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let summary = json_of(&out);
    assert_eq!(summary["steps"]["manager_approval"]["status"], "skipped");
    assert_eq!(summary["steps"]["wait_reply"]["status"], "blocked");
}

#[test]
fn approvals_example_blocks_at_sign_off_and_completes_when_approved() {
    let scratch = Project::new("example-approvals");
    let out = flowc_in("approvals", &scratch, &["run", "change_review", "--json"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let summary = json_of(&out);
    let run = summary["run"].as_str().unwrap().to_string();
    assert_eq!(summary["steps"]["sign_off"]["status"], "blocked");
    assert_eq!(summary["blocked"][0]["message"], "Merge 'Retry webhooks with backoff (#42)' into acme/api? CI is green and the AI review approves with two minor comments.");
    let out = flowc_in("approvals", &scratch, &["approve", &run, "sign_off", "--as", "tech-lead"]);
    assert_eq!(code(&out), 2, "the initiator may not approve, on anyone's behalf: {}", stderr(&out));
    started_by_someone_else(&scratch, &run);
    let out = flowc_in("approvals", &scratch, &["approve", &run, "sign_off", "--comment", "LGTM", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let done = json_of(&out);
    assert_eq!(done["status"], "completed");
    assert_eq!(done["outputs"]["merged_sha"], "3f9c2ab");
    assert_eq!(done["steps"]["report_failure"]["status"], "skipped");
}
