//! Every overload of the function table the checker reads
//! (`flowc_plan::cel_functions::FUNCTIONS`) evaluates in the interpreter's
//! CEL environment: called with sample arguments of its declared types, it
//! is found (no undeclared reference, no missing overload, no unexpected
//! type) and returns a value of its declared result type. Errors of the
//! function itself (a sample string that is no time zone) are allowed.

use std::sync::Arc;

use cel::{ExecutionError, Value};
use flowc_interpreter::runtime::scope::{cel_context, cel_env};
use flowc_plan::cel_functions::{CelTy, FUNCTIONS};

fn has_type(value: &Value, ty: CelTy) -> bool {
    match (ty, value) {
        (CelTy::Dyn, _) => true,
        (CelTy::Bool, Value::Bool(_)) | (CelTy::Int, Value::Int(_)) | (CelTy::Uint, Value::UInt(_)) => true,
        (CelTy::Double, Value::Float(_)) | (CelTy::String, Value::String(_)) | (CelTy::Bytes, Value::Bytes(_)) => true,
        (CelTy::Duration, Value::Duration(_)) | (CelTy::Timestamp, Value::Timestamp(_)) => true,
        (CelTy::List, Value::List(_)) | (CelTy::Map, Value::Map(_)) => true,
        (CelTy::ListString, Value::List(items)) => items.iter().all(|v| matches!(v, Value::String(_))),
        (CelTy::Optional, Value::Opaque(o)) => o.runtime_type_name() == "optional_type",
        _ => false,
    }
}

#[test]
fn every_overload_the_checker_knows_evaluates() {
    let env = Arc::new(cel_env());
    let mut failures = Vec::new();
    for overload in FUNCTIONS {
        let call = overload.sample_call();
        let program = match env.compile(&call) {
            Ok(p) => p,
            Err(e) => {
                failures.push(format!("{call}: does not parse: {e}"));
                continue;
            }
        };
        let ctx = cel_context(&env);
        match program.execute(&ctx) {
            Ok(value) if has_type(&value, overload.result) => {}
            Ok(value) => failures.push(format!("{call}: returned {value:?}, not {:?}", overload.result)),
            Err(
                e @ (ExecutionError::UndeclaredReference(_)
                | ExecutionError::NoSuchOverload(_)
                | ExecutionError::UnexpectedType { .. }
                | ExecutionError::NotSupportedAsMethod { .. }
                | ExecutionError::InvalidArgumentCount { .. }
                | ExecutionError::UnsupportedTargetType { .. }),
            ) => failures.push(format!("{call}: {e}")),
            Err(_) => {}
        }
    }
    assert!(failures.is_empty(), "overloads the checker accepts but the evaluator does not:\n{}", failures.join("\n"));
}

/// The optional syntax the checker accepts (`x.?f`, `m[?k]`, `optional.of`,
/// `optional.none`, `.hasValue()`, `.value()`, `.orValue()`, `.or()`)
/// evaluates.
#[test]
fn optional_syntax_evaluates() {
    let env = Arc::new(cel_env());
    let cases = [
        ("{'a': 1}.?a.orValue(5)", Value::Int(1)),
        ("{'a': 1}.?b.orValue(5)", Value::Int(5)),
        ("{'a': 1}[?'a'].hasValue()", Value::Bool(true)),
        ("{'a': 1}[?'b'].hasValue()", Value::Bool(false)),
        ("[1, 2][?1].value()", Value::Int(2)),
        ("[1, 2][?5].orValue(0)", Value::Int(0)),
        ("optional.of(3).value()", Value::Int(3)),
        ("optional.none().orValue('d')", Value::String(Arc::new("d".into()))),
        ("optional.none().or(optional.of(2)).value()", Value::Int(2)),
        ("{'a': {'b': 1}}.?a.?b.orValue(0)", Value::Int(1)),
        ("{'a': {'b': 1}}.?x.?b.orValue(0)", Value::Int(0)),
    ];
    for (text, want) in cases {
        let program = env.compile(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        let got = program.execute(&cel_context(&env));
        assert_eq!(got, Ok(want), "{text}");
    }
}
