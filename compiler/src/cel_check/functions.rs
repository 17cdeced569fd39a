//! The functions an expression can call: CEL's standard library as the
//! `cel` crate declares it (`Env::stdlib`: conversions, `size`, the string
//! tests, the timestamp and duration accessors) plus `max` and `min`, which
//! the crate provides as `cel::functions::{max, min}`.
//!
//! This list is the contract with the interpreter: a function named here
//! must be registered in its CEL context, and one it adds must be added here,
//! or expressions using it are reported as unknown (E0411). Note what that
//! takes of the crate: `duration`, `timestamp` and their accessors need its
//! `chrono` feature, `matches` its `regex` feature (the workspace depends on
//! it with default features off; the interpreter turns both on, and
//! `tests/semantics.rs` runs them), and `max`/`min` are not in
//! `Env::stdlib`: the interpreter registers `cel::functions::max` and `min`
//! itself.

use flowc_grammar::ast::Span;

use super::check::{Checker, did_you_mean};
use super::syntax::Node;
use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::types::Ty;

/// Called as `name(x, …)`.
pub const GLOBAL: &[&str] = &[
    "bool",
    "bytes",
    "double",
    "duration",
    "dyn",
    "int",
    "matches",
    "max",
    "min",
    "size",
    "string",
    "timestamp",
    "type",
    "uint",
];

/// Called as `x.name(…)`.
pub const MEMBER: &[&str] = &[
    "contains",
    "endsWith",
    "getDate",
    "getDayOfMonth",
    "getDayOfWeek",
    "getDayOfYear",
    "getFullYear",
    "getHours",
    "getMilliseconds",
    "getMinutes",
    "getMonth",
    "getSeconds",
    "matches",
    "size",
    "startsWith",
];

/// Macros reach here only when called the wrong way (a macro call with the
/// right shape is a `Macro` node).
const MACROS: &[(&str, &str)] = &[
    ("all", "`list.all(x, x > 0)`"),
    ("exists", "`list.exists(x, x > 0)`"),
    ("exists_one", "`list.exists_one(x, x > 0)`"),
    ("existsOne", "`list.existsOne(x, x > 0)`"),
    ("map", "`list.map(x, x * 2)` or `list.map(x, x > 0, x * 2)`"),
    ("filter", "`list.filter(x, x > 0)`"),
    ("has", "`has(x.field)`"),
];

type Accepts = fn(&Ty) -> bool;

fn sized(t: &Ty) -> bool {
    matches!(t, Ty::String | Ty::Bytes | Ty::List(_) | Ty::Map(..) | Ty::Object(_))
}

/// What a conversion function accepts and returns.
fn conversion(name: &str) -> Option<(Accepts, &'static str, Ty)> {
    Some(match name {
        "int" => (
            |t| matches!(t, Ty::Int | Ty::Uint | Ty::Double | Ty::String | Ty::Timestamp),
            "a number, string or timestamp",
            Ty::Int,
        ),
        "uint" => (|t| matches!(t, Ty::Int | Ty::Uint | Ty::Double | Ty::String), "a number or string", Ty::Uint),
        "double" => (|t| matches!(t, Ty::Int | Ty::Uint | Ty::Double | Ty::String), "a number or string", Ty::Double),
        "string" => (
            |t| {
                matches!(
                    t,
                    Ty::Int | Ty::Uint | Ty::Double | Ty::String | Ty::Bool | Ty::Bytes | Ty::Timestamp | Ty::Duration
                )
            },
            "a number, string, bool, bytes, timestamp or duration",
            Ty::String,
        ),
        "bool" => (|t| matches!(t, Ty::Bool | Ty::String), "a bool or string", Ty::Bool),
        "bytes" => (|t| matches!(t, Ty::String | Ty::Bytes), "a string or bytes", Ty::Bytes),
        "duration" => (|t| matches!(t, Ty::String | Ty::Duration), "a string like '1h30m'", Ty::Duration),
        "timestamp" => {
            (|t| matches!(t, Ty::String | Ty::Int | Ty::Timestamp), "an RFC 3339 string or seconds", Ty::Timestamp)
        }
        "size" => (sized, "a string, bytes, list or map", Ty::Int),
        _ => return None,
    })
}

