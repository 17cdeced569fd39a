//! End-to-end tests of `flowc lsp`: the real binary, spoken to over stdio
//! as an editor does. One behaviour per test.

mod harness;

use harness::{Server, position_of, text_at, workspace};
use serde_json::{Value, json};

const DECLS: &str = r#"agent researcher {
  description "Finds facts about a company"
  command "sh research.sh"
  env { use shared  TOKEN = keys.TOKEN }
}

policy spend {
  deny when `input.amount > 100` because "too much"
  allow when `true`
}

store context {
  schema { type: "object", properties: { plan: { type: "string" } } }
}

env shared { API_URL = "http://localhost" }

secrets keys { TOKEN = from_env("TOKEN") }

resource Service {
  schema { type: "object", required: ["port"], properties: { port: { type: "integer" }, owner: { type: "string" } } }
}

Service web { port: 8080 }
"#;

const PIPELINE: &str = r#"workflow pipeline {
  input company: string

  step research: agent researcher {
    prompt "Research ${inputs.company}"
    output { summary: string, score: number }
  }

  phase review after research {
    step check_spend: check spend {
      with { amount: `research.output.score` }
    }
    step report after check_spend {
      command "echo $research.output.summary"
    }
  }

  step publish after review {
    reads context.plan as plan
    command "echo ${research.output.summary} ${plan.plan}"
    then put context.plan = `research.output.summary`
  }
}
"#;

fn project() -> Server {
    Server::start(&workspace(&[("decls.flow", DECLS), ("pipeline.flow", PIPELINE)]), &[])
}

fn codes(diagnostics: &Value) -> Vec<String> {
    diagnostics["diagnostics"].as_array().expect("a list").iter().map(|d| d["code"].as_str().unwrap_or("").to_string()).collect()
}

fn at(text: &str, needle: &str, delta: usize) -> Value {
    position_of(text, needle, delta)
}

fn doc_pos(uri: &str, text: &str, needle: &str, delta: usize) -> Value {
    json!({"textDocument": {"uri": uri}, "position": at(text, needle, delta)})
}

// ---------------------------------------------------------- diagnostics

/// The server's diagnostics are `flowc check`'s, file for file: same codes,
/// messages (help appended), positions; related locations and docs links.
#[test]
fn diagnostics_of_the_whole_folder_match_flowc_check() {
    let broken = r#"workflow loop {
  step a after c { command "echo a" }
  step b after a { command "echo b" }
  step c after b { command "echo ${a.stdout}" }
  step d: agent reseacher { prompt "hi" }
  step e after missing { command "echo e" }
}
"#;
    let root = workspace(&[("decls.flow", DECLS), ("broken.flow", broken)]);
    let check = std::process::Command::new(env!("CARGO_BIN_EXE_flowc")).args(["check", "--format", "json"]).arg(&root).output().expect("flowc check");
    let expected: Vec<Value> = serde_json::from_slice(&check.stdout).expect("json");
    assert!(!expected.is_empty());

    // No file is opened: the folder is read from disk.
    let mut server = Server::start(&root, &[]);
    for name in ["broken.flow", "decls.flow"] {
        let uri = server.uri(name);
        let expected: Vec<&Value> = expected.iter().filter(|e| e["file"].as_str().is_some_and(|f| f.ends_with(name))).collect();
        let published = server.diagnostics(&uri);
        let got = published["diagnostics"].as_array().expect("list").clone();
        assert_eq!(got.len(), expected.len(), "{name}: {got:#?}\n{expected:#?}");
        for (g, e) in got.iter().zip(&expected) {
            assert_eq!(g["code"], e["code"]);
            let mut message = e["message"].as_str().unwrap_or("").to_string();
            if let Some(help) = e["help"].as_str() {
                message = format!("{message}\nhelp: {help}");
            }
            assert_eq!(g["message"], message.as_str());
            // ASCII text: 1-based columns in characters are 0-based UTF-16 ones plus one.
            assert_eq!(g["range"]["start"]["line"].as_u64(), e["line"].as_u64().map(|l| l - 1));
            assert_eq!(g["range"]["start"]["character"].as_u64(), e["column"].as_u64().map(|c| c - 1));
            assert_eq!(g["range"]["end"]["line"].as_u64(), e["end_line"].as_u64().map(|l| l - 1));
            assert_eq!(g["range"]["end"]["character"].as_u64(), e["end_column"].as_u64().map(|c| c - 1));
            assert_eq!(g["source"], "flowc");
            let code = e["code"].as_str().unwrap_or("");
            assert!(g["codeDescription"]["href"].as_str().unwrap_or("").ends_with(&format!("docs/diagnostics/{code}.md")), "{g}");
        }
        if name == "broken.flow" {
            // The cycle: one diagnostic, the whole loop as related locations.
            let cycle = got.iter().find(|d| d["code"] == "E0301").expect("a cycle");
            let related = cycle["relatedInformation"].as_array().expect("related locations");
            assert_eq!(related.len(), 2, "{cycle:#}");
            assert!(related.iter().all(|r| r["location"]["uri"] == uri.as_str()));
        } else {
            // Unused declarations are marked so editors can fade them.
            assert!(got.iter().all(|d| d["code"] != "W0101" || d["tags"] == json!([1])), "{got:#?}");
        }
    }
}

#[test]
fn diagnostics_follow_edits_with_their_version() {
    let mut server = project();
    let uri = server.open("pipeline.flow", PIPELINE);
    let first = server.diagnostics_where(&uri, |p| p["version"] == 1);
    assert_eq!(codes(&first), Vec::<String>::new());

    // An incremental edit: `researcher` becomes `researchr`.
    let pos = at(PIPELINE, "agent researcher", "agent researche".len());
    let end = json!({"line": pos["line"], "character": pos["character"].as_u64().unwrap_or(0) + 1});
    server.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"range": {"start": pos, "end": end}, "text": ""}]}),
    );
    let second = server.diagnostics_where(&uri, |p| p["version"] == 2);
    assert_eq!(codes(&second), vec!["E0204"]);
    let d = &second["diagnostics"][0];
    assert!(d["message"].as_str().unwrap_or("").contains("help: did you mean `researcher`?"), "{d}");
}

/// Fifty edits as fast as they can be written: whatever is published in
/// between, versions only go up, and the last publish is for the last text.
#[test]
fn rapid_edits_never_publish_stale_diagnostics() {
    let mut server = project();
    let uri = server.open("pipeline.flow", PIPELINE);
    server.diagnostics_where(&uri, |p| p["version"] == 1);
    for v in 2..=51 {
        // Even versions name an agent that does not exist; the last is odd.
        let text = if v % 2 == 0 { PIPELINE.replace("agent researcher", &format!("agent nobody{v}")) } else { PIPELINE.to_string() };
        server.change(&uri, v, &text);
    }
    let last = server.diagnostics_where(&uri, |p| p["version"] == 51);
    assert_eq!(codes(&last), Vec::<String>::new(), "the last text is clean");
    let mut seen = vec![1];
    for n in &server.notifications {
        if n["method"] == "textDocument/publishDiagnostics" && n["params"]["uri"] == uri.as_str() {
            let version = n["params"]["version"].as_i64().expect("open files are published with their version");
            // A diagnostic about `nobodyN` belongs to version N.
            for d in n["params"]["diagnostics"].as_array().into_iter().flatten() {
                let message = d["message"].as_str().unwrap_or("");
                assert!(message.contains(&format!("nobody{version}`")), "version {version} published {message}");
            }
            seen.push(version);
        }
    }
    seen.push(51);
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "versions go up: {seen:?}");
}

