//! A small scanner over the lexical structure that the grammar shares
//! everywhere: strings, backtick expressions and comments.
//!
//! The pest grammar is the authority on syntax; this scanner exists for three
//! jobs pest does poorly:
//! - precise lexical errors (an unterminated string is reported at its opening
//!   quote, not at the end of the file where pest gives up);
//! - the exact list of comments, which the formatter re-inserts;
//! - brace matching that ignores braces inside strings and comments, used to
//!   say which `{` was never closed.
//!
//! The lexical rules are context-free by design (see the grammar: a `"` always
//! ends the string it is in, even inside a `${…}` hole), so one pass is exact.

use crate::ast::Span;

/// The tokens the scanner finds; everything else is left to the grammar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// A `"` string, quotes included (template holes inside it are part of it).
    String,
    /// A backtick CEL expression, backticks included.
    Backtick,
    /// A `//` comment, up to but not including the line break.
    LineComment,
    /// A `/* … */` comment.
    BlockComment,
    /// A `{` outside strings, expressions and comments.
    OpenBrace,
    /// A `}` outside strings, expressions and comments.
    CloseBrace,
}

/// One token found by the scanner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token {
    /// What the token is.
    pub kind: TokenKind,
    /// The token's bytes, delimiters included.
    pub span: Span,
}

/// The lexical errors; each becomes a [`crate::SyntaxError`] of the matching kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LexErrorKind {
    /// A string with no closing `"`; the span is the opening quote.
    UnterminatedString,
    /// A backtick expression with no closing backtick; the span is the opening backtick.
    UnterminatedBacktick,
    /// A `/*` with no closing `*/`; the span is the `/*`.
    UnterminatedComment,
    /// `\q` inside a string; the span covers the backslash and the character.
    InvalidEscape,
}

/// One lexical error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LexError {
    /// What is wrong.
    pub kind: LexErrorKind,
    /// Where to report it (the opening delimiter, or the bad escape).
    pub span: Span,
    /// The span of the whole token the error is in (to the end of input when unterminated).
    pub token: Span,
}

/// What [`lex`] finds: the tokens in source order and the lexical errors.
#[derive(Debug, Default)]
pub struct Lexed {
    /// Strings, expressions, comments and braces, in source order.
    pub tokens: Vec<Token>,
    /// The lexical errors, in source order.
    pub errors: Vec<LexError>,
    /// The first bracket that opens deeper than [`MAX_NESTING`].
    pub too_deep: Option<Span>,
}

/// How deep `{`, `[` and `(` may nest. Real files stay far below; the bound
/// keeps the recursive parser and tree walks from exhausting the stack.
pub const MAX_NESTING: usize = 128;

impl Lexed {
    /// The comments, in source order (what the formatter re-inserts).
    pub fn comments(&self) -> impl Iterator<Item = &Token> {
        self.tokens
            .iter()
            .filter(|t| matches!(t.kind, TokenKind::LineComment | TokenKind::BlockComment))
    }
}

/// Scans a whole file.
pub fn lex(src: &str) -> Lexed {
    lex_from(src, 0, 0)
}

