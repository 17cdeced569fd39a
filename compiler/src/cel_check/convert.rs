//! From the `cel` crate's AST to [`super::syntax`].
//!
//! The crate gives each node one token (the `.` of a selection, the `(` of a
//! call, the operator of a binary expression) and expands macros into
//! comprehensions. This module rebuilds whole-node spans from the tokens and
//! their bracket partners, and folds each comprehension back into the macro
//! call it came from, picking the user's predicate out of the expansion
//! (whose shape is fixed by the crate's macro expanders).

use cel::common::ast::{
    ComprehensionExpr, EntryExpr, Expr, IdedExpr, ListExpr, LiteralValue, MapExpr, SelectExpr, SourceInfo, StructExpr,
};
use flowc_grammar::ast::Span;

use super::lexer::{Lexed, NO_PARTNER, Tok};
use super::syntax::{BinaryOp, Literal, MacroKind, Node, NodeKind, UnaryOp};

/// Converts a successfully parsed expression. `None` only if the tree has a
/// shape the crate does not produce for valid input.
pub fn convert(expr: &IdedExpr, info: &SourceInfo, src: &str, lexed: &Lexed, base: u32) -> Option<Node> {
    Conv { info, src, lexed, base }.node(expr)
}

struct Conv<'a> {
    info: &'a SourceInfo,
    src: &'a str,
    lexed: &'a Lexed,
    base: u32,
}

