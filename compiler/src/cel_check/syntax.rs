//! The syntax tree the checker works on.
//!
//! The `cel` crate's AST is built for evaluation: macros arrive expanded
//! into comprehensions over internal `@result` variables, and a node knows
//! only one token of its position. This tree keeps what a person wrote —
//! `x.exists(v, p)` stays a macro call with its predicate — and every node
//! has the byte span of its whole text in the file, grouping parentheses
//! included, so a diagnostic can underline exactly the part that is wrong.
//!
//! Two producers build it and must agree (a test compares them): the fast
//! parser for common shapes ([`super::fast`]) and the conversion of the
//! crate's AST ([`super::convert`]).

use flowc_grammar::ast::Span;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Node {
    pub kind: NodeKind,
    /// The whole node, in bytes of the file.
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum NodeKind {
    Literal(Literal),
    /// A name. A leading dot (`.x`, "from the root scope") is dropped.
    Ident(String),
    /// `operand.field`.
    Select {
        operand: Box<Node>,
        field: String,
        field_span: Span,
    },
    /// `has(operand.field)`.
    Has {
        operand: Box<Node>,
        field: String,
        field_span: Span,
    },
    /// `operand[index]`.
    Index {
        operand: Box<Node>,
        index: Box<Node>,
    },
    /// `operand.?field`: an optional, none when the field is absent.
    OptSelect {
        operand: Box<Node>,
        field: String,
        field_span: Span,
    },
    /// `operand[?index]`: an optional, none when there is no such element.
    OptIndex {
        operand: Box<Node>,
        index: Box<Node>,
    },
    /// An optional entry of a literal: the `?value` of a list (`[?a, b]`,
    /// spanning the `?`) or the value of a `?key: value` map entry (spanning
    /// the value). The optional's value is included, or nothing when it is
    /// none. Found only as a list item or a map entry's value.
    OptionalEntry(Box<Node>),
    Unary {
        op: UnaryOp,
        op_span: Span,
        operand: Box<Node>,
    },
    Binary {
        op: BinaryOp,
        op_span: Span,
        lhs: Box<Node>,
        rhs: Box<Node>,
    },
    /// `cond ? then : otherwise`.
    Ternary {
        cond: Box<Node>,
        then: Box<Node>,
        otherwise: Box<Node>,
    },
    /// A function call, `name(args)`, or a method call, `target.name(args)`.
    Call {
        target: Option<Box<Node>>,
        name: String,
        name_span: Span,
        args: Vec<Node>,
    },
    /// `target.name(var, args…)`: `all`, `exists`, `exists_one`, `map`, `filter`.
    Macro {
        kind: MacroKind,
        name_span: Span,
        target: Box<Node>,
        var: String,
        var_span: Span,
        args: Vec<Node>,
    },
    List(Vec<Node>),
    /// `{key: value, …}`.
    Map(Vec<(Node, Node)>),
    /// `Name{field: value}`: protobuf message construction, which `.flow` has
    /// no types for.
    Message {
        type_name: String,
    },
}

#[derive(Clone, Debug)]
pub enum Literal {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Double(f64),
    String(String),
    Bytes(Vec<u8>),
}

// Equality is bitwise for doubles, so the tree can be `Eq` and memoised.
impl PartialEq for Literal {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Literal::Double(a), Literal::Double(b)) => a.to_bits() == b.to_bits(),
            (Literal::Null, Literal::Null) => true,
            (Literal::Bool(a), Literal::Bool(b)) => a == b,
            (Literal::Int(a), Literal::Int(b)) => a == b,
            (Literal::Uint(a), Literal::Uint(b)) => a == b,
            (Literal::String(a), Literal::String(b)) => a == b,
            (Literal::Bytes(a), Literal::Bytes(b)) => a == b,
            _ => false,
        }
    }
}
impl Eq for Literal {}
impl std::hash::Hash for Literal {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        std::mem::discriminant(self).hash(state);
        match self {
            Literal::Null => {}
            Literal::Bool(b) => b.hash(state),
            Literal::Int(i) => i.hash(state),
            Literal::Uint(u) => u.hash(state),
            Literal::Double(d) => d.to_bits().hash(state),
            Literal::String(s) => s.hash(state),
            Literal::Bytes(b) => b.hash(state),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    Not,
    Neg,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

impl BinaryOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Or => "||",
            BinaryOp::And => "&&",
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::In => "in",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Rem => "%",
        }
    }

    /// The operator the `cel` crate names `_+_`, `@in`, ….
    pub fn from_cel_function(name: &str) -> Option<BinaryOp> {
        Some(match name {
            "_||_" => BinaryOp::Or,
            "_&&_" => BinaryOp::And,
            "_==_" => BinaryOp::Eq,
            "_!=_" => BinaryOp::Ne,
            "_<_" => BinaryOp::Lt,
            "_<=_" => BinaryOp::Le,
            "_>_" => BinaryOp::Gt,
            "_>=_" => BinaryOp::Ge,
            "@in" => BinaryOp::In,
            "_+_" => BinaryOp::Add,
            "_-_" => BinaryOp::Sub,
            "_*_" => BinaryOp::Mul,
            "_/_" => BinaryOp::Div,
            "_%_" => BinaryOp::Rem,
            _ => return None,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MacroKind {
    All,
    Exists,
    ExistsOne,
    /// `map(v, transform)` or `map(v, filter, transform)`.
    Map,
    Filter,
}

impl MacroKind {
    /// The macro a receiver-style call names, with its argument count
    /// (variable included), as the `cel` crate expands them.
    pub fn from_call(name: &str, arity: usize) -> Option<MacroKind> {
        Some(match (name, arity) {
            ("all", 2) => MacroKind::All,
            ("exists", 2) => MacroKind::Exists,
            ("exists_one" | "existsOne", 2) => MacroKind::ExistsOne,
            ("map", 2 | 3) => MacroKind::Map,
            ("filter", 2) => MacroKind::Filter,
            _ => return None,
        })
    }
}

impl Node {
    /// Calls `f` on every direct child.
    pub fn for_each_child<'a>(&'a self, mut f: impl FnMut(&'a Node)) {
        match &self.kind {
            NodeKind::Literal(_) | NodeKind::Ident(_) | NodeKind::Message { .. } => {}
            NodeKind::Select { operand, .. }
            | NodeKind::Has { operand, .. }
            | NodeKind::Unary { operand, .. }
            | NodeKind::OptSelect { operand, .. }
            | NodeKind::OptionalEntry(operand) => f(operand),
            NodeKind::Index { operand, index } | NodeKind::OptIndex { operand, index } => {
                f(operand);
                f(index)
            }
            NodeKind::Binary { lhs, rhs, .. } => {
                f(lhs);
                f(rhs)
            }
            NodeKind::Ternary { cond, then, otherwise } => {
                f(cond);
                f(then);
                f(otherwise)
            }
            NodeKind::Call { target, args, .. } => {
                if let Some(t) = target {
                    f(t)
                }
                args.iter().for_each(f)
            }
            NodeKind::Macro { target, args, .. } => {
                f(target);
                args.iter().for_each(f)
            }
            NodeKind::List(items) => items.iter().for_each(f),
            NodeKind::Map(entries) => entries.iter().for_each(|(k, v)| {
                f(k);
                f(v)
            }),
        }
    }

    /// `a.b.c` as `("a", ["b", "c"])`, when the node is such a path.
    pub fn as_path(&self) -> Option<(&str, Vec<&str>)> {
        let mut fields = Vec::new();
        let mut node = self;
        loop {
            match &node.kind {
                NodeKind::Ident(name) => {
                    fields.reverse();
                    return Some((name, fields));
                }
                NodeKind::Select { operand, field, .. } => {
                    fields.push(field.as_str());
                    node = operand;
                }
                _ => return None,
            }
        }
    }
}
