//! A CEL tokenizer that follows the lexical rules of the CEL grammar
//! (`CEL.g4`), for two jobs the `cel` crate's parser does not do for us:
//!
//! - spans: the crate records one token per AST node (the `.` of a
//!   selection, the `(` of a call); the tokens and their bracket partners
//!   here extend that to the whole node (`a.b(c)` from `a` to `)`);
//! - the fast path: [`super::fast`] parses the common shapes of expression
//!   from these tokens without the crate's (slow) ANTLR parser.
//!
//! It never fails: what it does not recognise is an [`Tok::Error`] token, and
//! the crate's parser is then the one to say what is wrong.

/// A token kind. Keywords have their own kinds; reserved words (`if`, `for`,
/// …) are identifiers, as in the CEL grammar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tok {
    Ident,
    /// A backtick-quoted identifier (`` `a-b` ``).
    EscIdent,
    Int,
    Uint,
    Double,
    /// Any string literal: quoted, triple-quoted, raw.
    String,
    Bytes,
    True,
    False,
    Null,
    In,
    LParen,
    RParen,
    LBracket,
    RBracket,
    LBrace,
    RBrace,
    Dot,
    Comma,
    Colon,
    Question,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    Bang,
    EqEq,
    NotEq,
    Lt,
    Le,
    Gt,
    Ge,
    AndAnd,
    OrOr,
    /// A character or sequence that is no CEL token (`$`, a lone `=`, an
    /// unterminated string).
    Error,
}

