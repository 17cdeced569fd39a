//! ARCHITECTURE.md's module map against the source tree: every source file
//! of every crate is listed, every listed file exists, no file is named
//! after a delivery milestone (`advanced`, `people`), and no module is
//! mounted from another path.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The source directories of the workspace's crates, relative to the root.
const SOURCE_DIRS: &[&str] = &["grammar/src", "compiler/src", "plan/src", "interpreter/src", "lsp/src", "src", "bench/src"];

/// Files still named after a milestone, waiting to be split by concept
/// (docs: ARCHITECTURE.md, "Module map"). Remove an entry when its file goes.
const NOT_YET_BY_CONCEPT: &[&str] = &[];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path, out: &mut BTreeSet<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path.strip_prefix(root()).expect("under the root");
            out.insert(rel.to_string_lossy().replace('\\', "/"));
        }
    }
}

fn source_files() -> BTreeSet<String> {
    let mut files = BTreeSet::new();
    for dir in SOURCE_DIRS {
        rust_files(&root().join(dir), &mut files);
    }
    files
}

/// The paths the "Module map" section lists, one `- `path` — …` line each.
fn mapped_files() -> BTreeSet<String> {
    let text = std::fs::read_to_string(root().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let start = text.find("\n## Module map").expect("ARCHITECTURE.md has a `## Module map` section");
    let section = &text[start + 1..];
    let end = section[3..].find("\n## ").map_or(section.len(), |i| i + 3);
    section[..end]
        .lines()
        .filter_map(|l| l.strip_prefix("- `"))
        .filter_map(|l| l.split_once('`').map(|(path, _)| path.to_string()))
        .collect()
}

#[test]
fn the_module_map_lists_every_source_file_and_nothing_else() {
    let files = source_files();
    let mapped = mapped_files();
    assert!(files.len() > 100, "found only {} source files: is SOURCE_DIRS right?", files.len());
    let missing: Vec<&String> = files.difference(&mapped).collect();
    let stale: Vec<&String> = mapped.difference(&files).collect();
    assert!(missing.is_empty(), "ARCHITECTURE.md's module map does not list {missing:?}: add a line for each");
    assert!(stale.is_empty(), "ARCHITECTURE.md's module map lists files that do not exist: {stale:?}");
}

#[test]
fn no_source_file_is_named_after_a_milestone() {
    let named: Vec<String> = source_files()
        .into_iter()
        .filter(|f| {
            let stem = Path::new(f).file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
            stem.split('_').any(|w| w == "advanced" || w == "people")
        })
        .collect();
    let allowed: Vec<String> = NOT_YET_BY_CONCEPT.iter().map(|s| s.to_string()).collect();
    let new: Vec<&String> = named.iter().filter(|f| !allowed.contains(f)).collect();
    assert!(new.is_empty(), "files named after a milestone, not a concept: {new:?}");
    let gone: Vec<&String> = allowed.iter().filter(|f| !named.contains(f)).collect();
    assert!(gone.is_empty(), "{gone:?} no longer exist: remove them from NOT_YET_BY_CONCEPT");
}

#[test]
fn no_module_is_mounted_from_another_path() {
    let mounted: Vec<String> = source_files()
        .into_iter()
        .filter(|f| std::fs::read_to_string(root().join(f)).is_ok_and(|t| t.lines().any(|l| l.trim_start().starts_with("#[path"))))
        .collect();
    // The benchmark shares the grammar tests' pathological shapes.
    let allowed = ["bench/src/bin/parse_pathological.rs"];
    let new: Vec<&String> = mounted.iter().filter(|f| !allowed.contains(&f.as_str())).collect();
    assert!(new.is_empty(), "modules mounted with #[path] (a directory module's files must match its tree): {new:?}");
}
