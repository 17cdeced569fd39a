//! A parser for the common shapes of expression, from [`super::lexer`]
//! tokens, that spares them the `cel` crate's ANTLR parser.
//!
//! Why: the crate's parser costs tens of microseconds for `a.b` and hundreds
//! for a condition with a call and a list, while a project of 10,000 steps
//! must check in a fraction of a second. Most expressions are paths
//! (`$research.output.summary`), comparisons and boolean combinations of
//! them, which this parser reads in well under a microsecond.
//!
//! The contract: whatever this parser accepts, the crate's parser accepts
//! too, with the same tree (after [`super::convert`]) and the same spans. It
//! returns `None` — "ask the crate" — at anything outside the subset it knows
//! exactly: escapes in strings, raw and byte strings, leading-dot names,
//! reserved words, optional syntax, message construction, `-0`, repeated
//! unary operators, and any syntax error. A test compares both
//! parsers on generated expressions.

use flowc_grammar::ast::Span;

use super::lexer::{Lexed, Tok};
use super::syntax::{BinaryOp, Literal, MacroKind, Node, NodeKind, UnaryOp};

/// Deeper expressions go to the crate's parser, which enforces (and reports)
/// the real nesting limit.
const MAX_DEPTH: usize = 24;

/// Parses `src` (whose first byte is at `base` in the file), or returns
/// `None` to defer to the crate's parser.
pub fn parse(src: &str, lexed: &Lexed, base: u32) -> Option<Node> {
    if lexed.has_error || lexed.tokens.is_empty() || lexed.max_depth > MAX_DEPTH {
        return None;
    }
    let mut p = Fast { src, lexed, pos: 0, base, depth: 0 };
    let node = p.expr()?;
    (p.pos == lexed.tokens.len()).then_some(node)
}

struct Fast<'a> {
    src: &'a str,
    lexed: &'a Lexed,
    pos: usize,
    base: u32,
    depth: usize,
}

/// Words the CEL grammar reserves: not usable as names or function names.
pub const RESERVED: &[&str] = &[
    "as",
    "break",
    "const",
    "continue",
    "else",
    "for",
    "function",
    "if",
    "import",
    "let",
    "loop",
    "package",
    "namespace",
    "return",
    "var",
    "void",
    "while",
];

