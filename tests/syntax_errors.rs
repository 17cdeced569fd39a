//! Syntax diagnostics as a person sees them: each fixture in
//! `tests/fixtures/syntax/` is checked by the built `flowc` binary, and the
//! snapshot holds the source and the rendered errors together (Gleam style),
//! so a reviewer judges the message against the code it is about.
//!
//! A fixture named `eNNNN_*.flow` must produce code ENNNN and nothing else;
//! `multiple_errors.flow` must produce several, proving recovery.

use std::path::{Path, PathBuf};
use std::process::Command;

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/syntax")
}

fn fixtures() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .expect("tests/fixtures/syntax exists")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "flow"))
        .collect();
    files.sort();
    files
}

struct Checked {
    source: String,
    stdout: String,
    stderr: String,
    code: Option<i32>,
}

/// Runs `flowc check NAME --color never` from the fixtures directory, so the
/// path in the output is the bare file name on every machine.
fn check(path: &Path) -> Checked {
    let name = path.file_name().expect("a file name");
    let out = Command::new(env!("CARGO_BIN_EXE_flowc"))
        .current_dir(fixtures_dir())
        .arg("check")
        .arg(name)
        .args(["--color", "never"])
        .env_remove("NO_COLOR")
        .output()
        .expect("flowc runs");
    Checked {
        source: std::fs::read_to_string(path).expect("fixture is UTF-8"),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
        code: out.status.code(),
    }
}

/// The diagnostic codes in human output: the first line of each report.
fn codes_in(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.len() == 5 && l.starts_with('E') && l[1..].chars().all(|c| c.is_ascii_digit()))
        .collect()
}

#[test]
fn every_fixture_matches_its_snapshot() {
    let files = fixtures();
    assert!(!files.is_empty(), "no fixtures in {}", fixtures_dir().display());
    for path in files {
        let stem = path.file_stem().and_then(|s| s.to_str()).expect("a UTF-8 file name").to_string();
        let got = check(&path);
        assert_eq!(got.code, Some(1), "{stem}: flowc should exit 1 on a syntax error\n{}", got.stderr);
        assert!(got.stdout.is_empty(), "{stem}: human output belongs on stderr, got stdout:\n{}", got.stdout);

        let codes = codes_in(&got.stderr);
        if let Some(expected) = stem.split('_').next().filter(|p| p.starts_with('e') && p.len() == 5) {
            let expected = expected.to_ascii_uppercase();
            assert!(
                !codes.is_empty() && codes.iter().all(|c| *c == expected),
                "{stem}: expected only {expected}, got {codes:?}\n{}",
                got.stderr
            );
        }

        let text = format!("----- SOURCE CODE\n{}\n----- ERROR\n{}", got.source, got.stderr);
        insta::with_settings!({ snapshot_path => "snapshots/syntax", prepend_module_to_snapshot => false, omit_expression => true }, {
            insta::assert_snapshot!(stem, text);
        });
    }
}

#[test]
fn every_syntax_code_has_a_fixture() {
    let names: Vec<String> =
        fixtures().iter().filter_map(|p| p.file_name().and_then(|n| n.to_str()).map(str::to_string)).collect();
    for n in 101..=110 {
        let prefix = format!("e0{n}_");
        assert!(names.iter().any(|f| f.starts_with(&prefix)), "no fixture for E0{n} (a file named {prefix}*.flow)");
    }
}

#[test]
fn recovery_reports_every_mistake_in_a_file() {
    let got = check(&fixtures_dir().join("multiple_errors.flow"));
    let codes = codes_in(&got.stderr);
    assert!(codes.len() >= 3, "recovery should report each mistake, got {codes:?}\n{}", got.stderr);
    // Each report points at a different line: one mistake is not reported twice.
    let mut lines: Vec<&str> = got.stderr.lines().filter(|l| l.contains("─[multiple_errors.flow:")).collect();
    let total = lines.len();
    lines.dedup();
    assert_eq!(lines.len(), total, "two reports point at the same place:\n{}", got.stderr);
}
