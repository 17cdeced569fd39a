//! Random well-typed CEL expressions, built from the function table the
//! checker reads (`flowc_plan::cel_functions::FUNCTIONS`) and CEL's
//! operators: the checker accepts every one without a diagnostic, and the
//! interpreter's evaluator never fails on one with a name, overload or type
//! error, and gives a value of the type the expression was built to have.
//! Errors of the values themselves (a string that is no regex or time zone,
//! an index out of range, an overflow) are CEL errors and allowed.

use std::sync::Arc;

use cel::{ExecutionError, Value};
use flowc_compiler::cel_check::{Expect, ExprSite, MapScope, check_expr};
use flowc_compiler::types::Ty;
use flowc_grammar::ast::{Expr, Span};
use flowc_interpreter::runtime::scope::{Scope, cel_context, cel_env, to_cel};
use flowc_plan::cel_functions::{CelTy, FUNCTIONS};
use proptest::prelude::*;

const TYPES: &[CelTy] = &[
    CelTy::Bool,
    CelTy::Int,
    CelTy::Uint,
    CelTy::Double,
    CelTy::String,
    CelTy::Bytes,
    CelTy::Duration,
    CelTy::Timestamp,
    CelTy::List,
    CelTy::ListString,
    CelTy::Map,
];

fn leaf(ty: CelTy) -> BoxedStrategy<String> {
    let options: Vec<&'static str> = match ty {
        CelTy::Bool => vec!["true", "false"],
        CelTy::Int => vec!["0", "1", "-3", "42", "inputs.n"],
        CelTy::Uint => vec!["0u", "7u"],
        CelTy::Double => vec!["0.5", "-2.0", "1e3"],
        CelTy::String => vec!["''", "'a,b'", "'Hello'", "'%s'", "'UTC'", "'^a'", "inputs.name"],
        CelTy::Bytes => vec!["b''", "b'xy'"],
        CelTy::Duration => vec!["duration('90s')", "duration('1h')"],
        CelTy::Timestamp => vec!["timestamp('2024-01-02T03:04:05Z')", "run.started_at"],
        CelTy::List => vec!["[]", "[1, 2]", "['x']"],
        CelTy::ListString => vec!["['a', 'b']", "inputs.tags"],
        CelTy::Map => vec!["{'k': 1}", "{1: 'a'}"],
        CelTy::Dyn => vec!["dyn(1)", "dyn('s')"],
        // Optionals of int, the only kind `opt_int` builds.
        CelTy::Optional => vec!["optional.of(1)", "optional.none()", "{'a': 2}.?a", "{'a': 2}.?b", "[3][?0]", "inputs.?n"],
    };
    prop::sample::select(options).prop_map(str::to_string).boxed()
}

/// `a OP b` with both sides of type `operand`.
fn binary(operand: CelTy, op: &'static str, depth: u32) -> BoxedStrategy<String> {
    (expr(operand, depth - 1), expr(operand, depth - 1)).prop_map(move |(a, b)| format!("({a}) {op} ({b})")).boxed()
}

fn expr(ty: CelTy, depth: u32) -> BoxedStrategy<String> {
    if depth == 0 {
        return leaf(ty);
    }
    if ty == CelTy::Dyn {
        return prop::sample::select(TYPES).prop_flat_map(move |t| expr(t, depth - 1)).boxed();
    }
    let mut options: Vec<BoxedStrategy<String>> = vec![leaf(ty)];
    // The table types optionals loosely (`orValue` takes any default, `or`
    // any optional); `opt_int` builds well-typed ones instead.
    let optional = |o: &&flowc_plan::cel_functions::Overload| {
        o.receiver == Some(CelTy::Optional) || o.result == CelTy::Optional || o.args.contains(&CelTy::Optional)
    };
    let calls: Vec<_> = FUNCTIONS.iter().filter(|o| o.result == ty && !optional(o)).collect();
    if !calls.is_empty() {
        options.push(
            prop::sample::select(calls)
                .prop_flat_map(move |o| {
                    let recv: Vec<BoxedStrategy<String>> = o.receiver.map(|r| expr(r, depth - 1)).into_iter().collect();
                    let args: Vec<BoxedStrategy<String>> = o.args.iter().map(|a| expr(*a, depth - 1)).collect();
                    (recv, args).prop_map(move |(recv, args)| {
                        let args = args.iter().map(|a| format!("({a})")).collect::<Vec<_>>().join(", ");
                        match recv.first() {
                            Some(r) => format!("({r}).{}({args})", o.name),
                            None => format!("{}({args})", o.name),
                        }
                    })
                })
                .boxed(),
        );
    }
    match ty {
        CelTy::Int => {
            options.push(
                (opt_int(depth - 1), expr(CelTy::Int, depth - 1))
                    .prop_map(|(o, d)| format!("({o}).orValue({d})"))
                    .boxed(),
            );
            options.push(binary(CelTy::Int, "+", depth));
            options.push(binary(CelTy::Int, "*", depth));
            options.push(binary(CelTy::Int, "%", depth));
        }
        CelTy::Double => options.push(binary(CelTy::Double, "-", depth)),
        CelTy::String => options.push(binary(CelTy::String, "+", depth)),
        CelTy::Duration => {
            options.push(binary(CelTy::Duration, "+", depth));
            options.push(binary(CelTy::Timestamp, "-", depth));
        }
        CelTy::Timestamp => options.push(
            (expr(CelTy::Timestamp, depth - 1), expr(CelTy::Duration, depth - 1))
                .prop_map(|(t, d)| format!("({t}) + ({d})"))
                .boxed(),
        ),
        CelTy::Bool => {
            options.push(opt_int(depth - 1).prop_map(|o| format!("({o}).hasValue()")).boxed());
            options.push(binary(CelTy::Bool, "&&", depth));
            options.push(binary(CelTy::String, "<", depth));
            options.push(binary(CelTy::Timestamp, ">=", depth));
            options.push(binary(CelTy::Int, "==", depth));
            options.push(
                (expr(CelTy::String, depth - 1), expr(CelTy::ListString, depth - 1))
                    .prop_map(|(s, l)| format!("({s}) in ({l})"))
                    .boxed(),
            );
            options.push(expr(CelTy::ListString, depth - 1).prop_map(|l| format!("({l}).exists(x, x.size() > 1)")).boxed());
        }
        CelTy::ListString => {
            options.push(binary(CelTy::ListString, "+", depth));
            options.push(
                (expr(CelTy::Bool, depth - 1), expr(CelTy::ListString, depth - 1), expr(CelTy::ListString, depth - 1))
                    .prop_map(|(c, a, b)| format!("({c}) ? ({a}) : ({b})"))
                    .boxed(),
            );
            options.push(expr(CelTy::ListString, depth - 1).prop_map(|l| format!("({l}).map(x, x.upperAscii())")).boxed());
        }
        _ => {}
    }
    prop::strategy::Union::new(options).boxed()
}

