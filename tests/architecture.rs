//! ARCHITECTURE.md's module map against the source tree: every source file
//! of every crate is listed, every listed file exists, no file is named
//! after a delivery milestone (`advanced`, `people`), and no module is
//! mounted from another path.
//!
//! `FLOWC_BLESS=1 cargo test -p flowc --test architecture` rewrites the
//! map's lists from each file's module doc (its first sentence); the text
//! before the first `###` heading is kept.

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

/// ARCHITECTURE.md, and the byte range of its "Module map" section (from
/// its heading to the next section's).
fn module_map() -> (String, std::ops::Range<usize>) {
    let text = std::fs::read_to_string(root().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let start = text.find("\n## Module map").expect("ARCHITECTURE.md has a `## Module map` section") + 1;
    let end = start + 3 + text[start + 3..].find("\n## ").expect("a section after the map") + 1;
    (text, start..end)
}

/// The paths the "Module map" section lists, one `- `path` — …` line each.
fn mapped_files() -> BTreeSet<String> {
    let (text, map) = module_map();
    text[map]
        .lines()
        .filter_map(|l| l.strip_prefix("- `"))
        .filter_map(|l| l.split_once('`').map(|(path, _)| path.to_string()))
        .collect()
}

/// The crates' headings in the map, with the source directory each lists.
const CRATES: &[(&str, &str)] = &[
    ("grammar/src/", "flowc-grammar"),
    ("compiler/src/", "flowc-compiler"),
    ("plan/src/", "flowc-plan"),
    ("interpreter/src/", "flowc-interpreter"),
    ("lsp/src/", "flowc-lsp"),
    ("src/", "flowc (the command line)"),
    ("bench/src/", "flowc-bench"),
];

/// The first sentence of a file's module doc, at most about 150 characters.
fn summary(path: &str) -> String {
    let text = std::fs::read_to_string(root().join(path)).unwrap_or_default();
    let mut words: Vec<&str> = Vec::new();
    for line in text.lines() {
        match line.strip_prefix("//!") {
            Some(doc) if doc.trim().is_empty() => break,
            Some(doc) => words.extend(doc.split_whitespace()),
            None if words.is_empty() && line.trim().is_empty() => {}
            None => break,
        }
    }
    let joined = words.join(" ");
    let mut sentence = joined.as_str();
    if let Some(end) = joined.char_indices().find(|&(i, c)| (c == '.' || c == ';') && joined[i + 1..].chars().next().is_none_or(char::is_whitespace)) {
        sentence = &joined[..end.0 + 1];
    }
    let mut out = sentence.trim_end_matches(['.', ';', ':']).to_string();
    if out.chars().count() > 150 {
        let cut: String = out.chars().take(150).collect();
        out = format!("{} …", cut.rsplit_once(' ').map_or(cut.as_str(), |(head, _)| head));
    }
    if out.is_empty() { "(no module doc)".to_string() } else { out }
}

/// The map's lists as `FLOWC_BLESS=1` writes them.
fn blessed_lists(files: &BTreeSet<String>) -> String {
    let mut out = String::new();
    for (dir, name) in CRATES {
        out.push_str(&format!("### {name}\n\n"));
        for f in files.iter().filter(|f| f.starts_with(dir)) {
            out.push_str(&format!("- `{f}` — {}\n", summary(f)));
        }
        out.push('\n');
    }
    out
}

/// Rewrites the map's lists (keeping the prose before them) from the tree.
fn bless(files: &BTreeSet<String>) {
    let (text, map) = module_map();
    let lists = map.start + text[map.clone()].find("\n### ").expect("crate headings in the map") + 1;
    let new = format!("{}{}{}", &text[..lists], blessed_lists(files), &text[map.end..]);
    std::fs::write(root().join("ARCHITECTURE.md"), new).expect("write ARCHITECTURE.md");
}

#[test]
fn the_module_map_lists_every_source_file_and_nothing_else() {
    let files = source_files();
    if std::env::var_os("FLOWC_BLESS").is_some() {
        bless(&files);
    }
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
    assert!(mounted.is_empty(), "modules mounted with #[path] (a directory module's files must match its tree): {mounted:?}");
}
