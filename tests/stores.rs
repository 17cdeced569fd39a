//! Key-value stores end to end: kept across runs, validated against their
//! schema, trimmed by their retention.

mod support;

use serde_json::{json, Value};
use support::copies::*;
use support::*;

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
