//! Data literals, types, expressions and name lists: the parts of a line that
//! may have to wrap.
//!
//! A data literal or an object type is printed on one line when it fits in
//! `WIDTH` and holds no comment; otherwise it is printed one entry per line,
//! each entry followed by a comma, and each nested literal makes the same
//! choice again for the room it has. Name lists (`after`, `at`, `short`,
//! `protect`) fill lines instead, continuing on lines indented by
//! `CONTINUATION`, since the grammar allows no trailing comma there.

use super::Printer;
use super::out::WIDTH;
use crate::ast::{Expr, Field, Span, TypeExpr, TypeField, TypeKind, Value, ValueKind};

impl Printer<'_> {
    /// A CEL expression, backticks included, exactly as written.
    pub(super) fn cel(&mut self, e: &Expr) {
        self.lit(Span::new(e.span.start.saturating_sub(1), e.span.end + 1));
    }

    /// A token exactly as written, after a space.
    pub(super) fn lit(&mut self, span: Span) {
        self.out.space();
        self.verbatim(span);
    }

    /// Whether the literal spanning `span`, `width` characters wide when flat,
    /// fits on the current line, with `suffix` characters after it.
    fn fits(&self, span: Span, width: Option<usize>, suffix: usize) -> bool {
        let Some(width) = width else { return false };
        // A comment inside the literal needs a line of its own.
        if self.comments.next_before(span.end).is_some() {
            return false;
        }
        self.out.col() + self.out.space_width() + width + suffix <= WIDTH
    }

    /// The width of a literal printed on one line, or `None` if it cannot be
    /// (it holds text that spans lines).
    fn value_width(&self, v: &Value) -> Option<usize> {
        match &v.kind {
            ValueKind::Object(fields) if fields.is_empty() => Some(2),
            ValueKind::Object(fields) => {
                let mut w = 4 + 2 * (fields.len() - 1);
                for f in fields {
                    w += self.token_width(f.key.span)? + 2 + self.value_width(&f.value)?;
                }
                Some(w)
            }
            ValueKind::Array(items) => {
                let mut w = 2 + 2 * items.len().saturating_sub(1);
                for item in items {
                    w += self.value_width(item)?;
                }
                Some(w)
            }
            _ => self.token_width(v.span),
        }
    }

    fn token_width(&self, span: Span) -> Option<usize> {
        let text = self.slice(span);
        if text.contains('\n') { None } else { Some(text.chars().count()) }
    }

    /// A data literal, after a space. `suffix` is the width of what must
    /// follow it on its line (a comma).
    pub(super) fn value(&mut self, v: &Value, suffix: usize) {
        self.flush_inline(v.span.start);
        self.out.space();
        self.value_unspaced(v, suffix);
    }

    /// A data literal that follows the previous text directly, unless a space
    /// was asked for.
    fn value_unspaced(&mut self, v: &Value, suffix: usize) {
        match &v.kind {
            ValueKind::Object(fields) => {
                if self.fits(v.span, self.value_width(v), suffix) {
                    self.out.word("{");
                    for (i, f) in fields.iter().enumerate() {
                        if i > 0 {
                            self.out.punct(",");
                        }
                        self.out.space();
                        self.verbatim(f.key.span);
                        self.out.punct(":");
                        self.value(&f.value, 0);
                    }
                    if !fields.is_empty() {
                        self.out.space();
                    }
                    self.out.word("}");
                } else {
                    self.out.word("{");
                    let items: Vec<_> = fields.iter().map(|f| (f.span, f)).collect();
                    self.list(v.span.start + 1, v.span.end - 1, "}", Vec::new(), &items, |p, f| p.broken_field(f));
                }
            }
            ValueKind::Array(items) => {
                if self.fits(v.span, self.value_width(v), suffix) {
                    self.out.word("[");
                    for (i, item) in items.iter().enumerate() {
                        if i > 0 {
                            self.out.punct(",");
                            self.out.space();
                        }
                        self.value_unspaced(item, 0);
                    }
                    self.out.punct("]");
                } else {
                    self.out.word("[");
                    let items: Vec<_> = items.iter().map(|v| (v.span, v)).collect();
                    self.list(v.span.start + 1, v.span.end - 1, "]", Vec::new(), &items, |p, item| {
                        p.value(item, 1);
                        p.comments_before_comma(item.span.end);
                        p.out.punct(",");
                    });
                }
            }
            _ => self.verbatim(v.span),
        }
    }

    fn type_width(&self, t: &TypeExpr) -> Option<usize> {
        match &t.kind {
            TypeKind::List(inner) => Some(2 + self.type_width(inner)?),
            TypeKind::Object(fields) if fields.is_empty() => Some(2),
            TypeKind::Object(fields) => {
                let mut w = 4 + 2 * (fields.len() - 1);
                for f in fields {
                    w += self.token_width(f.name.span)? + usize::from(f.optional) + 2 + self.type_width(&f.ty)?;
                }
                Some(w)
            }
            _ => self.token_width(t.span),
        }
    }

    /// A type, after a space.
    pub(super) fn type_expr(&mut self, t: &TypeExpr, suffix: usize) {
        self.flush_inline(t.span.start);
        self.out.space();
        self.type_unspaced(t, suffix);
    }

    fn type_unspaced(&mut self, t: &TypeExpr, suffix: usize) {
        match &t.kind {
            TypeKind::List(inner) => {
                self.out.word("[");
                self.flush_inline(inner.span.start);
                self.type_unspaced(inner, suffix + 1);
                self.flush_inline(t.span.end - 1);
                self.out.punct("]");
            }
            TypeKind::Object(fields) => {
                if self.fits(t.span, self.type_width(t), suffix) {
                    self.out.word("{");
                    for (i, f) in fields.iter().enumerate() {
                        if i > 0 {
                            self.out.punct(",");
                        }
                        self.out.space();
                        self.type_field(f, 0);
                    }
                    if !fields.is_empty() {
                        self.out.space();
                    }
                    self.out.word("}");
                } else {
                    self.out.word("{");
                    let items: Vec<_> = fields.iter().map(|f| (f.span, f)).collect();
                    self.list(t.span.start + 1, t.span.end - 1, "}", Vec::new(), &items, |p, f| {
                        p.type_field(f, 1);
                        p.comments_before_comma(f.span.end);
                        p.out.punct(",");
                    });
                }
            }
            _ => self.verbatim(t.span),
        }
    }

    fn type_field(&mut self, f: &TypeField, suffix: usize) {
        self.verbatim(f.name.span);
        let mut end = f.name.span.end;
        if f.optional {
            end = self.punct_after(end, "?");
        }
        self.punct_after(end, ":");
        self.type_expr(&f.ty, suffix);
    }

    /// An object entry on a line of its own, with its comma.
    pub(super) fn broken_field(&mut self, f: &Field) {
        self.verbatim(f.key.span);
        self.punct_after(f.key.span.end, ":");
        self.value(&f.value, 1);
        self.comments_before_comma(f.span.end);
        self.out.punct(",");
    }

    /// A comma-separated list of tokens (names or strings), filling lines.
    /// `tail` characters must fit after the last token on its line (` {`
    /// after an `after` list, `) {` after a trigger rule's).
    pub(super) fn fill(&mut self, tokens: &[Span], tail: usize) {
        for (i, span) in tokens.iter().enumerate() {
            self.flush_inline(span.start);
            let is_last = i + 1 == tokens.len();
            let width = self.token_width(*span).unwrap_or(0) + if is_last { tail } else { 1 };
            if !self.out.fresh_line() && self.out.col() + self.out.space_width() + width > WIDTH {
                self.out.break_continuation();
            }
            self.verbatim(*span);
            if !is_last {
                self.comments_before_comma(span.end);
                self.out.punct(",");
                self.out.space();
            }
        }
    }
}
