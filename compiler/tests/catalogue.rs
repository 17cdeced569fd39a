//! Every catalogue page's examples run: the wrong one must produce exactly its
//! code, the fixed one nothing at all.

use flowc_compiler::{Code, ProjectSettings, check_files_with};

/// The first ```flow block after a `## Heading` line.
fn example(page: &str, heading: &str) -> Option<String> {
    let after = page.split_once(&format!("\n## {heading}\n"))?.1;
    let block = after.split_once("```flow\n")?.1;
    Some(block.split_once("\n```")?.0.to_string() + "\n")
}

/// The project's flowc.toml for a page's examples: a ```toml block after
/// `## Wrong` (it applies to both examples; pages about flowc.toml have one).
fn settings(page: &str) -> ProjectSettings {
    let Some(after) = page.split_once("\n## Wrong\n").map(|(_, a)| a) else { return ProjectSettings::default() };
    let section = after.split("\n## ").next().unwrap_or("");
    match section.split_once("```toml\n").and_then(|(_, b)| b.split_once("\n```")) {
        Some((text, _)) => ProjectSettings::parse(text).unwrap_or_else(|e| panic!("the page's flowc.toml: {e}")),
        None => ProjectSettings::default(),
    }
}

#[test]
fn every_page_has_a_wrong_and_a_fixed_example_that_behave() {
    let mut failures = Vec::new();
    for code in Code::ALL {
        let page = code.page();
        let (Some(wrong), Some(fixed)) = (example(page, "Wrong"), example(page, "Fixed")) else {
            failures.push(format!("{}: the page needs a `## Wrong` and a `## Fixed` ```flow example", code.as_str()));
            continue;
        };
        let settings = settings(page);
        let got = check_files_with(&[("wrong.flow", &wrong)], &settings);
        let codes: Vec<&str> = got.iter().map(|d| d.code.as_str()).collect();
        if codes.is_empty() || !codes.iter().all(|c| *c == code.as_str()) {
            let detail: Vec<String> = got.iter().map(|d| format!("{} {}", d.code.as_str(), d.message)).collect();
            failures.push(format!("{}: the wrong example produced {codes:?}: {detail:#?}", code.as_str()));
        }
        let got = check_files_with(&[("fixed.flow", &fixed)], &settings);
        if !got.is_empty() {
            let detail: Vec<String> = got.iter().map(|d| format!("{} {}", d.code.as_str(), d.message)).collect();
            failures.push(format!("{}: the fixed example produced {detail:#?}", code.as_str()));
        }
    }
    assert!(failures.is_empty(), "{} catalogue pages misbehave:\n{}", failures.len(), failures.join("\n"));
}
