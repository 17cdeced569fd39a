//! Expression text to [`Node`], or the one parse error worth showing.
//!
//! The order of work keeps the common case cheap and every case safe:
//!
//! 1. our lexer ([`super::lexer`]): lexical errors are reported from it
//!    directly, with spans and words it knows better than ANTLR's;
//! 2. limits: too many tokens or brackets nested too deep are refused
//!    before any parser recurses over them (the crate's parser and its tree
//!    are recursive: a chain of 5,000 `+` overflows a 2 MiB stack);
//! 3. the fast parser ([`super::fast`]) for the common shapes;
//! 4. the `cel` crate's parser for the rest, and for the syntax errors,
//!    whose (line, column) positions are mapped back to byte spans.

use cel::parser::{ParseError, Parser};
use flowc_grammar::ast::Span;

use super::lexer::{self, Lexed, Tok};
use super::syntax::Node;
use super::{convert, fast};

/// Brackets nested deeper than this are refused; the crate's parser gets a
/// recursion limit just above it as a backstop (ternary chains nest without
/// brackets).
pub const MAX_NESTING: usize = 48;
/// Longer expressions are refused before parsing, to bound the work.
pub const MAX_TOKENS: usize = 4000;
/// A chain of operators (`a + b + …`, `a.b.c…`) builds a tree as deep as the
/// chain is long, and the crate's parser, our conversion and the checker all
/// recurse over it: 5,000 links exhaust a 2 MiB stack. Longer chains are
/// refused before parsing ([`chain_depth`]); this leaves a wide margin.
pub const MAX_CHAIN: usize = 100;
/// The same bound on the tree itself, checked after parsing as a backstop.
pub const MAX_DEPTH: usize = MAX_CHAIN + MAX_NESTING + 16;
const PARSER_RECURSION_LIMIT: u16 = 64;

/// Why an expression could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseFailure {
    /// In the file.
    pub span: Span,
    pub message: String,
    pub help: Option<String>,
}

/// Parses an expression whose text starts at byte `base` of its file.
pub fn parse(text: &str, base: u32) -> Result<Node, ParseFailure> {
    let fail = |start: usize, end: usize, message: String, help: Option<String>| ParseFailure {
        span: Span::new(base + start as u32, base + end as u32),
        message,
        help,
    };
    let lexed = lexer::lex(text);
    if lexed.tokens.is_empty() {
        return Err(fail(0, text.len(), "empty expression".to_string(), Some("write a CEL expression here".into())));
    }
    if let Some(i) = lexed.tokens.iter().position(|t| t.kind == Tok::Error) {
        let (start, end, message, help) = lexical_error(text, &lexed, i);
        return Err(fail(start, end, message, help));
    }
    if lexed.tokens.len() > MAX_TOKENS {
        return Err(fail(
            0,
            text.len(),
            format!("expression too long to check ({} tokens; the limit is {MAX_TOKENS})", lexed.tokens.len()),
            Some("split the work across steps, or compute the value in a `run` step".into()),
        ));
    }
    if let Some((links, at)) = chain_depth(&lexed).filter(|(links, _)| *links > MAX_CHAIN) {
        let t = lexed.tokens[at];
        return Err(fail(
            t.start as usize,
            t.end as usize,
            format!("expression too long to check: {links} operators chained here (the limit is {MAX_CHAIN})"),
            Some("split the expression, or compute the value in a step".into()),
        ));
    }
    if lexed.max_depth > MAX_NESTING {
        let t = too_deep(&lexed);
        return Err(fail(
            t.0,
            t.1,
            format!("brackets nest more than {MAX_NESTING} deep here"),
            Some("split the expression into smaller ones".into()),
        ));
    }
    let node = match fast::parse(text, &lexed, base) {
        Some(node) => node,
        None => parse_with_crate(text, &lexed, base)?,
    };
    if depth(&node) > MAX_DEPTH {
        return Err(fail(
            0,
            text.len(),
            format!("expression too deeply nested to check (more than {MAX_DEPTH} levels)"),
            Some("a long chain of operators nests as deep as it is long; split the expression".into()),
        ));
    }
    Ok(node)
}

