//! The semantic-check fixtures: the sections of `tests/fixtures/check.flowtest`
//! (the format is in `tests/README.md`), whose expected diagnostics are
//! written inline, under the offending text:
//!
//! ```text
//!   step test after compil { command "make test" }
//!   //              ^^^^^^ E0203
//! ```
//!
//! Each section is checked in process, through the compiler, as `flowc check`
//! checks a file: every diagnostic reported must be marked, and every marker
//! met. Each section is also snapshotted with its source and what the binary
//! renders, Gleam-style.
//!
//! Together, these and the syntax fixtures (`tests/fixtures/syntax.flowtest`)
//! cover every code of the catalogue.

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use support::fixture::{self, Case};

const FIXTURES: &str = "tests/fixtures/check.flowtest";

/// Where the sections are written, inside a scratch root, so that reports
/// name them as they always were.
const PREFIX: &str = "tests/fixtures/check";

fn cases() -> Vec<Case> {
    fixture::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURES))
}

#[test]
fn every_case_reports_exactly_what_its_markers_say() {
    let cases = cases();
    assert!(cases.len() >= 10, "{FIXTURES}: {} cases", cases.len());
    let failures: Vec<String> = cases.iter().filter_map(|c| c.assert_diagnostics().err()).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_case_matches_its_snapshot() {
    let scratch = Path::new(env!("CARGO_TARGET_TMPDIR")).join("check_fixtures");
    for case in cases() {
        let root = scratch.join(&case.name);
        let _ = std::fs::remove_dir_all(&root);
        case.write_to(&root.join(PREFIX));
        let [(file, source)] = case.flow_files().collect::<Vec<_>>()[..] else {
            panic!("{}: a check case is one .flow file (and its flowc.toml)", case.origin)
        };
        let path = format!("{PREFIX}/{file}");
        let out = Command::new(env!("CARGO_BIN_EXE_flowc"))
            .current_dir(&root)
            .args(["check", &path, "--color", "never"])
            .output()
            .expect("flowc runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let mut settings = insta::Settings::clone_current();
        settings.set_snapshot_path("snapshots/check");
        settings.set_prepend_module_to_snapshot(false);
        settings.set_description("regenerate: INSTA_UPDATE=always cargo test -p flowc --test check_fixtures");
        settings.bind(|| {
            insta::assert_snapshot!(case.name.clone(), format!("----- SOURCE CODE\n{source}\n----- ERROR\n{stderr}"));
        });
    }
}

#[test]
fn the_fixtures_cover_every_code() {
    let mut seen = BTreeSet::new();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    for file in fixture::files_in(&dir, "flowtest") {
        for case in fixture::load(&file) {
            seen.extend(case.codes());
        }
    }
    let out = Command::new(env!("CARGO_BIN_EXE_flowc")).args(["explain", "--list"]).output().expect("flowc runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let all: Vec<String> = stdout.lines().filter_map(|l| l.split_whitespace().next()).map(str::to_string).collect();
    assert!(all.len() > 50, "explain --list: {stdout}");
    let missing: Vec<&String> = all.iter().filter(|c| !seen.contains(*c)).collect();
    assert!(missing.is_empty(), "codes without a fixture: {missing:?}");
}

/// The reader of the format keeps a file's text byte for byte and refuses a
/// malformed fixture, naming its line.
#[test]
fn the_fixture_reader_keeps_text_and_refuses_malformed_fixtures() {
    let text = "# about\n=== one\n--- a.flow\nworkflow w {\n\n# not a comment here\n}\n--- expect\n# a comment\nE0203 2:3\n--- run w -i x=1\nrun -> completed\noutput a.output = {\"k\": 1}\n";
    let cases = fixture::parse("t", text).expect("a well-formed fixture");
    assert_eq!(cases.len(), 1);
    assert_eq!(cases[0].file("a.flow"), "workflow w {\n\n# not a comment here\n}\n");
    assert_eq!(cases[0].expect[0], fixture::Diag { file: "a.flow".into(), line: 2, col: 3, end: None, code: "E0203".into() });
    assert_eq!(cases[0].runs[0].args, ["-i", "x=1"]);
    assert_eq!(cases[0].runs[0].statuses, [("run".to_string(), "completed".to_string())]);
    assert_eq!(cases[0].runs[0].outputs, [("a.output".to_string(), serde_json::json!({"k": 1}))]);
    for (bad, line) in [
        ("=== a\n=== a\n", "t:2"),
        ("--- a.flow\n", "t:1"),
        ("=== a\nstray text\n", "t:2"),
        ("=== a\n--- a.flow\nx\n--- b.flow\ny\n--- expect\nE0101 1:1\n", "t:7"),
        ("=== a\n--- a.flow\nx\n--- expect\nE0101 one:1\n", "t:5"),
        ("=== a\n--- run\n", "t:2"),
        ("=== a\n--- a.flow\n--- run w\nstep is done\n", "t:4"),
        ("=== a\n--- a.flow\n--- a.flow\n", "t:3"),
    ] {
        let err = fixture::parse("t", bad).expect_err(bad);
        assert!(err.starts_with(&format!("{line}:")), "{bad:?}: {err}");
    }
}
