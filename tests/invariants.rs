//! End-to-end tests of the advanced primitives (issue 6), one per feature:
//! secrets, stores, spawning, items and selection, invariants, gates,
//! checkpoints, resources — plus the two examples. Each test copies a small
//! project from `tests/fixtures/projects/` (or `examples/`) into a scratch
//! directory and runs the binary on it.

mod support;

use std::path::Path;

use serde_json::{json, Value};
use support::*;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            if entry.file_name() != ".flow" {
                copy_dir(&entry.path(), &target);
            }
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A scratch copy of `tests/fixtures/projects/NAME` (or of `examples/NAME`).
fn project(name: &str, from_examples: bool) -> Project {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let src = if from_examples { root.join("examples").join(name) } else { root.join("tests/fixtures/projects").join(name) };
    // Tests run in parallel and share fixtures: one scratch directory each.
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let p = Project::new(&format!("adv-{name}-{n}"));
    copy_dir(&src, &p.dir);
    p
}

/// `flowc run WORKFLOW ARGS --json` in the project; the output and the summary.
fn run(p: &Project, workflow: &str, args: &[&str], env: &[(&str, &str)]) -> (std::process::Output, Value) {
    let mut all = vec!["run", workflow, "--json"];
    all.extend_from_slice(args);
    let mut cmd = p.cmd(&all);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.stdin(std::process::Stdio::null()).output().unwrap();
    let summary = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out, summary)
}

fn step_error(p: &Project, run: &str, step: &str) -> String {
    let show = p.json(&["runs", "show", run, "--json"]);
    let attempts = show["attempts"].as_array().unwrap();
    attempts.iter().rev().find(|a| a["step"] == step).and_then(|a| a["error"].as_str()).unwrap_or("").to_string()
}

fn events_named<'a>(events: &'a [Value], event: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["event"] == event).collect()
}

fn runs_of(p: &Project, workflow: &str) -> Vec<Value> {
    p.json(&["runs", "list", "--json"]).as_array().unwrap().iter().filter(|r| r["workflow"] == workflow).cloned().collect()
}

/// Every file below `dir`, recursively.
fn all_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        if entry.file_type().unwrap().is_dir() {
            all_files(&entry.path(), out);
        } else {
            out.push(entry.path());
        }
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

// ------------------------------------------------------------------ 1

const ENV_SECRET: &str = "s3cr3t-VALUE-42";
const FILE_SECRET: &str = "f1le-SECRET-77";

#[test]
fn secrets_resolve_when_steps_start_and_are_redacted_everywhere() {
    let p = project("secrets", false);
    std::fs::write(p.path("token.txt"), format!("{FILE_SECRET}\n")).unwrap();
    // The CloudEvents published for the run go to a file under .flow, checked below.
    let sink = format!("file:{}", p.path(".flow/events.jsonl").display());
    let (out, s) = run(&p, "leak", &["--events-sink", &sink], &[("FLOWC_TEST_TOKEN", ENV_SECRET), ("FLOWC_TEST_PLAIN", "visible-plain")]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(p.read(".flow/events.jsonl").lines().count() > 5, "the sink got the run's events");
    assert!(p.read(".flow/events.jsonl").contains("failing with ***"), "and their masked payloads");
    assert_eq!(p.read("got_token"), ENV_SECRET, "the step's process gets the value");
    assert_eq!(p.read("got_plain"), "visible-plain");
    assert_eq!(s["steps"]["show"]["output"], "hello *** *** visible-plain", "a plain from_env value is not a secret");
    assert_eq!(s["steps"]["ask"]["output"], json!({ "said": "repeat the token ***" }), "agent env secrets too");
    assert_eq!(s["steps"]["later"]["output"], "hello *** *** visible-plain", "later steps only ever see the mask");
    let run = s["run"].as_str().unwrap();
    assert!(step_error(&p, run, "loud").ends_with("failing with ***"), "{}", step_error(&p, run, "loud"));
    let log = p.json(&["runs", "logs", run, "show", "--json"]);
    assert!(log[0]["log"].as_str().unwrap().contains("err | stderr has ***"), "{log}");

    // Nothing flowc wrote holds either value: the database (and its WAL), the logs.
    let mut files = Vec::new();
    all_files(&p.path(".flow"), &mut files);
    assert!(files.iter().any(|f| f.ends_with("state.db")));
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        for secret in [ENV_SECRET, FILE_SECRET] {
            assert!(!contains(&bytes, secret), "{} holds a secret", f.display());
        }
    }
    for args in [vec!["runs", "show", run, "--json"], vec!["runs", "events", run, "--json"], vec!["runs", "logs", run]] {
        let out = p.flowc(&args);
        assert!(!contains(&out.stdout, ENV_SECRET) && !contains(&out.stdout, FILE_SECRET), "{args:?} shows a secret");
    }
    assert!(!contains(&out.stdout, ENV_SECRET) && !contains(&out.stderr, ENV_SECRET));
}