/// The depth of a tree, without recursion (the tree may be too deep for it).
fn depth(root: &Node) -> usize {
    let mut max = 0;
    let mut stack = vec![(root, 1usize)];
    while let Some((node, d)) = stack.pop() {
        max = max.max(d);
        node.for_each_child(|child| stack.push((child, d + 1)));
    }
    max
}

/// Bracket depth or operator chain beyond which the slow path runs on a
/// thread of its own (see [`parse_with_crate`]).
const DEEP_INPUT: usize = 8;
/// Stack for that thread: address space reserved, not memory committed.
const DEEP_STACK: usize = 64 << 20;

/// The slow path: the `cel` crate's parser, then [`convert`].
///
/// The crate's parser is generated ANTLR code: each bracket level costs a
/// dozen recursive rule frames, tens of KiB in an unoptimised build. So deep
/// input (rare in real files) is parsed on a scoped thread with a stack sized
/// well above what [`MAX_NESTING`] and [`MAX_CHAIN`] allow, and the caller's
/// stack (2 MiB on a spawned thread, 1 MiB in our tests) never decides
/// whether a check overflows.
pub(super) fn parse_with_crate(text: &str, lexed: &Lexed, base: u32) -> Result<Node, ParseFailure> {
    let deep = lexed.max_depth > DEEP_INPUT || chain_depth(lexed).is_some_and(|(links, _)| links > DEEP_INPUT);
    if !deep {
        return parse_with_crate_here(text, lexed, base);
    }
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("flowc-cel-parse".into())
            .stack_size(DEEP_STACK)
            .spawn_scoped(scope, || parse_with_crate_here(text, lexed, base))
            .ok()
            .and_then(|handle| handle.join().ok())
    })
    // The thread could not start (or the parser panicked, which it does not
    // on any input our tests generate): refuse the expression, never crash.
    .unwrap_or_else(|| {
        Err(ParseFailure {
            span: Span::new(base, base + text.len() as u32),
            message: "expression too deeply nested to check".to_string(),
            help: Some("split the expression into smaller ones".into()),
        })
    })
}

fn parse_with_crate_here(text: &str, lexed: &Lexed, base: u32) -> Result<Node, ParseFailure> {
    let fail = |start: usize, end: usize, message: String, help: Option<String>| ParseFailure {
        span: Span::new(base + start as u32, base + end as u32),
        message,
        help,
    };
    // Optional syntax (`a.?b`, `a[?b]`, `[?a]`, `{?k: v}`) is on, as in the
    // interpreter's environment (`cel::Env` enables it by default).
    let parser = Parser::new().enable_optional_syntax(true).max_recursion_depth(PARSER_RECURSION_LIMIT);
    match parser.parse_with_source_info(text) {
        Ok((expr, info)) => convert::convert(&expr, &info, text, lexed, base)
            .ok_or_else(|| fail(0, text.len(), "cannot check this expression".to_string(), None)),
        Err(errors) => {
            let (start, end, message, help) = syntax_error(text, lexed, &errors.errors);
            Err(fail(start, end, message, help))
        }
    }
}

/// An upper bound on how deep the left-recursive operators (relations,
/// arithmetic, `.`, `[`) nest, and the token where that depth is reached.
/// `&&`, `||`, `?:` and the separators of lists, maps and arguments start a
/// new chain: the parsers read those as loops, not recursion.
fn chain_depth(lexed: &Lexed) -> Option<(usize, usize)> {
    let mut saved: Vec<usize> = Vec::new();
    let (mut cur, mut best) = (0usize, None::<(usize, usize)>);
    for (i, t) in lexed.tokens.iter().enumerate() {
        match t.kind {
            Tok::LParen | Tok::LBracket | Tok::LBrace => {
                if t.kind == Tok::LBracket || t.kind == Tok::LParen {
                    cur += 1;
                }
                saved.push(cur);
            }
            Tok::RParen | Tok::RBracket | Tok::RBrace => cur = saved.pop().unwrap_or(0),
            Tok::Comma | Tok::Colon | Tok::Question | Tok::AndAnd | Tok::OrOr => {
                cur = saved.last().copied().unwrap_or(0);
            }
            Tok::Dot
            | Tok::Plus
            | Tok::Minus
            | Tok::Star
            | Tok::Slash
            | Tok::Percent
            | Tok::EqEq
            | Tok::NotEq
            | Tok::Lt
            | Tok::Le
            | Tok::Gt
            | Tok::Ge
            | Tok::In
            | Tok::Bang => cur += 1,
            _ => {}
        }
        if best.is_none_or(|(b, _)| cur > b) {
            best = Some((cur, i));
        }
    }
    best
}

