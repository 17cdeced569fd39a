//! Splitting a file into pieces that parse on their own: each top-level
//! declaration, and each item of a workflow body (a step, a group, an input…).
//!
//! The compiler parses pieces separately and memoises the parse by the piece's
//! text, so an edit re-parses only the piece it touches, and every other piece
//! keeps a parse that is equal to the old one (its spans are relative to the
//! piece). The split is heuristic — an item starts on a line whose first word
//! is a workflow keyword, at brace depth 1 — so the compiler falls back to the
//! whole-file parse whenever the split is unsure or any piece fails to parse.

use crate::ast::Span;
use crate::errors::WORKFLOW_KEYWORDS;
use crate::lexer::{Lexed, TokenKind};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PieceKind {
    /// A whole top-level declaration other than a workflow.
    Declaration,
    /// One statement of a workflow body.
    WorkflowItem,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Piece {
    pub kind: PieceKind,
    pub span: Span,
}

/// A workflow declaration: its name and the pieces of its body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkflowOutline {
    pub name: String,
    pub name_span: Span,
    pub span: Span,
    pub items: Vec<Piece>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutlineDecl {
    Workflow(WorkflowOutline),
    Other(Piece),
}

/// The pieces of a file, or `None` when the file cannot be split with confidence
/// (lexical errors, unbalanced braces, stray text): then parse it whole.
pub fn outline(src: &str, lexed: &Lexed) -> Option<Vec<OutlineDecl>> {
    if !lexed.errors.is_empty() || lexed.too_deep.is_some() {
        return None;
    }
    // Byte ranges covered by strings, expressions and comments: braces and
    // words inside them do not count.
    let mut opaque: Vec<Span> = Vec::new();
    let mut braces: Vec<(u32, bool)> = Vec::new();
    for t in &lexed.tokens {
        match t.kind {
            TokenKind::OpenBrace => braces.push((t.span.start, true)),
            TokenKind::CloseBrace => braces.push((t.span.start, false)),
            _ => opaque.push(t.span),
        }
    }
    let bytes = src.as_bytes();
    let mut decls = Vec::new();
    let mut pos = 0usize;
    let mut brace_idx = 0usize;
    loop {
        pos = skip_trivia(src, pos, &opaque);
        if pos >= bytes.len() {
            break;
        }
        let start = pos;
        // The declaration's first `{` must come before any `}`; its block ends
        // at the `}` that returns to depth 0.
        let (open, _) = *braces.get(brace_idx)?;
        if !braces[brace_idx].1 || (open as usize) < start {
            return None;
        }
        let mut depth = 0i32;
        let mut end = None;
        let first = brace_idx;
        while brace_idx < braces.len() {
            let (at, is_open) = braces[brace_idx];
            brace_idx += 1;
            depth += if is_open { 1 } else { -1 };
            if depth == 0 {
                end = Some(at as usize + 1);
                break;
            }
        }
        let end = end?;
        let span = Span::from_range(start..end);
        let head = &src[start..open as usize];
        let mut words = head.split_whitespace();
        if words.next() == Some("workflow") {
            let name = words.next()?.to_string();
            if words.next().is_some() || !is_ident(&name) {
                return None;
            }
            let name_start = start + head.find(&name)?;
            let items = workflow_items(src, open as usize + 1, end - 1, &braces[first..brace_idx], &opaque)?;
            decls.push(OutlineDecl::Workflow(WorkflowOutline {
                name_span: Span::from_range(name_start..name_start + name.len()),
                name,
                span,
                items,
            }));
        } else {
            decls.push(OutlineDecl::Other(Piece { kind: PieceKind::Declaration, span }));
        }
        pos = end;
    }
    Some(decls)
}

/// Splits a workflow body (`body_start..body_end`, inside the braces) into items.
fn workflow_items(src: &str, body_start: usize, body_end: usize, braces: &[(u32, bool)], opaque: &[Span]) -> Option<Vec<Piece>> {
    // Depth (relative to the body) at each brace; an offset is at depth 1 of the
    // workflow when no brace opened after the body start is still open.
    let mut starts = Vec::new();
    let mut depth = 0i32;
    let mut bi = 1; // braces[0] is the workflow's own `{`
    let pos = skip_trivia(src, body_start, opaque);
    if pos < body_end {
        starts.push(pos);
    }
    // Walk line starts; a line whose first word (at depth 0 of the body, not in
    // a string or comment) is a workflow keyword starts a new item.
    let bytes = src.as_bytes();
    let mut i = pos;
    while i < body_end {
        if bytes[i] == b'\n' {
            let mut j = i + 1;
            while j < body_end && (bytes[j] == b' ' || bytes[j] == b'\t' || bytes[j] == b'\r') {
                j += 1;
            }
            while bi < braces.len() && (braces[bi].0 as usize) < j {
                depth += if braces[bi].1 { 1 } else { -1 };
                bi += 1;
            }
            if depth == 0 && j < body_end && !inside(opaque, j) {
                let word_end = src[j..body_end].find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).map_or(body_end, |k| j + k);
                if word_end > j && WORKFLOW_KEYWORDS.contains(&&src[j..word_end]) && starts.last() != Some(&j) {
                    starts.push(j);
                }
            }
            i = j;
            continue;
        }
        i += 1;
    }
    let mut items = Vec::with_capacity(starts.len());
    for (k, s) in starts.iter().enumerate() {
        let e = starts.get(k + 1).copied().unwrap_or(body_end);
        items.push(Piece { kind: PieceKind::WorkflowItem, span: Span::from_range(*s..e) });
    }
    Some(items)
}

fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_') && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Whether `offset` lies inside a string, expression or comment.
fn inside(opaque: &[Span], offset: usize) -> bool {
    let o = offset as u32;
    let i = opaque.partition_point(|s| s.end <= o);
    opaque.get(i).is_some_and(|s| s.start <= o && o < s.end)
}

/// Skips whitespace and comments.
fn skip_trivia(src: &str, mut pos: usize, opaque: &[Span]) -> usize {
    let bytes = src.as_bytes();
    loop {
        while pos < bytes.len() && bytes[pos].is_ascii_whitespace() {
            pos += 1;
        }
        if pos + 1 < bytes.len() && bytes[pos] == b'/' && (bytes[pos + 1] == b'/' || bytes[pos + 1] == b'*') {
            let o = pos as u32;
            match opaque.iter().find(|s| s.start == o) {
                Some(s) => pos = s.end as usize,
                None => return pos,
            }
        } else if pos < bytes.len() && bytes[pos] == 0xEF && src[pos..].starts_with('\u{FEFF}') {
            pos += 3;
        } else {
            return pos;
        }
    }
}
