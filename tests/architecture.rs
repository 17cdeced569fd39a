//! ARCHITECTURE.md's module map against the source tree: every source file
//! of every crate is listed, every listed file exists, no file is named
//! after a delivery milestone (`advanced`, `people`), no module is mounted
//! from another path, and no modules of different concepts import each
//! other in a circle (but for the circles still listed to be broken).
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

/// Circles of imports between modules that are still to be broken (docs:
/// ARCHITECTURE.md, "Module map"), as the circle test words them. Remove an
/// entry when its circle goes; a circle that shrinks is listed anew.
const NOT_YET_ACYCLIC: &[&str] = &[];

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

/// A crate's modules, each by its path from the crate root (`["runtime",
/// "runner", "deps"]`), mapped to its source file.
fn modules_of(src: &str) -> Vec<(Vec<String>, String)> {
    let mut out = Vec::new();
    for f in source_files().into_iter().filter(|f| f.starts_with(&format!("{src}/"))) {
        let rel = &f[src.len() + 1..f.len() - 3];
        let mut path: Vec<String> = rel.split('/').map(str::to_string).collect();
        if matches!(path.last().map(String::as_str), Some("mod" | "lib" | "main")) {
            path.pop();
        }
        // A binary of `src/bin/` is a crate of its own.
        if path.first().is_some_and(|p| p == "bin") {
            continue;
        }
        out.push((path, f));
    }
    out
}

/// The paths a file names through `crate::`, `super::` and `self::`, as
/// module paths from the crate root: every `use` tree is unfolded
/// (`use super::{a, b::c}` names `super::a` and `super::b::c`), and so is
/// every path in code (`crate::runtime::open_store(…)`).
fn named_paths(text: &str, module: &[String]) -> Vec<Vec<String>> {
    // Strip comments, so prose naming a path does not count.
    let code: String = text.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n");
    let bytes = code.as_bytes();
    let ident = |i: usize| -> (String, usize) {
        let mut j = i;
        while j < bytes.len() && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_') {
            j += 1;
        }
        (code[i..j].to_string(), j)
    };
    // `super::` counts from the module: a file `a/b.rs` is module `a::b`,
    // whose `super` is `a`; `a/mod.rs` is module `a` (see `modules_of`).
    let mut out = Vec::new();
    // Unfolds the use tree or path at `i`, under `prefix`.
    fn tree(code: &str, i: usize, prefix: Vec<String>, out: &mut Vec<Vec<String>>) -> usize {
        let bytes = code.as_bytes();
        let mut path = prefix;
        let mut i = i;
        loop {
            while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            if i < bytes.len() && bytes[i] == b'{' {
                i += 1;
                loop {
                    while i < bytes.len() && (bytes[i].is_ascii_whitespace() || bytes[i] == b',') {
                        i += 1;
                    }
                    if i >= bytes.len() || bytes[i] == b'}' {
                        return i + 1;
                    }
                    i = tree(code, i, path.clone(), out);
                }
            }
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            if start == i {
                out.push(path);
                return i;
            }
            path.push(code[start..i].to_string());
            if code[i..].starts_with("::") {
                i += 2;
                continue;
            }
            out.push(path);
            return i;
        }
    }
    let mut i = 0;
    while i < bytes.len() {
        let boundary = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_' || bytes[i - 1] == b':');
        if !boundary || !(bytes[i].is_ascii_alphabetic()) {
            i += 1;
            continue;
        }
        let (word, end) = ident(i);
        if !matches!(word.as_str(), "crate" | "super" | "self") || !code[end..].starts_with("::") {
            i = end.max(i + 1);
            continue;
        }
        // Resolve the leading `crate`/`super`/`self` words.
        let mut base: Vec<String> = Vec::new();
        let mut j = i;
        let mut first = true;
        loop {
            let (w, e) = ident(j);
            if !code[e..].starts_with("::") {
                break;
            }
            match w.as_str() {
                "crate" if first => base.clear(),
                "self" if first => base = module.to_vec(),
                "super" => {
                    if first {
                        base = module.to_vec();
                    }
                    base.pop();
                }
                _ => break,
            }
            first = false;
            j = e + 2;
        }
        i = tree(&code, j, base, &mut out);
    }
    out
}