const HOOK_SECRET: &str = "wh00k-SECRET-19";

#[test]
fn a_signed_webhook_lowers_to_its_plan_fields_and_its_secret_is_redacted_in_runs() {
    let p = project("signed_webhook", false);
    let plan = p.json(&["build", ".", "--workflow", "hooked", "--emit", "json"]);
    let secrets = plan["secrets"].as_array().unwrap();
    let secret_of = |name: &str| secrets.iter().position(|s| s["name"] == name).unwrap_or_else(|| panic!("no secret {name}: {secrets:?}"));
    let (github, stripe, acme) = (secret_of("hooks.GITHUB"), secret_of("hooks.STRIPE"), secret_of("hooks.ACME"));
    for i in [github, stripe, acme] {
        assert_eq!(secrets[i]["redact"], true, "{:?}", secrets[i]);
    }
    assert_eq!(
        plan["workflows"][0]["triggers"],
        json!([
            { "on": "webhook", "provider": "github", "entity": "push", "action": "*", "signature": { "scheme": "github", "secret": github } },
            { "on": "webhook", "provider": "stripe", "entity": "invoice", "action": "paid",
              "signature": { "scheme": "stripe", "secret": stripe, "tolerance_s": 300 } },
            { "on": "webhook", "provider": "stripe", "entity": "invoice", "action": "failed",
              "signature": { "scheme": "stripe", "secret": stripe, "tolerance_s": 90 } },
            { "on": "webhook", "provider": "acme", "entity": "order", "action": "created",
              "signature": { "scheme": "hmac", "secret": acme, "header": "x-acme-signature" } },
            { "on": "webhook", "provider": "plain", "entity": "thing", "action": "done" },
            { "on": "schedule", "cron": "0 9 * * *", "catchup": "all", "window_s": 7200 },
            { "on": "schedule", "cron": "0 10 * * *", "catchup": "none" },
            { "on": "schedule", "cron": "0 11 * * *" }
        ])
    );

    // The step reads the signing secret's variable as a plain value: the run's
    // redactor knows it from the trigger, so it is masked all the same.
    std::fs::write(p.path("acme.key"), "acme-KEY-value\n").unwrap();
    let (out, s) = run(&p, "hooked", &[], &[("FLOWC_TEST_HOOK_SECRET", HOOK_SECRET), ("FLOWC_TEST_STRIPE_SECRET", "stripe-KEY-value")]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(s["steps"]["show"]["output"], "got ***");
    let mut files = Vec::new();
    all_files(&p.path(".flow"), &mut files);
    assert!(files.iter().any(|f| f.ends_with("state.db")));
    for f in &files {
        assert!(!contains(&std::fs::read(f).unwrap(), HOOK_SECRET), "{} holds the webhook secret", f.display());
    }
    assert!(!contains(&out.stdout, HOOK_SECRET) && !contains(&out.stderr, HOOK_SECRET));
}

#[test]
fn a_missing_secret_fails_the_step_before_it_runs() {
    let p = project("secrets", false);
    let mut cmd = p.cmd(&["run", "missing", "--json"]);
    cmd.env_remove("FLOWC_TEST_TOKEN");
    let out = cmd.output().unwrap();
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["steps"]["needs"]["status"], "failed");
    let err = step_error(&p, s["run"].as_str().unwrap(), "needs");
    assert_eq!(err, "secret `keys.TOKEN`: the environment variable FLOWC_TEST_TOKEN is not set");
    assert!(!p.path("ran").exists(), "the command must not run");
}

// ------------------------------------------------------------------ 2