impl Tok {
    /// The token ends an operand, so a `-` after it is binary and a `(`
    /// after it is not a grouping paren unless it is an identifier's call.
    pub fn ends_operand(self) -> bool {
        matches!(
            self,
            Tok::Ident
                | Tok::EscIdent
                | Tok::Int
                | Tok::Uint
                | Tok::Double
                | Tok::String
                | Tok::Bytes
                | Tok::True
                | Tok::False
                | Tok::Null
                | Tok::RParen
                | Tok::RBracket
                | Tok::RBrace
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token {
    pub kind: Tok,
    /// Byte offsets into the expression text.
    pub start: u32,
    pub end: u32,
}

/// Marks a bracket without a partner.
pub const NO_PARTNER: u32 = u32::MAX;

#[derive(Clone, Debug, Default)]
pub struct Lexed {
    /// Significant tokens; whitespace and comments are dropped.
    pub tokens: Vec<Token>,
    /// For each token, the index of its matching bracket, or [`NO_PARTNER`].
    pub partner: Vec<u32>,
    /// The deepest bracket nesting.
    pub max_depth: usize,
    /// Whether any [`Tok::Error`] token was produced.
    pub has_error: bool,
}

impl Lexed {
    pub fn text<'a>(&self, src: &'a str, i: usize) -> &'a str {
        let t = self.tokens[i];
        &src[t.start as usize..t.end as usize]
    }

    /// The index of the token that starts at `offset`.
    pub fn starting_at(&self, offset: u32) -> Option<usize> {
        let i = self.tokens.partition_point(|t| t.start < offset);
        (i < self.tokens.len() && self.tokens[i].start == offset).then_some(i)
    }

    /// The index of the token that ends at `offset`.
    pub fn ending_at(&self, offset: u32) -> Option<usize> {
        let i = self.tokens.partition_point(|t| t.end < offset);
        (i < self.tokens.len() && self.tokens[i].end == offset).then_some(i)
    }

    /// The index of the first token at or after `offset`.
    pub fn at_or_after(&self, offset: u32) -> usize {
        self.tokens.partition_point(|t| t.start < offset)
    }

    /// Whether the `(` at token `i` groups an expression rather than opening a
    /// call's arguments: in CEL a call is always a name followed by `(`.
    pub fn is_grouping_paren(&self, i: usize) -> bool {
        self.tokens[i].kind == Tok::LParen && (i == 0 || self.tokens[i - 1].kind != Tok::Ident)
    }
}

pub fn lex(src: &str) -> Lexed {
    let bytes = src.as_bytes();
    let mut out = Lexed::default();
    let mut stack: Vec<usize> = Vec::new();
    let mut i = 0usize;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        let kind = match c {
            b' ' | b'\t' | b'\r' | b'\n' | 0x0c => {
                i += 1;
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                i = bytes[i..].iter().position(|&b| b == b'\n').map_or(bytes.len(), |p| i + p);
                continue;
            }
            b'(' | b'[' | b'{' => {
                i += 1;
                match c {
                    b'(' => Tok::LParen,
                    b'[' => Tok::LBracket,
                    _ => Tok::LBrace,
                }
            }
            b')' | b']' | b'}' => {
                i += 1;
                match c {
                    b')' => Tok::RParen,
                    b']' => Tok::RBracket,
                    _ => Tok::RBrace,
                }
            }
            b'.' if bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                i = number(bytes, i, &mut Tok::Double);
                Tok::Double
            }
            b'0'..=b'9' => {
                let mut kind = Tok::Int;
                i = number(bytes, i, &mut kind);
                kind
            }
            b'"' | b'\'' => {
                let (end, ok) = string(bytes, i, false);
                i = end;
                if ok { Tok::String } else { Tok::Error }
            }
            b'r' | b'R' if matches!(bytes.get(i + 1), Some(b'"' | b'\'')) => {
                let (end, ok) = string(bytes, i + 1, true);
                i = end;
                if ok { Tok::String } else { Tok::Error }
            }
            b'b' | b'B' if string_start(bytes, i + 1).is_some() => {
                let raw = string_start(bytes, i + 1) == Some(true);
                let (end, ok) = string(bytes, if raw { i + 2 } else { i + 1 }, raw);
                i = end;
                if ok { Tok::Bytes } else { Tok::Error }
            }
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                match &src[start..i] {
                    "true" => Tok::True,
                    "false" => Tok::False,
                    "null" => Tok::Null,
                    "in" => Tok::In,
                    _ => Tok::Ident,
                }
            }
            b'`' => {
                let body = bytes[i + 1..]
                    .iter()
                    .position(|&b| !(b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'/' | b' ')));
                match body {
                    Some(n) if n > 0 && bytes[i + 1 + n] == b'`' => {
                        i += n + 2;
                        Tok::EscIdent
                    }
                    _ => {
                        i += 1;
                        Tok::Error
                    }
                }
            }
            _ => {
                let two = bytes.get(i..i + 2);
                let (kind, len) = match (c, two) {
                    (_, Some(b"==")) => (Tok::EqEq, 2),
                    (_, Some(b"!=")) => (Tok::NotEq, 2),
                    (_, Some(b"<=")) => (Tok::Le, 2),
                    (_, Some(b">=")) => (Tok::Ge, 2),
                    (_, Some(b"&&")) => (Tok::AndAnd, 2),
                    (_, Some(b"||")) => (Tok::OrOr, 2),
                    (b'.', _) => (Tok::Dot, 1),
                    (b',', _) => (Tok::Comma, 1),
                    (b':', _) => (Tok::Colon, 1),
                    (b'?', _) => (Tok::Question, 1),
                    (b'+', _) => (Tok::Plus, 1),
                    (b'-', _) => (Tok::Minus, 1),
                    (b'*', _) => (Tok::Star, 1),
                    (b'/', _) => (Tok::Slash, 1),
                    (b'%', _) => (Tok::Percent, 1),
                    (b'!', _) => (Tok::Bang, 1),
                    (b'<', _) => (Tok::Lt, 1),
                    (b'>', _) => (Tok::Gt, 1),
                    _ => {
                        // One whole character, so spans stay on UTF-8 boundaries.
                        let len = src[i..].chars().next().map_or(1, char::len_utf8);
                        (Tok::Error, len)
                    }
                };
                i += len;
                kind
            }
        };
        let index = out.tokens.len();
        out.tokens.push(Token { kind, start: start as u32, end: i as u32 });
        out.partner.push(NO_PARTNER);
        match kind {
            Tok::LParen | Tok::LBracket | Tok::LBrace => {
                stack.push(index);
                out.max_depth = out.max_depth.max(stack.len());
            }
            Tok::RParen | Tok::RBracket | Tok::RBrace => {
                let opener = match kind {
                    Tok::RParen => Tok::LParen,
                    Tok::RBracket => Tok::LBracket,
                    _ => Tok::LBrace,
                };
                if stack.last().is_some_and(|&o| out.tokens[o].kind == opener) {
                    let o = stack.pop().unwrap_or_default();
                    out.partner[o] = index as u32;
                    out.partner[index] = o as u32;
                }
            }
            Tok::Error => out.has_error = true,
            _ => {}
        }
    }
    out
}

/// Whether a (possibly raw) string starts at `i`: `Some(raw)`.
fn string_start(bytes: &[u8], i: usize) -> Option<bool> {
    match bytes.get(i) {
        Some(b'"' | b'\'') => Some(false),
        Some(b'r' | b'R') if matches!(bytes.get(i + 1), Some(b'"' | b'\'')) => Some(true),
        _ => None,
    }
}

/// Scans a number starting at `i`; sets `kind` to `Double` or `Uint` when the
/// literal is one. Follows `NUM_FLOAT | NUM_INT | NUM_UINT`, longest match.
fn number(bytes: &[u8], mut i: usize, kind: &mut Tok) -> usize {
    let digits = |mut j: usize| {
        while j < bytes.len() && bytes[j].is_ascii_digit() {
            j += 1;
        }
        j
    };
    let exponent = |j: usize| -> Option<usize> {
        if !matches!(bytes.get(j), Some(b'e' | b'E')) {
            return None;
        }
        let mut k = j + 1;
        if matches!(bytes.get(k), Some(b'+' | b'-')) {
            k += 1;
        }
        let end = digits(k);
        (end > k).then_some(end)
    };
    if bytes[i] == b'.' {
        i = digits(i + 1);
        return exponent(i).unwrap_or(i);
    }
    if bytes[i] == b'0' && bytes.get(i + 1) == Some(&b'x') && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit) {
        i += 2;
        while i < bytes.len() && bytes[i].is_ascii_hexdigit() {
            i += 1;
        }
    } else {
        i = digits(i);
        if bytes.get(i) == Some(&b'.') && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
            *kind = Tok::Double;
            i = digits(i + 1);
            return exponent(i).unwrap_or(i);
        }
        if let Some(end) = exponent(i) {
            *kind = Tok::Double;
            return end;
        }
    }
    if matches!(bytes.get(i), Some(b'u' | b'U')) {
        *kind = Tok::Uint;
        i += 1;
    }
    i
}

