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
    /// One statement of a workflow body, or one member of a group.
    WorkflowItem,
    /// The header of a `parallel`/`phase` group, up to and including its `{`;
    /// its members are pieces of their own. Parsed as the header followed by `}`.
    GroupHeader,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Piece {
    pub kind: PieceKind,
    pub span: Span,
    /// The index (in the workflow's item list) of the group header this piece
    /// is a member of.
    pub parent: Option<u32>,
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
            decls.push(OutlineDecl::Other(Piece { kind: PieceKind::Declaration, span, parent: None }));
        }
        pos = end;
    }
    Some(decls)
}

/// Splits a workflow body (`body_start..body_end`, inside the braces) into items.
fn workflow_items(src: &str, body_start: usize, body_end: usize, braces: &[(u32, bool)], opaque: &[Span]) -> Option<Vec<Piece>> {
    let mut out = Vec::new();
    split_items(src, body_start, body_end, braces, opaque, WORKFLOW_KEYWORDS, None, &mut out)?;
    Some(out)
}

const GROUP_KEYWORDS: &[&str] = &["step", "parallel", "phase"];

/// Splits a region into items: each starts on a line whose first word (at the
/// region's own brace depth, outside strings and comments) is one of
/// `keywords`. A `parallel`/`phase` item becomes a header piece and its
/// members, recursively, so an edit in a group re-parses one member.
#[allow(clippy::too_many_arguments)]
fn split_items(
    src: &str,
    start: usize,
    end: usize,
    braces: &[(u32, bool)],
    opaque: &[Span],
    keywords: &[&str],
    parent: Option<u32>,
    out: &mut Vec<Piece>,
) -> Option<()> {
    let starts = item_starts(src, start, end, braces, opaque, keywords);
    for (k, &s) in starts.iter().enumerate() {
        let e = starts.get(k + 1).copied().unwrap_or(end);
        let word = first_word(src, s, e);
        // A group holds steps and groups only: anything else parsed as a
        // workflow item would be moved to the whole workflow (a `timeout` in
        // a `parallel`). The whole-file parse says what is wrong instead.
        if parent.is_some() && !GROUP_KEYWORDS.contains(&word) {
            return None;
        }
        if word == "parallel" || word == "phase" {
            // The group's `{` is the first brace of the item; its block must
            // close inside the item, with nothing but trivia after it.
            let first = braces.partition_point(|b| (b.0 as usize) < s);
            let &(open, is_open) = braces.get(first)?;
            if !is_open || open as usize >= e {
                return None;
            }
            let close = matching(braces, first)?;
            if close >= e || skip_trivia(src, close + 1, opaque) < e {
                return None;
            }
            let index = out.len() as u32;
            out.push(Piece { kind: PieceKind::GroupHeader, span: Span::from_range(s..open as usize + 1), parent });
            split_items(src, open as usize + 1, close, braces, opaque, GROUP_KEYWORDS, Some(index), out)?;
        } else {
            out.push(Piece { kind: PieceKind::WorkflowItem, span: Span::from_range(s..e), parent });
        }
    }
    Some(())
}

/// Where items start in `start..end`: the first non-trivia offset, and every
/// line start at depth 0 (relative to the region) whose first word is a keyword.
fn item_starts(src: &str, start: usize, end: usize, braces: &[(u32, bool)], opaque: &[Span], keywords: &[&str]) -> Vec<usize> {
    let mut starts = Vec::new();
    let pos = skip_trivia(src, start, opaque);
    if pos < end {
        starts.push(pos);
    }
    let bytes = src.as_bytes();
    let mut depth = 0i32;
    let mut bi = braces.partition_point(|b| (b.0 as usize) < start);
    let mut i = pos;
    while i < end {
        if bytes[i] == b'\n' {
            let mut j = i + 1;
            while j < end && (bytes[j] == b' ' || bytes[j] == b'\t' || bytes[j] == b'\r') {
                j += 1;
            }
            while bi < braces.len() && (braces[bi].0 as usize) < j {
                depth += if braces[bi].1 { 1 } else { -1 };
                bi += 1;
            }
            if depth == 0 && j < end && !inside(opaque, j) && keywords.contains(&first_word(src, j, end)) && starts.last() != Some(&j) {
                starts.push(j);
            }
            i = j;
            continue;
        }
        i += 1;
    }
    starts
}

fn first_word(src: &str, at: usize, end: usize) -> &str {
    let stop = src[at..end].find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).map_or(end, |k| at + k);
    &src[at..stop]
}

/// The offset of the `}` matching the `{` at `braces[open]`.
fn matching(braces: &[(u32, bool)], open: usize) -> Option<usize> {
    let mut depth = 0i32;
    for &(at, is_open) in &braces[open..] {
        depth += if is_open { 1 } else { -1 };
        if depth == 0 {
            return Some(at as usize);
        }
    }
    None
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
        } else if pos == 0 && src.starts_with('\u{FEFF}') {
            // A byte-order mark only at the start of the file, as in the
            // grammar (`file`); anywhere else it is a syntax error, which the
            // whole-file parse reports.
            pos += 3;
        } else {
            return pos;
        }
    }
}
