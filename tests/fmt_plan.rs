//! Formatting preserves meaning: the plans compiled from formatted sources
//! equal the plans compiled from the originals (source line numbers aside,
//! since formatting may move lines).

use flowc_compiler::{Database, Project, SourceFile};
use serde_json::Value;

/// Every workflow's plan, as JSON without `line` fields, or `None` when the
/// project does not check clean or lower (the formatter's other properties
/// still cover it).
fn plans(files: &[(String, String)]) -> Option<Vec<Value>> {
    let db = Database::default();
    let inputs: Vec<SourceFile> = files.iter().map(|(p, t)| SourceFile::new(&db, p.clone(), t.clone())).collect();
    let project = Project::new(&db, inputs);
    if flowc_compiler::check_project(&db, project).iter().any(|d| d.is_error()) {
        return None;
    }
    let index = flowc_compiler::model::item_index(&db, project);
    let mut out = Vec::new();
    for name in index.names(flowc_grammar::ast::DeclKind::Workflow) {
        let plan = flowc_compiler::lower::lower(&db, project, name).ok()?;
        let mut json = serde_json::to_value(&plan).expect("a plan serialises");
        strip_lines(&mut json);
        out.push(json);
    }
    Some(out)
}

fn strip_lines(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.remove("line");
            map.values_mut().for_each(strip_lines);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_lines),
        _ => {}
    }
}

fn projects() -> Vec<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut dirs: Vec<_> = std::fs::read_dir("examples").expect("examples").map(|e| e.expect("entry").path()).collect();
    dirs.push("tests/fixtures/graph".into());
    dirs.sort();
    for dir in dirs {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(&dir).expect("dir") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "flow") {
                files.push((path.to_string_lossy().into_owned(), std::fs::read_to_string(&path).expect("text")));
            }
        }
        if !files.is_empty() {
            out.push(files);
        }
    }
    out
}

#[test]
fn formatting_does_not_change_any_plan() {
    let mut compared = 0;
    for files in projects() {
        let Some(before) = plans(&files) else { continue };
        let formatted: Vec<(String, String)> = files
            .iter()
            .map(|(p, t)| (p.clone(), flowc_grammar::format(t).unwrap_or_else(|_| panic!("{p} formats"))))
            .collect();
        let after = plans(&formatted).unwrap_or_else(|| panic!("{} stops checking clean once formatted", files[0].0));
        assert_eq!(before, after, "formatting changed a plan of {}", files[0].0);
        compared += before.len();
    }
    assert!(compared >= 2, "too few plans compared ({compared}): the property would test nothing");
}