pub(super) fn is_macro(name: &str) -> bool {
    MACROS.iter().any(|(m, _)| *m == name)
}

/// A macro name called with the wrong shape (`list.all(x)`, `exists(l, p)`).
pub(super) fn misused_macro(c: &mut Checker<'_>, has_target: bool, name: &str, name_span: Span, arg_count: usize) {
    let usage = MACROS.iter().find(|(m, _)| *m == name).map_or("", |(_, u)| u);
    let style_ok = (name == "has") != has_target;
    let message = if style_ok {
        let takes = if name == "has" { "one field selection" } else { "a variable and an expression" };
        format!("`{name}` takes {takes}, found {}", plural(arg_count, "argument"))
    } else {
        format!("`{name}` cannot be called this way")
    };
    let d = Diagnostic::new(Code::UnknownFunction, c.path(), name_span, message)
        .with_label("not a valid macro call")
        .with_help(format!("write it as {usage}"));
    c.report(d);
}

pub(super) fn call(
    c: &mut Checker<'_>,
    target: Option<(&Node, &Ty)>,
    name: &str,
    name_span: Span,
    args: &[Node],
    tys: &[Ty],
) -> Ty {
    match target {
        None => global(c, name, name_span, args, tys),
        Some((recv, recv_ty)) => member(c, recv, recv_ty, name, name_span, args, tys),
    }
}

fn global(c: &mut Checker<'_>, name: &str, name_span: Span, args: &[Node], tys: &[Ty]) -> Ty {
    if let Some((accepts, what, result)) = conversion(name) {
        if arity(c, name, name_span, args.len(), 1, 1) {
            expect_arg(c, name, &args[0], &tys[0], accepts, what);
        }
        return result;
    }
    match name {
        "dyn" => {
            arity(c, name, name_span, args.len(), 1, 1);
            Ty::Dyn
        }
        "type" => {
            arity(c, name, name_span, args.len(), 1, 1);
            Ty::Type
        }
        "matches" => {
            if arity(c, name, name_span, args.len(), 2, 2) {
                for (a, t) in args.iter().zip(tys) {
                    expect_arg(c, name, a, t, |t| matches!(t, Ty::String), "a string");
                }
            }
            Ty::Bool
        }
        "max" | "min" => extremum(c, name, name_span, args, tys),
        _ => {
            let hint = if MEMBER.contains(&name) {
                Some(format!("`{name}` is a method: write `x.{name}(…)`"))
            } else {
                did_you_mean(name, GLOBAL).map(|s| format!("did you mean `{s}`?"))
            };
            unknown(c, name_span, format!("unknown function `{name}`"), hint.or_else(|| Some(available())));
            Ty::Dyn
        }
    }
}

fn member(
    c: &mut Checker<'_>,
    recv: &Node,
    recv_ty: &Ty,
    name: &str,
    name_span: Span,
    args: &[Node],
    tys: &[Ty],
) -> Ty {
    let receiver = |c: &mut Checker<'_>, accepts: Accepts, what: &str| {
        if !recv_ty.is_dyn() && !accepts(recv_ty) {
            let text = c.text(recv).to_string();
            c.mismatch(
                recv.span,
                format!("`{name}` applies to {what}, found {}", recv_ty.brief()),
                format!("`{text}` is {}", recv_ty.brief()),
                None,
            );
        }
    };
    match name {
        "size" => {
            receiver(c, sized, "a string, bytes, list or map");
            arity(c, name, name_span, args.len(), 0, 0);
            Ty::Int
        }
        "contains" | "startsWith" | "endsWith" | "matches" => {
            receiver(c, |t| matches!(t, Ty::String), "a string");
            if arity(c, name, name_span, args.len(), 1, 1) {
                expect_arg(c, name, &args[0], &tys[0], |t| matches!(t, Ty::String), "a string");
            }
            Ty::Bool
        }
        "getHours" | "getMinutes" | "getSeconds" | "getMilliseconds" => {
            receiver(c, |t| matches!(t, Ty::Timestamp | Ty::Duration), "a timestamp or duration");
            let max = if matches!(recv_ty, Ty::Duration) { 0 } else { 1 };
            if arity(c, name, name_span, args.len(), 0, max) && args.len() == 1 {
                expect_arg(c, name, &args[0], &tys[0], |t| matches!(t, Ty::String), "a time zone string");
            }
            Ty::Int
        }
        "getFullYear" | "getMonth" | "getDayOfYear" | "getDayOfMonth" | "getDate" | "getDayOfWeek" => {
            receiver(c, |t| matches!(t, Ty::Timestamp), "a timestamp");
            if arity(c, name, name_span, args.len(), 0, 1) && args.len() == 1 {
                expect_arg(c, name, &args[0], &tys[0], |t| matches!(t, Ty::String), "a time zone string");
            }
            Ty::Int
        }
        _ => {
            let hint = if GLOBAL.contains(&name) {
                Some(format!("`{name}` is a function: write `{name}({})`", c.text(recv)))
            } else {
                did_you_mean(name, MEMBER).map(|s| format!("did you mean `{s}`?"))
            };
            unknown(c, name_span, format!("unknown method `{name}`"), hint.or_else(|| Some(available())));
            Ty::Dyn
        }
    }
}

