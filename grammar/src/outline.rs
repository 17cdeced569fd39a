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
use crate::keywords::WORKFLOW_KEYWORDS;
use crate::lexer::{Lexed, TokenKind};

/// What a piece of a file is, which decides the grammar rule it is parsed with.
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

/// One piece of a file: its kind and where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Piece {
    /// What the piece is.
    pub kind: PieceKind,
    /// The piece's bytes in the file, from its first token to its last.
    pub span: Span,
    /// The index (in the workflow's item list) of the group header this piece
    /// is a member of.
    pub parent: Option<u32>,
}

/// A workflow declaration: its name and the pieces of its body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkflowOutline {
    /// The workflow's name, as written.
    pub name: String,
    /// Where the name is written in the file.
    pub name_span: Span,
    /// The whole declaration in the file, from `workflow` to the closing brace.
    pub span: Span,
    /// The pieces of the body, in source order.
    pub items: Vec<Piece>,
}

/// One top-level declaration of an outline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutlineDecl {
    /// A workflow, split further into the items of its body.
    Workflow(WorkflowOutline),
    /// Any other declaration, one piece.
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

/// The outline of `new`, from `old_decls`, the outline [`outline`] gave for
/// the text `old`: when the bytes that differ lie inside the body of one
/// workflow, only the top-level items around them are lexed and split again
/// (from the item before the change to the item after the one it ends in);
/// every other piece is the old one, moved by the change in length. `None`
/// when that cannot be done with confidence: the caller splits `new` whole.
///
/// When it is `Some`, it is what `outline(new, &lex(new))` returns, provided
/// every top-level item of `old_decls` is balanced in its brackets (the
/// compiler keeps only outlines whose pieces all parsed cleanly): then every
/// top-level item starts at nesting 1 outside every token, the text outside
/// the region lexes and splits as before, and the region, re-lexed on its
/// own, must close every token and brace it opens. A property test compares
/// the two on random edits.
pub fn reoutline(old: &str, old_decls: &[OutlineDecl], new: &str) -> Option<Vec<OutlineDecl>> {
    let (prefix, suffix) = common_ends(old, new);
    let old_end = old.len() - suffix;
    let delta = new.len() as i64 - old.len() as i64;
    let moved = |at: u32| (at as i64 + delta) as u32;
    let shift = |span: Span| Span::new(moved(span.start), moved(span.end));
    let di = old_decls.iter().position(|d| match d {
        OutlineDecl::Workflow(w) => w.span.start as usize <= prefix && old_end < w.span.end as usize,
        OutlineDecl::Other(p) => p.span.start as usize <= prefix && old_end < p.span.end as usize,
    })?;
    let OutlineDecl::Workflow(w) = &old_decls[di] else { return None };
    // The body: after the workflow's `{` (the first `{` after its name:
    // only blanks come between) and before its closing `}`.
    let open = w.name_span.end as usize + old[w.name_span.end as usize..].find('{')?;
    let body_end = w.span.end as usize - 1;
    if prefix <= open || old_end > body_end {
        return None;
    }
    let tops: Vec<usize> = (0..w.items.len()).filter(|&i| w.items[i].parent.is_none()).collect();
    // The last top-level item starting at or before the change, and the one
    // before it: its first word is then untouched.
    let before = tops.iter().rposition(|&i| w.items[i].span.start as usize <= prefix);
    let (first, region_start) = match before {
        Some(t) if t >= 1 => (tops[t - 1], w.items[tops[t - 1]].span.start as usize),
        _ => (0, open + 1),
    };
    // The item the change ends in, and the one after it: the line break and
    // indentation before the region's end are then untouched.
    let end_in = tops.iter().rposition(|&i| w.items[i].span.start as usize <= old_end);
    let after = end_in.map_or(1, |t| t + 2);
    let (last, region_end) = match tops.get(after) {
        Some(&i) => (i, w.items[i].span.start as usize),
        None => (w.items.len(), body_end),
    };
    let new_end = (region_end as i64 + delta) as usize;
    if new_end < region_start || new_end > new.len() || !new.is_char_boundary(new_end) {
        return None;
    }
    let lexed = crate::lexer::lex_from(&new[..new_end], region_start, 1);
    if !lexed.errors.is_empty() || lexed.too_deep.is_some() {
        return None;
    }
    // A line comment ends at the end of the text it is given: one that ends
    // at the region's end would, in the whole text, run on past it.
    if lexed.tokens.last().is_some_and(|t| t.kind == TokenKind::LineComment && t.span.end as usize == new_end) {
        return None;
    }
    let mut opaque = Vec::new();
    let mut braces = Vec::new();
    let mut depth = 0i32;
    for t in &lexed.tokens {
        match t.kind {
            TokenKind::OpenBrace => {
                depth += 1;
                braces.push((t.span.start, true));
            }
            TokenKind::CloseBrace => {
                depth -= 1;
                if depth < 0 {
                    return None;
                }
                braces.push((t.span.start, false));
            }
            _ => opaque.push(t.span),
        }
    }
    if depth != 0 {
        return None;
    }
    let mut items: Vec<Piece> = w.items[..first].to_vec();
    split_items(new, region_start, new_end, &braces, &opaque, WORKFLOW_KEYWORDS, None, &mut items)?;
    // Items after the region keep their group parents, which moved with them.
    let renumber = items.len() as i64 - last as i64;
    items.extend(w.items[last..].iter().map(|p| Piece {
        kind: p.kind,
        span: shift(p.span),
        parent: p.parent.map(|g| (g as i64 + renumber) as u32),
    }));
    let mut out = Vec::with_capacity(old_decls.len());
    out.extend(old_decls[..di].iter().cloned());
    out.push(OutlineDecl::Workflow(WorkflowOutline {
        name: w.name.clone(),
        name_span: w.name_span,
        span: Span::new(w.span.start, moved(w.span.end)),
        items,
    }));
    out.extend(old_decls[di + 1..].iter().map(|d| match d {
        OutlineDecl::Workflow(w) => OutlineDecl::Workflow(WorkflowOutline {
            name: w.name.clone(),
            name_span: shift(w.name_span),
            span: shift(w.span),
            items: w.items.iter().map(|p| Piece { kind: p.kind, span: shift(p.span), parent: p.parent }).collect(),
        }),
        OutlineDecl::Other(p) => OutlineDecl::Other(Piece { kind: p.kind, span: shift(p.span), parent: p.parent }),
    }));
    Some(out)
}

