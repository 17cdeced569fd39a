//! The functions a plan's CEL expressions may call: one table, read by the
//! compiler's checker (`compiler/src/cel_check/functions.rs`: names, arity,
//! argument and result types) and proved against the interpreter's CEL
//! environment (`interpreter/tests/cel_functions.rs` evaluates every
//! overload listed here with [`Overload::sample_call`]).
//!
//! It lives in the plan crate because it is part of the plan's contract: a
//! plan holds CEL text, and this is the library that text is written
//! against. It is plain data, so the crate keeps no dependency beyond serde.
//!
//! A function the interpreter registers must be listed here, or the checker
//! reports it as unknown (E0411); one listed here must be registered, or the
//! interpreter test fails.

/// The type of a receiver, an argument or a result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CelTy {
    /// `bool`.
    Bool,
    /// `int`: a signed 64-bit integer.
    Int,
    /// `uint`: an unsigned 64-bit integer.
    Uint,
    /// `double`.
    Double,
    /// `string`.
    String,
    /// `bytes`.
    Bytes,
    /// `google.protobuf.Duration` (`duration('90s')`).
    Duration,
    /// `google.protobuf.Timestamp` (`timestamp('…')`).
    Timestamp,
    /// A list of anything.
    List,
    /// A list of strings.
    ListString,
    /// A map of anything.
    Map,
    /// An optional (`optional.of(x)`, `m.?f`) of anything.
    Optional,
    /// Anything.
    Dyn,
}

impl CelTy {
    /// A CEL literal of this type, for tests that call every overload.
    pub fn sample(self) -> &'static str {
        match self {
            CelTy::Bool => "true",
            CelTy::Int => "1",
            CelTy::Uint => "1u",
            CelTy::Double => "1.5",
            CelTy::String => "'a-b'",
            CelTy::Bytes => "b'ab'",
            CelTy::Duration => "duration('90s')",
            CelTy::Timestamp => "timestamp('2024-01-02T03:04:05Z')",
            CelTy::List => "[1, 'x']",
            CelTy::ListString => "['a', 'b']",
            CelTy::Map => "{'k': 1}",
            CelTy::Optional => "optional.of(1)",
            CelTy::Dyn => "dyn(1)",
        }
    }
}

/// One overload: `name(args…)`, or `receiver.name(args…)` when it has one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Overload {
    /// The function's name as CEL source calls it.
    pub name: &'static str,
    /// The type of the value it is called on (`s.startsWith(…)`); `None`: a global function.
    pub receiver: Option<CelTy>,
    /// The argument types, in order.
    pub args: &'static [CelTy],
    /// The type of the call's result.
    pub result: CelTy,
}

impl Overload {
    /// The call with a sample value for the receiver and every argument.
    pub fn sample_call(&self) -> std::string::String {
        let args: Vec<&str> = self.args.iter().map(|a| a.sample()).collect();
        match self.receiver {
            Some(r) => format!("{}.{}({})", r.sample(), self.name, args.join(", ")),
            None => format!("{}({})", self.name, args.join(", ")),
        }
    }
}

const fn global(name: &'static str, args: &'static [CelTy], result: CelTy) -> Overload {
    Overload { name, receiver: None, args, result }
}

const fn member(receiver: CelTy, name: &'static str, args: &'static [CelTy], result: CelTy) -> Overload {
    Overload { name, receiver: Some(receiver), args, result }
}

use CelTy::*;

