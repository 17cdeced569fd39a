//! CEL conformance cases, written from the language definition
//! (google/cel-spec `doc/langdef.md`) and the strings extension's docs, as
//! data: `tests/cel_conformance/*.txt`, one case a line.
//!
//! ```text
//! # comment
//! 1 + 2 => 3                  # the checker accepts it and the evaluator gives this JSON
//! [1][5] => error             # the checker accepts it; evaluating it is a CEL error
//! 1 + 1u => E0408             # the checker rejects it with this code
//! ```
//!
//! Every accepted case runs through the interpreter's own CEL environment,
//! and its JSON value must be of the kind the checker inferred: the checker
//! and the evaluator agree on what an expression means, not just that it is
//! well formed. `inputs` is `{name: "Ada", n: 3, tags: ["a", "b"], extra: 2}`,
//! typed `{name: string, n: int, tags: list(string)}` (`extra` is there but
//! undeclared, as JSON data often is).

use std::sync::Arc;

use flowc_compiler::cel_check::{Expect, ExprSite, MapScope, check_expr};
use flowc_compiler::types::Ty;
use flowc_grammar::ast::{Expr, Span};
use flowc_interpreter::runtime::scope::{Evaluator, Scope, cel_env, to_cel};
use serde_json::{Value, json};

fn kind_matches(ty: &Ty, v: &Value) -> bool {
    match ty {
        Ty::Dyn => true,
        Ty::Null => v.is_null(),
        Ty::Bool => v.is_boolean(),
        Ty::Int | Ty::Uint => v.is_i64() || v.is_u64(),
        Ty::Double => v.is_number(),
        Ty::String | Ty::Bytes | Ty::Timestamp | Ty::Duration | Ty::Type => v.is_string(),
        Ty::List(_) => v.is_array(),
        Ty::Map(..) | Ty::Object(_) => v.is_object(),
        // The checker refuses an expression whose value is an optional
        // (it has no JSON): one that got here is a checker bug.
        Ty::Optional(_) => false,
    }
}

#[test]
fn conformance_cases_check_and_evaluate_alike() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cel_conformance");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert!(!files.is_empty());
    let inputs_ty: Ty = "{name: string, n: int, tags: list(string)}".parse().unwrap();
    let scope = MapScope::new().with_value("inputs", inputs_ty);
    let env = Arc::new(cel_env());
    let mut bound = Scope::default();
    bound.bind("inputs", to_cel(&json!({"name": "Ada", "n": 3, "tags": ["a", "b"], "extra": 2})));
    let (mut cases, mut failures) = (0, Vec::new());
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let at = format!("{name}:{}", n + 1);
            let Some((expr_text, want)) = line.rsplit_once(" => ") else {
                failures.push(format!("{at}: no ` => `"));
                continue;
            };
            cases += 1;
            let (expr_text, want) = (expr_text.trim(), want.trim());
            let expr = Expr { text: expr_text.to_string(), span: Span::new(0, expr_text.len() as u32) };
            let checked = check_expr("case.flow", &expr, ExprSite::Backtick, Expect::Any, &scope);
            let codes: Vec<&str> = checked.diagnostics.iter().map(|d| d.code.as_str()).collect();
            if want.starts_with('E') || want.starts_with('W') {
                if codes != [want] {
                    failures.push(format!("{at}: `{expr_text}`: the checker should report {want}, reported {codes:?}"));
                }
                continue;
            }
            if !codes.is_empty() {
                let messages: Vec<&str> = checked.diagnostics.iter().map(|d| d.message.as_str()).collect();
                failures.push(format!("{at}: `{expr_text}`: the checker reports {codes:?} {messages:?}"));
                continue;
            }
            let program = match env.compile(expr_text) {
                Ok(p) => p,
                Err(e) => {
                    failures.push(format!("{at}: `{expr_text}`: the evaluator cannot parse it: {e}"));
                    continue;
                }
            };
            let exprs = vec![expr_text.to_string()];
            let programs = vec![program];
            let ev = Evaluator { env: &env, programs: &programs, exprs: &exprs };
            let got = ev.eval(0, &bound);
            match (want, got) {
                ("error", Err(_)) => {}
                ("error", Ok(v)) => failures.push(format!("{at}: `{expr_text}`: should fail, gave {v}")),
                (_, Err(e)) => failures.push(format!("{at}: {e}")),
                (want, Ok(v)) => {
                    let want: Value = match serde_json::from_str(want) {
                        Ok(w) => w,
                        Err(e) => {
                            failures.push(format!("{at}: the expected value is not JSON: {e}"));
                            continue;
                        }
                    };
                    if v != want {
                        failures.push(format!("{at}: `{expr_text}` gave {v}, expected {want}"));
                    } else if !kind_matches(&checked.ty, &v) {
                        failures.push(format!("{at}: `{expr_text}` gave {v}, but the checker typed it {}", checked.ty.brief()));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} of {cases} cases fail:\n{}", failures.len(), failures.join("\n"));
}
