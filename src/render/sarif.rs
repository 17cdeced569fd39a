//! `--format sarif`: a SARIF 2.1.0 log.

use std::collections::BTreeMap;

use flowc_compiler::{Diagnostic, Severity};
use flowc_grammar::ast::Span;
use serde_json::{Value, json};

use super::Files;
use super::Sources;

pub fn render(diags: &[Diagnostic], sources: &Sources) -> String {
    let files = Files::new(sources);
    // One rule per code that occurs, in code order; results point at them by index.
    let codes: BTreeMap<&str, &Diagnostic> = diags.iter().map(|d| (d.code.as_str(), d)).collect();
    let index_of: BTreeMap<&str, usize> = codes.keys().enumerate().map(|(i, c)| (*c, i)).collect();
    let rules: Vec<Value> = codes
        .values()
        .map(|d| {
            json!({
                "id": d.code.as_str(),
                "name": d.code.title(),
                "shortDescription": {"text": d.code.summary()},
                "fullDescription": {"markdown": d.code.page(), "text": d.code.summary()},
                "help": {"text": format!("flowc explain {}", d.code.as_str()), "markdown": d.code.page()},
                "defaultConfiguration": {"level": level(d.code.severity())},
            })
        })
        .collect();
    let results: Vec<Value> = diags
        .iter()
        .map(|d| {
            let mut text = d.message.clone();
            if let Some(help) = &d.help {
                text.push_str("\nhelp: ");
                text.push_str(help);
            }
            let related: Vec<Value> = d
                .related
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    json!({
                        "id": i,
                        "physicalLocation": physical(&r.path, r.span, &files),
                        "message": {"text": r.message},
                    })
                })
                .collect();
            let mut result = json!({
                "ruleId": d.code.as_str(),
                "ruleIndex": index_of[d.code.as_str()],
                "level": level(d.severity),
                "message": {"text": text},
                "locations": [{"physicalLocation": physical(&d.path, d.span, &files)}],
            });
            if !related.is_empty() {
                result["relatedLocations"] = Value::Array(related);
            }
            result
        })
        .collect();
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "flowc",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/flowc-dev/flowc",
                "rules": rules,
            }},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    });
    serde_json::to_string_pretty(&log).unwrap_or_default()
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

fn physical(path: &str, span: Span, files: &Files<'_>) -> Value {
    let ((start_line, start_column), (end_line, end_column)) = files.span(path, span);
    json!({
        "artifactLocation": {"uri": path.replace('\\', "/")},
        "region": {
            "startLine": start_line,
            "startColumn": start_column,
            "endLine": end_line,
            "endColumn": end_column,
            "byteOffset": span.start,
            "byteLength": span.end.saturating_sub(span.start),
        },
    })
}
