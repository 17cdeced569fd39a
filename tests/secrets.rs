//! Secrets end to end: resolved when a step starts, never in a log, event,
//! output or row of the state database; a webhook's signing secret likewise.

mod support;

use serde_json::{json, Value};
use support::copies::*;
use support::*;

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