/// Every overload: the `cel` crate's standard library (with its `chrono`
/// and `regex` features), its strings extension (cel-go's `ext.Strings()`
/// names and semantics), and `max`/`min` (`cel::functions::{max, min}`,
/// variadic; two arguments or one list are listed).
pub const FUNCTIONS: &[Overload] = &[
    // Conversions.
    global("bool", &[Bool], Bool),
    global("bool", &[String], Bool),
    global("bytes", &[Bytes], Bytes),
    global("bytes", &[String], Bytes),
    global("double", &[Int], Double),
    global("double", &[Uint], Double),
    global("double", &[Double], Double),
    global("double", &[String], Double),
    global("int", &[Int], Int),
    global("int", &[Uint], Int),
    global("int", &[Double], Int),
    global("int", &[String], Int),
    global("int", &[Timestamp], Int),
    global("uint", &[Int], Uint),
    global("uint", &[Uint], Uint),
    global("uint", &[Double], Uint),
    global("uint", &[String], Uint),
    global("string", &[Int], String),
    global("string", &[Uint], String),
    global("string", &[Double], String),
    global("string", &[String], String),
    global("string", &[Bool], String),
    global("string", &[Bytes], String),
    global("string", &[Timestamp], String),
    global("string", &[Duration], String),
    global("duration", &[String], Duration),
    global("duration", &[Duration], Duration),
    global("timestamp", &[String], Timestamp),
    global("timestamp", &[Int], Timestamp),
    global("timestamp", &[Timestamp], Timestamp),
    global("dyn", &[Dyn], Dyn),
    global("type", &[Dyn], Dyn),
    // Sizes.
    global("size", &[String], Int),
    global("size", &[Bytes], Int),
    global("size", &[List], Int),
    global("size", &[Map], Int),
    member(String, "size", &[], Int),
    member(Bytes, "size", &[], Int),
    member(List, "size", &[], Int),
    member(Map, "size", &[], Int),
    // String tests.
    member(String, "contains", &[String], Bool),
    member(String, "startsWith", &[String], Bool),
    member(String, "endsWith", &[String], Bool),
    member(String, "matches", &[String], Bool),
    global("matches", &[String, String], Bool),
    // Timestamp and duration accessors.
    member(Timestamp, "getFullYear", &[], Int),
    member(Timestamp, "getFullYear", &[String], Int),
    member(Timestamp, "getMonth", &[], Int),
    member(Timestamp, "getMonth", &[String], Int),
    member(Timestamp, "getDayOfYear", &[], Int),
    member(Timestamp, "getDayOfYear", &[String], Int),
    member(Timestamp, "getDayOfMonth", &[], Int),
    member(Timestamp, "getDayOfMonth", &[String], Int),
    member(Timestamp, "getDate", &[], Int),
    member(Timestamp, "getDate", &[String], Int),
    member(Timestamp, "getDayOfWeek", &[], Int),
    member(Timestamp, "getDayOfWeek", &[String], Int),
    member(Timestamp, "getHours", &[], Int),
    member(Timestamp, "getHours", &[String], Int),
    member(Timestamp, "getMinutes", &[], Int),
    member(Timestamp, "getMinutes", &[String], Int),
    member(Timestamp, "getSeconds", &[], Int),
    member(Timestamp, "getSeconds", &[String], Int),
    member(Timestamp, "getMilliseconds", &[], Int),
    member(Timestamp, "getMilliseconds", &[String], Int),
    member(Duration, "getHours", &[], Int),
    member(Duration, "getMinutes", &[], Int),
    member(Duration, "getSeconds", &[], Int),
    member(Duration, "getMilliseconds", &[], Int),
    // max / min.
    global("max", &[Int, Int], Int),
    global("max", &[List], Dyn),
    global("min", &[Int, Int], Int),
    global("min", &[List], Dyn),
    // The strings extension.
    member(String, "charAt", &[Int], String),
    member(String, "indexOf", &[String], Int),
    member(String, "indexOf", &[String, Int], Int),
    member(String, "lastIndexOf", &[String], Int),
    member(String, "lastIndexOf", &[String, Int], Int),
    member(String, "lowerAscii", &[], String),
    member(String, "upperAscii", &[], String),
    member(String, "trim", &[], String),
    member(String, "reverse", &[], String),
    member(String, "replace", &[String, String], String),
    member(String, "replace", &[String, String, Int], String),
    member(String, "split", &[String], ListString),
    member(String, "split", &[String, Int], ListString),
    member(String, "substring", &[Int], String),
    member(String, "substring", &[Int, Int], String),
    member(String, "format", &[List], String),
    member(ListString, "join", &[], String),
    member(ListString, "join", &[String], String),
    // Optionals (the crate's `optional` library, on by default in its
    // environment; the syntax `a.?b`, `a[?b]`, `[?a]`, `{?k: v}` goes with
    // it). The checker types these more precisely than the table can say
    // (`optional(T)`, `value()` is `T`).
    global("optional.of", &[Dyn], Optional),
    global("optional.ofNonZeroValue", &[Dyn], Optional),
    global("optional.none", &[], Optional),
    member(Optional, "hasValue", &[], Bool),
    member(Optional, "value", &[], Dyn),
    member(Optional, "orValue", &[Dyn], Dyn),
    member(Optional, "or", &[Optional], Optional),
];

/// The overloads named `name`, called as a method or not.
pub fn overloads(name: &str, method: bool) -> impl Iterator<Item = &'static Overload> + '_ {
    FUNCTIONS.iter().filter(move |o| o.name == name && o.receiver.is_some() == method)
}

/// The names called as `name(…)` (`method` false) or `x.name(…)`, sorted.
pub fn names(method: bool) -> Vec<&'static str> {
    let mut names: Vec<&str> = FUNCTIONS.iter().filter(|o| o.receiver.is_some() == method).map(|o| o.name).collect();
    names.sort_unstable();
    names.dedup();
    names
}
