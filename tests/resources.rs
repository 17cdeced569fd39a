//! Resources end to end: listed, described and exported; templates merged
//! under a step's own lines.

mod support;

use serde_json::json;
use support::copies::*;
use support::*;

#[test]
fn resources_are_listed_described_and_exported() {
    let p = project("build_feature", true);
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
