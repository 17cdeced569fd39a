//! Type inference over [`Node`]s, bottom-up, with diagnostics.
//!
//! Every rule has the same shape: infer the operands, accept anything when
//! one of them is `dyn`, otherwise check the operation against CEL's
//! standard overloads and report a mismatch at the narrowest span that shows
//! it. A node whose operation failed is typed `dyn`, so one mistake is
//! reported once rather than again by every enclosing node.


// The calls of functions and macros, checked against the overload table.
mod functions;
use std::collections::HashSet;

use flowc_grammar::ast::{Expr, Span};

use super::syntax::{BinaryOp, Literal, MacroKind, Node, NodeKind, UnaryOp};
use super::{Binding, Expect, ExprSite, Scope};
use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Edit};
use crate::types::{ObjectTy, Ty};

/// Names CEL gives to type values (`type(x) == string`), used when the scope
/// does not define them.
const TYPE_NAMES: &[&str] = &[
    "bool",
    "bytes",
    "double",
    "duration",
    "dyn",
    "int",
    "list",
    "map",
    "null_type",
    "optional_type",
    "string",
    "timestamp",
    "type",
    "uint",
];

pub fn check(
    path: &str,
    node: &Node,
    site: ExprSite,
    expect: Expect,
    scope: &dyn Scope,
    expr: &Expr,
) -> (Ty, Vec<Diagnostic>) {
    let mut c = Checker { path, scope, site, expr, locals: Vec::new(), diags: Vec::new(), seen: HashSet::new() };
    let ty = c.infer(node);
    if expect == Expect::Any && ty.contains_optional() {
        // The evaluator has no JSON for an optional: it would become `null`.
        let whole = matches!(ty, Ty::Optional(_));
        c.mismatch(
            node.span,
            if whole {
                format!("the value of an expression cannot be an optional, found {}", ty.brief())
            } else {
                format!("the value of an expression cannot hold optionals, found {}", ty.brief())
            },
            format!("this is {}", ty.brief()),
            Some(
                "unwrap it: `….orValue(default)`, or `….value()` where `….hasValue()` is true; \
                 an optional has no JSON value"
                    .to_string(),
            ),
        );
    }
    if expect == Expect::Bool && !matches!(ty, Ty::Bool | Ty::Dyn) {
        let help = condition_help(&ty);
        c.report(
            Diagnostic::new(
                Code::ConditionNotBool,
                path,
                node.span,
                format!("condition must be bool, found {}", ty.brief()),
            )
            .with_label(format!("this is {}", ty.brief()))
            .with_help(help),
        );
    }
    let mut diags = c.diags;
    diags.sort_by_key(|d| (d.span.start, d.span.end));
    (ty, diags)
}

/// Suggests the shell escape on a hole: `${HOME}` → `$${HOME}`,
/// `$name.path` → `$$name.path`.
pub fn add_shell_escape(d: &mut Diagnostic, path: &str, expr: &Expr, short: bool) {
    // The grammar puts the hole's text right after `${` (or `$`).
    let dollar = expr.span.start.saturating_sub(if short { 1 } else { 2 });
    let written = if short { format!("${}", expr.text) } else { format!("${{{}}}", expr.text) };
    let note = format!("if `{written}` is meant for the shell, write `${written}`: `$$` is a literal `$`");
    // First: when this applies, it is the likeliest explanation.
    d.help = Some(match d.help.take() {
        Some(h) => format!("{note}\n{h}"),
        None => note,
    });
    d.fixes.push(crate::diagnostic::Fix {
        title: format!("escape the `$` (`${written}`)"),
        edits: vec![Edit { path: path.to_string(), span: Span::new(dollar, dollar), new_text: "$".to_string() }],
    });
}

fn condition_help(ty: &Ty) -> String {
    match ty {
        Ty::Int | Ty::Uint | Ty::Double => "compare it, e.g. `… > 0`".to_string(),
        Ty::String => "compare it, e.g. `… == 'yes'` or `… != ''`".to_string(),
        Ty::List(_) | Ty::Map(..) | Ty::Object(_) => "test its size, e.g. `size(…) > 0`".to_string(),
        Ty::Null => "a condition is `true` or `false`, never `null`".to_string(),
        Ty::Optional(_) => "test it with `….hasValue()`, or unwrap it with `….orValue(false)`".to_string(),
        _ => "a condition is a comparison or a test that gives `true` or `false`".to_string(),
    }
}