impl Fast<'_> {
    fn peek(&self) -> Option<Tok> {
        self.lexed.tokens.get(self.pos).map(|t| t.kind)
    }
    fn peek_at(&self, n: usize) -> Option<Tok> {
        self.lexed.tokens.get(self.pos + n).map(|t| t.kind)
    }
    fn span(&self, i: usize) -> Span {
        let t = self.lexed.tokens[i];
        Span::new(self.base + t.start, self.base + t.end)
    }
    fn text(&self, i: usize) -> &str {
        self.lexed.text(self.src, i)
    }
    fn eat(&mut self, kind: Tok) -> Option<usize> {
        if self.peek() == Some(kind) {
            self.pos += 1;
            Some(self.pos - 1)
        } else {
            None
        }
    }

    fn expr(&mut self) -> Option<Node> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return None;
        }
        let cond = self.logical(Tok::OrOr)?;
        let node = if self.eat(Tok::Question).is_some() {
            // The grammar reads the middle operand one level down, so
            // `a ? b ? c : d : e` is a syntax error there: defer it.
            let then = self.logical(Tok::OrOr)?;
            self.eat(Tok::Colon)?;
            let otherwise = self.expr()?;
            let span = cond.span.cover(otherwise.span);
            Node {
                kind: NodeKind::Ternary { cond: Box::new(cond), then: Box::new(then), otherwise: Box::new(otherwise) },
                span,
            }
        } else {
            cond
        };
        self.depth -= 1;
        Some(node)
    }

    /// `||` and `&&` chains, built into the balanced tree the crate builds.
    fn logical(&mut self, op: Tok) -> Option<Node> {
        let mut terms = vec![self.logical_term(op)?];
        let mut ops = Vec::new();
        while let Some(i) = self.eat(op) {
            ops.push(self.span(i));
            terms.push(self.logical_term(op)?);
        }
        let bin = if op == Tok::OrOr { BinaryOp::Or } else { BinaryOp::And };
        Some(balanced(bin, &mut terms, &ops))
    }

    fn logical_term(&mut self, op: Tok) -> Option<Node> {
        if op == Tok::OrOr { self.logical(Tok::AndAnd) } else { self.relation() }
    }

    fn relation(&mut self) -> Option<Node> {
        let mut lhs = self.additive()?;
        loop {
            let op = match self.peek() {
                Some(Tok::EqEq) => BinaryOp::Eq,
                Some(Tok::NotEq) => BinaryOp::Ne,
                Some(Tok::Lt) => BinaryOp::Lt,
                Some(Tok::Le) => BinaryOp::Le,
                Some(Tok::Gt) => BinaryOp::Gt,
                Some(Tok::Ge) => BinaryOp::Ge,
                Some(Tok::In) => BinaryOp::In,
                _ => return Some(lhs),
            };
            let op_span = self.span(self.pos);
            self.pos += 1;
            let rhs = self.additive()?;
            lhs = binary(op, op_span, lhs, rhs);
        }
    }

    fn additive(&mut self) -> Option<Node> {
        let mut lhs = self.multiplicative()?;
        loop {
            let op = match self.peek() {
                Some(Tok::Plus) => BinaryOp::Add,
                Some(Tok::Minus) => BinaryOp::Sub,
                _ => return Some(lhs),
            };
            let op_span = self.span(self.pos);
            self.pos += 1;
            let rhs = self.multiplicative()?;
            lhs = binary(op, op_span, lhs, rhs);
        }
    }

    fn multiplicative(&mut self) -> Option<Node> {
        let mut lhs = self.unary()?;
        loop {
            let op = match self.peek() {
                Some(Tok::Star) => BinaryOp::Mul,
                Some(Tok::Slash) => BinaryOp::Div,
                Some(Tok::Percent) => BinaryOp::Rem,
                _ => return Some(lhs),
            };
            let op_span = self.span(self.pos);
            self.pos += 1;
            let rhs = self.unary()?;
            lhs = binary(op, op_span, lhs, rhs);
        }
    }

    fn unary(&mut self) -> Option<Node> {
        let op = match self.peek() {
            Some(Tok::Bang) => UnaryOp::Not,
            Some(Tok::Minus) => UnaryOp::Neg,
            _ => return self.member(),
        };
        // `!!x` and `--x` cancel out in the crate's tree: leave those to it.
        if matches!(self.peek_at(1), Some(Tok::Bang | Tok::Minus)) {
            return None;
        }
        if op == UnaryOp::Neg && matches!(self.peek_at(1), Some(Tok::Int | Tok::Double)) {
            // The grammar reads `-5` as one literal (then `-5.f()` calls `f`
            // on it), not as a negation.
            let literal = self.signed_literal()?;
            return self.member_tail(literal);
        }
        let op_span = self.span(self.pos);
        self.pos += 1;
        let operand = self.member()?;
        let span = op_span.cover(operand.span);
        Some(Node { kind: NodeKind::Unary { op, op_span, operand: Box::new(operand) }, span })
    }

    /// `-` and the number after it, as the grammar's signed literal.
    fn signed_literal(&mut self) -> Option<Node> {
        let minus = self.span(self.pos);
        let i = self.pos + 1;
        self.pos += 2;
        let text = self.text(i);
        let span = minus.cover(self.span(i));
        let lit = if self.lexed.tokens[i].kind == Tok::Int {
            let (radix, digits) = match text.strip_prefix("0x") {
                Some(hex) => (16, hex),
                None => (10, text),
            };
            let value = i64::from_str_radix(&format!("-{digits}"), radix).ok()?;
            // `-0` is the literal 0, whose span the conversion cannot tell
            // from a `0` after a binary minus.
            if value == 0 {
                return None;
            }
            Literal::Int(value)
        } else {
            Literal::Double(format!("-{text}").parse::<f64>().ok().filter(|d| d.is_finite())?)
        };
        Some(Node { kind: NodeKind::Literal(lit), span })
    }

    fn member(&mut self) -> Option<Node> {
        let node = self.primary()?;
        self.member_tail(node)
    }

    /// The selections, calls and indexes after an operand.
    fn member_tail(&mut self, mut node: Node) -> Option<Node> {
        loop {
            match self.peek() {
                Some(Tok::Dot) => {
                    self.pos += 1;
                    let name_i = self.eat(Tok::Ident)?;
                    let name_span = self.span(name_i);
                    let name = self.text(name_i).to_string();
                    if self.peek() == Some(Tok::LParen) {
                        let (args, close) = self.args()?;
                        let span = node.span.cover(close);
                        node = match MacroKind::from_call(&name, args.len()) {
                            Some(kind) => macro_call(kind, name_span, node, args, span)?,
                            None => Node {
                                kind: NodeKind::Call { target: Some(Box::new(node)), name, name_span, args },
                                span,
                            },
                        };
                    } else if self.peek() == Some(Tok::LBrace) {
                        // `a.b{…}` constructs a message.
                        return None;
                    } else {
                        let span = node.span.cover(name_span);
                        node = Node {
                            kind: NodeKind::Select { operand: Box::new(node), field: name, field_span: name_span },
                            span,
                        };
                    }
                }
                Some(Tok::LBracket) => {
                    self.pos += 1;
                    let index = self.expr()?;
                    let close = self.eat(Tok::RBracket)?;
                    let span = node.span.cover(self.span(close));
                    node = Node { kind: NodeKind::Index { operand: Box::new(node), index: Box::new(index) }, span };
                }
                _ => return Some(node),
            }
        }
    }

    /// `(a, b)`: the arguments and the span of the closing paren.
    fn args(&mut self) -> Option<(Vec<Node>, Span)> {
        self.eat(Tok::LParen)?;
        let mut args = Vec::new();
        if let Some(close) = self.eat(Tok::RParen) {
            return Some((args, self.span(close)));
        }
        loop {
            args.push(self.expr()?);
            if let Some(close) = self.eat(Tok::RParen) {
                return Some((args, self.span(close)));
            }
            self.eat(Tok::Comma)?;
        }
    }

    fn primary(&mut self) -> Option<Node> {
        let i = self.pos;
        let kind = self.peek()?;
        self.pos += 1;
        let span = self.span(i);
        let lit = |l: Literal| Some(Node { kind: NodeKind::Literal(l), span });
        match kind {
            Tok::Ident => {
                let name = self.text(i);
                if RESERVED.contains(&name) {
                    return None;
                }
                let name = name.to_string();
                let name_span = span;
                match self.peek() {
                    Some(Tok::LParen) => {
                        let (mut args, close) = self.args()?;
                        let span = span.cover(close);
                        if name == "has" && args.len() == 1 {
                            let arg = args.pop()?;
                            let NodeKind::Select { operand, field, field_span } = arg.kind else { return None };
                            return Some(Node { kind: NodeKind::Has { operand, field, field_span }, span });
                        }
                        Some(Node { kind: NodeKind::Call { target: None, name, name_span, args }, span })
                    }
                    Some(Tok::LBrace) => None,
                    _ => Some(Node { kind: NodeKind::Ident(name), span }),
                }
            }
            Tok::LParen => {
                let mut inner = self.expr()?;
                let close = self.eat(Tok::RParen)?;
                inner.span = span.cover(self.span(close));
                Some(inner)
            }
            Tok::LBracket => {
                let mut items = Vec::new();
                loop {
                    if let Some(close) = self.eat(Tok::RBracket) {
                        return Some(Node { kind: NodeKind::List(items), span: span.cover(self.span(close)) });
                    }
                    items.push(self.expr()?);
                    if self.peek() != Some(Tok::RBracket) {
                        self.eat(Tok::Comma)?;
                    }
                }
            }
            Tok::LBrace => {
                let mut entries = Vec::new();
                loop {
                    if let Some(close) = self.eat(Tok::RBrace) {
                        return Some(Node { kind: NodeKind::Map(entries), span: span.cover(self.span(close)) });
                    }
                    let key = self.expr()?;
                    self.eat(Tok::Colon)?;
                    let value = self.expr()?;
                    entries.push((key, value));
                    if self.peek() != Some(Tok::RBrace) {
                        self.eat(Tok::Comma)?;
                    }
                }
            }
            Tok::Int => {
                let text = self.text(i);
                let value = match text.strip_prefix("0x") {
                    Some(hex) => i64::from_str_radix(hex, 16).ok()?,
                    None => text.parse::<i64>().ok()?,
                };
                lit(Literal::Int(value))
            }
            Tok::Uint => {
                let text = &self.text(i)[..self.text(i).len() - 1];
                let value = match text.strip_prefix("0x") {
                    Some(hex) => u64::from_str_radix(hex, 16).ok()?,
                    None => text.parse::<u64>().ok()?,
                };
                lit(Literal::Uint(value))
            }
            Tok::Double => {
                let value = self.text(i).parse::<f64>().ok().filter(|d| d.is_finite())?;
                lit(Literal::Double(value))
            }
            Tok::String => {
                let text = self.text(i);
                let quote = text.as_bytes()[0];
                let simple = matches!(quote, b'\'' | b'"')
                    && text.len() >= 2
                    && !text.starts_with("'''")
                    && !text.starts_with("\"\"\"")
                    && !text.contains('\\');
                if !simple {
                    return None;
                }
                lit(Literal::String(text[1..text.len() - 1].to_string()))
            }
            Tok::True => lit(Literal::Bool(true)),
            Tok::False => lit(Literal::Bool(false)),
            Tok::Null => lit(Literal::Null),
            _ => None,
        }
    }
}

