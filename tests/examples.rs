//! The examples whose runs wait on people and events, run end to end offline
//! with the commands their READMEs give.

mod support;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};
use support::copies::{self, all_files, contains, events_named};
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

#[test]
fn the_build_feature_example_runs_to_completion_offline() {
    let p = copies::project("build_feature", true);
    let (out, s) = copies::run(&p, "build_feature", &["-i", "feature=saved searches"], &[("OPENAI_API_KEY", "dummy-api-key-0451")]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(s["outputs"], json!({ "chosen": "cache-layer", "plan": "two goals: model, then API" }));
    assert_eq!(s["steps"]["adopt"]["output"], json!({ "chosen": "cache-layer", "considered": 2 }));
    assert_eq!(s["steps"]["self_test"]["output"].as_array().unwrap().len(), 3);
    let run_id = s["run"].as_str().unwrap();
    let show = p.json(&["runs", "show", run_id, "--json"]);
    let children = show["children"].as_array().unwrap();
    assert_eq!(children.len(), 3, "verify_changes and one child_workflow per goal");
    assert!(children.iter().all(|c| c["status"] == "completed"));
    assert_eq!(p.json(&["store", "get", "context", "plan_result", "--json"])["value"]["summary"], "two goals: model, then API");
    let log = p.json(&["runs", "logs", run_id, "implement", "--json"]);
    assert!(log[0]["log"].as_str().unwrap().contains("invariant config_intact: sh bin/check-config.sh"), "checked `at implement`");
    let child = children.iter().find(|c| c["workflow"] == "child_workflow").unwrap()["run"].as_str().unwrap().to_string();
    let log = p.json(&["runs", "logs", &child, "work", "--json"]);
    assert!(log[0]["log"].as_str().unwrap().contains("invariant config_intact"), "a spawned child inherits the pinned invariant");
    let mut files = Vec::new();
    all_files(&p.path(".flow"), &mut files);
    for f in files {
        assert!(!contains(&std::fs::read(&f).unwrap(), "dummy-api-key-0451"), "{} holds the API key", f.display());
    }
}

/// dev_lifecycle with its `approval` and `human` steps stood in for by
/// commands: those step kinds come with the approvals work.
#[test]
fn dev_lifecycle_runs_its_gates_and_fix_loops() {
    let p = copies::project("dev_lifecycle", true);
    p.me_in(&["release-manager"]);
    // The run stops at the release approval, then at the feedback task.
    let (out, s) = copies::run(&p, "dev_lifecycle", &["-i", "feature=feature flags", "--notify", "none"], &[]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert_eq!(s["steps"]["release_approval"]["status"], "blocked");
    let run_id = s["run"].as_str().unwrap().to_string();
    let out = p.flowc(&["approve", &run_id, "release_approval", "--json", "--notify", "none"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let out = p.flowc(&["complete", &run_id, "feedback", "--as", "dana", "--output", r#"{"rating": 4, "notes": "more toggles"}"#, "--json", "--notify", "none"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let s: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(s["status"], "completed");
    assert_eq!(s["outputs"]["version"], "1.8.0");
    for gate in ["pre_commit", "pre_push", "pre_deploy"] {
        assert_eq!(s["steps"][gate]["status"], "completed", "{gate}");
    }
    let show = p.json(&["runs", "show", s["run"].as_str().unwrap(), "--json"]);
    assert_eq!(show["checkpoints"].as_array().unwrap().len(), 22, "one checkpoint per completed step");

    // Without a deployment, the release steps are skipped and the outputs say so.
    // (The monitor and iterate phases come after the deployment: skipped too.)
    let (out, s) = copies::run(&p, "dev_lifecycle", &["-i", "feature=feature flags", "-i", "deploy=false", "--notify", "none"], &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(s["steps"]["release"]["status"], "skipped");
    assert_eq!(s["steps"]["feedback"]["status"], "skipped");
    assert_eq!(s["outputs"], json!({ "version": "not released", "dashboard": "no deployment to watch" }));

    // Failing tests: the fix → test loop runs three rounds, then pauses.
    let (out, s) = copies::run(&p, "dev_lifecycle", &["-i", "feature=feature flags", "--notify", "none"], &[("FLOW_EXAMPLE_FAIL_TESTS", "1")]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert_eq!(s["steps"]["pre_push"]["status"], "paused");
    assert_eq!(s["steps"]["backend"]["attempts"], 4);
    let run_id = s["run"].as_str().unwrap().to_string();
    assert_eq!(events_named(&p.events(&run_id), "gate_fix").len(), 3);
    // The tests are fixed: resuming checks again, and the run goes on to the
    // release approval.
    let out = p.flowc(&["resume", &run_id, "--json", "--notify", "none"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let s: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(s["steps"]["pre_push"]["status"], "completed");
    assert_eq!(s["steps"]["release_approval"]["status"], "blocked");
}

/// The CI pipeline's five paths, as its README gives them.
#[test]
fn ci_pipeline_tests_a_matrix_fails_fast_and_undoes_a_failed_release() {
    let p = copies::project("ci_pipeline", true);
    let statuses = |s: &Value| -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> =
            s["steps"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v["status"].as_str().unwrap().to_string())).collect();
        v.sort();
        v
    };
    let expect = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
        v.sort();
        v
    };

    // Everything passes: six matrix jobs (3 × 2, less one excluded, plus
    // nightly), each of two steps, each step's output in its job's object.
    let (out, s) = copies::run(&p, "ci", &[], &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(s["status"], "completed");
    let jobs = s["steps"]["test"]["output"].as_array().unwrap();
    assert_eq!(jobs.len(), 6, "{jobs:?}");
    assert!(jobs.iter().any(|j| j["unit"].as_str().is_some_and(|t| t.contains("ubuntu with nightly"))), "{jobs:?}");
    assert!(!jobs.iter().any(|j| j["unit"].as_str().is_some_and(|t| t.contains("windows with 1.80"))), "excluded: {jobs:?}");
    assert!(jobs.iter().all(|j| j["docs"].as_str().is_some_and(|t| t.contains("for 4f2a9c1"))), "docs read checkout's output: {jobs:?}");
    // Each job's steps, by item, in `runs show` and `runs logs`.
    let run = s["run"].as_str().unwrap().to_string();
    let show = p.json(&["runs", "show", &run, "--json"]);
    let shown: Vec<(u64, String)> = show["jobs"].as_array().unwrap().iter().map(|j| (j["item"].as_u64().unwrap(), j["status"].as_str().unwrap().to_string())).collect();
    assert_eq!(shown, (0..6).map(|i| (i, "completed".to_string())).collect::<Vec<_>>());
    assert_eq!(show["jobs"][5]["steps"][1]["name"], "docs");
    let log = p.json(&["runs", "logs", &run, "test[5].unit", "--json"]);
    assert!(log[0]["log"].as_str().unwrap().contains("tests passed on ubuntu with nightly"), "{log}");
    assert_eq!(s["steps"]["triage"]["status"], "skipped", "only after failed(test)");
    assert_eq!(s["steps"]["settle"]["status"], "completed");
    assert!(s["steps"]["settle"]["output"]["waited_ms"].as_i64().unwrap() >= 250, "{}", s["steps"]["settle"]);
    let log = p.json(&["runs", "logs", s["run"].as_str().unwrap(), "build", "--json"]);
    assert!(log[0]["log"].as_str().unwrap().contains("built with stable"), "{log}");
    let log = p.json(&["runs", "logs", s["run"].as_str().unwrap(), "commit_status", "--json"]);
    assert!(log.to_string().contains("commit 4f2a9c1: CI completed, failed steps: []"), "the exit handler: {log}");

    // Publishing fails: the saga undoes publish, the draft and the tag, newest first.
    let (out, s) = copies::run(&p, "ci", &["-i", "fail=publish"], &[]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert_eq!(s["status"], "compensated");
    let run = s["run"].as_str().unwrap().to_string();
    let events = p.json(&["runs", "events", &run, "--json"]);
    let undone: Vec<&str> =
        events_named(events.as_array().unwrap(), "compensated").iter().filter_map(|e| e["step"].as_str()).collect();
    assert_eq!(undone, ["publish", "draft_release", "tag"]);
    let log = p.json(&["runs", "logs", &run, "tag", "--json"]);
    assert!(log.to_string().contains("removed tag 4f2a9c1"), "{log}");
    // The exit handler ran first, and saw the failure as it happened.
    let log = p.json(&["runs", "logs", &run, "commit_status", "--json"]);
    assert!(log.to_string().contains(r#"CI failed, failed steps: [\"publish\"]"#), "{log}");

    // The second matrix job fails at once: the first, still running, is
    // cancelled (its running step too), the other four never start, and
    // nothing is built.
    let (out, s) = copies::run(&p, "ci", &["-i", "fail=test:ubuntu-1.80"], &[]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert_eq!(
        statuses(&s),
        expect(&[
            ("checkout", "completed"),
            ("lint", "completed"),
            ("test", "failed"),
            ("build", "upstream_failed"),
            ("tag", "upstream_failed"),
            ("draft_release", "upstream_failed"),
            ("settle", "upstream_failed"),
            ("publish", "upstream_failed"),
            ("triage", "completed"),
            ("commit_status", "completed"),
        ])
    );
    let events = p.json(&["runs", "events", s["run"].as_str().unwrap(), "--json"]);
    let events = events.as_array().unwrap();
    assert_eq!(events_named(events, "item_cancelled").len(), 1, "fail_fast cancels the running job");
    assert_eq!(events_named(events, "item_started").len(), 2, "fail_fast starts no more jobs (concurrency 2)");
    let show = p.json(&["runs", "show", s["run"].as_str().unwrap(), "--json"]);
    let jobs = show["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 2, "{jobs:?}");
    assert_eq!((&jobs[0]["status"], &jobs[0]["steps"][0]["status"]), (&json!("cancelled"), &json!("cancelled")));
    assert_eq!((&jobs[1]["status"], &jobs[1]["steps"][0]["status"], &jobs[1]["steps"][1]["status"]), (&json!("failed"), &json!("failed"), &json!("upstream_failed")));

    // Lint fails: nothing is built. Lint finds no configuration: it skips, and the build goes on.
    let (out, s) = copies::run(&p, "ci", &["-i", "fail=lint"], &[]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert_eq!(s["steps"]["build"]["status"], "upstream_failed");
    let (out, s) = copies::run(&p, "ci", &["-i", "fail=lint:noconfig"], &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(s["steps"]["lint"]["status"], "skipped");
    assert_eq!(s["steps"]["publish"]["status"], "completed");
}