pub(super) struct Checker<'a> {
    path: &'a str,
    scope: &'a dyn Scope,
    site: ExprSite,
    expr: &'a Expr,
    /// Variables bound by enclosing macros, innermost last.
    locals: Vec<(String, Ty)>,
    diags: Vec<Diagnostic>,
    /// (code, message) of every diagnostic so far: each problem is reported
    /// once per expression, at its first occurrence.
    seen: HashSet<(Code, String)>,
}

impl Checker<'_> {
    pub(super) fn path(&self) -> &str {
        self.path
    }

    pub(super) fn report(&mut self, d: Diagnostic) {
        if self.seen.insert((d.code, d.message.clone())) {
            self.diags.push(d);
        }
    }

    /// A type mismatch (E0408) at `span`.
    pub(super) fn mismatch(&mut self, span: Span, message: String, label: String, help: Option<String>) {
        let mut d = Diagnostic::new(Code::TypeMismatch, self.path, span, message).with_label(label);
        d.help = help;
        self.report(d);
    }

    /// The text of a node, as written (for messages).
    pub(super) fn text(&self, node: &Node) -> &str {
        let start = node.span.start.saturating_sub(self.expr.span.start) as usize;
        let end = node.span.end.saturating_sub(self.expr.span.start) as usize;
        self.expr.text.get(start..end).unwrap_or("")
    }

    pub(super) fn infer(&mut self, node: &Node) -> Ty {
        match &node.kind {
            NodeKind::Literal(lit) => literal_ty(lit),
            NodeKind::Ident(name) => self.ident(name, node.span),
            NodeKind::Select { operand, field, field_span } => {
                let t = self.infer(operand);
                match t {
                    // Selecting on an optional selects on its value, and
                    // gives an optional (none if the field is absent).
                    Ty::Optional(inner) => Ty::optional(self.select(&inner, operand, field, *field_span, false)),
                    t => self.select(&t, operand, field, *field_span, false),
                }
            }
            NodeKind::Has { operand, field, field_span } => {
                let t = self.infer(operand);
                self.select(&t, operand, field, *field_span, true);
                Ty::Bool
            }
            NodeKind::Index { operand, index } => {
                let t = self.infer(operand);
                let i = self.infer(index);
                match t {
                    // Indexing an optional indexes its value, and gives an optional.
                    Ty::Optional(inner) => Ty::optional(self.index(&inner, operand, &i, index, node.span)),
                    t => self.index(&t, operand, &i, index, node.span),
                }
            }
            NodeKind::OptSelect { operand, field, field_span } => {
                let t = self.infer(operand);
                let t = match t {
                    Ty::Optional(inner) => (*inner).clone(),
                    t => t,
                };
                // A presence test, like `has()`: an undeclared field is none,
                // not an error.
                Ty::optional(self.select(&t, operand, field, *field_span, true))
            }
            NodeKind::OptIndex { operand, index } => {
                let t = self.infer(operand);
                let t = match t {
                    Ty::Optional(inner) => (*inner).clone(),
                    t => t,
                };
                let i = self.infer(index);
                match (&t, &index.kind) {
                    // `o[?'f']` is `o.?f`: a presence test.
                    (Ty::Object(_), NodeKind::Literal(Literal::String(field))) => {
                        Ty::optional(self.select(&t, operand, field, index.span, true))
                    }
                    _ => Ty::optional(self.index(&t, operand, &i, index, node.span)),
                }
            }
            NodeKind::OptionalEntry(value) => {
                // Only reached through a list or map literal (which unwrap
                // it); the value must be an optional.
                let t = self.infer(value);
                self.optional_entry(&t, value)
            }
            NodeKind::Unary { op, op_span, operand } => {
                let t = self.infer(operand);
                self.unary(*op, *op_span, &t, operand)
            }
            NodeKind::Binary { op, lhs, rhs, .. } => {
                let l = self.infer(lhs);
                let r = self.infer(rhs);
                self.binary(*op, node, &l, lhs, &r, rhs)
            }
            NodeKind::Ternary { cond, then, otherwise } => {
                let c = self.infer(cond);
                if !matches!(c, Ty::Bool | Ty::Dyn) {
                    self.mismatch(
                        cond.span,
                        format!("the condition of `?:` must be bool, found {}", c.brief()),
                        "expected bool".into(),
                        Some(condition_help(&c)),
                    );
                }
                let a = self.infer(then);
                let b = self.infer(otherwise);
                self.branches(&a, &b, node.span)
            }
            NodeKind::Call { target: Some(target), name, name_span, args } if self.is_optional_namespace(target, name) => {
                // `optional.of(x)`: a function of the `optional` namespace,
                // whatever `optional` names in scope (as the evaluator
                // resolves it), never a method on a value.
                let qualified = format!("optional.{name}");
                let arg_tys: Vec<Ty> = args.iter().map(|a| self.infer(a)).collect();
                functions::call(self, None, &qualified, target.span.cover(*name_span), args, &arg_tys)
            }
            NodeKind::Call { target: Some(_), name, name_span, .. } if matches!(name.as_str(), "optMap" | "optFlatMap") => {
                // The evaluator expands these macros; the checker does not
                // type them (yet): refused rather than accepted unchecked.
                let d = Diagnostic::new(
                    Code::UnknownFunction,
                    self.path,
                    *name_span,
                    format!("`{name}` is not supported in `.flow` expressions"),
                )
                .with_label("not supported")
                .with_help(
                    "write it with `?:`: `o.hasValue() ? optional.of(f(o.value())) : optional.none()`".to_string(),
                );
                self.report(d);
                Ty::Dyn
            }
            NodeKind::Call { target, name, name_span, args } => {
                let target_ty = target.as_deref().map(|t| (t, self.infer(t)));
                if functions::is_macro(name) {
                    // A macro called the wrong way: its arguments bind a
                    // variable, so checking them would only add noise.
                    functions::misused_macro(self, target.is_some(), name, *name_span, args.len());
                    return Ty::Dyn;
                }
                let arg_tys: Vec<Ty> = args.iter().map(|a| self.infer(a)).collect();
                functions::call(self, target_ty.as_ref().map(|(n, t)| (*n, t)), name, *name_span, args, &arg_tys)
            }
            NodeKind::Macro { kind, target, var, args, .. } => self.macro_call(*kind, target, var, args),
            NodeKind::List(items) => {
                let mut elem: Option<Ty> = None;
                let mut optional = false;
                for item in items {
                    // `?x` adds the value `x` holds.
                    let t = self.infer(item);
                    optional |= t.contains_optional();
                    elem = Some(match elem {
                        None => t,
                        Some(e) => e.join(&t),
                    });
                }
                let elem = elem.unwrap_or(Ty::Dyn);
                self.hidden_optionals(optional, &elem, node);
                Ty::list(elem)
            }
            NodeKind::Map(entries) => self.map_literal(node, entries),
            NodeKind::Message { type_name } => {
                let d = Diagnostic::new(
                    Code::InvalidExpression,
                    self.path,
                    node.span,
                    format!("message construction `{type_name}{{…}}` is not supported"),
                )
                .with_label("not supported")
                .with_help("`.flow` has no message types; write a map instead: `{'field': value}`");
                self.report(d);
                Ty::Dyn
            }
        }
    }

    /// Whether `target.name(…)` calls a function of the `optional` namespace:
    /// one that exists is called whatever `optional` names (the evaluator
    /// resolves it so); another is one only when `optional` names nothing.
    fn is_optional_namespace(&self, target: &Node, name: &str) -> bool {
        let NodeKind::Ident(root) = &target.kind else { return false };
        if root != "optional" {
            return false;
        }
        let qualified = format!("optional.{name}");
        flowc_plan::cel_functions::overloads(&qualified, false).next().is_some()
            || (!self.locals.iter().any(|(n, _)| n == "optional") && self.scope.lookup("optional").is_none())
    }

    /// Elements that are optionals joined with others that are not give
    /// `dyn`, which would hide the optionals from the check that an
    /// expression's value holds none: reported here instead.
    fn hidden_optionals(&mut self, any_optional: bool, joined: &Ty, node: &Node) {
        if any_optional && !joined.contains_optional() {
            self.mismatch(
                node.span,
                "this literal mixes optionals and other values".to_string(),
                "optionals mixed with values".into(),
                Some("unwrap the optionals (`….orValue(…)`), or add them as optional entries: `[?o]`, `{?'k': o}`".into()),
            );
        }
    }

    /// The `?value` of a list or map literal: the type of what it adds.
    fn optional_entry(&mut self, t: &Ty, value: &Node) -> Ty {
        match t {
            Ty::Optional(inner) => (**inner).clone(),
            Ty::Dyn => Ty::Dyn,
            _ => {
                let text = self.text(value).to_string();
                self.mismatch(
                    value.span,
                    format!("an optional entry (`?…`) needs an optional, found {}", t.brief()),
                    format!("`{text}` is {}", t.brief()),
                    Some(
                        "drop the `?` to always include it, or give an optional: `x.?field`, `m[?key]`, \
                         `optional.of(…)`"
                            .to_string(),
                    ),
                );
                Ty::Dyn
            }
        }
    }

    fn ident(&mut self, name: &str, span: Span) -> Ty {
        if let Some((_, t)) = self.locals.iter().rev().find(|(n, _)| n == name) {
            return t.clone();
        }
        match self.scope.lookup(name) {
            Some(Binding::Value(t)) => t,
            Some(Binding::NotUpstream { step, help, fix }) => {
                let mut d = Diagnostic::new(
                    Code::NotUpstream,
                    self.path,
                    span,
                    format!("step `{step}` is not upstream of this expression"),
                )
                .with_label("not upstream")
                .with_help(help);
                d.fixes.extend(fix);
                self.report(d);
                Ty::Dyn
            }
            Some(Binding::OutOfContext { name: _, code, message, help }) => {
                let d =
                    Diagnostic::new(code, self.path, span, message).with_label("not available here").with_help(help);
                self.report(d);
                Ty::Dyn
            }
            None if TYPE_NAMES.contains(&name) => Ty::Type,
            None => {
                self.unknown_name(name, span);
                Ty::Dyn
            }
        }
    }

    fn unknown_name(&mut self, name: &str, span: Span) {
        let mut names = self.scope.names();
        // A name that exists but not here is no suggestion.
        names.retain(|n| !matches!(self.scope.lookup(n), Some(Binding::OutOfContext { .. })));
        names.extend(self.locals.iter().map(|(n, _)| n.clone()));
        names.sort();
        names.dedup();
        let candidates: Vec<&str> = names.iter().map(String::as_str).collect();
        let help = match did_you_mean(name, &candidates) {
            Some(s) => Some(format!("did you mean `{s}`?")),
            None if candidates.is_empty() => Some("no names are in scope here: write a constant, or read the value at run time (a command reads its environment as `$NAME`)".to_string()),
            None => Some(format!("names in scope: {}", list_names(&candidates))),
        };
        let mut d = Diagnostic::new(Code::UnknownName, self.path, span, format!("unknown name `{name}`"))
            .with_label("not in scope");
        d.help = help;
        if let ExprSite::Hole { short } = self.site {
            // `$HOME` needs no escape (it has no dot), but `${HOME}` and
            // `$x.y` are holes: most likely shell syntax meant literally.
            let root_only = short || self.expr.text.trim() == name;
            if root_only {
                add_shell_escape(&mut d, self.path, self.expr, short);
            }
        }
        self.report(d);
    }

    /// `operand.field` (or `has(operand.field)` when `presence`).
    fn select(&mut self, t: &Ty, operand: &Node, field: &str, field_span: Span, presence: bool) -> Ty {
        match t {
            Ty::Dyn => Ty::Dyn,
            Ty::Object(o) => match o.fields.get(field) {
                Some(f) => f.ty.clone(),
                // `has()` of an undeclared field is no error: a value may
                // carry more than its type declares (`{"a":1,"extra":2}`),
                // and then `has(x.extra)` is true at run time.
                None if o.closed && !presence => {
                    self.no_field(t, Some(o), operand, field, field_span);
                    Ty::Dyn
                }
                None => Ty::Dyn,
            },
            Ty::Map(k, v) if matches!(**k, Ty::String | Ty::Dyn) => (**v).clone(),
            _ => {
                self.no_field(t, None, operand, field, field_span);
                Ty::Dyn
            }
        }
    }

    fn no_field(&mut self, t: &Ty, obj: Option<&ObjectTy>, operand: &Node, field: &str, span: Span) {
        let owner = self.text(operand).to_string();
        let label = if operand.as_path().is_some() && !owner.is_empty() {
            format!("not a field of `{owner}`")
        } else {
            "unknown field".to_string()
        };
        let mut help = Vec::new();
        match obj {
            Some(o) => {
                let fields: Vec<&str> = o.fields.keys().map(String::as_str).collect();
                if let Some(s) = did_you_mean(field, &fields) {
                    help.push(format!("did you mean `{s}`?"));
                }
                if fields.is_empty() {
                    help.push("this object has no fields".to_string());
                } else {
                    help.push(format!("its fields: {}", list_names(&fields)));
                }
            }
            None => match t {
                Ty::List(_) => help.push(format!(
                    "`{owner}` is a list: select from an element, e.g. `{owner}[0].{field}` or `{owner}.map(x, x.{field})`"
                )),
                Ty::Null => help.push(format!("`{owner}` is always null")),
                _ => help.push(format!("only objects and maps have fields; `{owner}` is {}", t.brief())),
            },
        }
        let d = Diagnostic::new(Code::NoSuchField, self.path, span, format!("no field `{field}` on {}", t.brief()))
            .with_label(label)
            .with_help(help.join("\n"));
        self.report(d);
    }

    fn index(&mut self, t: &Ty, operand: &Node, i: &Ty, index: &Node, span: Span) -> Ty {
        match t {
            Ty::Dyn => Ty::Dyn,
            Ty::List(e) => {
                if !matches!(i, Ty::Int | Ty::Uint | Ty::Dyn) {
                    self.mismatch(
                        index.span,
                        format!("a list index must be an int, found {}", i.brief()),
                        "expected int".into(),
                        None,
                    );
                }
                (**e).clone()
            }
            Ty::Map(k, v) => {
                if !meets(k, i) {
                    self.mismatch(
                        index.span,
                        format!("the keys of this map are {}, found {}", k.brief(), i.brief()),
                        format!("expected {}", k.brief()),
                        None,
                    );
                }
                (**v).clone()
            }
            Ty::Object(_) => match (&index.kind, i) {
                (NodeKind::Literal(Literal::String(field)), _) => {
                    let field = field.clone();
                    self.select(t, operand, &field, index.span, false)
                }
                (_, Ty::String | Ty::Dyn) => Ty::Dyn,
                _ => {
                    self.mismatch(
                        index.span,
                        format!("object keys are strings, found {}", i.brief()),
                        "expected string".into(),
                        None,
                    );
                    Ty::Dyn
                }
            },
            _ => {
                let help = matches!(t, Ty::String).then(|| "CEL strings cannot be indexed".to_string());
                self.mismatch(
                    span,
                    format!("cannot index {}", t.brief()),
                    format!("`{}` is {}", self.text(operand), t.brief()),
                    help,
                );
                Ty::Dyn
            }
        }
    }

    fn unary(&mut self, op: UnaryOp, op_span: Span, t: &Ty, operand: &Node) -> Ty {
        match (op, t) {
            (_, Ty::Dyn) => Ty::Dyn,
            (UnaryOp::Not, Ty::Bool) => Ty::Bool,
            (UnaryOp::Neg, Ty::Int | Ty::Double | Ty::Duration) => t.clone(),
            (UnaryOp::Not, _) => {
                self.mismatch(
                    operand.span,
                    format!("`!` needs a bool, found {}", t.brief()),
                    "expected bool".into(),
                    Some(condition_help(t)),
                );
                Ty::Bool
            }
            (UnaryOp::Neg, _) => {
                let help =
                    matches!(t, Ty::Uint).then(|| "a uint cannot be negative: convert with `int(x)`".to_string());
                self.mismatch(
                    op_span.cover(operand.span),
                    format!("cannot negate {}", t.brief()),
                    format!("`{}` is {}", self.text(operand), t.brief()),
                    help,
                );
                Ty::Dyn
            }
        }
    }

    fn binary(&mut self, op: BinaryOp, node: &Node, l: &Ty, lhs: &Node, r: &Ty, rhs: &Node) -> Ty {
        match op {
            BinaryOp::And | BinaryOp::Or => {
                for (t, n) in [(l, lhs), (r, rhs)] {
                    if !matches!(t, Ty::Bool | Ty::Dyn) {
                        self.mismatch(
                            n.span,
                            format!("`{}` needs bool operands, found {}", op.symbol(), t.brief()),
                            "expected bool".into(),
                            Some(condition_help(t)),
                        );
                    }
                }
                Ty::Bool
            }
            BinaryOp::Eq | BinaryOp::Ne => {
                if !meets(l, r) {
                    self.mismatch(
                        node.span,
                        format!("cannot compare {} and {} with `{}`", l.brief(), r.brief(), op.symbol()),
                        format!("{} {} {}", l.kind_name(), op.symbol(), r.kind_name()),
                        Some(format!("values of different types are never equal{}", convert_hint(l, r))),
                    );
                }
                Ty::Bool
            }
            BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => {
                let ordered = |t: &Ty| matches!(t, Ty::String | Ty::Bytes | Ty::Bool | Ty::Timestamp | Ty::Duration);
                let ok = l.is_dyn() || r.is_dyn() || (l.is_numeric() && r.is_numeric()) || (ordered(l) && l == r);
                if !ok {
                    self.mismatch(
                        node.span,
                        format!("cannot compare {} and {} with `{}`", l.brief(), r.brief(), op.symbol()),
                        format!("{} {} {}", l.kind_name(), op.symbol(), r.kind_name()),
                        ordering_help(l, r),
                    );
                }
                Ty::Bool
            }
            BinaryOp::In => {
                match r {
                    Ty::Dyn => {}
                    Ty::List(e) => {
                        if !meets(e, l) {
                            self.mismatch(
                                node.span,
                                format!("a {} cannot contain {}", r.brief(), l.brief()),
                                format!("{} in {}", l.kind_name(), r.kind_name()),
                                None,
                            );
                        }
                    }
                    Ty::Map(k, _) => {
                        if !meets(k, l) {
                            self.mismatch(
                                node.span,
                                format!("the keys of this map are {}, found {}", k.brief(), l.brief()),
                                format!("{} in {}", l.kind_name(), r.kind_name()),
                                None,
                            );
                        }
                    }
                    Ty::Object(_) => {
                        if !matches!(l, Ty::String | Ty::Dyn) {
                            self.mismatch(
                                node.span,
                                format!("object keys are strings, found {}", l.brief()),
                                format!("{} in object", l.kind_name()),
                                None,
                            );
                        }
                    }
                    _ => {
                        let help = matches!(r, Ty::String)
                            .then(|| format!("to find text in a string, write `{}.contains(…)`", self.text(rhs)));
                        self.mismatch(
                            rhs.span,
                            format!("`in` needs a list or a map on its right, found {}", r.brief()),
                            "expected a list or map".into(),
                            help,
                        );
                    }
                }
                Ty::Bool
            }
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Rem => {
                self.arithmetic(op, node, l, r)
            }
        }
    }

    fn arithmetic(&mut self, op: BinaryOp, node: &Node, l: &Ty, r: &Ty) -> Ty {
        use BinaryOp::*;
        if l.is_dyn() || r.is_dyn() {
            // The result is the other side's type where only one overload
            // could apply (`dyn + 1` can only be an int).
            let other = if l.is_dyn() { r } else { l };
            return match other {
                Ty::Int | Ty::Uint => other.clone(),
                Ty::Double if op != Rem => Ty::Double,
                Ty::String | Ty::Bytes | Ty::List(_) if op == Add => other.clone(),
                _ => Ty::Dyn,
            };
        }
        let result = match (op, l, r) {
            (Rem, Ty::Int, Ty::Int) | (Rem, Ty::Uint, Ty::Uint) => Some(l.clone()),
            (Add | Sub | Mul | Div, a, b) if a == b && a.is_numeric() => Some(a.clone()),
            (Add, Ty::String, Ty::String) | (Add, Ty::Bytes, Ty::Bytes) => Some(l.clone()),
            (Add, Ty::List(a), Ty::List(b)) => Some(Ty::list(a.join(b))),
            (Add | Sub, Ty::Duration, Ty::Duration) => Some(Ty::Duration),
            (Add, Ty::Timestamp, Ty::Duration) | (Add, Ty::Duration, Ty::Timestamp) => Some(Ty::Timestamp),
            (Sub, Ty::Timestamp, Ty::Duration) => Some(Ty::Timestamp),
            (Sub, Ty::Timestamp, Ty::Timestamp) => Some(Ty::Duration),
            _ => None,
        };
        if let Some(t) = result {
            return t;
        }
        let (a, b) = (l.brief(), r.brief());
        let message = match op {
            Add => format!("cannot add {a} and {b}"),
            Sub => format!("cannot subtract {b} from {a}"),
            Mul => format!("cannot multiply {a} by {b}"),
            Div => format!("cannot divide {a} by {b}"),
            _ => format!("`%` does not apply to {a} and {b}"),
        };
        let help = if matches!(l, Ty::Optional(_)) || matches!(r, Ty::Optional(_)) {
            Some(optional_hint())
        } else if l.is_numeric() && r.is_numeric() && l != r {
            Some(format!(
                "arithmetic needs matching types: convert one side, e.g. `{}(…)`",
                if matches!(l, Ty::Double) || matches!(r, Ty::Double) { "double" } else { "int" }
            ))
        } else if op == Rem && matches!((l, r), (Ty::Double, Ty::Double)) {
            Some("`%` works on int and uint; convert with `int(…)`".to_string())
        } else if op == Add && (matches!(l, Ty::String) || matches!(r, Ty::String)) {
            Some("to build text, convert the other side with `string(…)`".to_string())
        } else {
            None
        };
        self.mismatch(node.span, message, format!("{} {} {}", l.kind_name(), op.symbol(), r.kind_name()), help);
        Ty::Dyn
    }

    /// The type of `c ? a : b`.
    fn branches(&mut self, a: &Ty, b: &Ty, span: Span) -> Ty {
        if a.is_dyn() || b.is_dyn() {
            return Ty::Dyn;
        }
        if a.compatible(b) {
            return a.join(b);
        }
        let help = (a.is_numeric() && b.is_numeric()).then(|| {
            format!(
                "convert one branch, e.g. `{}(…)`",
                if matches!(a, Ty::Double) || matches!(b, Ty::Double) { "double" } else { "int" }
            )
        });
        self.mismatch(
            span,
            format!("the branches of `?:` have different types: {} and {}", a.brief(), b.brief()),
            format!("{} or {}", a.kind_name(), b.kind_name()),
            help,
        );
        Ty::Dyn
    }

    fn map_literal(&mut self, node: &Node, entries: &[(Node, Node)]) -> Ty {
        // All keys string literals: an object whose fields are known.
        if !entries.is_empty() && entries.iter().all(|(k, _)| matches!(k.kind, NodeKind::Literal(Literal::String(_)))) {
            let mut obj = ObjectTy { fields: Default::default(), closed: true };
            for (k, v) in entries {
                let t = self.infer(v);
                if let NodeKind::Literal(Literal::String(name)) = &k.kind {
                    // `?'k': v` may leave the field out.
                    let optional = matches!(v.kind, NodeKind::OptionalEntry(_));
                    obj.fields.insert(name.clone(), crate::types::FieldTy { ty: t, optional });
                }
            }
            return Ty::object(obj);
        }
        let mut key: Option<Ty> = None;
        let mut value: Option<Ty> = None;
        let mut optional = false;
        for (k, v) in entries {
            let kt = self.infer(k);
            if !matches!(kt, Ty::Int | Ty::Uint | Ty::String | Ty::Bool | Ty::Dyn) {
                self.mismatch(
                    k.span,
                    format!("map keys must be int, uint, string or bool, found {}", kt.brief()),
                    "invalid key".into(),
                    None,
                );
            }
            let vt = self.infer(v);
            optional |= vt.contains_optional();
            key = Some(key.map_or(kt.clone(), |t| t.join(&kt)));
            value = Some(value.map_or(vt.clone(), |t| t.join(&vt)));
        }
        let value = value.unwrap_or(Ty::Dyn);
        self.hidden_optionals(optional, &value, node);
        Ty::map(key.unwrap_or(Ty::Dyn), value)
    }

    fn macro_call(&mut self, kind: MacroKind, target: &Node, var: &str, args: &[Node]) -> Ty {
        let t = self.infer(target);
        let name = macro_name(kind);
        let elem = match t.iter_elem() {
            Some(e) => e,
            None => {
                self.mismatch(
                    target.span,
                    format!("`{name}` needs a list or a map, found {}", t.brief()),
                    "expected a list or map".into(),
                    None,
                );
                Ty::Dyn
            }
        };
        self.locals.push((var.to_string(), elem.clone()));
        let tys: Vec<Ty> = args.iter().map(|a| self.infer(a)).collect();
        self.locals.pop();
        // Which arguments are predicates: all of them, except `map`'s last.
        let predicates = if kind == MacroKind::Map { args.len().saturating_sub(1) } else { args.len() };
        for (a, at) in args.iter().zip(&tys).take(predicates) {
            if !matches!(at, Ty::Bool | Ty::Dyn) {
                let what = if kind == MacroKind::Map { "filter" } else { "predicate" };
                self.mismatch(
                    a.span,
                    format!("the {what} of `{name}` must be bool, found {}", at.brief()),
                    "expected bool".into(),
                    Some(condition_help(at)),
                );
            }
        }
        match kind {
            MacroKind::All | MacroKind::Exists | MacroKind::ExistsOne => Ty::Bool,
            MacroKind::Filter => Ty::list(elem),
            MacroKind::Map => Ty::list(tys.last().cloned().unwrap_or(Ty::Dyn)),
        }
    }
}