/// An expression of type `optional(int)`.
fn opt_int(depth: u32) -> BoxedStrategy<String> {
    if depth == 0 {
        return leaf(CelTy::Optional);
    }
    let d = depth - 1;
    prop::strategy::Union::new(vec![
        leaf(CelTy::Optional),
        expr(CelTy::Int, d).prop_map(|i| format!("optional.of({i})")).boxed(),
        expr(CelTy::Int, d).prop_map(|i| format!("optional.ofNonZeroValue({i})")).boxed(),
        (opt_int(d), opt_int(d)).prop_map(|(a, b)| format!("({a}).or({b})")).boxed(),
        expr(CelTy::Int, d).prop_map(|i| format!("{{'k': {i}}}.?k")).boxed(),
        (opt_int(d), expr(CelTy::Int, d)).prop_map(|(o, i)| format!("[?({o}), {i}][?0]")).boxed(),
        (opt_int(d), expr(CelTy::Int, d)).prop_map(|(o, i)| format!("{{?'k': ({o}), 'j': {i}}}[?'k']")).boxed(),
    ])
    .boxed()
}

fn typed() -> impl Strategy<Value = (CelTy, String)> {
    prop::sample::select(TYPES).prop_flat_map(|t| (Just(t), expr(t, 3)))
}

fn has_type(value: &Value, ty: CelTy) -> bool {
    match (ty, value) {
        (CelTy::Dyn, _) => true,
        (CelTy::Bool, Value::Bool(_)) | (CelTy::Int, Value::Int(_)) | (CelTy::Uint, Value::UInt(_)) => true,
        (CelTy::Double, Value::Float(_)) | (CelTy::String, Value::String(_)) | (CelTy::Bytes, Value::Bytes(_)) => true,
        (CelTy::Duration, Value::Duration(_)) | (CelTy::Timestamp, Value::Timestamp(_)) => true,
        (CelTy::List, Value::List(_)) | (CelTy::Map, Value::Map(_)) => true,
        (CelTy::ListString, Value::List(items)) => items.iter().all(|v| matches!(v, Value::String(_))),
        _ => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn well_typed_expressions_check_clean_and_evaluate_without_type_errors((ty, text) in typed()) {
        let scope = MapScope::new()
            .with_value("inputs", "{name: string, n: int, tags: list(string)}".parse::<Ty>().unwrap())
            .with_value("run", "{started_at: timestamp}".parse::<Ty>().unwrap());
        let expr = Expr { text: text.clone(), span: Span::new(0, text.len() as u32) };
        let checked = check_expr("gen.flow", &expr, ExprSite::Backtick, Expect::Any, &scope);
        let messages: Vec<&str> = checked.diagnostics.iter().map(|d| d.message.as_str()).collect();
        prop_assert!(messages.is_empty(), "`{}`: the checker reports {:?}", text, messages);

        let env = Arc::new(cel_env());
        let program = env.compile(&text);
        prop_assert!(program.is_ok(), "`{}` does not parse in the evaluator", text);
        let mut bound = Scope::default();
        bound.bind("inputs", to_cel(&serde_json::json!({"name": "Ada", "n": 3, "tags": ["a", "b"]})));
        bound.bind("run", flowc_interpreter::runtime::scope::cel_map([("started_at", flowc_interpreter::runtime::scope::timestamp_ms(1_700_000_000_000))]));
        let mut ctx = cel_context(&env);
        ctx.set_variable_resolver(&bound);
        match program.unwrap().execute(&ctx) {
            Ok(v) => prop_assert!(has_type(&v, ty), "`{}` gave {:?}, not {:?}", text, v, ty),
            Err(e @ (ExecutionError::UndeclaredReference(_)
                | ExecutionError::NoSuchOverload(_)
                | ExecutionError::UnexpectedType { .. }
                | ExecutionError::NotSupportedAsMethod { .. }
                | ExecutionError::InvalidArgumentCount { .. }
                | ExecutionError::UnsupportedTargetType { .. }
                | ExecutionError::UnsupportedBinaryOperator(..)
                | ExecutionError::ValuesNotComparable(..))) => {
                prop_assert!(false, "`{}`: {}", text, e);
            }
            Err(_) => {}
        }
    }
}
