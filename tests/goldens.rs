//! No golden file or snapshot is orphaned: every file under the golden and
//! snapshot directories of the suite belongs to a case some test compares it
//! with (an example, a fixture, a section of a `.flowtest` file, a named CLI
//! snapshot), and every plain golden starts with the line saying how to
//! regenerate it. The layout is in `tests/README.md`.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The names of the entries of `dir` (files and folders), sorted.
fn entries(dir: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root().join(dir))
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|e| e.expect("a directory entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Every file below `dir` (a path relative to the repository root), recursively.
fn files_below(dir: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root().join(dir)];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())).flatten() {
            let path: PathBuf = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path.strip_prefix(root()).expect("below the root").display().to_string());
            }
        }
    }
    out.sort();
    out
}

/// The section names of a fixture file.
fn sections(file: &str) -> BTreeSet<String> {
    support::fixture::load(&root().join(file)).into_iter().map(|c| c.name).collect()
}

/// The stems of the files of `dir` ending with `ext`.
fn stems(dir: &str, ext: &str) -> BTreeSet<String> {
    entries(dir).into_iter().filter_map(|n| n.strip_suffix(ext).map(str::to_string)).collect()
}

/// The file each golden and snapshot is compared with, or `None` when
/// nothing reads it.
fn reader(path: &str) -> Option<String> {
    let (dir, name) = path.rsplit_once('/').expect("a file in a directory");
    let stem = name.rsplit_once('.').map_or(name, |(s, _)| s);
    let read = |by: &str, yes: bool| yes.then(|| by.to_string());
    match dir {
        "tests/golden/examples" => {
            read("tests/build.rs", name.ends_with(".golden") && root().join("examples").join(stem).is_dir())
        }
        "tests/golden/graph" => read(
            "tests/build.rs",
            (name.ends_with(".dot") || name.ends_with(".mermaid")) && stems("tests/fixtures/graph", ".flow").contains(stem),
        ),
        "interpreter/tests/golden" => read(
            "interpreter/tests/golden.rs",
            name.ends_with(".json") || (name.ends_with(".golden") && root().join(dir).join(format!("{stem}.json")).exists()),
        ),
        "tests/snapshots/check" => read("tests/check_fixtures.rs", sections("tests/fixtures/check.flowtest").contains(stem)),
        "tests/snapshots/syntax" => read("tests/syntax_errors.rs", sections("tests/fixtures/syntax.flowtest").contains(stem)),
        "tests/snapshots" => read(
            "tests/fmt.rs",
            stem.strip_prefix("fmt__").is_some_and(|s| stems("tests/fixtures/fmt", ".flow").contains(s)),
        ),
        "tests/snapshots/cli" => ["tests/cli.rs", "tests/cli_output.rs", "tests/test_cmd.rs"].into_iter().find_map(|by| {
            let source = std::fs::read_to_string(root().join(by)).expect("a test file");
            read(by, source.contains(&format!("\"{stem}\"")))
        }),
        "compiler/tests/snapshots" => read(
            "compiler/tests/cel_check.rs",
            stem.strip_prefix("cel_check__").is_some_and(|s| stems("compiler/tests/cel", ".cel").contains(s)),
        ),
        _ => None,
    }
}

#[test]
fn every_golden_and_snapshot_is_read_by_a_test() {
    let mut all = Vec::new();
    for dir in ["tests/golden", "tests/snapshots", "interpreter/tests/golden", "compiler/tests/snapshots"] {
        all.extend(files_below(dir));
    }
    assert!(all.len() > 50, "found only {all:?}");
    let orphans: Vec<&String> = all.iter().filter(|p| reader(p).is_none()).collect();
    assert!(orphans.is_empty(), "goldens or snapshots no test reads (remove them, or name their test in tests/goldens.rs): {orphans:?}");
}

#[test]
fn every_plain_golden_says_how_to_regenerate_it() {
    let mut goldens = files_below("tests/golden");
    goldens.extend(files_below("interpreter/tests/golden").into_iter().filter(|p| p.ends_with(".golden")));
    for path in goldens {
        let text = std::fs::read_to_string(root().join(&path)).expect("a readable golden");
        let first = text.lines().next().unwrap_or("");
        let reader = reader(&path).unwrap_or_default();
        let binary = reader.rsplit('/').next().and_then(|f| f.strip_suffix(".rs")).unwrap_or("?");
        assert!(
            first.contains("regenerate: FLOWC_BLESS=1 cargo test -p ") && first.ends_with(&format!("--test {binary}")),
            "{path}: the first line should say how to regenerate it (FLOWC_BLESS=1 cargo test … --test {binary}), found `{first}`"
        );
    }
}

#[test]
fn every_snapshot_says_how_to_regenerate_it() {
    for dir in ["tests/snapshots", "compiler/tests/snapshots"] {
        for path in files_below(dir) {
            let text = std::fs::read_to_string(root().join(&path)).expect("a readable snapshot");
            let header = text.split("\n---\n").next().unwrap_or("");
            assert!(header.contains("description: \"regenerate: INSTA_UPDATE=always cargo test -p "), "{path}: no regenerate line in its header");
        }
    }
}