impl Conv<'_> {
    fn abs(&self, start: u32, end: u32) -> Span {
        Span::new(self.base + start, self.base + end)
    }
    /// The span of token `i`. Checked: the crate's offsets are trusted only
    /// as far as our tokens agree with them.
    fn tok_span(&self, i: usize) -> Option<Span> {
        let t = self.lexed.tokens.get(i)?;
        Some(self.abs(t.start, t.end))
    }
    /// The token the crate recorded for node `id`.
    fn anchor(&self, id: u64) -> Option<usize> {
        let (start, _) = self.info.offset_for(id)?;
        self.lexed.starting_at(start)
    }
    fn partner(&self, i: usize) -> Option<usize> {
        let p = *self.lexed.partner.get(i)?;
        (p != NO_PARTNER).then_some(p as usize)
    }
    /// The `(`/`[`/`{` token recorded for `id`, and its partner.
    fn bracketed(&self, id: u64, open: Tok) -> Option<(usize, usize)> {
        let i = self.anchor(id)?;
        (self.lexed.tokens[i].kind == open).then_some(())?;
        Some((i, self.partner(i)?))
    }

    fn node(&self, e: &IdedExpr) -> Option<Node> {
        let mut node = self.node_inner(e)?;
        node.span = self.widen(node.span);
        Some(node)
    }

    /// Extends a span over the grouping parentheses around it: `(a + b)`.
    fn widen(&self, span: Span) -> Span {
        let (mut start, mut end) = (span.start - self.base, span.end - self.base);
        while let (Some(i), Some(j)) = (self.lexed.starting_at(start), self.lexed.ending_at(end)) {
            if i == 0 || !self.lexed.is_grouping_paren(i - 1) || self.partner(i - 1) != Some(j + 1) {
                break;
            }
            start = self.lexed.tokens[i - 1].start;
            end = self.lexed.tokens[j + 1].end;
        }
        self.abs(start, end)
    }

    // Each kind of node is converted by its own function, so the frame of
    // this recursive dispatch stays small: a chain of 100 operators recurses
    // 100 times, and unoptimised builds give a `match` with many arms a
    // frame the size of all of them.
    fn node_inner(&self, e: &IdedExpr) -> Option<Node> {
        let (start, stop) = self.info.offset_for(e.id)?;
        let token = self.abs(start, stop + 1);
        match &e.expr {
            Expr::Literal(lit) => self.literal(lit, start, token),
            Expr::Ident(name) => self.ident(name, start, token),
            Expr::Select(sel) if !sel.test => self.select(e, sel),
            Expr::Select(sel) => self.has(e, sel),
            Expr::Call(call) => self.call(e, &call.func_name, call.target.as_deref(), &call.args, token),
            Expr::Comprehension(c) => self.comprehension(e, c),
            Expr::List(list) => self.list(e, list),
            Expr::Map(map) => self.map(e, map),
            Expr::Struct(s) => self.message(e, s),
            Expr::Unspecified => None,
        }
    }

    fn literal(&self, lit: &LiteralValue, start: u32, token: Span) -> Option<Node> {
        let (lit, negative) = literal(lit);
        // `-5` is one literal in the crate's tree, recorded at `5`.
        let span = match self.lexed.starting_at(start) {
            Some(i) if negative && i > 0 && self.lexed.tokens[i - 1].kind == Tok::Minus => {
                token.cover(self.tok_span(i - 1)?)
            }
            _ => token,
        };
        Some(Node { kind: NodeKind::Literal(lit), span })
    }

    fn ident(&self, name: &str, start: u32, token: Span) -> Option<Node> {
        let span = match self.lexed.starting_at(start) {
            Some(i) if name.starts_with('.') && i > 0 && self.lexed.tokens[i - 1].kind == Tok::Dot => {
                token.cover(self.tok_span(i - 1)?)
            }
            _ => token,
        };
        Some(Node { kind: NodeKind::Ident(name.trim_start_matches('.').to_string()), span })
    }

    fn select(&self, e: &IdedExpr, sel: &SelectExpr) -> Option<Node> {
        let operand = self.node(&sel.operand)?;
        let dot = self.anchor(e.id)?;
        let field_span = self.tok_span(dot + 1)?;
        let span = operand.span.cover(field_span);
        Some(Node { kind: NodeKind::Select { operand: Box::new(operand), field: sel.field.clone(), field_span }, span })
    }

    /// `has(a.b)`: recorded at the `(`; the field is the name after the
    /// operand's last token and a dot.
    fn has(&self, e: &IdedExpr, sel: &SelectExpr) -> Option<Node> {
        let (open, close) = self.bracketed(e.id, Tok::LParen)?;
        let operand = self.node(&sel.operand)?;
        let dot = self.lexed.at_or_after(operand.span.end - self.base);
        (self.lexed.tokens.get(dot)?.kind == Tok::Dot).then_some(())?;
        let field_span = self.tok_span(dot + 1)?;
        let span = self.tok_span(open.checked_sub(1)?)?.cover(self.tok_span(close)?);
        Some(Node { kind: NodeKind::Has { operand: Box::new(operand), field: sel.field.clone(), field_span }, span })
    }

    fn list(&self, e: &IdedExpr, list: &ListExpr) -> Option<Node> {
        let (open, close) = self.bracketed(e.id, Tok::LBracket)?;
        let mut items = Vec::with_capacity(list.elements.len());
        for (i, x) in list.elements.iter().enumerate() {
            let item = self.node(x)?;
            items.push(if list.optional_indices.contains(&i) {
                // `?item`: the `?` is the token before the item.
                let at = self.lexed.starting_at(item.span.start - self.base)?;
                let question = at.checked_sub(1).filter(|q| self.lexed.tokens[*q].kind == Tok::Question)?;
                let span = self.tok_span(question)?.cover(item.span);
                Node { kind: NodeKind::OptionalEntry(Box::new(item)), span }
            } else {
                item
            });
        }
        Some(Node { kind: NodeKind::List(items), span: self.tok_span(open)?.cover(self.tok_span(close)?) })
    }

    fn map(&self, e: &IdedExpr, map: &MapExpr) -> Option<Node> {
        let (open, close) = self.bracketed(e.id, Tok::LBrace)?;
        let mut entries = Vec::with_capacity(map.entries.len());
        for entry in &map.entries {
            let EntryExpr::MapEntry(m) = &entry.expr else { return None };
            let value = self.node(&m.value)?;
            let value = if m.optional {
                let span = value.span;
                Node { kind: NodeKind::OptionalEntry(Box::new(value)), span }
            } else {
                value
            };
            entries.push((self.node(&m.key)?, value));
        }
        Some(Node { kind: NodeKind::Map(entries), span: self.tok_span(open)?.cover(self.tok_span(close)?) })
    }

    fn message(&self, e: &IdedExpr, s: &StructExpr) -> Option<Node> {
        let (open, close) = self.bracketed(e.id, Tok::LBrace)?;
        // The type name is the run of names and dots before the `{`.
        let mut first = open;
        while first > 0 && matches!(self.lexed.tokens[first - 1].kind, Tok::Ident | Tok::Dot) {
            first -= 1;
        }
        let span = self.tok_span(first)?.cover(self.tok_span(close)?);
        Some(Node { kind: NodeKind::Message { type_name: s.type_name.clone() }, span })
    }

    fn call(
        &self,
        e: &IdedExpr,
        name: &str,
        target: Option<&IdedExpr>,
        args: &[IdedExpr],
        token: Span,
    ) -> Option<Node> {
        if let Some(op) = BinaryOp::from_cel_function(name) {
            return self.binary(op, args, token);
        }
        match name {
            "_?_:_" => self.ternary(args),
            "!_" => self.unary(UnaryOp::Not, args, token),
            "-_" => self.unary(UnaryOp::Neg, args, token),
            "_[_]" => self.index(e, args, false),
            "_[?_]" => self.index(e, args, true),
            "_?._" => self.opt_select(e, args),
            _ if name.starts_with('@') || name.starts_with('_') => None,
            _ => self.function(e, name, target, args),
        }
    }

    fn binary(&self, op: BinaryOp, args: &[IdedExpr], op_span: Span) -> Option<Node> {
        let [lhs, rhs] = args else { return None };
        let (lhs, rhs) = (self.node(lhs)?, self.node(rhs)?);
        let span = lhs.span.cover(rhs.span);
        Some(Node { kind: NodeKind::Binary { op, op_span, lhs: Box::new(lhs), rhs: Box::new(rhs) }, span })
    }

    fn ternary(&self, args: &[IdedExpr]) -> Option<Node> {
        let [cond, then, otherwise] = args else { return None };
        let (cond, then, otherwise) = (self.node(cond)?, self.node(then)?, self.node(otherwise)?);
        let span = cond.span.cover(otherwise.span);
        let kind = NodeKind::Ternary { cond: Box::new(cond), then: Box::new(then), otherwise: Box::new(otherwise) };
        Some(Node { kind, span })
    }

    fn unary(&self, op: UnaryOp, args: &[IdedExpr], op_span: Span) -> Option<Node> {
        let [operand] = args else { return None };
        let operand = self.node(operand)?;
        let span = op_span.cover(operand.span);
        Some(Node { kind: NodeKind::Unary { op, op_span, operand: Box::new(operand) }, span })
    }

    /// `a[i]`, or `a[?i]` when `optional`.
    fn index(&self, e: &IdedExpr, args: &[IdedExpr], optional: bool) -> Option<Node> {
        let [operand, index] = args else { return None };
        let (_, close) = self.bracketed(e.id, Tok::LBracket)?;
        let (operand, index) = (Box::new(self.node(operand)?), Box::new(self.node(index)?));
        let span = operand.span.cover(self.tok_span(close)?);
        let kind = if optional { NodeKind::OptIndex { operand, index } } else { NodeKind::Index { operand, index } };
        Some(Node { kind, span })
    }

    /// `a.?f`: recorded at the `.`, followed by `?` and the field's name.
    fn opt_select(&self, e: &IdedExpr, args: &[IdedExpr]) -> Option<Node> {
        let [operand, field] = args else { return None };
        let Expr::Literal(LiteralValue::String(field)) = &field.expr else { return None };
        let dot = self.anchor(e.id)?;
        let kinds = (self.lexed.tokens.get(dot)?.kind, self.lexed.tokens.get(dot + 1)?.kind);
        (kinds == (Tok::Dot, Tok::Question)).then_some(())?;
        let field_span = self.tok_span(dot + 2)?;
        let operand = self.node(operand)?;
        let span = operand.span.cover(field_span);
        Some(Node {
            kind: NodeKind::OptSelect { operand: Box::new(operand), field: field.inner().to_string(), field_span },
            span,
        })
    }

    fn function(&self, e: &IdedExpr, name: &str, target: Option<&IdedExpr>, args: &[IdedExpr]) -> Option<Node> {
        let (open, close) = self.bracketed(e.id, Tok::LParen)?;
        let name_span = self.tok_span(open.checked_sub(1)?)?;
        let target = match target {
            Some(t) => Some(self.node(t)?),
            None => None,
        };
        let args = args.iter().map(|a| self.node(a)).collect::<Option<Vec<_>>>()?;
        let start = target.as_ref().map_or(name_span, |t| t.span);
        let span = start.cover(self.tok_span(close)?);
        let name = name.trim_start_matches('.').to_string();
        Some(Node { kind: NodeKind::Call { target: target.map(Box::new), name, name_span, args }, span })
    }

    /// Folds an expanded macro back into the call that was written.
    fn comprehension(&self, e: &IdedExpr, c: &ComprehensionExpr) -> Option<Node> {
        let (open, close) = self.bracketed(e.id, Tok::LParen)?;
        let name_i = open.checked_sub(1)?;
        let name = self.lexed.text(self.src, name_i);
        let name_span = self.tok_span(name_i)?;
        let var_span = self.tok_span(open + 1)?;
        let step = &c.loop_step.expr;
        // The pieces of the expansion that hold what the user wrote; see the
        // expanders in the `cel` crate's `parser/macros.rs`.
        let (kind, args): (MacroKind, Vec<&IdedExpr>) = match name {
            "exists" => (MacroKind::Exists, vec![call_arg(step, "_||_", 1)?]),
            "all" => (MacroKind::All, vec![call_arg(step, "_&&_", 1)?]),
            "exists_one" | "existsOne" => (MacroKind::ExistsOne, vec![call_arg(step, "_?_:_", 0)?]),
            "filter" => (MacroKind::Filter, vec![call_arg(step, "_?_:_", 0)?]),
            "map" => match call_arg(step, "_+_", 1) {
                Some(appended) => (MacroKind::Map, vec![single_element(appended)?]),
                None => {
                    let filter = call_arg(step, "_?_:_", 0)?;
                    let appended = call_arg(&call_arg(step, "_?_:_", 1)?.expr, "_+_", 1)?;
                    (MacroKind::Map, vec![filter, single_element(appended)?])
                }
            },
            _ => return None,
        };
        let target = self.node(&c.iter_range)?;
        let args = args.into_iter().map(|a| self.node(a)).collect::<Option<Vec<_>>>()?;
        let span = target.span.cover(self.tok_span(close)?);
        Some(Node {
            kind: NodeKind::Macro {
                kind,
                name_span,
                target: Box::new(target),
                var: c.iter_var.clone(),
                var_span,
                args,
            },
            span,
        })
    }
}