/// Files change on disk without the editor: a deleted file leaves the
/// project, its diagnostics are cleared, and the files that used it learn.
#[test]
fn a_file_deleted_on_disk_leaves_the_project() {
    let mut server = project();
    let pipeline = server.uri("pipeline.flow");
    let decls = server.uri("decls.flow");
    assert_eq!(codes(&server.diagnostics(&pipeline)), Vec::<String>::new());
    std::fs::remove_file(server.root.join("decls.flow")).expect("delete");
    server.notify("workspace/didChangeWatchedFiles", json!({"changes": [{"uri": decls, "type": 3}]}));
    let after = server.diagnostics_where(&pipeline, |p| !p["diagnostics"].as_array().is_some_and(Vec::is_empty));
    let c = codes(&after);
    assert!(c.contains(&"E0204".to_string()) && c.contains(&"E0205".to_string()) && c.contains(&"E0206".to_string()), "{c:?}");
    assert_eq!(server.diagnostics(&decls)["diagnostics"], json!([]));
    // Requests about the deleted file answer nothing rather than fail.
    let hover = server.request("textDocument/hover", doc_pos(&decls, DECLS, "agent researcher", 7));
    assert_eq!(hover, Value::Null);

    // And it comes back.
    std::fs::write(server.root.join("decls.flow"), DECLS).expect("write");
    server.notify("workspace/didChangeWatchedFiles", json!({"changes": [{"uri": decls, "type": 1}]}));
    assert_eq!(codes(&server.diagnostics_where(&pipeline, |p| p["diagnostics"].as_array().is_some_and(Vec::is_empty))), Vec::<String>::new());
}

const SINGLE_DEP: &str = r#"workflow build {
  step compile { command "make" }
  step package after one_success(compile) { command "make dist" }
}
"#;

fn settings_changed(server: &mut Server) {
    let toml = server.uri("flowc.toml");
    server.notify("workspace/didChangeWatchedFiles", json!({"changes": [{"uri": toml, "type": 2}]}));
}

/// `flowc.toml`'s `allow` silences warnings in the editor as `flowc check`
/// does, and the server follows the file as it changes on disk (the watcher
/// it registers); a refused `flowc.toml` gets a diagnostic of its own and
/// silences nothing.
#[test]
fn flowc_toml_allows_are_applied_and_followed() {
    let root = workspace(&[("build.flow", SINGLE_DEP), ("flowc.toml", "[check]\nallow = [\"W0104\"]\n")]);
    let mut server = Server::start(&root, &[]);
    let build = server.uri("build.flow");
    let toml = server.uri("flowc.toml");
    assert_eq!(codes(&server.diagnostics(&build)), Vec::<String>::new());

    std::fs::write(root.join("flowc.toml"), "# nothing allowed\n").expect("write");
    settings_changed(&mut server);
    assert_eq!(codes(&server.diagnostics(&build)), vec!["W0104"]);

    let bad = "[check]\nallow = [\"W0104\", \"W9999\"]\n";
    std::fs::write(root.join("flowc.toml"), bad).expect("write");
    settings_changed(&mut server);
    let refused = server.diagnostics(&toml);
    let d = &refused["diagnostics"][0];
    assert!(d["message"].as_str().unwrap_or("").contains("`W9999` is not a diagnostic code"), "{refused}");
    assert_eq!(d["severity"], 1);
    assert_eq!(text_at(bad, &d["range"]), "\"W9999\"");

    std::fs::write(root.join("flowc.toml"), "allow = [\"W0104\"]\n").expect("write");
    settings_changed(&mut server);
    assert_eq!(server.diagnostics(&toml)["diagnostics"], json!([]));
    assert_eq!(codes(&server.diagnostics(&build)), Vec::<String>::new());

    // Deleted: nothing is silenced any more.
    std::fs::remove_file(root.join("flowc.toml")).expect("delete");
    server.notify("workspace/didChangeWatchedFiles", json!({"changes": [{"uri": toml, "type": 3}]}));
    assert_eq!(codes(&server.diagnostics(&build)), vec!["W0104"]);
}

/// A file outside every workspace folder is a project of its own, with the
/// `flowc.toml` beside it, as `flowc check FILE` reads it.
#[test]
fn a_lone_file_takes_the_flowc_toml_beside_it() {
    let mut server = project();
    let elsewhere = workspace(&[("flowc.toml", "allow = [\"W0104\"]\n"), ("b.flow", "")]);
    let uri = harness::uri(&elsewhere.join("b.flow"));
    server.notify("textDocument/didOpen", json!({"textDocument": {"uri": uri, "languageId": "flow", "version": 1, "text": SINGLE_DEP}}));
    assert_eq!(codes(&server.diagnostics(&uri)), Vec::<String>::new());
    let _ = std::fs::remove_dir_all(&elsewhere);
}

/// Closing a file makes the disk's text the truth again; a file outside the
/// workspace folder is a project of its own, as `flowc check FILE` reads it.
#[test]
fn closing_reverts_to_disk_and_outside_files_stand_alone() {
    let mut server = project();
    let uri = server.open("pipeline.flow", &PIPELINE.replace("agent researcher", "agent nobody"));
    assert_eq!(codes(&server.diagnostics_where(&uri, |p| p["version"] == 1)), vec!["E0204"]);
    // Two changes in one notification, applied in order.
    let first = at(PIPELINE, "agent researcher", "agent ".len());
    server.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 2}, "contentChanges": [
            {"range": {"start": first, "end": {"line": first["line"], "character": first["character"].as_u64().unwrap_or(0) + "nobody".len() as u64}}, "text": "researcher"},
            {"range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}, "text": "// edited\n"},
        ]}),
    );
    assert_eq!(codes(&server.diagnostics_where(&uri, |p| p["version"] == 2)), Vec::<String>::new());
    server.change(&uri, 3, &PIPELINE.replace("check spend", "check spent"));
    assert_eq!(codes(&server.diagnostics_where(&uri, |p| p["version"] == 3)), vec!["E0205"]);
    server.notify("textDocument/didClose", json!({"textDocument": {"uri": uri}}));
    let closed = server.diagnostics_where(&uri, |p| p["version"].is_null());
    assert_eq!(codes(&closed), Vec::<String>::new(), "the disk's text is clean");

    // Outside the folder: no agents in scope, so the agent is unknown.
    let outside = std::env::temp_dir().join(format!("flowc-lsp-outside-{}.flow", std::process::id()));
    let outside_uri = harness::uri(&outside);
    server.notify("textDocument/didOpen", json!({"textDocument": {"uri": outside_uri, "languageId": "flow", "version": 1, "text": PIPELINE}}));
    let alone = codes(&server.diagnostics(&outside_uri));
    assert!(alone.contains(&"E0204".to_string()) && alone.contains(&"E0206".to_string()), "{alone:?}");
    // Closing a file that is not on disk clears its diagnostics.
    server.notify("textDocument/didClose", json!({"textDocument": {"uri": outside_uri}}));
    assert_eq!(server.diagnostics(&outside_uri)["diagnostics"], json!([]));
}

// ---------------------------------------------------------------- hover

fn hover_text(server: &mut Server, uri: &str, text: &str, needle: &str, delta: usize) -> String {
    let result = server.request("textDocument/hover", doc_pos(uri, text, needle, delta));
    result["contents"]["value"].as_str().unwrap_or_else(|| panic!("no hover at `{needle}`: {result}")).to_string()
}

#[test]
fn hover_on_a_step_shows_kind_deps_rule_and_output() {
    let mut server = project();
    let uri = server.open("pipeline.flow", PIPELINE);
    let text = hover_text(&mut server, &uri, PIPELINE, "step report", 6);
    assert!(text.contains("step report: run"), "{text}");
    assert!(text.contains("after `check_spend` — trigger rule `all_success`"), "{text}");
    assert!(text.contains("group `review`"), "{text}");
    // On a reference in an expression, the step it names.
    let text = hover_text(&mut server, &uri, PIPELINE, "${research.output.summary}", 3);
    assert!(text.contains("step research: agent researcher"), "{text}");
    assert!(text.contains("output: `{score: double, summary: string}`"), "{text}");
}

#[test]
fn hover_on_a_path_shows_its_type() {
    let mut server = project();
    let uri = server.open("pipeline.flow", PIPELINE);
    let text = hover_text(&mut server, &uri, PIPELINE, "`research.output.score`", "`research.output.".len());
    assert!(text.contains("research.output.score: double"), "{text}");
    let text = hover_text(&mut server, &uri, PIPELINE, "$research.output.summary", "$research.out".len());
    assert!(text.contains("research.output: {score: double, summary: string}"), "{text}");
    let text = hover_text(&mut server, &uri, PIPELINE, "${plan.plan}", 8);
    assert!(text.contains("plan.plan: string"), "{text}");
    let text = hover_text(&mut server, &uri, PIPELINE, "${inputs.company}", 4);
    assert!(text.contains("inputs: {company: string}"), "{text}");
}