/// What [`lex`] finds from `start` on, when `start` is outside every token
/// and the bracket nesting there is `depth`. Spans are offsets in `src`.
/// (To lex one region again, pass the text up to the region's end: a token
/// that runs past it is then unterminated.)
pub fn lex_from(src: &str, start: usize, depth: usize) -> Lexed {
    let bytes = src.as_bytes();
    let mut out = Lexed::default();
    let mut i = start;
    let mut depth = depth;
    while i < bytes.len() {
        match bytes[i] {
            b'[' | b'(' => {
                depth += 1;
                if depth > MAX_NESTING && out.too_deep.is_none() {
                    out.too_deep = Some(Span::from_range(i..i + 1));
                }
                i += 1;
            }
            b']' | b')' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            b'"' => i = lex_string(src, i, depth, &mut out),
            b'`' => {
                let start = i;
                match memchr(b'`', &bytes[i + 1..]) {
                    Some(rel) => {
                        i = i + 1 + rel + 1;
                        out.tokens.push(tok(TokenKind::Backtick, start, i));
                    }
                    None => {
                        i = bytes.len();
                        out.errors.push(LexError {
                            kind: LexErrorKind::UnterminatedBacktick,
                            span: Span::from_range(start..start + 1),
                            token: Span::from_range(start..i),
                        });
                    }
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                let start = i;
                i = memchr(b'\n', &bytes[i..]).map_or(bytes.len(), |rel| i + rel);
                out.tokens.push(tok(TokenKind::LineComment, start, i));
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let start = i;
                match src[i + 2..].find("*/") {
                    Some(rel) => {
                        i = i + 2 + rel + 2;
                        out.tokens.push(tok(TokenKind::BlockComment, start, i));
                    }
                    None => {
                        i = bytes.len();
                        out.errors.push(LexError {
                            kind: LexErrorKind::UnterminatedComment,
                            span: Span::from_range(start..start + 2),
                            token: Span::from_range(start..i),
                        });
                    }
                }
            }
            b'{' => {
                depth += 1;
                if depth > MAX_NESTING && out.too_deep.is_none() {
                    out.too_deep = Some(Span::from_range(i..i + 1));
                }
                out.tokens.push(tok(TokenKind::OpenBrace, i, i + 1));
                i += 1;
            }
            b'}' => {
                depth = depth.saturating_sub(1);
                out.tokens.push(tok(TokenKind::CloseBrace, i, i + 1));
                i += 1;
            }
            // Everything else is plain text: skip to the next byte that can
            // start a token (a table lookup per byte, no match).
            _ => {
                i += 1;
                while i < bytes.len() && !SPECIAL[bytes[i] as usize] {
                    i += 1;
                }
            }
        }
    }
    out
}

/// The bytes [`lex`] looks at: brackets, quotes, backticks and `/`.
const SPECIAL: [bool; 256] = {
    let mut table = [false; 256];
    let special = b"[]()\"`/{}";
    let mut k = 0;
    while k < special.len() {
        table[special[k] as usize] = true;
        k += 1;
    }
    table
};

/// The bytes that end a run of plain text inside a string: its closing
/// quote, an escape, and a `$` (which may open a `${…}` hole).
const STRING_SPECIAL: [bool; 256] = {
    let mut table = [false; 256];
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table[b'$' as usize] = true;
    table
};

fn tok(kind: TokenKind, start: usize, end: usize) -> Token {
    Token { kind, span: Span::from_range(start..end) }
}

fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == needle)
}

/// Scans a string starting at the opening quote; returns the offset after it.
/// `depth` is the bracket nesting outside the string: the braces of a `${…}`
/// hole nest on top of it in the grammar (`hole_atom`), so they count too.
fn lex_string(src: &str, start: usize, depth: usize, out: &mut Lexed) -> usize {
    let bytes = src.as_bytes();
    let mut i = start + 1;
    let mut bad_escapes = Vec::new();
    // Whether the body has a `$`: without one it has no hole to measure.
    let mut dollar = false;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                let token = Span::from_range(start..i + 1);
                if dollar {
                    hole_depth(bytes, start + 1..i, depth, out);
                }
                out.tokens.push(Token { kind: TokenKind::String, span: token });
                for span in bad_escapes {
                    out.errors.push(LexError { kind: LexErrorKind::InvalidEscape, span, token });
                }
                return i + 1;
            }
            b'\\' => {
                let esc_len = escape_len(&src[i..]);
                match esc_len {
                    Some(len) => i += len,
                    None => {
                        let ch_len = src[i + 1..].chars().next().map_or(0, char::len_utf8);
                        bad_escapes.push(Span::from_range(i..i + 1 + ch_len));
                        i += 1 + ch_len;
                    }
                }
            }
            b'$' => {
                dollar = true;
                i += 1;
            }
            _ => {
                i += 1;
                while i < bytes.len() && !STRING_SPECIAL[bytes[i] as usize] {
                    i += 1;
                }
            }
        }
    }
    hole_depth(bytes, start + 1..bytes.len(), depth, out);
    out.errors.push(LexError {
        kind: LexErrorKind::UnterminatedString,
        span: Span::from_range(start..start + 1),
        token: Span::from_range(start..bytes.len()),
    });
    bytes.len()
}

