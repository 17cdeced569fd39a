//! Every catalogue page's examples run: the wrong one must produce exactly its
//! code, the fixed one nothing at all.

use flowc_compiler::{Code, check_files};

/// The first ```flow block after a `## Heading` line.
fn example(page: &str, heading: &str) -> Option<String> {
    let after = page.split_once(&format!("\n## {heading}\n"))?.1;
    let block = after.split_once("```flow\n")?.1;
    Some(block.split_once("\n```")?.0.to_string() + "\n")
}

#[test]
fn every_page_has_a_wrong_and_a_fixed_example_that_behave() {
    for code in Code::ALL {
        let page = code.page();
        let wrong = example(page, "Wrong").unwrap_or_else(|| panic!("{}: no `## Wrong` example", code.as_str()));
        let fixed = example(page, "Fixed").unwrap_or_else(|| panic!("{}: no `## Fixed` example", code.as_str()));

        let got = check_files(&[("wrong.flow", &wrong)]);
        let codes: Vec<&str> = got.iter().map(|d| d.code.as_str()).collect();
        assert!(!codes.is_empty(), "{}: the wrong example produced no diagnostic", code.as_str());
        assert!(
            codes.iter().all(|c| *c == code.as_str()),
            "{}: the wrong example produced {codes:?}:\n{got:#?}",
            code.as_str()
        );

        let got = check_files(&[("fixed.flow", &fixed)]);
        assert!(got.is_empty(), "{}: the fixed example produced {got:#?}", code.as_str());
    }
}
