//! `flowc publish`: a version stored only when the plan changes, recorded by
//! the runs that use it.

mod support;

use serde_json::{json, Value};
use support::blocking::*;
use support::*;

#[test]
fn publish_stores_a_version_only_when_the_plan_changes_and_runs_record_it() {
    let v1 = "workflow pub {\n  step a { command \"echo one v${run.version}\" }\n}\n";
    let p = project("publish", &[("pub.flow", v1)]);
    let (out, first) = flowc_json(&p, &["--events-sink", "file:defs.jsonl", "publish", "--as", "dana"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(first[0]["version"], 1);
    assert_eq!(first[0]["new"], true);
    let defs: Vec<Value> = p.read("defs.jsonl").lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(defs[0]["type"], "flow.definition.published");
    assert_eq!(defs[0]["data"]["version"], 1);
    // A comment and a blank line move the step but change nothing that runs.
    std::fs::write(p.path("pub.flow"), format!("// moved\n\n{v1}")).unwrap();
    let (_, same) = flowc_json(&p, &["publish"]);
    assert_eq!(same[0]["new"], false);
    assert_eq!(same[0]["version"], 1);
    let (out, run1) = flowc_json(&p, &["run", "pub"]);
    assert_eq!(code(&out), 0);
    std::fs::write(p.path("pub.flow"), v1.replace("one", "two")).unwrap();
    let (_, second) = flowc_json(&p, &["publish"]);
    assert_eq!(second[0]["version"], 2);
    assert_ne!(second[0]["plan_hash"], first[0]["plan_hash"]);
    let (_, run2) = flowc_json(&p, &["run", "pub"]);
    std::fs::write(p.path("pub.flow"), v1.replace("one", "three")).unwrap();
    let (_, run3) = flowc_json(&p, &["run", "pub"]);

    assert_eq!(show(&p, run1["run"].as_str().unwrap())["origin"]["version"], 1);
    assert_eq!(run1["steps"]["a"]["output"], "one v1", "expressions see run.version");
    assert_eq!(run3["steps"]["a"]["output"], "three v0");
    assert_eq!(show(&p, run2["run"].as_str().unwrap())["origin"]["version"], 2);
    let unpublished = show(&p, run3["run"].as_str().unwrap())["origin"].clone();
    assert_eq!(unpublished["version"], Value::Null);
    assert!(unpublished["plan_hash"].as_str().unwrap().starts_with("sha256:"));

    // A published version runs as it was published, whatever the source says now.
    let (out, old) = flowc_json(&p, &["run", "pub@1"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(old["steps"]["a"]["output"], "one v1");
    let out = flowc(&p, &["run", "pub@7"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("workflow pub has no published version 7"), "{}", stderr(&out));
    let (out, versions) = flowc_json(&p, &["versions", "pub"]);
    assert_eq!(code(&out), 0);
    assert_eq!(versions.as_array().unwrap().len(), 2);
    assert_eq!(versions[0]["author"], format!("{} (on behalf of dana)", os_user()));
    assert_eq!(versions[0]["runs"], 2);
    let out = flowc(&p, &["versions", "pub"]);
    assert!(stdout(&out).contains("(latest)"), "{}", stdout(&out));
}

#[test]
fn publish_refuses_a_project_with_errors_and_stores_nothing() {
    let cyclic = "workflow loop {\n  step a after b { command \"true\" }\n  step b after a { command \"true\" }\n}\n";
    let p = project("cyclic", &[("loop.flow", cyclic)]);
    let out = flowc(&p, &["publish"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let (_, versions) = flowc_json(&p, &["versions", "loop"]);
    assert_eq!(versions, json!([]));
}