#[test]
fn hover_on_keywords_declarations_and_codes() {
    let mut server = project();
    let uri = server.open("pipeline.flow", PIPELINE);
    let text = hover_text(&mut server, &uri, PIPELINE, "phase review", 2);
    assert!(text.starts_with("`phase`:"), "{text}");
    let text = hover_text(&mut server, &uri, PIPELINE, "agent researcher", "agent r".len());
    assert!(text.contains("agent researcher") && text.contains("Finds facts about a company"), "{text}");
    let text = hover_text(&mut server, &uri, PIPELINE, "check spend", "check s".len());
    assert!(text.contains("policy spend") && text.contains("2 rules"), "{text}");
    // A diagnostic code written in a comment: its catalogue entry.
    let commented = format!("// E0203 is about unknown steps\n{PIPELINE}");
    server.change(&uri, 2, &commented);
    let text = hover_text(&mut server, &uri, &commented, "E0203", 1);
    assert!(text.contains("**E0203**") && text.contains("a step that does not exist is named"), "{text}");
}

// ------------------------------------------------------- navigation

#[test]
fn definition_crosses_files() {
    let mut server = project();
    let uri = server.open("pipeline.flow", PIPELINE);
    let decls = server.uri("decls.flow");
    for (needle, delta, target) in [("agent researcher", 8, "researcher"), ("check spend", 7, "spend"), ("reads context", 7, "context")] {
        let result = server.request("textDocument/definition", doc_pos(&uri, PIPELINE, needle, delta));
        assert_eq!(result["uri"], decls.as_str(), "{needle}: {result}");
        assert_eq!(text_at(DECLS, &result["range"]), target);
    }
    // A step named in a hole, and in `after`: its header.
    let result = server.request("textDocument/definition", doc_pos(&uri, PIPELINE, "${research.output.summary}", 4));
    assert_eq!(result["uri"], uri.as_str());
    assert_eq!(result["range"]["start"], at(PIPELINE, "research: agent", 0));
    let result = server.request("textDocument/definition", doc_pos(&uri, PIPELINE, "after review", 7));
    assert_eq!(result["range"]["start"], at(PIPELINE, "review after", 0));
    // An env key through its set, and an input through `inputs.`.
    let result = server.request("textDocument/definition", doc_pos(&decls, DECLS, "keys.TOKEN", 6));
    assert_eq!(result["range"]["start"], at(DECLS, "TOKEN = from_env", 0));
    let result = server.request("textDocument/definition", doc_pos(&uri, PIPELINE, "inputs.company", 8));
    assert_eq!(result["range"]["start"], at(PIPELINE, "company: string", 0));
}

#[test]
fn a_signed_webhooks_secret_and_the_trigger_keywords_are_known() {
    let mut server = project();
    let hooks = "workflow hooked {\n  on webhook github.push.* signed github with keys.TOKEN\n  on schedule \"0 9 * * *\" catchup all within 1d\n  step s { command \"echo hi\" }\n}\n";
    let uri = server.open("hooks.flow", hooks);
    let decls = server.uri("decls.flow");
    let result = server.request("textDocument/definition", doc_pos(&uri, hooks, "keys.TOKEN", 6));
    assert_eq!(result["uri"], decls, "{result}");
    assert_eq!(result["range"]["start"], at(DECLS, "TOKEN = from_env", 0));
    for (needle, start) in [("signed", "`signed github|stripe|hmac"), ("catchup", "`catchup none|latest|all`"), ("within", "`within D`")] {
        let text = hover_text(&mut server, &uri, hooks, needle, 2);
        assert!(text.contains(start), "{needle}: {text}");
    }
    // Completion walks the clauses word by word.
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    for (needle, delta, want) in [
        ("on webhook", 3, vec!["event", "schedule", "webhook"]),
        ("push.* signed", 7, vec!["signed"]),
        ("signed github", 7, vec!["github", "hmac", "stripe"]),
        ("github with", 7, vec!["with"]),
        ("with keys", 5, vec!["keys"]),
        ("keys.TOKEN", 5, vec!["TOKEN"]),
        ("* * *\" catchup", 7, vec!["catchup"]),
        ("catchup all", 8, vec!["all", "latest", "none"]),
        ("all within", 4, vec!["within"]),
    ] {
        let got = sorted(complete(&mut server, &uri, hooks, needle, delta));
        assert_eq!(got, want, "after `{}`", &needle[..delta]);
    }
}

#[test]
fn references_find_every_use_across_files() {
    let mut server = project();
    let uri = server.open("pipeline.flow", PIPELINE);
    let result = server.request(
        "textDocument/references",
        json!({"textDocument": {"uri": uri}, "position": at(PIPELINE, "research: agent", 2), "context": {"includeDeclaration": true}}),
    );
    let refs = result.as_array().expect("a list");
    // The header, `after research`, and four expressions.
    assert_eq!(refs.len(), 6, "{refs:#?}");
    assert!(refs.iter().all(|r| text_at(PIPELINE, &r["range"]) == "research"));

    let decls = server.uri("decls.flow");
    let result = server.request(
        "textDocument/references",
        json!({"textDocument": {"uri": decls}, "position": at(DECLS, "agent researcher", 7), "context": {"includeDeclaration": false}}),
    );
    let refs = result.as_array().expect("a list");
    assert_eq!(refs.len(), 1);
    assert_eq!(refs[0]["uri"], uri.as_str());
}

#[test]
fn rename_a_step_everywhere() {
    let mut server = project();
    let uri = server.open("pipeline.flow", PIPELINE);
    let prepared = server.request("textDocument/prepareRename", doc_pos(&uri, PIPELINE, "after research", 7));
    assert_eq!(prepared["placeholder"], "research");
    let mut params = doc_pos(&uri, PIPELINE, "after research", 7);
    params["newName"] = json!("investigate");
    let edit = server.request("textDocument/rename", params);
    let edits = edit["changes"][uri.as_str()].as_array().expect("edits in the file").clone();
    assert_eq!(edits.len(), 6);
    let renamed = apply_edits(PIPELINE, &edits);
    assert!(!renamed.contains("research.") && renamed.contains("$investigate.output.summary"), "{renamed}");
    let check = flowc_check_text(&renamed);
    assert!(check.is_empty(), "the renamed project is clean: {check:?}");

    // A name that cannot be one is refused.
    let mut params = doc_pos(&uri, PIPELINE, "after research", 7);
    params["newName"] = json!("9 lives");
    let id = server.send_request("textDocument/rename", params);
    assert_eq!(server.response(id)["error"]["code"], -32602);
}

#[test]
fn rename_a_declaration_across_files() {
    let mut server = project();
    let decls = server.uri("decls.flow");
    let mut params = doc_pos(&decls, DECLS, "agent researcher", 7);
    params["newName"] = json!("analyst");
    let edit = server.request("textDocument/rename", params);
    let pipeline = server.uri("pipeline.flow");
    assert_eq!(edit["changes"][decls.as_str()].as_array().map(Vec::len), Some(1));
    assert_eq!(edit["changes"][pipeline.as_str()].as_array().map(Vec::len), Some(1));
}

/// Applies LSP text edits (non-overlapping) to a text.
fn apply_edits(text: &str, edits: &[Value]) -> String {
    let mut spans: Vec<(usize, usize, String)> = edits
        .iter()
        .map(|e| {
            let start = offset_of(text, &e["range"]["start"]);
            let end = offset_of(text, &e["range"]["end"]);
            (start, end, e["newText"].as_str().unwrap_or("").to_string())
        })
        .collect();
    spans.sort_by_key(|s| std::cmp::Reverse(s.0));
    let mut out = text.to_string();
    for (s, e, t) in spans {
        out.replace_range(s..e, &t);
    }
    out
}

