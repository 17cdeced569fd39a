//! `--format json`: an array of diagnostics.

use flowc_compiler::Diagnostic;
use serde_json::{Value, json};

use super::Files;
use super::Sources;

pub fn render(diags: &[Diagnostic], sources: &Sources) -> String {
    let files = Files::new(sources);
    let items: Vec<Value> = diags.iter().map(|d| to_json(d, &files)).collect();
    serde_json::to_string_pretty(&items).unwrap_or_else(|_| "[]".into())
}

pub fn to_json(d: &Diagnostic, files: &Files<'_>) -> Value {
    let ((line, column), (end_line, end_column)) = files.positions(d);
    let related: Vec<Value> = d
        .related
        .iter()
        .map(|r| {
            let (l, c) = files.line_col(&r.path, r.span.start);
            json!({"file": r.path, "span": {"start": r.span.start, "end": r.span.end}, "line": l, "column": c, "message": r.message})
        })
        .collect();
    json!({
        "code": d.code.as_str(),
        "severity": d.severity.as_str(),
        "message": d.message,
        "file": d.path,
        "span": {"start": d.span.start, "end": d.span.end},
        "line": line,
        "column": column,
        "end_line": end_line,
        "end_column": end_column,
        "label": d.label,
        "help": d.help,
        "related": related,
    })
}
