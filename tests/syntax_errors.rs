//! Syntax diagnostics as a person sees them: the sections of
//! `tests/fixtures/syntax.flowtest` (format: `tests/README.md`). Each is
//! checked in process and must report exactly its `--- expect` block; a
//! section named `eNNNN_…` reports only code ENNNN, and `multiple_errors`
//! several, proving recovery. Each is also checked by the built `flowc`
//! binary, and the snapshot holds the source and the rendered errors together
//! (Gleam style), so a reviewer judges the message against the code it is about.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::fixture::{self, Case};

fn cases() -> Vec<Case> {
    fixture::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/syntax.flowtest"))
}

/// A section's one `.flow` file: its name and text.
fn only_file(case: &Case) -> (String, String) {
    let [(name, text)] = case.flow_files().collect::<Vec<_>>()[..] else { panic!("{}: a syntax case is one .flow file", case.origin) };
    (name.clone(), text.clone())
}

struct Checked {
    source: String,
    stdout: String,
    stderr: String,
    code: Option<i32>,
}

/// Writes the section to a scratch directory and runs `flowc check NAME
/// --color never` there, so the path in the output is the bare file name on
/// every machine.
fn check(case: &Case) -> Checked {
    let dir: PathBuf = Path::new(env!("CARGO_TARGET_TMPDIR")).join("syntax_errors").join(&case.name);
    let _ = std::fs::remove_dir_all(&dir);
    case.write_to(&dir);
    let (name, source) = only_file(case);
    let out = Command::new(env!("CARGO_BIN_EXE_flowc"))
        .current_dir(&dir)
        .arg("check")
        .arg(&name)
        .args(["--color", "never"])
        .env_remove("NO_COLOR")
        .output()
        .expect("flowc runs");
    Checked {
        source,
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
fn every_case_reports_exactly_its_expectations() {
    let cases = cases();
    assert!(cases.len() >= 15, "{} syntax cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        if let Err(e) = case.assert_diagnostics() {
            failures.push(e);
        }
        if let Some(expected) = case.name.split('_').next().filter(|p| p.starts_with('e') && p.len() == 5) {
            let expected = expected.to_ascii_uppercase();
            let codes = case.codes();
            assert!(codes.len() == 1 && codes.contains(&expected), "{}: expects {codes:?}, its name says only {expected}", case.origin);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_case_matches_its_snapshot() {
    for case in cases() {
        let got = check(&case);
        let stem = case.name.clone();
        assert_eq!(got.code, Some(1), "{stem}: flowc should exit 1 on a syntax error\n{}", got.stderr);
        assert!(got.stdout.is_empty(), "{stem}: human output belongs on stderr, got stdout:\n{}", got.stdout);

        let codes = codes_in(&got.stderr);
        let want: Vec<String> = case.expected().into_iter().map(|d| d.code).collect();
        assert_eq!(codes, want, "{stem}: the binary reports other codes than the section expects\n{}", got.stderr);

        let text = format!("----- SOURCE CODE\n{}\n----- ERROR\n{}", got.source, got.stderr);
        insta::with_settings!({ snapshot_path => "snapshots/syntax", prepend_module_to_snapshot => false, omit_expression => true, description => "regenerate: INSTA_UPDATE=always cargo test -p flowc --test syntax_errors" }, {
            insta::assert_snapshot!(stem, text);
        });
    }
}

#[test]
fn every_syntax_code_has_a_case() {
    let names: Vec<String> = cases().into_iter().map(|c| c.name).collect();
    for n in 101..=110 {
        let prefix = format!("e0{n}_");
        assert!(names.iter().any(|f| f.starts_with(&prefix)), "no case for E0{n} (a section named {prefix}…)");
    }
}

#[test]
fn recovery_reports_every_mistake_in_a_file() {
    let case = cases().into_iter().find(|c| c.name == "multiple_errors").expect("a multiple_errors case");
    let got = check(&case);
    let codes = codes_in(&got.stderr);
    assert!(codes.len() >= 3, "recovery should report each mistake, got {codes:?}\n{}", got.stderr);
    // Each report points at a different line: one mistake is not reported twice.
    let mut lines: Vec<&str> = got.stderr.lines().filter(|l| l.contains("─[multiple_errors.flow:")).collect();
    let total = lines.len();
    lines.dedup();
    assert_eq!(lines.len(), total, "two reports point at the same place:\n{}", got.stderr);
}