/// `max(a, b, …)` / `max(list)`: the common type of what is compared.
fn extremum(c: &mut Checker<'_>, name: &str, name_span: Span, args: &[Node], tys: &[Ty]) -> Ty {
    if args.is_empty() {
        unknown(c, name_span, format!("`{name}` takes at least 1 argument, found 0"), None);
        return Ty::Dyn;
    }
    let items: Vec<Ty> = match tys {
        [Ty::List(e)] => vec![(**e).clone()],
        _ => tys.to_vec(),
    };
    if items.iter().any(Ty::is_dyn) {
        return Ty::Dyn;
    }
    let first = &items[0];
    if items.iter().all(|t| t == first) {
        return first.clone();
    }
    if items.iter().all(Ty::is_numeric) {
        // Mixed numbers compare fine, but the result is whichever won.
        return Ty::Dyn;
    }
    let span = args[0].span.cover(args[args.len() - 1].span);
    let kinds: Vec<&str> = items.iter().map(Ty::kind_name).collect();
    c.mismatch(
        span,
        format!("`{name}` cannot compare {}", kinds.join(" and ")),
        "mixed types".into(),
        Some("compare values of one type (numbers may mix)".into()),
    );
    Ty::Dyn
}

/// Checks the argument count; false (after reporting) when it is wrong.
fn arity(c: &mut Checker<'_>, name: &str, name_span: Span, found: usize, min: usize, max: usize) -> bool {
    if (min..=max).contains(&found) {
        return true;
    }
    let takes = if min == max { plural(min, "argument") } else { format!("{min} to {}", plural(max, "argument")) };
    let d =
        Diagnostic::new(Code::UnknownFunction, c.path(), name_span, format!("`{name}` takes {takes}, found {found}"))
            .with_label("wrong number of arguments");
    c.report(d);
    false
}

fn expect_arg(c: &mut Checker<'_>, name: &str, arg: &Node, t: &Ty, accepts: Accepts, what: &str) {
    if t.is_dyn() || accepts(t) {
        return;
    }
    c.mismatch(arg.span, format!("`{name}` needs {what}, found {}", t.brief()), format!("this is {}", t.brief()), None);
}

fn unknown(c: &mut Checker<'_>, span: Span, message: String, help: Option<String>) {
    let mut d = Diagnostic::new(Code::UnknownFunction, c.path(), span, message).with_label("no such function");
    d.help = help;
    c.report(d);
}

fn available() -> String {
    let functions: Vec<String> =
        GLOBAL.iter().filter(|n| !matches!(**n, "dyn" | "type")).map(|n| format!("`{n}`")).collect();
    format!(
        "the functions are {}; the methods are `contains`, `startsWith`, `endsWith`, `matches`, `size` and the timestamp accessors (`getHours()`, …)",
        functions.join(", ")
    )
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 { format!("1 {word}") } else { format!("{n} {word}s") }
}
