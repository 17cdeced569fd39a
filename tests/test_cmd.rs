//! `flowc test` end to end: the binary on real projects — the examples' own
//! tests, and projects written here whose tests fail, act on people and
//! events, move the virtual clock, mock hostile values, and report in every
//! format.

mod support;

use std::path::Path;

use serde_json::Value;
use support::blocking::{cmd, project};

fn run(p: &support::Project, args: &[&str]) -> (i32, String, String) {
    let out = cmd(p, args).stdin(std::process::Stdio::null()).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn json_of(p: &support::Project, args: &[&str]) -> (i32, Value) {
    let mut all = vec!["test", "--format", "json"];
    all.extend_from_slice(args);
    let (code, stdout, stderr) = run(p, &all);
    let v = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}\n{stderr}"));
    (code, v)
}

/// Replaces what changes from run to run: durations, run ids, the scratch path.
fn normalise(text: &str, p: &support::Project) -> String {
    let text = text.replace(&p.dir.display().to_string(), "$PROJECT");
    let mut out = String::new();
    for line in text.lines() {
        let mut line = line.to_string();
        if let Some(i) = line.rfind(" ms)")
            && let Some(open) = line[..i].rfind('(') {
                line.replace_range(open + 1..i + 3, "N ms");
            }
        if let Some(i) = line.find(" s)")
            && let Some(open) = line[..i].rfind('(') {
                line.replace_range(open + 1..i + 2, "T s");
            }
        while let Some(i) = line.find("run 2026").or_else(|| line.find("run 2027")) {
            let end = line[i + 4..].find([' ', ')', ':']).map_or(line.len(), |e| i + 4 + e);
            line.replace_range(i + 4..end, "RUN");
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

#[test]
fn every_example_passes_its_own_tests() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut seen = 0;
    for entry in std::fs::read_dir(&examples).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        // A scratch copy: the examples' commands write files where they run.
        let p = support::copies::project(&name, true);
        let (code, doc) = json_of(&p, &[]);
        let tests = doc["tests"].as_array().cloned().unwrap_or_default();
        assert!(!tests.is_empty(), "examples/{name}: no tests");
        let failed: Vec<&Value> = tests.iter().filter(|t| t["passed"] != true).collect();
        assert!(failed.is_empty() && code == 0, "examples/{name}: {failed:#?}");
        // Each test has a state database of its own, never the project's.
        assert!(!p.path(".flow/state.db").exists(), "examples/{name}: a test wrote the project's state");
        seen += tests.len();
    }
    assert!(seen >= 25, "only {seen} example tests");
}

/// Ports of published workflows (`tests/real/`) with tests of their own: the
/// statuses their tests expect are the ones the original engines document.
#[test]
fn ports_of_published_workflows_pass_their_tests() {
    let real = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/real");
    let mut seen = 0;
    for entry in std::fs::read_dir(&real).unwrap() {
        let dir = entry.unwrap().path();
        let has_tests = dir.is_dir()
            && std::fs::read_dir(&dir).unwrap().any(|f| f.unwrap().file_name().to_string_lossy().ends_with(".test.flow"));
        if !has_tests {
            continue;
        }
        let p = support::Project::new(&format!("real-{}", dir.file_name().unwrap().to_string_lossy()));
        support::copies::copy_dir(&dir, &p.dir);
        let (code, doc) = json_of(&p, &[]);
        assert!(code == 0 && doc["failed"] == 0, "{}: {doc:#}", dir.display());
        seen += doc["passed"].as_u64().unwrap_or(0);
    }
    assert!(seen >= 2, "only {seen} tests of ports");
}

const DEAL: &str = r#"
workflow deal {
  input size: int
  retry 3 backoff fixed 1h

  step research {
    command "echo '{\"value\": ${inputs.size}}'"
    output { value: int }
  }
  step route: branch after research {
    when `research.output.value > 1000` -> review
    else -> send
  }
  step review: approval after route {
    approvers ["ann", "bob"]
    distinct_from_initiator
    timeout 72h
  }
  step send after one_success(review, route) {
    command "printf '%s' ${research.output.value} > sent.txt; echo '{\"id\": \"m-1\"}'"
    output { id: string }
  }
  step cool_down: timer after send {
    for 48h
  }
  step reply: wait after cool_down {
    event "deal.reply" subject "deals/${inputs.size}"
    timeout 24h
  }
}
"#;

#[test]
fn failing_expectations_are_reported_with_their_line_and_what_the_run_showed() {
    let p = project(
        "test-failing",
        &[
            ("deal.flow", DEAL),
            (
                "deal.test.flow",
                r#"test "small deals skip the review" {
  run deal with { size: 10 } as "ann"
  expect review completed
  expect `send.output.id == 'm-2'`
  expect run completed
}

test "passes" {
  run deal with { size: 10 }
  expect review skipped
}
"#,
            ),
        ],
    );
    let (code, stdout, stderr) = run(&p, &["test"]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    insta::with_settings!({ snapshot_path => "snapshots/cli", prepend_module_to_snapshot => false, omit_expression => true, description => "regenerate: INSTA_UPDATE=always cargo test -p flowc --test test_cmd" }, {
        insta::assert_snapshot!("test_failing_human", normalise(&stdout, &p));
    });

    let (code, doc) = json_of(&p, &[]);
    assert_eq!(code, 1);
    assert_eq!(doc["passed"], 1);
    assert_eq!(doc["failed"], 1);
    let failures = doc["tests"][0]["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 3, "{failures:#?}");
    assert_eq!(failures[0]["line"], 3);
    assert_eq!(failures[0]["observed"], "`review` is skipped after 0 attempts");
    assert_eq!(failures[1]["observed"], "send.output.id = \"m-1\"");
    assert_eq!(failures[2]["observed"], "the run is blocked");

    let (_, stdout, _) = run(&p, &["test", "--format", "github"]);
    assert!(stdout.contains("::error file=deal.test.flow,line=3,col=3,title=test \"small deals skip the review\"::expected `review` to be completed%0Aobserved: `review` is skipped after 0 attempts"), "{stdout}");

    let (_, stdout, _) = run(&p, &["test", "--format", "junit"]);
    assert!(stdout.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"flowc test\" tests=\"2\" failures=\"1\" errors=\"0\""), "{stdout}");
    assert_eq!(stdout.matches("<failure message=").count(), 3, "{stdout}");
    assert!(stdout.contains("expected `send.output.id == &apos;m-2&apos;`"), "{stdout}");
    assert!(stdout.trim_end().ends_with("</testsuites>"));

    let (code, doc) = json_of(&p, &["--filter", "passes"]);
    assert_eq!((code, doc["tests"].as_array().map(Vec::len)), (0, Some(1)));
}

#[test]
fn people_events_and_the_virtual_clock() {
    let p = project(
        "test-people",
        &[
            ("deal.flow", DEAL),
            (
                "deal.test.flow",
                r#"test "a large deal waits for someone other than its initiator" {
  run deal with { size: 5000 } as "ann"
  expect review blocked
  expect send pending
  approve review as "bob" comment "fine"
  expect send completed
  // The 48-hour timer passes at once; the reply is awaited.
  expect cool_down completed
  expect reply blocked
  send event "deal.reply" subject "deals/5000" with { text: "yes" }
  expect reply completed
  expect run completed
  expect `events.exists(e, e.step == 'review' && e.type == 'approved')`
}

test "a review nobody answers times out after 72 hours" {
  run deal with { size: 5000 } as "ann"
  advance 71h
  expect review blocked
  advance 2h
  expect review failed
  expect run failed
}

test "a reply that never comes" {
  run deal with { size: 1 }
  advance 25h
  expect reply failed
}

test "hourly backoffs pass at once" {
  run deal with { size: 1 }
  mock research fails exit 75 stderr "busy", fails exit 75, returns { value: 3 }
  expect `research.attempts == 3 && research.output.value == 3`
  expect send completed
}

test "the initiator is refused" {
  run deal with { size: 5000 } as "ann"
  approve review as "ann"
}

test "a refusal that is expected" {
  run deal with { size: 5000 } as "ann"
  expect refused approve review as "ann"
  expect refused approve review as "nobody"
  expect review blocked
}

test "a refusal that does not come" {
  run deal with { size: 5000 } as "ann"
  expect refused approve review as "bob"
  expect send completed
}
"#,
            ),
        ],
    );
    let (code, doc) = json_of(&p, &[]);
    let tests = doc["tests"].as_array().unwrap();
    for t in &tests[..4] {
        assert_eq!(t["passed"], true, "{t:#}");
    }
    assert_eq!(code, 1);
    let refused = &tests[4]["error"];
    assert_eq!(refused["source"], "approve review as \"ann\"", "{refused:#}");
    assert!(refused["message"].as_str().unwrap().contains("started this run, and the gate requires someone else"), "{refused:#}");
    assert_eq!(tests[5]["passed"], true, "{:#}", tests[5]);
    let wrong = &tests[6]["failures"];
    assert_eq!(wrong.as_array().map(Vec::len), Some(1), "{wrong:#}");
    assert_eq!(wrong[0]["message"], "expected a refusal to approve `review` as \"bob\"");
    assert_eq!(wrong[0]["observed"], "the decision was applied");
}

#[test]
fn mocked_values_reach_commands_as_data_never_as_code() {
    let hostile = r#"'; touch PWNED; echo '$(touch PWNED2)`touch PWNED3`"#;
    let p = project(
        "test-hostile",
        &[
            (
                "w.flow",
                r#"workflow w {
  step a { command "echo '{}'" output { x: string } }
  step b after a { command "printf '%s' ${a.output.x} > got.txt" }
}
"#,
            ),
            ("w.test.flow", &format!("test \"hostile <&> \\\"name\\\"\" {{\n  run w\n  mock a returns {{ x: {} }}\n  expect b completed\n}}\n", serde_json::to_string(hostile).unwrap())),
        ],
    );
    let (code, stdout, stderr) = run(&p, &["test", "--format", "junit"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("name=\"hostile &lt;&amp;&gt; &quot;name&quot;\""), "{stdout}");
    assert_eq!(std::fs::read_to_string(p.path("got.txt")).unwrap(), hostile);
    for f in ["PWNED", "PWNED2", "PWNED3"] {
        assert!(!p.path(f).exists(), "{f} was created");
    }
}

#[test]
fn mock_all_starts_no_process_and_coverage_names_what_no_test_reached() {
    let p = project(
        "test-mockall",
        &[
            ("deal.flow", DEAL),
            (
                "deal.test.flow",
                r#"test "small" {
  run deal with { size: 1 }
  mock research returns { value: 1 }
  expect send failed
}
"#,
            ),
        ],
    );
    let (code, doc) = json_of(&p, &["--mock-all", "--coverage"]);
    assert_eq!(code, 0, "{doc:#}");
    assert!(!p.path("sent.txt").exists(), "an unmocked step ran under --mock-all");
    let cov = &doc["coverage"];
    assert_eq!(cov["steps"]["total"], 6, "{cov:#}");
    let missed: Vec<&str> = cov["missed_steps"].as_array().unwrap().iter().map(|s| s["step"].as_str().unwrap()).collect();
    assert_eq!(missed, ["cool_down", "reply", "review"], "{cov:#}");
    let arms: Vec<&str> = cov["missed_arms"].as_array().unwrap().iter().map(|s| s["arm"].as_str().unwrap()).collect();
    assert_eq!(arms, ["review"], "{cov:#}");

    let (_, stdout, _) = run(&p, &["test", "--mock-all", "--coverage"]);
    assert!(stdout.contains("coverage: 3/6 steps, 1/2 branch arms\n  not reached: step deal.cool_down"), "{stdout}");
    assert!(stdout.contains("  not taken: branch deal.route -> review"), "{stdout}");
}