fn binary(op: BinaryOp, op_span: Span, lhs: Node, rhs: Node) -> Node {
    let span = lhs.span.cover(rhs.span);
    Node { kind: NodeKind::Binary { op, op_span, lhs: Box::new(lhs), rhs: Box::new(rhs) }, span }
}

/// The crate's `LogicManager::balanced_tree`, so both parsers build the same
/// shape for `a && b && c`.
pub fn balanced(op: BinaryOp, terms: &mut [Node], ops: &[Span]) -> Node {
    if ops.is_empty() {
        return std::mem::replace(&mut terms[0], placeholder());
    }
    build(op, terms, ops, 0, ops.len() - 1)
}

fn build(op: BinaryOp, terms: &mut [Node], ops: &[Span], lo: usize, hi: usize) -> Node {
    let mid = (lo + hi).div_ceil(2);
    let left =
        if mid == lo { std::mem::replace(&mut terms[mid], placeholder()) } else { build(op, terms, ops, lo, mid - 1) };
    let right = if mid == hi {
        std::mem::replace(&mut terms[mid + 1], placeholder())
    } else {
        build(op, terms, ops, mid + 1, hi)
    };
    binary(op, ops[mid], left, right)
}

fn placeholder() -> Node {
    Node { kind: NodeKind::Literal(Literal::Null), span: Span::default() }
}

/// A receiver-style macro call, whose first argument must be a bare name.
fn macro_call(kind: MacroKind, name_span: Span, target: Node, mut args: Vec<Node>, span: Span) -> Option<Node> {
    let var = args.remove(0);
    let NodeKind::Ident(name) = var.kind else { return None };
    // A parenthesized variable is accepted by the crate, but its span would
    // differ between the parsers.
    if var.span.len() as usize != name.len() {
        return None;
    }
    Some(Node {
        kind: NodeKind::Macro { kind, name_span, target: Box::new(target), var: name, var_span: var.span, args },
        span,
    })
}