fn offset_of(text: &str, pos: &Value) -> usize {
    let line = pos["line"].as_u64().unwrap_or(0) as usize;
    let col = pos["character"].as_u64().unwrap_or(0) as usize;
    let start: usize = text.split_inclusive('\n').take(line).map(str::len).sum();
    start + text[start..].chars().take(col).map(char::len_utf8).sum::<usize>()
}

/// `flowc check` on the pipeline with the declarations: the diagnostics' codes.
fn flowc_check_text(pipeline: &str) -> Vec<String> {
    let root = workspace(&[("decls.flow", DECLS), ("pipeline.flow", pipeline)]);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_flowc")).args(["check", "--format", "json"]).arg(&root).output().expect("check");
    let _ = std::fs::remove_dir_all(&root);
    let diags: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap_or_default();
    diags.iter().map(|d| d["code"].as_str().unwrap_or("").to_string()).collect()
}

#[test]
fn rename_an_input_renames_its_uses_and_the_keys_callers_pass() {
    let caller = "workflow caller {\n  step go: call pipeline {\n    with { company: \"acme\" }\n  }\n  step later after go {\n    command \"echo\"\n    then spawn pipeline { company: \"other\" }\n  }\n}\n";
    let mut server = Server::start(&workspace(&[("decls.flow", DECLS), ("pipeline.flow", PIPELINE), ("caller.flow", caller)]), &[]);
    let uri = server.open("pipeline.flow", PIPELINE);
    let mut params = doc_pos(&uri, PIPELINE, "input company", 7);
    params["newName"] = json!("firm");
    let edit = server.request("textDocument/rename", params);
    let here = edit["changes"][uri.as_str()].as_array().expect("edits here").clone();
    assert_eq!(apply_edits(PIPELINE, &here).matches("firm").count(), 2);
    let there = edit["changes"][server.uri("caller.flow").as_str()].as_array().expect("edits in the caller").clone();
    let renamed = apply_edits(caller, &there);
    assert!(renamed.contains("with { firm: \"acme\" }") && renamed.contains("pipeline { firm: \"other\" }"), "{renamed}");
}

#[test]
fn highlights_in_the_file() {
    let mut server = project();
    let uri = server.open("pipeline.flow", PIPELINE);
    let result = server.request("textDocument/documentHighlight", doc_pos(&uri, PIPELINE, "check_spend", 2));
    let marks = result.as_array().expect("a list");
    assert_eq!(marks.len(), 2);
    assert_eq!(marks[0]["kind"], 3, "the definition is the write");
}

// ----------------------------------------------------------- completion

fn labels(result: &Value) -> Vec<String> {
    let items = result.as_array().or_else(|| result["items"].as_array()).expect("completion items");
    items.iter().map(|i| i["label"].as_str().unwrap_or("").to_string()).collect()
}

fn complete(server: &mut Server, uri: &str, text: &str, needle: &str, delta: usize) -> Vec<String> {
    labels(&server.request("textDocument/completion", doc_pos(uri, text, needle, delta)))
}

#[test]
fn completion_in_after_lists_the_workflow_steps() {
    let mut server = project();
    let text = PIPELINE.replace("step publish after review {", "step publish after review, {");
    let uri = server.open("pipeline.flow", &text);
    let got = complete(&mut server, &uri, &text, "after review, ", "after review, ".len());
    for want in ["research", "check_spend", "report"] {
        assert!(got.contains(&want.to_string()), "{got:?}");
    }
    assert!(!got.contains(&"publish".to_string()), "not the step itself: {got:?}");
    assert!(!got.contains(&"review".to_string()), "not one already listed: {got:?}");
}

#[test]
fn completion_in_expressions_offers_upstream_steps_and_their_fields() {
    let mut server = project();
    let text = PIPELINE.replace("command \"echo $research.output.summary\"", "command \"echo ${research.output.}\"");
    let uri = server.open("pipeline.flow", &text);
    let fields = complete(&mut server, &uri, &text, "${research.output.}", "${research.output.".len());
    assert_eq!(fields, vec!["score", "summary"]);
    let roots = complete(&mut server, &uri, &text, "${research.output.}", 2);
    assert!(roots.contains(&"research".to_string()) && roots.contains(&"check_spend".to_string()) && roots.contains(&"inputs".to_string()), "{roots:?}");
    assert!(!roots.contains(&"publish".to_string()) && !roots.contains(&"report".to_string()), "only upstream steps: {roots:?}");
    // In backticks too, and the fields of a step's value.
    let fields = complete(&mut server, &uri, &text, "`research.output.score`", "`research.".len());
    assert!(fields.contains(&"output".to_string()) && fields.contains(&"status".to_string()), "{fields:?}");
}

#[test]
fn completion_of_keywords_and_declarations() {
    let mut server = project();
    let text = PIPELINE.replace("  step publish after review {\n", "  step publish after review {\n    \n").replace("step research: agent researcher", "step research: agent ");
    let uri = server.open("pipeline.flow", &text);
    let got = complete(&mut server, &uri, &text, "after review {\n    ", "after review {\n    ".len());
    for want in ["command", "prompt", "reads", "then", "on_failure"] {
        assert!(got.contains(&want.to_string()), "{want} in {got:?}");
    }
    assert!(!got.contains(&"workflow".to_string()));
    let got = complete(&mut server, &uri, &text, "research: agent ", "research: agent ".len());
    assert_eq!(got, vec!["researcher"]);
    let got = complete(&mut server, &uri, &text, "research: ", "research: ".len());
    assert!(got.contains(&"agent".to_string()) && got.contains(&"branch".to_string()), "{got:?}");
    let got = complete(&mut server, &uri, &text, "reads ", "reads ".len());
    assert_eq!(got, vec!["context"]);
}

#[test]
fn completion_of_resource_fields_inside_an_instance() {
    let mut server = project();
    let text = DECLS.replace("Service web { port: 8080 }", "Service web { port: 8080,  }");
    let uri = server.open("decls.flow", &text);
    let got = complete(&mut server, &uri, &text, "8080, ", "8080, ".len());
    assert_eq!(got, vec!["port", "owner"]);
}

// --------------------------------------------------------- code actions

fn actions(server: &mut Server, uri: &str, text: &str, needle: &str) -> Vec<Value> {
    let start = at(text, needle, 0);
    let end = at(text, needle, needle.len());
    let result = server.request("textDocument/codeAction", json!({"textDocument": {"uri": uri}, "range": {"start": start, "end": end}, "context": {"diagnostics": []}}));
    result.as_array().expect("actions").clone()
}

fn apply_action(text: &str, uri: &str, action: &Value) -> String {
    apply_edits(text, action["edit"]["changes"][uri].as_array().expect("edits in this file"))
}

#[test]
fn code_action_adds_the_missing_after() {
    let mut server = project();
    let text = PIPELINE.replace("step report after check_spend {", "step report {").replace("echo $research.output.summary", "echo ${check_spend.status}");
    let uri = server.open("pipeline.flow", &text);
    let d = server.diagnostics(&uri);
    assert_eq!(codes(&d), vec!["E0402"]);
    let all = actions(&mut server, &uri, &text, "check_spend.status");
    let fix = all.iter().find(|a| a["title"] == "add `check_spend` to `after`").unwrap_or_else(|| panic!("{all:#?}"));
    assert_eq!(fix["diagnostics"][0]["code"], "E0402");
    let fixed = apply_action(&text, &uri, fix);
    assert!(fixed.contains("step report after check_spend {"), "{fixed}");
    assert!(flowc_check_text(&fixed).is_empty());
}

#[test]
fn code_action_replaces_a_misspelt_name() {
    let mut server = project();
    let text = PIPELINE.replace("agent researcher", "agent reseacher").replace("step publish after review", "step publish after reveiw");
    let uri = server.open("pipeline.flow", &text);
    for (needle, title) in [("reseacher", "replace `reseacher` with `researcher`"), ("reveiw", "replace `reveiw` with `review`")] {
        let all = actions(&mut server, &uri, &text, needle);
        let fix = all.iter().find(|a| a["title"] == title).unwrap_or_else(|| panic!("{all:#?}"));
        let fixed = apply_action(&text, &uri, fix);
        assert!(!fixed.contains(needle));
    }
    // A misspelt field in an expression: the suggestion from the help line.
    let text = PIPELINE.replace("${plan.plan}", "${plan.plna}");
    server.change(&uri, 2, &text);
    let all = actions(&mut server, &uri, &text, "plna");
    let fix = all.iter().find(|a| a["title"] == "replace `plna` with `plan`").unwrap_or_else(|| panic!("{all:#?}"));
    assert!(flowc_check_text(&apply_action(&text, &uri, fix)).is_empty());
}