/// The lengths of the longest common prefix and suffix of two texts (not
/// overlapping, on character boundaries of both).
fn common_ends(a: &str, b: &str) -> (usize, usize) {
    let (x, y) = (a.as_bytes(), b.as_bytes());
    let max = x.len().min(y.len());
    // Whole blocks first (compared as slices: a vectorised memcmp), then bytes.
    const BLOCK: usize = 256;
    let mut prefix = 0;
    while prefix + BLOCK <= max && x[prefix..prefix + BLOCK] == y[prefix..prefix + BLOCK] {
        prefix += BLOCK;
    }
    while prefix < max && x[prefix] == y[prefix] {
        prefix += 1;
    }
    while !a.is_char_boundary(prefix) {
        prefix -= 1;
    }
    let room = max - prefix;
    let mut suffix = 0;
    while suffix + BLOCK <= room && x[x.len() - suffix - BLOCK..x.len() - suffix] == y[y.len() - suffix - BLOCK..y.len() - suffix] {
        suffix += BLOCK;
    }
    while suffix < room && x[x.len() - suffix - 1] == y[y.len() - suffix - 1] {
        suffix += 1;
    }
    while !a.is_char_boundary(a.len() - suffix) || !b.is_char_boundary(b.len() - suffix) {
        suffix -= 1;
    }
    (prefix, suffix)
}

/// Splits a workflow body (`body_start..body_end`, inside the braces) into items.
fn workflow_items(src: &str, body_start: usize, body_end: usize, braces: &[(u32, bool)], opaque: &[Span]) -> Option<Vec<Piece>> {
    let mut out = Vec::new();
    split_items(src, body_start, body_end, braces, opaque, WORKFLOW_KEYWORDS, None, &mut out)?;
    Some(out)
}

/// What starts a group's item; `fail_fast`, a statement of the group itself,
/// is found only to leave such a group to the whole-file parse.
const GROUP_KEYWORDS: &[&str] = &["step", "parallel", "phase", "fail_fast"];

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
        if parent.is_some() && (!GROUP_KEYWORDS.contains(&word) || word == "fail_fast") {
            return None;
        }
        // `finally { … }` is a group without a name, at the top level only.
        if word == "parallel" || word == "phase" || (word == "finally" && parent.is_none()) {
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
        // The next line break (a vectorised search: this loop sees every
        // byte of the file after each edit).
        let Some(rel) = src[i..end].find('\n') else { break };
        i += rel;
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
