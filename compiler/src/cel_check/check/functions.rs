//! The functions an expression can call, checked against
//! `flowc_plan::cel_functions::FUNCTIONS`: the one table of overloads that
//! the interpreter's CEL environment is proved against
//! (`interpreter/tests/cel_functions.rs`). Names come from the table; the
//! conversions, `size`, the string tests, the timestamp accessors and
//! `max`/`min` keep rules of their own here for sharper messages, every
//! other function (the strings extension: `lowerAscii`, `split`, `format`,
//! …) is resolved from the table's overloads alone.

use flowc_grammar::ast::Span;
use flowc_plan::cel_functions::{self, CelTy, Overload};

use super::{Checker, did_you_mean};
use crate::cel_check::syntax::Node;
use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::types::Ty;

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
            if arity(c, name, name_span, args.len(), 1, 1) && tys[0].contains_optional() {
                // `dyn()` hides the type, not the optional: it would reach
                // JSON as `null`.
                c.mismatch(
                    args[0].span,
                    format!("`dyn` does not unwrap an optional, found {}", tys[0].brief()),
                    format!("this is {}", tys[0].brief()),
                    Some("unwrap it first: `….orValue(default)`, or `….value()` where `….hasValue()`".into()),
                );
            }
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
        "optional.of" | "optional.ofNonZeroValue" => {
            arity(c, name, name_span, args.len(), 1, 1);
            Ty::optional(tys.first().cloned().unwrap_or(Ty::Dyn))
        }
        "optional.none" => {
            arity(c, name, name_span, args.len(), 0, 0);
            Ty::optional(Ty::Dyn)
        }
        _ if cel_functions::overloads(name, false).next().is_some() => from_table(c, None, name, name_span, args, tys),
        _ => {
            let hint = if !cel_functions::names(true).contains(&name) {
                did_you_mean(name, &cel_functions::names(false)).map(|s| format!("did you mean `{s}`?"))
            } else {
                Some(format!("`{name}` is a method: write `x.{name}(…)`"))
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
        "hasValue" | "value" | "orValue" | "or" => optional_method(c, recv, recv_ty, name, name_span, args, tys),
        _ if cel_functions::overloads(name, true).next().is_some() => {
            from_table(c, Some((recv, recv_ty)), name, name_span, args, tys)
        }
        _ => {
            let hint = if cel_functions::names(false).contains(&name) {
                Some(format!("`{name}` is a function: write `{name}({})`", c.text(recv)))
            } else {
                did_you_mean(name, &cel_functions::names(true)).map(|s| format!("did you mean `{s}`?"))
            };
            unknown(c, name_span, format!("unknown method `{name}`"), hint.or_else(|| Some(available())));
            Ty::Dyn
        }
    }
}

/// The methods of an optional: `hasValue()`, `value()`, `orValue(d)`, `or(o)`.
fn optional_method(
    c: &mut Checker<'_>,
    recv: &Node,
    recv_ty: &Ty,
    name: &str,
    name_span: Span,
    args: &[Node],
    tys: &[Ty],
) -> Ty {
    let inner = match recv_ty {
        Ty::Optional(t) => (**t).clone(),
        Ty::Dyn => Ty::Dyn,
        _ => {
            let text = c.text(recv).to_string();
            let help = match recv_ty {
                Ty::Map(..) | Ty::Object(_) => {
                    Some("select a field as an optional first: `m.?field`, or `m[?key]`".to_string())
                }
                Ty::List(_) => Some("index it as an optional first: `l[?0]`".to_string()),
                _ => None,
            };
            c.mismatch(
                recv.span,
                format!("`{name}` applies to an optional, found {}", recv_ty.brief()),
                format!("`{text}` is {}", recv_ty.brief()),
                help,
            );
            return Ty::Dyn;
        }
    };
    let (min, max) = if matches!(name, "hasValue" | "value") { (0, 0) } else { (1, 1) };
    if !arity(c, name, name_span, args.len(), min, max) {
        return if name == "hasValue" { Ty::Bool } else { Ty::Dyn };
    }
    match name {
        "hasValue" => Ty::Bool,
        "value" => inner,
        "orValue" => {
            let d = &tys[0];
            if inner.is_dyn() || d.is_dyn() {
                Ty::Dyn
            } else if inner.compatible(d) {
                inner.join(d)
            } else {
                c.mismatch(
                    args[0].span,
                    format!("the default of `orValue` must be {}, like the optional's value, found {}", inner.brief(), d.brief()),
                    format!("this is {}", d.brief()),
                    None,
                );
                Ty::Dyn
            }
        }
        _ => match &tys[0] {
            Ty::Dyn => Ty::optional(Ty::Dyn),
            Ty::Optional(other) if inner.compatible(other) => Ty::optional(inner.join(other)),
            other => {
                c.mismatch(
                    args[0].span,
                    format!("`or` needs an optional of {}, found {}", inner.brief(), other.brief()),
                    format!("this is {}", other.brief()),
                    (!matches!(other, Ty::Optional(_)))
                        .then(|| "to fall back on a plain value, write `….orValue(…)`".to_string()),
                );
                Ty::Dyn
            }
        },
    }
}