#[test]
fn code_action_creates_a_missing_step() {
    let mut server = project();
    let text = PIPELINE.replace("step publish after review", "step publish after review, approve");
    let uri = server.open("pipeline.flow", &text);
    let all = actions(&mut server, &uri, &text, "approve");
    let fix = all.iter().find(|a| a["title"] == "create step `approve`").unwrap_or_else(|| panic!("{all:#?}"));
    let fixed = apply_action(&text, &uri, fix);
    assert!(fixed.contains("  step approve {\n    command \"echo TODO: approve\"\n  }\n\n  step publish"), "{fixed}");
    assert!(flowc_check_text(&fixed).is_empty());
}

#[test]
fn code_action_escapes_a_dollar_meant_for_the_shell() {
    let mut server = project();
    let text = PIPELINE.replace("echo $research.output.summary", "echo ${HOME}");
    let uri = server.open("pipeline.flow", &text);
    let all = actions(&mut server, &uri, &text, "HOME");
    let fix = all.iter().find(|a| a["title"].as_str().is_some_and(|t| t.starts_with("escape the `$`"))).unwrap_or_else(|| panic!("{all:#?}"));
    assert!(apply_action(&text, &uri, fix).contains("echo $${HOME}"));
}

#[test]
fn code_action_renames_a_dashed_name() {
    let mut server = project();
    let text = PIPELINE.replacen("step research", "step re-search", 1);
    let uri = server.open("pipeline.flow", &text);
    assert_eq!(codes(&server.diagnostics(&uri)).first().map(|c| c.to_string()), Some("E0101".to_string()));
    let all = actions(&mut server, &uri, &text, "re-search");
    let fix = all.iter().find(|a| a["title"] == "rename to `re_search`").unwrap_or_else(|| panic!("{all:#?}"));
    assert!(apply_action(&text, &uri, fix).contains("step re_search"));
}

// ------------------------------------------------ symbols, tokens, format

#[test]
fn document_symbols_nest_groups_and_steps() {
    let mut server = project();
    let uri = server.open("pipeline.flow", PIPELINE);
    let result = server.request("textDocument/documentSymbol", json!({"textDocument": {"uri": uri}}));
    let workflow = &result[0];
    assert_eq!(workflow["name"], "pipeline");
    let children: Vec<&str> = workflow["children"].as_array().expect("children").iter().map(|c| c["name"].as_str().unwrap_or("")).collect();
    assert_eq!(children, vec!["company", "research", "review", "publish"]);
    let group: Vec<&str> = workflow["children"][2]["children"].as_array().expect("members").iter().map(|c| c["name"].as_str().unwrap_or("")).collect();
    assert_eq!(group, vec!["check_spend", "report"]);
    assert_eq!(workflow["children"][1]["detail"], "agent researcher");
}

#[test]
fn semantic_tokens_mark_steps_declarations_and_fields() {
    let mut server = project();
    let uri = server.open("pipeline.flow", PIPELINE);
    let result = server.request("textDocument/semanticTokens/full", json!({"textDocument": {"uri": uri}}));
    let data: Vec<u64> = result["data"].as_array().expect("data").iter().map(|v| v.as_u64().unwrap_or(0)).collect();
    assert_eq!(data.len() % 5, 0);
    // Decode into (text, type index).
    let (mut line, mut col) = (0u64, 0u64);
    let mut tokens = Vec::new();
    for t in data.chunks(5) {
        line += t[0];
        col = if t[0] == 0 { col + t[1] } else { t[1] };
        let start = json!({"line": line, "character": col});
        let end = json!({"line": line, "character": col + t[2]});
        tokens.push((text_at(PIPELINE, &json!({"start": start, "end": end})), t[3]));
    }
    // Legend: 0 function (steps), 2 class (agents), 11 property (fields).
    assert!(tokens.contains(&("research".to_string(), 0)), "{tokens:?}");
    assert!(tokens.contains(&("researcher".to_string(), 2)), "{tokens:?}");
    assert!(tokens.contains(&("summary".to_string(), 11)), "{tokens:?}");
}

#[test]
fn formatting_is_one_whole_document_edit_and_none_on_syntax_errors() {
    let mut server = project();
    let messy = "workflow w {\n step a {   command \"echo a\" }\n}\n";
    let uri = server.open("messy.flow", messy);
    let edits = server.request("textDocument/formatting", json!({"textDocument": {"uri": uri}, "options": {"tabSize": 2, "insertSpaces": true}}));
    let edits = edits.as_array().expect("edits");
    assert_eq!(edits.len(), 1);
    let formatted = apply_edits(messy, edits);
    assert_eq!(formatted, flowc_grammar::format(messy).expect("formats"));
    // Already formatted: nothing to do.
    server.change(&uri, 2, &formatted);
    let edits = server.request("textDocument/formatting", json!({"textDocument": {"uri": uri}, "options": {"tabSize": 2, "insertSpaces": true}}));
    assert_eq!(edits, json!([]));
    // A syntax error: no edit at all.
    server.change(&uri, 3, "workflow w {\n step a {   comand \"echo a\" }\n}\n");
    let edits = server.request("textDocument/formatting", json!({"textDocument": {"uri": uri}, "options": {"tabSize": 2, "insertSpaces": true}}));
    assert_eq!(edits, Value::Null);
}

// ---------------------------------------------------------- robustness

/// `$/cancelRequest` while the request is being worked on: answered
/// `RequestCancelled`, and the server goes on.
#[test]
fn a_cancelled_request_is_answered_request_cancelled() {
    let root = workspace(&[("decls.flow", DECLS), ("pipeline.flow", PIPELINE)]);
    let mut server = Server::start(&root, &[("FLOWC_LSP_REQUEST_DELAY_MS", "400")]);
    let uri = server.open("pipeline.flow", PIPELINE);
    let id = server.send_request("textDocument/hover", doc_pos(&uri, PIPELINE, "step report", 6));
    server.notify("$/cancelRequest", json!({"id": id}));
    let response = server.response(id);
    assert_eq!(response["error"]["code"], -32800, "{response}");
    // The next request is served.
    let hover = server.request("textDocument/hover", doc_pos(&uri, PIPELINE, "step report", 6));
    assert!(hover["contents"]["value"].as_str().is_some());
}

/// An edit while a request runs: the request's answer would describe a
/// text that is gone, so it is `ContentModified`; the edit is applied.
#[test]
fn an_edit_during_a_request_answers_content_modified() {
    let root = workspace(&[("decls.flow", DECLS), ("pipeline.flow", PIPELINE)]);
    let mut server = Server::start(&root, &[("FLOWC_LSP_REQUEST_DELAY_MS", "400")]);
    let uri = server.open("pipeline.flow", PIPELINE);
    let id = server.send_request("textDocument/references", json!({"textDocument": {"uri": uri}, "position": at(PIPELINE, "research: agent", 2), "context": {"includeDeclaration": true}}));
    server.change(&uri, 2, &PIPELINE.replace("agent researcher", "agent nobody"));
    let response = server.response(id);
    assert_eq!(response["error"]["code"], -32801, "{response}");
    assert_eq!(codes(&server.diagnostics_where(&uri, |p| p["version"] == 2)), vec!["E0204"]);
}