/// Records in `out.too_deep` a brace in a `${…}` hole of the string body
/// `range` that nests deeper than [`MAX_NESTING`] on top of `outer`.
fn hole_depth(bytes: &[u8], range: std::ops::Range<usize>, outer: usize, out: &mut Lexed) {
    if out.too_deep.is_some() {
        return;
    }
    let mut hole = HoleDepth::default();
    let mut i = range.start;
    while i < range.end {
        if hole.depth == 0 && bytes[i] != b'$' && bytes[i] != b'\\' {
            // Outside a hole only `$` and `\` matter, and any other byte
            // clears a pending escape: skip to the next of them.
            hole.escaped = false;
            i += 1;
            while i < range.end && bytes[i] != b'$' && bytes[i] != b'\\' {
                i += 1;
            }
            continue;
        }
        if hole.step(bytes, i, outer) {
            out.too_deep = Some(Span::from_range(i..i + 1));
            return;
        }
        i += 1;
    }
}

/// The brace nesting inside the `${…}` holes of a string, followed the way the
/// grammar reads a hole (`hole_expr`): `{` opens, `}` closes, a line break
/// ends the hole, and braces in a single-quoted CEL string do not count. It
/// only measures depth, erring on the deep side; where the string ends is
/// the caller's business.
#[derive(Default)]
struct HoleDepth {
    depth: usize,
    in_quote: bool,
    escaped: bool,
}

impl HoleDepth {
    /// Looks at the byte at `i`; true when it opens a brace deeper than
    /// [`MAX_NESTING`] (counting the `outer` depth around the string).
    fn step(&mut self, bytes: &[u8], i: usize, outer: usize) -> bool {
        let b = bytes[i];
        if self.depth == 0 {
            if b == b'$' && bytes.get(i + 1) == Some(&b'{') && !self.escaped {
                self.depth = 1;
                // The `{` of `${` is looked at next and must not count twice.
                self.escaped = true;
                return outer + 1 > MAX_NESTING;
            }
            // `$$` is a literal dollar and `\$` an escaped one: neither opens a hole.
            self.escaped = (b == b'$' || b == b'\\') && !self.escaped;
            return false;
        }
        if std::mem::take(&mut self.escaped) {
            return false;
        }
        match b {
            b'\n' => *self = HoleDepth::default(),
            b'\\' if self.in_quote => self.escaped = true,
            b'\'' => self.in_quote = !self.in_quote,
            _ if self.in_quote => {}
            b'{' => {
                self.depth += 1;
                return outer + self.depth > MAX_NESTING;
            }
            b'}' => self.depth -= 1,
            _ => {}
        }
        false
    }
}

/// The length of a valid escape at the start of `s` (which begins with `\`).
/// Must agree with the grammar's `escape` rule.
pub fn escape_len(s: &str) -> Option<usize> {
    let rest = &s.as_bytes()[1..];
    match rest.first()? {
        b'"' | b'\\' | b'/' | b'n' | b't' | b'r' | b'0' | b'$' => Some(2),
        b'u' => {
            if rest.get(1) != Some(&b'{') {
                return None;
            }
            let hex = rest[2..].iter().take_while(|b| b.is_ascii_hexdigit()).count();
            if (1..=6).contains(&hex) && rest.get(2 + hex) == Some(&b'}') {
                Some(2 + 1 + hex + 1)
            } else {
                None
            }
        }
        _ => None,
    }
}

/// Decodes the escape at the start of `s`, returning the character and its length.
pub fn decode_escape(s: &str) -> Option<(char, usize)> {
    let len = escape_len(s)?;
    let c = match s.as_bytes()[1] {
        b'"' => '"',
        b'\\' => '\\',
        b'/' => '/',
        b'n' => '\n',
        b't' => '\t',
        b'r' => '\r',
        b'0' => '\0',
        b'$' => '$',
        b'u' => char::from_u32(u32::from_str_radix(&s[3..len - 1], 16).ok()?)?,
        _ => return None,
    };
    Some((c, len))
}