/// Whether a value of type `t` can be passed where the table says `want`.
fn accepts(want: CelTy, t: &Ty) -> bool {
    if t.is_dyn() {
        return true;
    }
    // A list or map holding optionals is no data the library works on
    // (`'%s'.format([o])` fails at run time).
    if matches!(want, CelTy::List | CelTy::ListString | CelTy::Map) && t.contains_optional() {
        return false;
    }
    match want {
        CelTy::Dyn => true,
        CelTy::Bool => matches!(t, Ty::Bool),
        CelTy::Int => matches!(t, Ty::Int),
        CelTy::Uint => matches!(t, Ty::Uint),
        CelTy::Double => matches!(t, Ty::Double),
        CelTy::String => matches!(t, Ty::String),
        CelTy::Bytes => matches!(t, Ty::Bytes),
        CelTy::Duration => matches!(t, Ty::Duration),
        CelTy::Timestamp => matches!(t, Ty::Timestamp),
        CelTy::List => matches!(t, Ty::List(_)),
        CelTy::ListString => matches!(t, Ty::List(e) if matches!(**e, Ty::String | Ty::Dyn)),
        CelTy::Map => matches!(t, Ty::Map(..) | Ty::Object(_)),
        CelTy::Optional => matches!(t, Ty::Optional(_)),
    }
}

fn ty_of(t: CelTy) -> Ty {
    match t {
        CelTy::Dyn => Ty::Dyn,
        CelTy::Bool => Ty::Bool,
        CelTy::Int => Ty::Int,
        CelTy::Uint => Ty::Uint,
        CelTy::Double => Ty::Double,
        CelTy::String => Ty::String,
        CelTy::Bytes => Ty::Bytes,
        CelTy::Duration => Ty::Duration,
        CelTy::Timestamp => Ty::Timestamp,
        CelTy::List => Ty::list(Ty::Dyn),
        CelTy::ListString => Ty::list(Ty::String),
        CelTy::Map => Ty::map(Ty::Dyn, Ty::Dyn),
        CelTy::Optional => Ty::optional(Ty::Dyn),
    }
}

fn described(t: CelTy) -> &'static str {
    match t {
        CelTy::Dyn => "a value",
        CelTy::Bool => "a bool",
        CelTy::Int => "an int",
        CelTy::Uint => "a uint",
        CelTy::Double => "a double",
        CelTy::String => "a string",
        CelTy::Bytes => "bytes",
        CelTy::Duration => "a duration",
        CelTy::Timestamp => "a timestamp",
        CelTy::List => "a list",
        CelTy::ListString => "a list of strings",
        CelTy::Map => "a map",
        CelTy::Optional => "an optional",
    }
}

/// A call resolved from the table's overloads alone: the arity first, then
/// the receiver, then each argument, reporting the first that fits no
/// overload. The result is the matching overloads' common result type.
fn from_table(c: &mut Checker<'_>, recv: Option<(&Node, &Ty)>, name: &str, name_span: Span, args: &[Node], tys: &[Ty]) -> Ty {
    let all: Vec<&Overload> = cel_functions::overloads(name, recv.is_some()).collect();
    let min = all.iter().map(|o| o.args.len()).min().unwrap_or(0);
    let max = all.iter().map(|o| o.args.len()).max().unwrap_or(0);
    let mut fit: Vec<&Overload> = all.iter().copied().filter(|o| o.args.len() == args.len()).collect();
    if fit.is_empty() {
        arity(c, name, name_span, args.len(), min, max);
        return Ty::Dyn;
    }
    if let Some((node, t)) = recv {
        let on: Vec<&Overload> = fit.iter().copied().filter(|o| o.receiver.is_some_and(|r| accepts(r, t))).collect();
        if on.is_empty() {
            let mut whats: Vec<&str> = fit.iter().filter_map(|o| o.receiver).map(described).collect();
            whats.dedup();
            let text = c.text(node).to_string();
            c.mismatch(
                node.span,
                format!("`{name}` applies to {}, found {}", whats.join(" or "), t.brief()),
                format!("`{text}` is {}", t.brief()),
                None,
            );
            return Ty::Dyn;
        }
        fit = on;
    }
    for (i, (arg, t)) in args.iter().zip(tys).enumerate() {
        let ok: Vec<&Overload> = fit.iter().copied().filter(|o| accepts(o.args[i], t)).collect();
        if ok.is_empty() {
            let mut whats: Vec<&str> = fit.iter().map(|o| described(o.args[i])).collect();
            whats.dedup();
            c.mismatch(
                arg.span,
                format!("`{name}` needs {}, found {}", whats.join(" or "), t.brief()),
                format!("this is {}", t.brief()),
                None,
            );
            return Ty::Dyn;
        }
        fit = ok;
    }
    let first = fit[0].result;
    if fit.iter().all(|o| o.result == first) { ty_of(first) } else { Ty::Dyn }
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
    let functions: Vec<String> = cel_functions::names(false)
        .into_iter()
        .filter(|n| !matches!(*n, "dyn" | "type"))
        .map(|n| format!("`{n}`"))
        .collect();
    let methods: Vec<String> =
        cel_functions::names(true).into_iter().filter(|n| !n.starts_with("get")).map(|n| format!("`{n}`")).collect();
    format!(
        "the functions are {}; the methods are {} and the timestamp accessors (`getHours()`, …)",
        functions.join(", "),
        methods.join(", ")
    )
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 { format!("1 {word}") } else { format!("{n} {word}s") }
}
