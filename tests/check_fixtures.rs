//! The semantic-check fixtures: `.flow` files whose expected diagnostics are
//! written inline, under the offending text:
//!
//! ```text
//!   step test after compil { command "make test" }
//!   //              ^^^^^^ E0203
//! ```
//!
//! A marker is a comment line of carets followed by a code; the carets sit
//! under the columns where the diagnostic's span starts and ends on the
//! nearest line above that is not a marker. Every diagnostic `flowc check`
//! reports must be marked, and every marker must be met. Each fixture is also
//! snapshotted with its source and the rendered output, Gleam-style.
//!
//! Together, the fixtures (here and in `tests/fixtures/syntax/`) cover every
//! code of the catalogue.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const DIR: &str = "tests/fixtures/check";

/// (line, first column, last column + 1, code); lines and columns are 1-based, in characters.
type Expectation = (usize, usize, usize, String);

/// The fixtures: `DIR/*.flow`, and `DIR/*/*.flow` — a folder with its own
/// flowc.toml (as `flowc check FILE` reads the one beside the file).
fn fixtures() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(DIR).expect("the fixture directory") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            let inner = std::fs::read_dir(&path).expect("a fixture folder").map(|e| e.expect("an entry").path());
            files.extend(inner.filter(|p| p.extension().is_some_and(|e| e == "flow")));
        } else if path.extension().is_some_and(|e| e == "flow") {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// A fixture's snapshot name: its file name, prefixed by its folder's.
fn snapshot_name(path: &Path) -> String {
    let stem = path.file_stem().expect("a name").to_string_lossy().into_owned();
    match path.parent().filter(|p| *p != Path::new(DIR)).and_then(|p| p.file_name()) {
        Some(folder) => format!("{}-{stem}", folder.to_string_lossy()),
        None => stem,
    }
}

/// Markers of a fixture, resolved to the line they point at.
fn expectations(source: &str) -> Vec<Expectation> {
    let mut out = Vec::new();
    let mut target: Option<usize> = None;
    for (i, line) in source.lines().enumerate() {
        let trimmed = line.trim_start();
        let marker = trimmed.strip_prefix("//").map(str::trim_start).filter(|rest| rest.starts_with('^'));
        match marker {
            Some(rest) => {
                let Some(line_no) = target else { panic!("marker on line {} has no line above it", i + 1) };
                let col = line.find('^').expect("a caret") ;
                let carets = rest.chars().take_while(|c| *c == '^').count();
                let code = rest[carets..].trim().to_string();
                assert!(!code.is_empty(), "marker on line {} names no code", i + 1);
                let start = line[..col].chars().count() + 1;
                out.push((line_no, start, start + carets, code));
            }
            None => target = Some(i + 1),
        }
    }
    out
}

fn flowc(args: &[&str]) -> (String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_flowc")).args(args).output().expect("flowc runs");
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// What `flowc check --format json` reports, in the same shape as the markers.
fn reported(path: &Path, source: &str) -> Vec<Expectation> {
    let (stdout, stderr) = flowc(&["check", path.to_str().expect("a UTF-8 path"), "--format", "json"]);
    let items: Vec<Value> = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("JSON from flowc: {e}\n{stdout}\n{stderr}"));
    items
        .iter()
        .map(|d| {
            let line = d["line"].as_u64().expect("line") as usize;
            let col = d["column"].as_u64().expect("column") as usize;
            let end_line = d["end_line"].as_u64().expect("end_line") as usize;
            let end_col = d["end_column"].as_u64().expect("end_column") as usize;
            // A span that runs past its first line is marked to the end of that line.
            let end = if end_line == line {
                end_col.max(col + 1)
            } else {
                source.lines().nth(line - 1).map_or(col + 1, |l| l.chars().count() + 1)
            };
            (line, col, end, d["code"].as_str().expect("code").to_string())
        })
        .collect()
}

#[test]
fn every_fixture_reports_exactly_what_its_markers_say() {
    let mut failures = Vec::new();
    for path in fixtures() {
        let source = std::fs::read_to_string(&path).expect("readable fixture");
        let want: BTreeSet<Expectation> = expectations(&source).into_iter().collect();
        let got: BTreeSet<Expectation> = reported(&path, &source).into_iter().collect();
        let missing: Vec<_> = want.difference(&got).collect();
        let unexpected: Vec<_> = got.difference(&want).collect();
        if !missing.is_empty() || !unexpected.is_empty() {
            failures.push(format!(
                "{}:\n  expected but not reported: {missing:?}\n  reported but not marked: {unexpected:?}",
                path.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_fixture_matches_its_snapshot() {
    for path in fixtures() {
        let source = std::fs::read_to_string(&path).expect("readable fixture");
        let name = snapshot_name(&path);
        let (_, stderr) = flowc(&["check", path.to_str().expect("UTF-8"), "--color", "never"]);
        let mut settings = insta::Settings::clone_current();
        settings.set_snapshot_path("snapshots/check");
        settings.set_prepend_module_to_snapshot(false);
        settings.bind(|| {
            insta::assert_snapshot!(name, format!("----- SOURCE CODE\n{source}\n----- ERROR\n{stderr}"));
        });
    }
}

#[test]
fn the_fixtures_cover_every_code() {
    let mut seen = BTreeSet::new();
    for path in fixtures() {
        let source = std::fs::read_to_string(&path).expect("readable fixture");
        seen.extend(expectations(&source).into_iter().map(|e| e.3));
    }
    // Syntax codes have their own fixtures (`tests/syntax_errors.rs`).
    for entry in std::fs::read_dir("tests/fixtures/syntax").expect("syntax fixtures") {
        let name = entry.expect("an entry").file_name().to_string_lossy().to_uppercase();
        if let Some(code) = name.get(..5).filter(|c| c.starts_with('E')) {
            seen.insert(code.to_string());
        }
    }
    let (stdout, _) = flowc(&["explain", "--list"]);
    let all: Vec<String> = stdout.lines().filter_map(|l| l.split_whitespace().next()).map(str::to_string).collect();
    assert!(all.len() > 50, "explain --list: {stdout}");
    let missing: Vec<&String> = all.iter().filter(|c| !seen.contains(*c)).collect();
    assert!(missing.is_empty(), "codes without a fixture: {missing:?}");
}