fn call_arg<'e>(expr: &'e Expr, func: &str, index: usize) -> Option<&'e IdedExpr> {
    match expr {
        Expr::Call(c) if c.func_name == func => c.args.get(index),
        _ => None,
    }
}

fn single_element(list: &IdedExpr) -> Option<&IdedExpr> {
    match &list.expr {
        Expr::List(l) if l.elements.len() == 1 => l.elements.first(),
        _ => None,
    }
}

/// The literal, and whether it is a negative number (whose `-` sign token
/// belongs to it).
fn literal(lit: &LiteralValue) -> (Literal, bool) {
    match lit {
        LiteralValue::Null => (Literal::Null, false),
        LiteralValue::Boolean(b) => (Literal::Bool(*b.inner()), false),
        LiteralValue::Int(i) => {
            let v = *i.inner();
            (Literal::Int(v), v < 0)
        }
        LiteralValue::UInt(u) => (Literal::Uint(*u.inner()), false),
        LiteralValue::Double(d) => {
            let v = *d.inner();
            (Literal::Double(v), v.is_sign_negative())
        }
        LiteralValue::String(s) => (Literal::String(s.inner().to_string()), false),
        LiteralValue::Bytes(b) => (Literal::Bytes(b.inner().to_vec()), false),
    }
}