#[test]
fn garbage_input_does_not_stop_the_server() {
    let mut server = project();
    // Not JSON, JSON that is no message, an unknown method, a bad params shape.
    // A header without a length, then garbage before the next header.
    server.send_raw(b"X-Nonsense: 1\r\n\r\nnot a header either ");
    let bodies: [&[u8]; 4] = [b"{not json at all", b"[1, 2, 3]", br#"{"jsonrpc":"2.0","id":99,"method":"flowc/nonsense","params":{}}"#, br#"{"jsonrpc":"2.0","id":100,"method":"textDocument/hover","params":{"textDocument":7}}"#];
    for body in bodies {
        let mut framed = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
        framed.extend_from_slice(body);
        server.send_raw(&framed);
    }
    // A body that is not JSON is answered `ParseError` (id null), as
    // JSON-RPC says; one that is no message, `InvalidRequest`.
    let parse_errors = [-32700, -32600];
    for code in parse_errors {
        let response = server.wait_notification("an error for the garbage", |m| m["id"].is_null() && m["error"]["code"] == code);
        assert!(response["error"]["message"].as_str().is_some());
    }
    assert_eq!(server.response(99)["error"]["code"], -32601);
    assert_eq!(server.response(100)["error"]["code"], -32602);
    // Text that is not a `.flow` file at all, and invalid UTF-16 positions.
    let uri = server.open("binary.flow", "\u{0}\u{1}workflow {{{{ ``` \"\u{7f}");
    server.diagnostics(&uri);
    for method in ["textDocument/hover", "textDocument/completion", "textDocument/definition", "textDocument/documentSymbol", "textDocument/semanticTokens/full", "textDocument/formatting"] {
        let id = server.send_request(method, json!({"textDocument": {"uri": uri}, "position": {"line": 4000, "character": 99999}, "options": {"tabSize": 2, "insertSpaces": true}}));
        assert!(server.response(id).get("error").is_none(), "{method}");
    }
    let hover = server.request("textDocument/hover", doc_pos(&server.uri("pipeline.flow"), PIPELINE, "step report", 6));
    assert!(hover["contents"]["value"].as_str().is_some(), "still serving");
}

#[test]
fn unknown_uris_answer_nothing() {
    let mut server = project();
    let nowhere = "file:///nowhere/at/all.flow";
    let hover = server.request("textDocument/hover", json!({"textDocument": {"uri": nowhere}, "position": {"line": 0, "character": 0}}));
    assert_eq!(hover, Value::Null);
    let refs = server.request("textDocument/references", json!({"textDocument": {"uri": nowhere}, "position": {"line": 0, "character": 0}, "context": {"includeDeclaration": true}}));
    assert_eq!(refs, Value::Null);
    // An edit or a close of a file never opened is ignored.
    server.change(nowhere, 3, "workflow x {}");
    server.notify("textDocument/didClose", json!({"textDocument": {"uri": nowhere}}));
    let uri = server.open("pipeline.flow", PIPELINE);
    assert_eq!(codes(&server.diagnostics_where(&uri, |p| p["version"] == 1)), Vec::<String>::new());
}

#[test]
fn shutdown_then_exit_exits_zero_and_exit_alone_exits_one() {
    let server = project();
    assert_eq!(server.stop(), Some(0));
    let mut server = project();
    server.notify("exit", Value::Null);
    assert_eq!(server.wait_exit(), Some(1));
}

/// The salsa trace after a one-character edit inside one step: the step is
/// re-checked, and no other workflow is.
#[test]
fn an_edit_inside_a_step_rechecks_only_that_step() {
    let other = "workflow other {\n  step x { command \"echo x\" }\n  step y after x { command \"echo ${x.stdout}\" }\n}\n";
    let root = workspace(&[("decls.flow", DECLS), ("pipeline.flow", PIPELINE), ("other.flow", other)]);
    let mut server = Server::start(&root, &[("FLOWC_LSP_TRACE", "1")]);
    let uri = server.open("pipeline.flow", PIPELINE);
    server.diagnostics_where(&uri, |p| p["version"] == 1);
    server.wait_notification("the trace of the first check", |m| m["method"] == "window/logMessage" && m["params"]["message"].as_str().is_some_and(|s| s.starts_with("flowc-trace")));
    server.change(&uri, 2, &PIPELINE.replace("Research ${inputs.company}", "Research ${inputs.company}!"));
    server.diagnostics_where(&uri, |p| p["version"] == 2);
    let trace = server.wait_notification("the trace of the edit", |m| m["method"] == "window/logMessage" && m["params"]["message"].as_str().is_some_and(|s| s.starts_with("flowc-trace")));
    let line = trace["params"]["message"].as_str().unwrap_or("").to_string();
    let count = |query: &str| -> u64 {
        line.split("executed=").nth(1).unwrap_or("").split(',').find_map(|kv| kv.strip_prefix(&format!("{query}:"))).and_then(|n| n.parse().ok()).unwrap_or(0)
    };
    assert_eq!(count("check_step"), 1, "{line}");
    assert_eq!(count("parse_piece"), 1, "{line}");
    assert_eq!(count("workflow_graph"), 0, "{line}");
    assert!(count("check_workflow") <= 1, "{line}");
    assert_eq!(count("check_decl"), 0, "{line}");
    assert_eq!(count("parse"), 0, "the whole-file parse is not on this path: {line}");
}

/// Every example project, every feature, at positions all over each file
/// (inside names, strings, holes, comments, between tokens): answers, never
/// an error, and the server is still there at the end.
#[test]
fn every_feature_answers_everywhere_in_the_examples() {
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    for entry in std::fs::read_dir(&examples).expect("examples") {
        let dir = entry.expect("entry").path();
        let files: Vec<(String, String)> = std::fs::read_dir(&dir)
            .expect("example dir")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "flow"))
            .map(|p| (p.file_name().unwrap_or_default().to_string_lossy().into_owned(), std::fs::read_to_string(&p).expect("read")))
            .collect();
        let borrowed: Vec<(&str, &str)> = files.iter().map(|(n, t)| (n.as_str(), t.as_str())).collect();
        let mut server = Server::start(&workspace(&borrowed), &[]);
        for (name, text) in &files {
            let uri = server.uri(name);
            for method in ["textDocument/documentSymbol", "textDocument/semanticTokens/full", "textDocument/formatting"] {
                let id = server.send_request(method, json!({"textDocument": {"uri": uri}, "options": {"tabSize": 2, "insertSpaces": true}}));
                assert!(server.response(id).get("error").is_none(), "{method} on {name}");
            }
            let lines: Vec<&str> = text.lines().collect();
            for (line, content) in lines.iter().enumerate().step_by(3) {
                let width = content.encode_utf16().count();
                for character in (0..=width).step_by(7) {
                    let pos = json!({"line": line, "character": character});
                    for method in ["textDocument/hover", "textDocument/completion", "textDocument/definition", "textDocument/prepareRename"] {
                        let id = server.send_request(method, json!({"textDocument": {"uri": uri}, "position": pos}));
                        let response = server.response(id);
                        assert!(response.get("error").is_none(), "{method} at {name}:{line}:{character}: {response}");
                    }
                }
            }
        }
        assert_eq!(server.stop(), Some(0));
    }
}

// ------------------------------------------------------ multi-byte text

/// Two-byte letters, a combining accent (two characters, one glyph), emoji
/// outside the BMP (surrogate pairs in UTF-16, one with a skin tone, one a
/// ZWJ sequence) in comments, strings and holes, before names the features
/// point at.
const UNICODE: &str = "// naïve café: e\u{301}t\u{e9}, 😀 and 👩\u{200d}💻\nworkflow unicode {\n  input who: string\n  description \"résumé 😀 — e\u{301}\"\n\n  step first {\n    command \"echo 😀 ${inputs.who} naïve\" // ü😀\n  }\n  step second after first {\n    command \"😀é ${first.output} 😀 $first.stdout\"\n  }\n  step third after second { command \"👍🏽 ${nope.output}\" }\n}\n";

/// The byte offset of an LSP position (UTF-16 column) in `text`.
fn utf16_offset(text: &str, pos: &Value) -> usize {
    let line = pos["line"].as_u64().unwrap_or(0) as usize;
    let col = pos["character"].as_u64().unwrap_or(0) as usize;
    let start: usize = text.split_inclusive('\n').take(line).map(str::len).sum();
    let mut units = 0;
    for (i, c) in text[start..].char_indices() {
        if units >= col || c == '\n' {
            return start + i;
        }
        units += c.len_utf16();
    }
    text.len()
}