/// Scans a string whose opening quote is at `i`. Returns the offset after it
/// and whether it was well formed (closed, with valid escapes).
fn string(bytes: &[u8], i: usize, raw: bool) -> (usize, bool) {
    let q = bytes[i];
    let triple = bytes.get(i..i + 3) == Some(&[q, q, q][..]);
    let mut j = if triple { i + 3 } else { i + 1 };
    let mut ok = true;
    while j < bytes.len() {
        let b = bytes[j];
        if triple {
            if bytes.get(j..j + 3) == Some(&[q, q, q][..]) {
                return (j + 3, ok);
            }
        } else if b == q {
            return (j + 1, ok);
        } else if b == b'\n' || b == b'\r' {
            return (j, false);
        }
        if b == b'\\' && !raw {
            match escape_len(&bytes[j..]) {
                Some(n) => j += n,
                None => {
                    ok = false;
                    j += 1;
                }
            }
        } else {
            j += 1;
        }
    }
    (j, false)
}

/// The length of the escape sequence at the start of `s` (which starts with
/// a backslash), if it is a valid one.
fn escape_len(s: &[u8]) -> Option<usize> {
    let hex = |from: usize, n: usize| s.get(from..from + n).is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit));
    match s.get(1)? {
        b'a' | b'b' | b'f' | b'n' | b'r' | b't' | b'v' | b'"' | b'\'' | b'\\' | b'?' | b'`' => Some(2),
        b'x' | b'X' if hex(2, 2) => Some(4),
        b'u' if hex(2, 4) => Some(6),
        b'U' if hex(2, 8) => Some(10),
        b'0'..=b'3' if s.get(2..4).is_some_and(|o| o.iter().all(|d| (b'0'..=b'7').contains(d))) => Some(4),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<(Tok, &str)> {
        let l = lex(src);
        l.tokens.iter().map(|t| (t.kind, &src[t.start as usize..t.end as usize])).collect()
    }

    #[test]
    fn numbers_follow_the_grammar() {
        assert_eq!(
            kinds("1 1u 0x1F 0x1Fu 1.5 1e5 1.5e-3 .5 5."),
            vec![
                (Tok::Int, "1"),
                (Tok::Uint, "1u"),
                (Tok::Int, "0x1F"),
                (Tok::Uint, "0x1Fu"),
                (Tok::Double, "1.5"),
                (Tok::Double, "1e5"),
                (Tok::Double, "1.5e-3"),
                (Tok::Double, ".5"),
                (Tok::Int, "5"),
                (Tok::Dot, "."),
            ]
        );
    }

    #[test]
    fn strings_and_bytes() {
        assert_eq!(
            kinds(r#"'a' "b" '''c'd''' r'\q' b'x' br"y" rb'z'"#),
            vec![
                (Tok::String, "'a'"),
                (Tok::String, "\"b\""),
                (Tok::String, "'''c'd'''"),
                (Tok::String, r"r'\q'"),
                (Tok::Bytes, "b'x'"),
                (Tok::Bytes, "br\"y\""),
                (Tok::Ident, "rb"),
                (Tok::String, "'z'"),
            ]
        );
        assert_eq!(kinds("'abc").first().map(|t| t.0), Some(Tok::Error));
        assert_eq!(kinds(r"'\q'").first().map(|t| t.0), Some(Tok::Error));
    }

    #[test]
    fn operators_keywords_comments() {
        assert_eq!(
            kinds("a.b in [x] // c\n && !y <= 2"),
            vec![
                (Tok::Ident, "a"),
                (Tok::Dot, "."),
                (Tok::Ident, "b"),
                (Tok::In, "in"),
                (Tok::LBracket, "["),
                (Tok::Ident, "x"),
                (Tok::RBracket, "]"),
                (Tok::AndAnd, "&&"),
                (Tok::Bang, "!"),
                (Tok::Ident, "y"),
                (Tok::Le, "<="),
                (Tok::Int, "2"),
            ]
        );
        assert_eq!(kinds("a = é"), vec![(Tok::Ident, "a"), (Tok::Error, "="), (Tok::Error, "é")]);
    }

    #[test]
    fn brackets_pair_up() {
        let l = lex("f((a)[0], {b: c})");
        assert_eq!(l.partner[1], 14);
        assert_eq!(l.partner[2], 4);
        assert_eq!(l.max_depth, 2);
        assert!(!l.is_grouping_paren(1));
        assert!(l.is_grouping_paren(2));
        let l = lex("(]");
        assert_eq!(l.partner, vec![NO_PARTNER, NO_PARTNER]);
    }
}