#[test]
fn stores_persist_across_runs_validate_and_retain() {
    let p = project("stores", false);
    let (out, s) = run(&p, "remember", &["-i", "n=4"], &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(s["steps"]["consume"]["output"], "5 4", "reads see what the step before put (local and command backends)");
    // Another process, another run: the values are still there.
    let (_, s) = run(&p, "recall", &[], &[]);
    assert_eq!(s["steps"]["read"]["output"], "4 true", "an absent key reads as null");
    let got = p.json(&["store", "get", "memo", "last", "--json"]);
    assert_eq!(got["value"], json!({ "n": 4 }));
    assert_eq!(got["found"], true);
    assert_eq!(p.json(&["store", "get", "ext", "last", "--json"])["value"], json!({ "n": 4 }));
    assert!(p.path("kvdata/ext/last").exists(), "the command backend holds it");

    // max_entries 2: the oldest write goes.
    assert_eq!(code(&p.flowc(&["store", "put", "memo", "a", r#"{"n": 1}"#])), 0);
    assert_eq!(code(&p.flowc(&["store", "put", "memo", "b", r#"{"n": 2}"#])), 0);
    let keys: Vec<Value> = p.json(&["store", "list", "memo", "--json"]).as_array().unwrap().iter().map(|e| e["key"].clone()).collect();
    assert_eq!(keys, [json!("a"), json!("b")]);
    assert_eq!(code(&p.flowc(&["store", "get", "memo", "last"])), 1);

    // The schema applies to `flowc store put` and to `then put`.
    let out = p.flowc(&["store", "put", "memo", "x", r#"{"n": "no"}"#]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("the value for `memo.x` does not match the store's schema: at /n:"), "{}", stderr(&out));
    let (out, s) = run(&p, "bad_put", &[], &[]);
    assert_eq!(code(&out), 1);
    let err = step_error(&p, s["run"].as_str().unwrap(), "p");
    assert!(err.starts_with("the value for `memo.bad` does not match the store's schema"), "{err}");

    // ttl: an entry older than the ttl is gone (the sleep outlasts the ttl).
    assert_eq!(code(&p.flowc(&["store", "put", "brief", "k", "hello"])), 0);
    assert_eq!(code(&p.flowc(&["store", "put", "lasting", "k", "hello"])), 0);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert_eq!(code(&p.flowc(&["store", "get", "brief", "k"])), 1, "expired entries are invisible");
    assert_eq!(p.json(&["store", "get", "lasting", "k", "--json"])["value"], "hello");
    assert_eq!(p.json(&["store", "list", "brief", "--json"]), json!([]), "and purged");

    assert_eq!(p.json(&["store", "delete", "ext", "last", "--json"])["deleted"], true);
    assert_eq!(code(&p.flowc(&["store", "get", "ext", "last"])), 1);
    let out = p.flowc(&["store", "get", "nope", "k"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("the project declares no store `nope`"), "{}", stderr(&out));
}

// ------------------------------------------------------------------ 3

#[test]
fn spawned_children_are_recorded_and_safety_limits_enforced() {
    let p = project("spawn", false);
    let (out, s) = run(&p, "parent", &[], &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let run_id = s["run"].as_str().unwrap();
    let mut done: Vec<String> = p.read("done.txt").lines().map(str::to_string).collect();
    done.sort();
    assert_eq!(done, ["a", "b", "single"], "flowc run waits for the spawned children");
    let show = p.json(&["runs", "show", run_id, "--json"]);
    let children = show["children"].as_array().unwrap();
    assert_eq!(children.len(), 3);
    for c in children {
        assert_eq!(c["spawned"], true);
        assert_eq!(c["depth"], 1);
        assert_eq!(c["status"], "completed");
        assert_eq!(c["step"], "plan");
    }
    let human = stdout(&p.flowc(&["runs", "show", run_id]));
    assert!(human.contains("spawned    plan"), "{human}");
    let spawned = events_named(&p.events(run_id), "spawned")[0].clone();
    assert_eq!(spawned["payload"]["children"].as_array().unwrap().len(), 3);

    let (out, s) = run(&p, "greedy", &[], &[]);
    assert_eq!(code(&out), 1);
    let err = step_error(&p, s["run"].as_str().unwrap(), "plan");
    assert!(err.starts_with("max_spawned_tasks 2 exceeded"), "{err}");

    let (out, _) = run(&p, "deep", &[], &[]);
    assert_eq!(code(&out), 0, "the parent is fine; its child may not spawn deeper");
    let child = runs_of(&p, "deep").into_iter().find(|r| !r["parent_run"].is_null()).unwrap();
    assert_eq!(child["status"], "failed");
    let err = step_error(&p, child["run"].as_str().unwrap(), "go");
    assert!(err.starts_with("max_spawn_depth 1 exceeded: run"), "{err}");
    assert_eq!(p.read("levels.txt"), "0\n1\n");

    let (out, s) = run(&p, "cool", &[], &[]);
    assert_eq!(code(&out), 1);
    let err = step_error(&p, s["run"].as_str().unwrap(), "b");
    assert!(err.starts_with("spawn_cooldown 1h not over"), "{err}");
}

// ------------------------------------------------------------------ 4

#[test]
fn items_run_once_per_item_and_select_keeps_the_best() {
    let p = project("items", false);
    let (out, s) = run(&p, "tournament", &[], &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let names = |step: &str| -> Vec<String> {
        s["steps"][step]["output"].as_array().unwrap().iter().map(|v| v["name"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(names("each"), ["a", "b", "c", "d"], "instance outputs in item order");
    assert_eq!(s["steps"]["each"]["output"][2]["index"], 2);
    assert_eq!(names("best"), ["b", "c"], "max, top_k 2");
    assert_eq!(names("keep"), ["b", "c", "d"], "threshold 0.5");
    assert_eq!(names("weighted"), ["c"], "weighted: 0.5·score + 0.5·conf, top_k 1");
    assert_eq!(names("low"), ["a"], "min keeps one by default");
    assert_eq!(s["steps"]["use_best"]["output"], "2 b", "`items` after a select is what it kept");
    let counts: Vec<u32> = p.read("counts").lines().map(|l| l.trim().parse().unwrap()).collect();
    assert_eq!(counts.len(), 4);
    assert!(counts.iter().all(|c| *c <= 2), "more than `concurrency 2` instances at once: {counts:?}");
    let events = p.events(s["run"].as_str().unwrap());
    let mut started: Vec<u64> = events_named(&events, "item_started").iter().map(|e| e["payload"]["item"].as_u64().unwrap()).collect();
    started.sort();
    assert_eq!(started, [0, 1, 2, 3]);
    assert_eq!(events_named(&events, "item_completed").len(), 4);
    let selected = events.iter().find(|e| e["event"] == "selected" && e["step"] == "best").unwrap();
    assert_eq!(selected["payload"]["kept"], json!([1, 2]));

    let (out, s) = run(&p, "missing_metric", &[], &[]);
    assert_eq!(code(&out), 1);
    assert_eq!(step_error(&p, s["run"].as_str().unwrap(), "pick"), r#"item 1 has no `score`: {"name":"y"}"#);
}

// ------------------------------------------------------------------ 5

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

// ------------------------------------------------------------------ 6

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

// ------------------------------------------------------------------ 7

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

// ------------------------------------------------------------------ 8

#[test]
fn resources_are_listed_described_and_exported() {
    let p = project("advanced", true);
    for kind in ["pl", "promptlibraries", "PromptLibrary"] {
        let list = p.json(&["get", kind, "--json"]);
        assert_eq!(list.as_array().unwrap().len(), 1, "{kind}");
        assert_eq!(list[0]["metadata"]["name"], "qa_prompts");
    }
    let human = stdout(&p.flowc(&["get", "pl"]));
    assert!(human.contains("qa_prompts") && human.contains("team=platform"), "{human}");
    let m = p.json(&["describe", "promptlibrary", "qa_prompts", "--json"]);
    assert_eq!(m["apiVersion"], "extensions.orchestrator.dev/v1");
    assert_eq!(m["kind"], "PromptLibrary");
    assert_eq!(m["metadata"]["labels"], json!({ "team": "platform" }));
    assert_eq!(m["spec"]["prompts"][0]["name"], "code-review");
    assert!(stdout(&p.flowc(&["describe", "pl", "qa_prompts"])).contains("kind: PromptLibrary\n"));
    assert_eq!(p.json(&["get", "rubric", "--json"])[0]["metadata"]["name"], "candidate_rubric");
    assert_eq!(p.json(&["get", "stores", "--json"])[0]["spec"]["retention"], json!({ "max_entries": 1000, "ttl_seconds": 86400 }));

    let all = p.json(&["export", "--format", "json"]);
    let crd = all.as_array().unwrap().iter().find(|m| m["kind"] == "CustomResourceDefinition").unwrap();
    assert_eq!(crd["metadata"]["name"], "evaluationrubrics.extensions.orchestrator.dev");
    assert_eq!(crd["spec"]["versions"][0]["cel_rules"][0]["rule"], "self.pass_mark >= 0.0 && self.pass_mark <= 1.0");
    let kinds: Vec<&str> = all.as_array().unwrap().iter().map(|m| m["kind"].as_str().unwrap()).collect();
    for k in ["PromptLibrary", "EnvStore", "SecretStore", "WorkflowStore", "Agent", "Workflow"] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }
    let secret = all.as_array().unwrap().iter().find(|m| m["kind"] == "SecretStore").unwrap();
    assert_eq!(secret["spec"]["data"]["OPENAI_API_KEY"], json!({ "fromEnv": "OPENAI_API_KEY" }), "sources, never values");
    let yaml = stdout(&p.flowc(&["export"]));
    assert!(yaml.contains("kind: CustomResourceDefinition\nmetadata:\n  annotations:"), "{yaml}");
    assert_eq!(yaml.matches("\n---\n").count() + 1, kinds.len());

    let out = p.flowc(&["get", "widgets"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("there is no kind `widgets`"), "{}", stderr(&out));
}

#[test]
fn template_bodies_merge_under_the_steps_own_lines() {
    let p = project("templates", false);
    let (out, s) = run(&p, "t", &["-i", "word=hi", "--notify", "none"], &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(s["steps"]["loud"]["output"], "HI", "the template's command");
    assert_eq!(s["steps"]["custom"]["output"], "custom", "the step's own command wins");
    assert_eq!(s["steps"]["told"]["output"], json!({ "channel": "log:test", "message": "said HI" }));
}

// ----------------------------------------------------------- examples

#[test]
fn the_advanced_example_runs_to_completion_offline() {
    let p = project("advanced", true);
    let (out, s) = run(&p, "build_feature", &["-i", "feature=saved searches"], &[("OPENAI_API_KEY", "dummy-api-key-0451")]);
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
    let p = project("dev_lifecycle", true);
    p.me_in(&["release-manager"]);
    // The run stops at the release approval, then at the feedback task.
    let (out, s) = run(&p, "dev_lifecycle", &["-i", "feature=feature flags", "--notify", "none"], &[]);
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
    let (out, s) = run(&p, "dev_lifecycle", &["-i", "feature=feature flags", "-i", "deploy=false", "--notify", "none"], &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(s["steps"]["release"]["status"], "skipped");
    assert_eq!(s["steps"]["feedback"]["status"], "skipped");
    assert_eq!(s["outputs"], json!({ "version": "not released", "dashboard": "no deployment to watch" }));

    // Failing tests: the fix → test loop runs three rounds, then pauses.
    let (out, s) = run(&p, "dev_lifecycle", &["-i", "feature=feature flags", "--notify", "none"], &[("FLOW_EXAMPLE_FAIL_TESTS", "1")]);
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

#[test]
fn a_spawned_child_resumes_by_itself_or_with_its_parent() {
    let p = project("spawn", false);
    let (out, _) = run(&p, "fragile_parent", &[], &[]);
    assert_eq!(code(&out), 0, "the parent does not wait for its child's fate: {}", stderr(&out));
    let child = runs_of(&p, "fragile_child")[0].clone();
    assert_eq!(child["status"], "paused");
    std::fs::write(p.path("go"), "").unwrap();
    let out = p.flowc(&["resume", child["run"].as_str().unwrap(), "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    std::fs::remove_file(p.path("go")).unwrap();

    // kill -9 while parent and child both run; resume the parent.
    let quiet = |args: &[&str]| {
        p.cmd(args).stdin(std::process::Stdio::null()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap()
    };
    let mut flowc = quiet(&["run", "durable_parent", "--json"]);
    wait_until("both steps to start", || p.read("b.started").lines().count() == 1 && p.read("c.started").lines().count() == 1);
    // SAFETY: signalling the child process this test spawned.
    unsafe {
        libc::kill(flowc.id() as i32, libc::SIGKILL);
    }
    let _ = flowc.wait();
    let parent = runs_of(&p, "durable_parent")[0]["run"].as_str().unwrap().to_string();
    let mut resume = quiet(&["resume", &parent, "--json"]);
    wait_until("both steps to run again", || p.read("b.started").lines().count() == 2 && p.read("c.started").lines().count() == 2);
    std::fs::write(p.path("go"), "").unwrap();
    let (exit, stdout, stderr) = wait_exit(&mut resume);
    assert_eq!(exit, 0, "{stderr}");
    let summary: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(summary["status"], "completed");
    assert_eq!(runs_of(&p, "durable_child")[0]["status"], "completed", "the child was resumed with its parent");
    assert_eq!(p.read("child_done"), "c\n", "the orphaned attempt was stopped before it could finish");
}