/// The parameters of a request at a position, as each method takes them.
fn position_params(method: &str, uri: &str, pos: &Value) -> Value {
    match method {
        "textDocument/references" => json!({"textDocument": {"uri": uri}, "position": pos, "context": {"includeDeclaration": true}}),
        "textDocument/formatting" => json!({"textDocument": {"uri": uri}, "options": {"tabSize": 2, "insertSpaces": true}}),
        "textDocument/semanticTokens/full" | "textDocument/documentSymbol" => json!({"textDocument": {"uri": uri}}),
        _ => json!({"textDocument": {"uri": uri}, "position": pos}),
    }
}

fn unicode_server() -> (Server, String) {
    let mut server = Server::start(&workspace(&[("unicode.flow", UNICODE)]), &[]);
    let uri = server.open("unicode.flow", UNICODE);
    (server, uri)
}

/// Every position of every line (each UTF-16 column, inside surrogate
/// pairs, past the end of the line and of the file), every feature that
/// takes a position: an answer, never an error (hover used to panic with
/// "byte index is not a char boundary" after `ï`).
#[test]
fn every_feature_answers_at_every_position_of_multi_byte_text() {
    let (mut server, uri) = unicode_server();
    let lines: Vec<&str> = UNICODE.split('\n').collect();
    let methods = ["textDocument/hover", "textDocument/definition", "textDocument/references", "textDocument/completion", "textDocument/prepareRename", "textDocument/documentHighlight"];
    for (line, content) in lines.iter().enumerate().chain([(lines.len() + 2, &"")]) {
        let width = content.encode_utf16().count();
        let mut ids = Vec::new();
        for character in 0..=width + 3 {
            let pos = json!({"line": line, "character": character});
            for method in methods {
                let id = server.send_request(method, position_params(method, &uri, &pos));
                ids.push((id, method, character));
            }
        }
        let responses = server.responses(&ids.iter().map(|(id, _, _)| *id).collect::<Vec<_>>());
        for ((_, method, character), response) in ids.iter().zip(responses) {
            assert!(response.get("error").is_none(), "{method} at {line}:{character}: {response}");
        }
    }
    assert!(server.is_running());
}

