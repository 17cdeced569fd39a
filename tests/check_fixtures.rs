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