fn macro_name(kind: MacroKind) -> &'static str {
    match kind {
        MacroKind::All => "all",
        MacroKind::Exists => "exists",
        MacroKind::ExistsOne => "exists_one",
        MacroKind::Map => "map",
        MacroKind::Filter => "filter",
    }
}

fn literal_ty(lit: &Literal) -> Ty {
    match lit {
        Literal::Null => Ty::Null,
        Literal::Bool(_) => Ty::Bool,
        Literal::Int(_) => Ty::Int,
        Literal::Uint(_) => Ty::Uint,
        Literal::Double(_) => Ty::Double,
        Literal::String(_) => Ty::String,
        Literal::Bytes(_) => Ty::Bytes,
    }
}

/// The closest candidate to a misspelt word. Words of one or two letters
/// are too short to guess from.
pub(super) fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    if word.chars().count() < 3 {
        return None;
    }
    flowc_grammar::errors::did_you_mean(word, candidates)
}

/// Whether values of the two types can be compared for equality or
/// membership: compatible types, or numbers of any kind (CEL compares them
/// across `int`, `uint` and `double`).
fn meets(a: &Ty, b: &Ty) -> bool {
    a.compatible(b) || (a.is_numeric() && b.is_numeric())
}

/// "`a`, `b`, `c` and 4 more".
pub(super) fn list_names(names: &[&str]) -> String {
    const SHOWN: usize = 8;
    let mut out: Vec<String> = names.iter().take(SHOWN).map(|n| format!("`{n}`")).collect();
    if names.len() > SHOWN {
        out.push(format!("{} more", names.len() - SHOWN));
    }
    out.join(", ")
}

