//! CEL end to end: what the checker accepts, `flowc run` evaluates —
//! `matches`, timestamps (`run.started_at` is one) and the strings
//! extension, in a `when`, a command's hole and a workflow output. The cases
//! are the sections of `tests/fixtures/cel_run.flowtest` (format:
//! `tests/README.md`).

mod support;

use std::path::Path;

use support::fixture;

#[test]
fn every_case_checks_and_runs_as_expected() {
    let cases = fixture::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cel_run.flowtest"));
    assert!(cases.len() >= 2, "{} cases", cases.len());
    let failures: Vec<String> = cases.iter().filter_map(|c| fixture::run_case(c).err()).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