/// Which `{` is most likely the one never closed, given the braces of a file
/// (ignoring those in strings and comments). Like rustc, trust indentation:
/// the first pair whose `}` sits at a different indentation than the line of
/// its `{` shows where a `}` went missing. Falls back to the innermost `{`
/// still open at the end of the file.
pub fn unclosed_brace(src: &str, tokens: &[Token]) -> Option<Span> {
    let mut stack: Vec<Span> = Vec::new();
    let mut first_mismatch: Option<Span> = None;
    for t in tokens {
        match t.kind {
            TokenKind::OpenBrace => stack.push(t.span),
            TokenKind::CloseBrace => {
                if let Some(open) = stack.pop() {
                    let (open_line, open_indent) = line_indent(src, open.start as usize);
                    let (close_line, close_indent) = line_indent(src, t.span.start as usize);
                    if open_line != close_line && open_indent != close_indent && first_mismatch.is_none() {
                        first_mismatch = Some(open);
                    }
                }
            }
            _ => {}
        }
    }
    if stack.is_empty() {
        return None;
    }
    first_mismatch.or_else(|| stack.last().copied())
}

/// The start offset of the line containing `offset`, and the indentation width of that line.
fn line_indent(src: &str, offset: usize) -> (usize, usize) {
    let line_start = src[..offset].rfind('\n').map_or(0, |i| i + 1);
    let indent = src[line_start..].bytes().take_while(|b| *b == b' ' || *b == b'\t').count();
    (line_start, indent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_comments_and_backticks() {
        let src = r#"a "x \" // y" `b // c` // real
/* block { */ { }"#;
        let lexed = lex(src);
        assert!(lexed.errors.is_empty());
        let kinds: Vec<_> = lexed.tokens.iter().map(|t| t.kind).collect();
        assert_eq!(
            kinds,
            vec![
                TokenKind::String,
                TokenKind::Backtick,
                TokenKind::LineComment,
                TokenKind::BlockComment,
                TokenKind::OpenBrace,
                TokenKind::CloseBrace
            ]
        );
        let comments: Vec<_> = lexed.comments().map(|t| &src[t.span.range()]).collect();
        assert_eq!(comments, vec!["// real", "/* block { */"]);
    }

    #[test]
    fn unterminated_string_points_at_quote() {
        let lexed = lex("x \"abc\n y");
        assert_eq!(lexed.errors.len(), 1);
        assert_eq!(lexed.errors[0].kind, LexErrorKind::UnterminatedString);
        assert_eq!(lexed.errors[0].span, Span::new(2, 3));
    }

    #[test]
    fn invalid_escape_is_located() {
        let lexed = lex(r#""a\qb" "\u{41}""#);
        assert_eq!(lexed.errors.len(), 1);
        assert_eq!(lexed.errors[0].kind, LexErrorKind::InvalidEscape);
        assert_eq!(lexed.errors[0].span, Span::new(2, 4));
    }

    #[test]
    fn holes_nested_too_deep_are_found_after_plain_text_and_escapes() {
        let deep = "{".repeat(MAX_NESTING);
        // Plain text, a `$$` and a `\$` before the hole: skipped, not opened.
        let src = format!("x \"plain $$ \\${{ text ${{{deep}\"");
        let lexed = lex(&src);
        let at = lexed.too_deep.expect("too deep").start as usize;
        assert_eq!(at, src.rfind("${").unwrap() + 2 + MAX_NESTING - 1, "{src}");
        // Escaped dollars open no hole, however many braces follow.
        let src = format!("x \"$${deep} \\${deep}\"");
        assert_eq!(lex(&src).too_deep, None);
        // A string without `$` has no hole at all.
        assert_eq!(lex(&format!("x \"{deep}\"")).too_deep, None);
    }

    #[test]
    fn decode_escapes() {
        assert_eq!(decode_escape(r"\u{1F600}"), Some(('😀', 9)));
        assert_eq!(decode_escape(r"\n"), Some(('\n', 2)));
        assert_eq!(decode_escape(r"\x"), None);
    }

    #[test]
    fn unclosed_brace_uses_indentation() {
        let src = "w {\n  a {\n    x\n  b {\n  }\n}\n";
        let lexed = lex(src);
        let span = unclosed_brace(src, &lexed.tokens).unwrap();
        assert_eq!(&src[span.start as usize..], &src[src.find("a {").unwrap() + 2..]);
    }
}