/// Ranges after multi-byte text on the same line cover exactly the name:
/// hover, definition, references, rename, semantic tokens, diagnostics.
#[test]
fn ranges_after_multi_byte_text_cover_the_name() {
    let (mut server, uri) = unicode_server();
    // Diagnostics: `nope` comes after an emoji with a skin tone.
    let published = server.diagnostics(&uri);
    let ranges: Vec<String> = published["diagnostics"].as_array().expect("a list").iter().map(|d| text_at(UNICODE, &d["range"])).collect();
    assert!(ranges.contains(&"nope".to_string()), "{ranges:?}");

    // Hover on `first` inside `${first.output}`, after `😀é`.
    let hover = server.request("textDocument/hover", doc_pos(&uri, UNICODE, "first.output", 2));
    assert_eq!(text_at(UNICODE, &hover["range"]), "first", "{hover}");
    // Hover on a word right after `ï`, and inside an emoji: no panic, and
    // a range only over ASCII text if any.
    for (needle, delta) in [("ïve", 2), ("😀 and", 0), ("e\u{301}t", 1)] {
        let hover = server.request("textDocument/hover", doc_pos(&uri, UNICODE, needle, delta));
        if !hover.is_null() {
            assert!(text_at(UNICODE, &hover["range"]).is_ascii(), "{hover}");
        }
    }

    // Definition from `$first.stdout` lands on the step's name.
    let def = server.request("textDocument/definition", doc_pos(&uri, UNICODE, "first.stdout", 1));
    let def = if def.is_array() { def[0].clone() } else { def };
    assert_eq!(text_at(UNICODE, &def["range"]), "first", "{def}");

    // References: every one is the text `first`.
    let refs = server.request("textDocument/references", json!({"textDocument": {"uri": uri}, "position": at(UNICODE, "step first", 6), "context": {"includeDeclaration": true}}));
    let refs: Vec<String> = refs.as_array().expect("a list").iter().map(|r| text_at(UNICODE, &r["range"])).collect();
    assert_eq!(refs.len(), 4, "{refs:?}");
    assert!(refs.iter().all(|r| r == "first"), "{refs:?}");

    // Rename applies to exactly the names.
    let mut params = doc_pos(&uri, UNICODE, "step first", 6);
    params["newName"] = json!("primo");
    let edit = server.request("textDocument/rename", params);
    let edits = edit["changes"][uri.as_str()].as_array().expect("edits").clone();
    let mut spans: Vec<(usize, usize)> = edits.iter().map(|e| (utf16_offset(UNICODE, &e["range"]["start"]), utf16_offset(UNICODE, &e["range"]["end"]))).collect();
    spans.sort_by_key(|s| std::cmp::Reverse(s.0));
    let mut renamed = UNICODE.to_string();
    for (s, e) in spans {
        renamed.replace_range(s..e, "primo");
    }
    assert_eq!(renamed, UNICODE.replace("first", "primo"));

    // Semantic tokens: each decodes to a name.
    let result = server.request("textDocument/semanticTokens/full", json!({"textDocument": {"uri": uri}}));
    let data: Vec<u64> = result["data"].as_array().expect("data").iter().map(|v| v.as_u64().unwrap_or(0)).collect();
    let (mut line, mut col) = (0u64, 0u64);
    let mut names = Vec::new();
    for t in data.chunks(5) {
        line += t[0];
        col = if t[0] == 0 { col + t[1] } else { t[1] };
        let range = json!({"start": {"line": line, "character": col}, "end": {"line": line, "character": col + t[2]}});
        names.push(text_at(UNICODE, &range));
    }
    assert!(names.iter().all(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')), "{names:?}");
    assert!(names.contains(&"first".to_string()) && names.contains(&"who".to_string()), "{names:?}");

    // Completion in a hole after emoji offers the upstream step.
    let text = UNICODE.replace("${first.output}", "${fi");
    server.change(&uri, 2, &text);
    let items = labels(&server.request("textDocument/completion", doc_pos(&uri, &text, "${fi", 4)));
    assert!(items.contains(&"first".to_string()), "{items:?}");
}

// ------------------------------------------------------- stale analyses

/// Brackets nested this deep take today's parser minutes (it backtracks
/// exponentially); the server must not wait for it.
fn pathological(depth: usize) -> String {
    format!("workflow slow {{\n  step s {{\n    with {{ x: {}\n  }}\n}}\n", "[".repeat(depth))
}

/// A text that is slow to analyse, replaced by a valid one: the hover on
/// the new text is answered at once, and the new text's diagnostics are
/// published; the stale analysis is left behind, never waited for.
#[test]
fn a_stuck_analysis_does_not_hold_up_the_next_edit() {
    let mut server = Server::start(&workspace(&[]), &[]);
    let uri = server.open("slow.flow", &pathological(40));
    // Let the diagnostics job start on it.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let valid = "workflow fast {\n  step hello { command \"echo hi\" }\n  step bye after nope { command \"echo bye\" }\n}\n";
    server.change(&uri, 2, valid);
    let started = std::time::Instant::now();
    let hover = server.request("textDocument/hover", doc_pos(&uri, valid, "step hello", 6));
    assert!(hover["contents"]["value"].as_str().is_some_and(|v| v.contains("step hello")), "{hover}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "the hover took {:?}", started.elapsed());
    let published = server.diagnostics_where(&uri, |p| p["version"] == 2);
    assert_eq!(codes(&published), vec!["E0203"], "{published}");
}

// ------------------------------------------------------ random sessions

/// splitmix64: deterministic randomness, so a failing session is replayed
/// from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const SNIPPETS: &[&str] = &["step ", "after ", "research", " { ", " }", "\n", "${", "}", "`", "\"", "é", "😀", "e\u{301}", "👍🏽", ".output", "command \"x\"", "// ", "(", ")", "workflow w {\n", "  ", "\t"];

/// Random edits (text with multi-byte characters, at random UTF-16
/// positions, some inside surrogate pairs or past the end of a line) and
/// random requests, as an editor sends them: every request is answered,
/// none with InternalError, and the server is alive at the end. The edits
/// are applied here too, so the positions follow the text.
#[test]
fn random_edits_and_requests_never_break_the_server() {
    let root = workspace(&[("decls.flow", DECLS), ("pipeline.flow", PIPELINE)]);
    let mut server = Server::start(&root, &[]);
    let uri = server.open("pipeline.flow", PIPELINE);
    let mut text = PIPELINE.to_string();
    let methods = [
        "textDocument/hover",
        "textDocument/completion",
        "textDocument/definition",
        "textDocument/references",
        "textDocument/formatting",
        "textDocument/semanticTokens/full",
        "textDocument/documentSymbol",
    ];
    let started = std::time::Instant::now();
    for seed in 0..24u64 {
        let mut rng = Rng(seed);
        let mut ids = Vec::new();
        for step in 0..40 {
            let version = (seed * 100 + step + 2) as i64;
            // A random position: a line (sometimes past the last) and a
            // UTF-16 column (sometimes past the line's end).
            let lines: Vec<&str> = text.split('\n').collect();
            let position = |rng: &mut Rng| {
                let line = rng.below(lines.len() + 1);
                let width = lines.get(line).map_or(0, |l| l.encode_utf16().count());
                json!({"line": line, "character": rng.below(width + 3)})
            };
            let start = position(&mut rng);
            let end = if rng.below(3) == 0 { start.clone() } else { position(&mut rng) };
            let (mut a, mut b) = (utf16_offset(&text, &start), utf16_offset(&text, &end));
            let (start, end) = if a <= b { (start, end) } else { (end, start) };
            if a > b {
                std::mem::swap(&mut a, &mut b);
            }
            let insert: String = (0..rng.below(4)).map(|_| SNIPPETS[rng.below(SNIPPETS.len())]).collect();
            server.edit(&uri, version, json!({"start": start, "end": end}), &insert);
            // The server puts a position inside a surrogate pair after the
            // character, as `utf16_offset` does.
            text.replace_range(a..b, &insert);
            for _ in 0..rng.below(4) {
                let method = methods[rng.below(methods.len())];
                let pos = {
                    let lines: Vec<&str> = text.split('\n').collect();
                    let line = rng.below(lines.len() + 1);
                    let width = lines.get(line).map_or(0, |l| l.encode_utf16().count());
                    json!({"line": line, "character": rng.below(width + 3)})
                };
                ids.push((server.send_request(method, position_params(method, &uri, &pos)), method, seed));
            }
        }
        let responses = server.responses(&ids.iter().map(|(id, _, _)| *id).collect::<Vec<_>>());
        for ((_, method, seed), response) in ids.iter().zip(responses) {
            // ContentModified (-32801) is a fine answer to a request an
            // edit overtook; InternalError (-32603) is a crash.
            let code = response["error"]["code"].as_i64();
            assert!(code.is_none() || code == Some(-32801), "{method} (seed {seed}): {response}\ntext:\n{text}");
        }
        // The server's text is ours: formatting or symbols over it answer.
        let symbols = server.request("textDocument/documentSymbol", json!({"textDocument": {"uri": uri}}));
        assert!(symbols.is_array() || symbols.is_null(), "{symbols}");
    }
    assert!(server.is_running());
    assert!(started.elapsed() < std::time::Duration::from_secs(60), "took {:?}", started.elapsed());
}

/// In a member of a `for each item` group, `item` is typed from the group's
/// matrix: hover shows its type, completion offers its fields.
#[test]
fn item_in_a_job_per_item_is_typed_from_the_group_matrix() {
    let mut server = project();
    let text = "workflow jobs {\n  parallel build for each item in matrix { os: [\"linux\"], rust: [\"stable\"] } {\n    step compile { command \"echo ${item.os}\" }\n    step test after compile { command \"echo ${item.}\" }\n  }\n}\n";
    let uri = server.open("jobs.flow", text);
    let hover = hover_text(&mut server, &uri, text, "${item.os}", 3);
    assert!(hover.contains("item: {os: string, rust: string}"), "{hover}");
    let fields = complete(&mut server, &uri, text, "${item.}", "${item.".len());
    assert_eq!(fields, vec!["os", "rust"]);
}

// ------------------------------------------------------------- tests

const TESTS: &str = r#"test "publishes" {
  run pipeline with { company: "Acme" }
  mock research returns { summary: "s", score: 1 }
  approve check_spend as "ann"
  expect publish completed
  expect `research.output.score > 0 && run.status == 'completed'`
}
"#;

/// A test in its own file: its step paths and expectations go to the
/// workflow's steps in another file, and its expectations are typed and
/// completed in the test's scope.
#[test]
fn a_tests_names_lead_to_the_workflow_and_its_expectations_are_typed() {
    let mut server = Server::start(&workspace(&[("decls.flow", DECLS), ("pipeline.flow", PIPELINE), ("pipeline.test.flow", TESTS)]), &[]);
    let uri = server.open("pipeline.test.flow", TESTS);
    let pipeline = server.uri("pipeline.flow");
    for (needle, delta, target) in [("mock research", 5, "research: agent"), ("expect publish", 7, "publish after"), ("`research.output", 1, "research: agent")] {
        let result = server.request("textDocument/definition", doc_pos(&uri, TESTS, needle, delta));
        assert_eq!(result["uri"], pipeline.as_str(), "{needle}: {result}");
        assert_eq!(result["range"]["start"], at(PIPELINE, target, 0), "{needle}");
    }
    let result = server.request("textDocument/definition", doc_pos(&uri, TESTS, "run pipeline", 4));
    assert_eq!(result["uri"], pipeline.as_str(), "{result}");
    let text = hover_text(&mut server, &uri, TESTS, "research.output.score", "research.output.".len());
    assert!(text.contains("research.output.score: double"), "{text}");
    let text = hover_text(&mut server, &uri, TESTS, "mock research", 1);
    assert!(text.starts_with("`mock`:"), "{text}");
    // Completion in an expectation offers the workflow's steps and `events`.
    let edited = TESTS.replace("  expect publish completed\n", "  expect publish completed\n  expect `re`\n");
    server.change(&uri, 2, &edited);
    let got = complete(&mut server, &uri, &edited, "expect `re", "expect `re".len());
    for want in ["research", "report"] {
        assert!(got.contains(&want.to_string()), "{got:?}");
    }
    // Statements: their keywords, then the test workflow's steps, agents, statuses.
    let partial = TESTS.replace("  expect publish completed\n", "  mock \n  mock agent \n  expect research \n  \n");
    server.change(&uri, 3, &partial);
    let got = complete(&mut server, &uri, &partial, "  mock \n", "  mock ".len());
    for want in ["research", "check_spend", "publish", "agent"] {
        assert!(got.contains(&want.to_string()), "mock: {got:?}");
    }
    let got = complete(&mut server, &uri, &partial, "  mock agent \n", "  mock agent ".len());
    assert_eq!(got, ["researcher"], "mock agent");
    let refused = partial.replace("  expect research \n", "  expect refused \n  expect research \n");
    server.change(&uri, 4, &refused);
    let got = complete(&mut server, &uri, &refused, "  expect refused \n", "  expect refused ".len());
    assert_eq!(got, ["approve", "reject", "complete"], "expect refused");
    server.change(&uri, 5, &partial);
    let got = complete(&mut server, &uri, &partial, "  expect research \n", "  expect research ".len());
    assert!(got.contains(&"completed".to_string()) && got.contains(&"upstream_failed".to_string()), "expect: {got:?}");
    let got = complete(&mut server, &uri, &partial, "  \n  expect `research", 2);
    for want in ["run", "mock", "approve", "complete", "send", "advance", "expect"] {
        assert!(got.contains(&want.to_string()), "start of a statement: {got:?}");
    }
    // A mistake in a test is a diagnostic of the test's file.
    let broken = TESTS.replace("expect publish completed", "expect publsh completed");
    server.change(&uri, 6, &broken);
    let diags = server.diagnostics_where(&uri, |p| p["version"] == 6);
    assert_eq!(codes(&diags), ["E0203"], "{diags}");
}