/// Modules of different concepts must not import each other in a circle.
/// Each import is an edge between the two modules' branches under their
/// nearest common ancestor (`runtime::runner::exec` naming
/// `runtime::blocking` is an edge runner → blocking among `runtime`'s
/// children); a module naming its own ancestor or descendant is not an
/// edge. Every strongly connected set of siblings is a circle.
#[test]
fn no_modules_of_different_concepts_import_each_other_in_a_circle() {
    use petgraph::graph::DiGraph;
    let mut circles = Vec::new();
    for src in SOURCE_DIRS {
        let modules = modules_of(src);
        let known: BTreeSet<Vec<String>> = modules.iter().map(|(m, _)| m.clone()).collect();
        let mut edges: BTreeSet<(Vec<String>, Vec<String>)> = BTreeSet::new();
        // One file per edge, to say where a circle's imports are.
        let mut by: std::collections::BTreeMap<(Vec<String>, Vec<String>), String> = Default::default();
        for (module, file) in &modules {
            let text = std::fs::read_to_string(root().join(file)).unwrap_or_default();
            // Unit tests import whatever they test; only the module's own code counts.
            let text = text.split("\n#[cfg(test)]").next().unwrap_or("");
            for named in named_paths(text, module) {
                // The deepest known module the path goes through.
                let target = (0..=named.len()).rev().map(|n| named[..n].to_vec()).find(|p| known.contains(p)).unwrap_or_default();
                let common = module.iter().zip(&target).take_while(|(a, b)| a == b).count();
                if common == module.len() || common == target.len() {
                    continue;
                }
                let parent = module[..common].to_vec();
                let from = [parent.clone(), vec![module[common].clone()]].concat();
                let to = [parent, vec![target[common].clone()]].concat();
                by.entry((from.clone(), to.clone())).or_insert_with(|| format!("{file} names {}", named.join("::")));
                edges.insert((from, to));
            }
        }
        let mut graph = DiGraph::<Vec<String>, ()>::new();
        let mut index = std::collections::BTreeMap::new();
        for (a, b) in &edges {
            for m in [a, b] {
                if !index.contains_key(m) {
                    index.insert(m.clone(), graph.add_node(m.clone()));
                }
            }
            graph.add_edge(index[a], index[b], ());
        }
        for scc in petgraph::algo::kosaraju_scc(&graph) {
            if scc.len() > 1 {
                let mut names: Vec<String> = scc.iter().map(|n| format!("{src}::{}", graph[*n].join("::"))).collect();
                names.sort();
                let members: BTreeSet<&Vec<String>> = scc.iter().map(|n| &graph[*n]).collect();
                let why: Vec<&String> = by.iter().filter(|((a, b), _)| members.contains(a) && members.contains(b)).map(|(_, w)| w).collect();
                circles.push(format!("{}\n      {}", names.join(" ⇄ "), why.iter().map(|w| w.as_str()).collect::<Vec<_>>().join("\n      ")));
            }
        }
    }
    circles.sort();
    let known = |c: &String| NOT_YET_ACYCLIC.iter().any(|k| c.starts_with(&format!("{k}\n")));
    let new: Vec<&String> = circles.iter().filter(|c| !known(c)).collect();
    assert!(new.is_empty(), "modules import each other in a circle:\n  {}", new.iter().map(|c| c.as_str()).collect::<Vec<_>>().join("\n  "));
    let gone: Vec<&&str> = NOT_YET_ACYCLIC.iter().filter(|k| !circles.iter().any(|c| c.starts_with(&format!("{k}\n")))).collect();
    assert!(gone.is_empty(), "{gone:?} are no longer circles as listed: remove (or update) them in NOT_YET_ACYCLIC");
}