/// The first bracket that opens deeper than [`MAX_NESTING`].
fn too_deep(lexed: &Lexed) -> (usize, usize) {
    let mut depth = 0usize;
    for t in &lexed.tokens {
        match t.kind {
            Tok::LParen | Tok::LBracket | Tok::LBrace => {
                depth += 1;
                if depth > MAX_NESTING {
                    return (t.start as usize, t.end as usize);
                }
            }
            Tok::RParen | Tok::RBracket | Tok::RBrace => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    (0, 0)
}

/// Describes the error token `i`: (start, end, message, help).
fn lexical_error(text: &str, lexed: &Lexed, i: usize) -> (usize, usize, String, Option<String>) {
    let t = lexed.tokens[i];
    let (start, end) = (t.start as usize, t.end as usize);
    let s = &text[start..end];
    let first = s.chars().next().unwrap_or(' ');
    let quote_at = s.find(['\'', '"']);
    let looks_like_string = match quote_at {
        Some(0) => true,
        Some(q) => q <= 2 && s[..q].chars().all(|c| matches!(c, 'r' | 'R' | 'b' | 'B')),
        None => false,
    };
    if looks_like_string {
        let raw = s[..quote_at.unwrap_or(0)].contains(['r', 'R']);
        if !raw && let Some(bad) = bad_escape(s) {
            let esc: String = s[bad..].chars().take(2).collect();
            return (
                start + bad,
                start + bad + esc.len(),
                format!("unknown escape `{esc}` in a string"),
                Some(r#"the escapes are \n \r \t \\ \' \" \xHH \uHHHH \UHHHHHHHH and \ooo (octal)"#.to_string()),
            );
        }
        let q = quote_at.unwrap_or(0);
        return (
            start + q,
            start + q + 1,
            "this string is never closed".to_string(),
            Some("a quoted string ends on its line; use '''…''' for text over several lines".to_string()),
        );
    }
    let (message, help) = match first {
        '=' => ("`=` is not an operator".to_string(), Some("compare with `==`".to_string())),
        '&' => ("`&` is not an operator".to_string(), Some("write `&&` for \"and\"".to_string())),
        '|' => ("`|` is not an operator".to_string(), Some("write `||` for \"or\"".to_string())),
        '$' => (
            "`$` cannot appear in an expression".to_string(),
            Some("names in scope are written bare: `inputs.x`, not `$inputs.x`".to_string()),
        ),
        '`' => ("unexpected `` ` ``".to_string(), None),
        c if c.is_alphabetic() => (
            format!("`{c}` cannot appear in a name"),
            Some("CEL names are ASCII letters, digits and `_`; put other text in a string".to_string()),
        ),
        c => (format!("unexpected character `{}`", c.escape_default()), None),
    };
    (start, end, message, help)
}

/// The offset of the first invalid escape in a (non-raw) string token.
fn bad_escape(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut j = 0;
    while j < bytes.len() {
        if bytes[j] == b'\\' {
            let rest = &bytes[j..];
            let hex =
                |from: usize, n: usize| rest.get(from..from + n).is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit));
            let ok = match rest.get(1) {
                Some(b'a' | b'b' | b'f' | b'n' | b'r' | b't' | b'v' | b'"' | b'\'' | b'\\' | b'?' | b'`') => Some(2),
                Some(b'x' | b'X') if hex(2, 2) => Some(4),
                Some(b'u') if hex(2, 4) => Some(6),
                Some(b'U') if hex(2, 8) => Some(10),
                Some(b'0'..=b'3') if rest.get(2..4).is_some_and(|o| o.iter().all(|d| (b'0'..=b'7').contains(d))) => {
                    Some(4)
                }
                _ => None,
            };
            match ok {
                Some(n) => j += n,
                None => return Some(j),
            }
        } else {
            j += 1;
        }
    }
    None
}

/// Picks the error to show among the crate's and says it in our words:
/// (start, end, message, help).
fn syntax_error(text: &str, lexed: &Lexed, errors: &[ParseError]) -> (usize, usize, String, Option<String>) {
    let internal = |e: &ParseError| {
        e.msg.starts_with("Incomplete") || e.msg.starts_with("No `") || e.msg == "UNKNOWN" || e.msg.contains("declined")
    };
    let best =
        errors.iter().filter(|e| !internal(e)).map(|e| (error_offset(text, e), e)).min_by_key(|((start, _), _)| *start);
    let Some(((start, end), e)) = best else {
        return (0, text.len(), "cannot parse this expression".to_string(), None);
    };
    let (end, found) = match end {
        Some(end) => (end, format!("`{}`", &text[start..end])),
        None => found_at(text, lexed, start),
    };
    let msg = e.msg.strip_prefix("Syntax error: ").unwrap_or(&e.msg);
    let (message, help) = describe(msg, &found, &text[start..end]);
    (start, end, message, help)
}

/// Where an error is, in bytes: (start, Some(end)) when the crate names the
/// node, else the start of the token at its (line, column).
fn error_offset(text: &str, e: &ParseError) -> (usize, Option<usize>) {
    if e.expr_id != 0
        && let Some((start, stop)) = e.source_info.as_ref().and_then(|i| i.offset_for(e.expr_id))
    {
        let (start, end) = (start as usize, stop as usize + 1);
        if start <= end && end <= text.len() && text.is_char_boundary(start) && text.is_char_boundary(end) {
            return (start, Some(end));
        }
    }
    // ANTLR counts columns in characters; the crate's macro errors count
    // them in bytes (`SourceInfo::pos_for`).
    let in_chars = e.msg.starts_with("Syntax error");
    (offset_of(text, e.pos.0, e.pos.1, in_chars), None)
}

/// The byte offset of a 1-based (line, column), clamped into the text.
pub fn offset_of(text: &str, line: isize, column: isize, in_chars: bool) -> usize {
    let mut line_start = 0usize;
    for _ in 1..line.max(1) {
        match text[line_start..].find('\n') {
            Some(nl) => line_start += nl + 1,
            None => return text.len(),
        }
    }
    let line_text = &text[line_start..];
    let line_len = line_text.find('\n').unwrap_or(line_text.len());
    let col = (column.max(1) - 1) as usize;
    let within = if in_chars {
        line_text.char_indices().nth(col).map_or(line_text.len(), |(i, _)| i)
    } else {
        let mut i = col.min(line_text.len());
        while !line_text.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    line_start + within.min(line_len)
}

/// The token at `offset`, for a message: its end and how to name it.
fn found_at(text: &str, lexed: &Lexed, offset: usize) -> (usize, String) {
    match lexed.starting_at(offset as u32) {
        Some(i) => {
            let t = lexed.tokens[i];
            let word = &text[t.start as usize..t.end as usize];
            let found = match t.kind {
                Tok::String => "a string".to_string(),
                _ if word.chars().count() > 24 => format!("`{}…`", word.chars().take(20).collect::<String>()),
                _ => format!("`{word}`"),
            };
            (t.end as usize, found)
        }
        None if offset >= text.trim_end().len() => (offset.min(text.len()), "the end of the expression".to_string()),
        None => {
            let len = text[offset..].chars().next().map_or(0, char::len_utf8);
            (offset + len, format!("`{}`", &text[offset..offset + len]))
        }
    }
}

/// Rewrites one of the crate's messages.
fn describe(msg: &str, found: &str, found_text: &str) -> (String, Option<String>) {
    let expecting = |m: &str| m.split_once(" expecting ").map(|(_, set)| expected_phrase(set));
    if msg.contains("Recursion limit") {
        return ("the expression nests too deeply to parse".to_string(), Some("split it into smaller ones".into()));
    }
    if msg.contains("recovery attempt limit") {
        return ("too many syntax errors in this expression".to_string(), None);
    }
    if msg.starts_with("mismatched input") || msg.starts_with("extraneous input") {
        return match expecting(msg).flatten() {
            Some(expected) => (format!("expected {expected}, found {found}"), None),
            None => (format!("unexpected {found}"), None),
        };
    }
    if let Some(rest) = msg.strip_prefix("missing '") {
        let missing = rest.split_once("' at ").map_or(rest, |(m, _)| m);
        let at = if found.starts_with("the end") { " at the end".to_string() } else { format!(" before {found}") };
        return (format!("missing `{missing}`{at}"), None);
    }
    if msg.starts_with("no viable alternative") || msg.starts_with("token recognition error") {
        // ANTLR quotes the input it could not continue: `'.in'`, `'a.'`.
        let input = msg.split_once(" at input '").map_or("", |(_, i)| i.trim_end_matches('\''));
        let help = (found_text == "." || input.ends_with('.'))
            .then(|| "a `.` must be followed by a field or method name".to_string());
        if found.starts_with("the end") {
            return ("the expression ends too early".to_string(), help);
        }
        return (format!("unexpected {found}"), help);
    }
    if let Some(word) = msg.strip_prefix("reserved identifier: ") {
        return (
            format!("`{word}` is a reserved word in CEL"),
            Some(
                "CEL reserves `if`, `else`, `for`, `let`, `var`, `function`, `return`, … and they cannot be names"
                    .into(),
            ),
        );
    }
    if msg.starts_with("invalid int literal") {
        return (
            "integer out of range".to_string(),
            Some("an int is 64-bit: -9223372036854775808 to 9223372036854775807".into()),
        );
    }
    if msg.starts_with("invalid uint literal") {
        return (
            "unsigned integer out of range".to_string(),
            Some("a uint is 64-bit: 0 to 18446744073709551615".into()),
        );
    }
    if msg.starts_with("invalid double literal") {
        return ("number out of range".to_string(), None);
    }
    if msg.starts_with("invalid string literal") || msg.starts_with("invalid bytes literal") {
        return ("invalid string literal".to_string(), None);
    }
    if msg.starts_with("invalid argument to has() macro") {
        return (
            "`has()` needs a field selection".to_string(),
            Some("write `has(x.field)` to test whether `x` has `field`".into()),
        );
    }
    if msg.starts_with("argument must be a simple name") {
        return (
            "expected a variable name".to_string(),
            Some("the first argument of `all`, `exists`, `exists_one`, `map` and `filter` names the element: `list.all(x, x > 0)`".into()),
        );
    }
    if msg.starts_with("unsupported syntax: '`'") {
        return ("backtick-quoted field names are not supported".to_string(), Some("use `x['name']`".into()));
    }
    (msg.to_string(), None)
}

/// ANTLR's expected-token set (`{'[', ')', NUM_INT}`) in words, or `None`
/// when it is every operator and says nothing useful.
fn expected_phrase(set: &str) -> Option<String> {
    let items: Vec<&str> =
        set.trim().trim_start_matches('{').trim_end_matches('}').split(", ").map(str::trim).collect();
    if items.contains(&"IDENTIFIER") && items.contains(&"NUM_INT") {
        return Some("an expression".to_string());
    }
    let operators = ["'=='", "'+'", "'&&'", "'['", "'.'"];
    let mut words: Vec<String> = Vec::new();
    for item in &items {
        if operators.contains(item) || item.starts_with("'") && item.len() <= 4 && is_operator(item) {
            continue;
        }
        let w = match *item {
            "<EOF>" => "the end of the expression".to_string(),
            "NUM_INT" | "NUM_UINT" | "NUM_FLOAT" => "a number".to_string(),
            "STRING" => "a string".to_string(),
            "BYTES" => "bytes".to_string(),
            "IDENTIFIER" | "ESC_IDENTIFIER" => "a name".to_string(),
            quoted => format!("`{}`", quoted.trim_matches('\'')),
        };
        if !words.contains(&w) {
            words.push(w);
        }
    }
    let last = words.pop()?;
    if words.is_empty() { Some(last) } else { Some(format!("{} or {last}", words.join(", "))) }
}

fn is_operator(quoted: &str) -> bool {
    matches!(
        quoted.trim_matches('\''),
        "==" | "!="
            | "in"
            | "<"
            | "<="
            | ">="
            | ">"
            | "&&"
            | "||"
            | "["
            | "."
            | "-"
            | "+"
            | "*"
            | "/"
            | "%"
            | "?"
            | "!"
            | "{"
            | "("
    )
}