#[test]
fn a_mock_no_run_reaches_is_a_warning_and_the_tests_still_run() {
    let p = project(
        "test-warning",
        &[(
            "w.flow",
            "workflow w {\n  step a { command \"true\" }\n}\n\nworkflow other {\n  step b { command \"true\" }\n}\n\ntest \"t\" {\n  run w\n  mock other.b returns \"\"\n  expect a completed\n}\n",
        )],
    );
    let (code, stdout, stderr) = run(&p, &["test", "--format", "json"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stderr.contains("W0111"), "{stderr}");
    let doc: Value = serde_json::from_str(&stdout).expect("stdout stays one JSON document");
    assert_eq!(doc["passed"], 1);
}

#[test]
fn a_project_with_errors_runs_no_test_and_exits_2() {
    let p = project(
        "test-errors",
        &[("w.flow", "workflow w {\n  step a { command \"true\" }\n}\n\ntest \"t\" {\n  run w\n  expect b completed\n}\n")],
    );
    let (code, stdout, stderr) = run(&p, &["test"]);
    assert_eq!(code, 2, "{stdout}\n{stderr}");
    assert!(stderr.contains("E0203") && stderr.contains("workflow `w` has no step `b`"), "{stderr}");
    assert!(stderr.contains("`flowc test` runs tests only in a project that checks"), "{stderr}");
    assert!(stdout.is_empty());
}

#[test]
fn one_job_or_every_core_gives_the_same_results() {
    let p = project(
        "test-jobs",
        &[
            ("deal.flow", DEAL),
            (
                "many.test.flow",
                &(0..12)
                    .map(|i| format!("test \"t{i}\" {{\n  run deal with {{ size: {i} }}\n  expect `research.output.value == {i}`\n}}\n"))
                    .collect::<String>(),
            ),
        ],
    );
    let (a, one) = json_of(&p, &["-j", "1"]);
    let (b, all) = json_of(&p, &["-j", "4"]);
    assert_eq!((a, b), (0, 0));
    let names = |d: &Value| d["tests"].as_array().unwrap().iter().map(|t| (t["name"].clone(), t["passed"].clone())).collect::<Vec<_>>();
    assert_eq!(names(&one), names(&all));
    assert_eq!(one["passed"], 12);
}

#[test]
fn the_example_of_docs_testing_md_passes() {
    let page = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/testing.md")).unwrap();
    let block = page.split_once("```flow\n").unwrap().1.split_once("\n```").unwrap().0;
    let p = project("test-docs", &[("deals.flow", &format!("{block}\n"))]);
    let (code, doc) = json_of(&p, &["--coverage"]);
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(doc["passed"], 3);
    assert_eq!(doc["coverage"]["steps"], serde_json::json!({ "reached": 5, "total": 5 }), "{doc:#}");
    assert_eq!(doc["coverage"]["arms"], serde_json::json!({ "reached": 2, "total": 2 }), "{doc:#}");
}

#[test]
fn the_readme_shows_a_test_the_sdr_example_runs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let section = readme.split_once("## Testing workflows").unwrap().1;
    let block = section.split_once("```flow\n").unwrap().1.split_once("```").unwrap().0;
    let tests = std::fs::read_to_string(root.join("examples/outbound_sdr/outbound_sdr.test.flow")).unwrap();
    assert!(tests.contains(block), "the README's test is not in examples/outbound_sdr/outbound_sdr.test.flow:\n{block}");
}
