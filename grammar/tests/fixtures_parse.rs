//! The `.flow` text the project ships parses without a syntax error: the
//! examples and the examples of docs/language.md. (The language tour,
//! `tests/fixtures/language.flowtest`, is parsed by the `flowc` package's
//! `tests/language.rs`, which reads the fixture format.)

use std::path::{Path, PathBuf};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("grammar/ sits in the workspace root").to_path_buf()
}

/// Every `*.flow` file below `dir`, sorted, so failures read the same every run.
fn flow_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("cannot read {}: {e}", d.display())) {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "flow") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn assert_parses_cleanly(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let parse = flowc_grammar::parse(&text);
    let errors: Vec<String> = parse
        .errors
        .iter()
        .map(|e| {
            let line = text[..e.span.start as usize].matches('\n').count() + 1;
            format!("  {}:{line}: {} {}", path.display(), e.kind.code(), e.message)
        })
        .collect();
    assert!(errors.is_empty(), "syntax errors in {}:\n{}", path.display(), errors.join("\n"));
    assert!(!parse.file.decls.is_empty(), "{} parsed to no declarations", path.display());
}

#[test]
fn examples_parse_without_errors() {
    let root = repo_root().join("examples");
    let files = flow_files(&root);
    for project in ["hello", "outbound_sdr", "dev_lifecycle", "build_feature", "approvals", "ci_pipeline"] {
        assert!(files.iter().any(|f| f.starts_with(root.join(project))), "examples/{project} has no .flow file");
    }
    for f in &files {
        assert_parses_cleanly(f);
    }
}

/// The reference page promises that its examples parse as shown.
#[test]
fn language_reference_examples_parse_without_errors() {
    let path = repo_root().join("docs/language.md");
    let page = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let blocks: Vec<&str> =
        page.split("```flow\n").skip(1).filter_map(|rest| rest.split_once("\n```")).map(|(b, _)| b).collect();
    assert!(blocks.len() >= 5, "docs/language.md has only {} flow examples", blocks.len());
    for block in blocks {
        let parse = flowc_grammar::parse(block);
        assert!(parse.errors.is_empty(), "a docs/language.md example does not parse:\n{block}\n{:#?}", parse.errors);
    }
}