/// For an optional where a plain value is needed.
fn optional_hint() -> String {
    "an optional has no operators: unwrap it first, e.g. `….orValue(0)`, or `….value()` where `….hasValue()`".to_string()
}

fn convert_hint(l: &Ty, r: &Ty) -> String {
    match (l, r) {
        (Ty::Optional(_), Ty::Null) | (Ty::Null, Ty::Optional(_)) => {
            "; an optional is never null: test it with `….hasValue()`".to_string()
        }
        (Ty::Optional(_), _) | (_, Ty::Optional(_)) => {
            "; an optional equals only an optional: unwrap it (`….orValue(…)`) or compare with `optional.of(…)`"
                .to_string()
        }
        (Ty::String, t) | (t, Ty::String) if t.is_numeric() => {
            "; convert one side, e.g. `string(…)` or `int(…)`".to_string()
        }
        _ => String::new(),
    }
}

fn ordering_help(l: &Ty, r: &Ty) -> Option<String> {
    match (l, r) {
        (Ty::Optional(_), _) | (_, Ty::Optional(_)) => Some(optional_hint()),
        (Ty::String, t) | (t, Ty::String) if t.is_numeric() => {
            Some("convert the string to a number first, e.g. `double(…)`".to_string())
        }
        _ if matches!(l, Ty::List(_) | Ty::Map(..) | Ty::Object(_))
            || matches!(r, Ty::List(_) | Ty::Map(..) | Ty::Object(_)) =>
        {
            Some("only numbers, strings, bytes, bools, timestamps and durations are ordered".to_string())
        }
        _ => None,
    }
}
