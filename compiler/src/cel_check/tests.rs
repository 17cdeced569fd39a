//! Properties of the parsing pipeline over generated input: the fast parser
//! agrees with the `cel` crate's, and nothing panics or overflows the stack
//! on any text.

use flowc_grammar::ast::{Expr, Span};

use super::lexer::lex;
use super::parse::{MAX_CHAIN, MAX_NESTING, MAX_TOKENS, parse, parse_with_crate};
use super::{Binding, Expect, ExprSite, MapScope, check_expr, fast};
use crate::types::Ty;

/// The stack the safety tests run on: half of a test thread's (and of what
/// an unoptimised build measured it needs: 100-link chains through the
/// crate's parser need under 512 KiB), so the limits keep a margin.
const STACK: usize = 1 << 20;

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const NAMES: &[&str] = &["a", "b", "inputs", "x", "item", "has", "size", "all", "_y2", "map"];
const FIELDS: &[&str] = &["b", "c", "output", "if", "size", "deal_value", "exists"];
const LITERALS: &[&str] = &[
    "0",
    "1",
    "42",
    "-5",
    "0x1F",
    "3u",
    "0x2Au",
    "1.5",
    "-2.5",
    ".5",
    "1e3",
    "2.5e-3",
    "'s'",
    "\"d\"",
    "''",
    "'a b'",
    "'\\n'",
    "r'x\\y'",
    "'''t'''",
    "b'by'",
    "true",
    "false",
    "null",
    "99999999999999999999",
    "1e999",
];
const BINARY: &[&str] = &["+", "-", "*", "/", "%", "==", "!=", "<", "<=", ">", ">=", "in", "&&", "||"];
const GAPS: &[&str] = &["", "", "", " ", " ", "  ", "\n", " // note\n", "\t"];

fn gap(r: &mut Rng, out: &mut String) {
    out.push_str(r.pick(GAPS));
}

/// A random expression, mostly well formed.
fn gen_expr(r: &mut Rng, depth: usize, out: &mut String) {
    let leaf = depth == 0 || r.below(4) == 0;
    if leaf {
        match r.below(3) {
            0 => out.push_str(r.pick(NAMES)),
            1 => out.push_str(r.pick(LITERALS)),
            _ => {
                out.push_str(r.pick(NAMES));
                out.push('.');
                out.push_str(r.pick(FIELDS));
            }
        }
        return;
    }
    let d = depth - 1;
    match r.below(15) {
        0 | 1 => {
            gen_expr(r, d, out);
            gap(r, out);
            out.push_str(r.pick(BINARY));
            gap(r, out);
            gen_expr(r, d, out);
        }
        2 => {
            gen_expr(r, d, out);
            out.push_str(r.pick(&[".", ".", ".", ".?"]));
            out.push_str(r.pick(FIELDS));
        }
        3 => {
            out.push('(');
            gap(r, out);
            gen_expr(r, d, out);
            gap(r, out);
            out.push(')');
        }
        4 => {
            out.push_str(r.pick(&["!", "-", "!!", "--", "- "]));
            gen_expr(r, d, out);
        }
        5 => {
            gen_expr(r, d, out);
            out.push_str(" ? ");
            gen_expr(r, d, out);
            out.push_str(" : ");
            gen_expr(r, d, out);
        }
        6 => {
            gen_expr(r, d, out);
            out.push_str(r.pick(&["[", "[", "[", "[?"]));
            gen_expr(r, d, out);
            out.push(']');
        }
        7 => {
            out.push_str(r.pick(&["size", "int", "string", "f", "has", "max", "optional.of", "optional.none"]));
            args(r, d, out);
        }
        8 => {
            gen_expr(r, d, out);
            out.push('.');
            out.push_str(r.pick(&["startsWith", "size", "contains", "f", "all", "map", "orValue", "hasValue"]));
            args(r, d, out);
        }
        9 => {
            gen_expr(r, d, out);
            out.push('.');
            out.push_str(r.pick(&["all", "exists", "exists_one", "existsOne", "map", "filter"]));
            out.push('(');
            out.push_str(r.pick(&["v", "v", "v", "(v)", "1"]));
            out.push_str(", ");
            gen_expr(r, d, out);
            if r.below(3) == 0 {
                out.push_str(", ");
                gen_expr(r, d, out);
            }
            out.push(')');
        }
        10 => {
            out.push_str("has(");
            gen_expr(r, d, out);
            if r.below(2) == 0 {
                out.push('.');
                out.push_str(r.pick(FIELDS));
            }
            out.push(')');
        }
        11 => {
            out.push('[');
            let n = r.below(4);
            for i in 0..n {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(r.pick(&["", "", "", "?"]));
                gen_expr(r, d, out);
            }
            if r.below(3) == 0 {
                out.push(',');
            }
            out.push(']');
        }
        12 => {
            out.push('{');
            let n = r.below(3);
            for i in 0..n {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(r.pick(&["", "", "", "?"]));
                gen_expr(r, d, out);
                out.push_str(": ");
                gen_expr(r, d, out);
            }
            out.push('}');
        }
        13 => {
            out.push('.');
            out.push_str(r.pick(NAMES));
        }
        _ => {
            out.push_str(r.pick(&["Msg{a: 1}", "a.b{}", "if", "a.?b", "[?a]"]));
        }
    }
}

fn args(r: &mut Rng, depth: usize, out: &mut String) {
    out.push('(');
    let n = r.below(3);
    for i in 0..n {
        if i > 0 {
            out.push_str(", ");
        }
        gen_expr(r, depth, out);
    }
    out.push(')');
}

/// Whatever the fast parser accepts, the crate's parser accepts too, with
/// the same tree and the same spans.
#[test]
fn the_fast_parser_agrees_with_the_crate() {
    let mut r = Rng(0x05EE_DCE1);
    let (mut fast_count, mut total) = (0, 0);
    for _ in 0..2500 {
        let mut text = String::new();
        gen_expr(&mut r, 4, &mut text);
        let base = 7;
        let lexed = lex(&text);
        total += 1;
        if let Some(fast) = fast::parse(&text, &lexed, base) {
            fast_count += 1;
            match parse_with_crate(&text, &lexed, base) {
                Ok(slow) => assert_eq!(fast, slow, "the parsers disagree on {text:?}"),
                Err(e) => panic!("the fast parser accepted {text:?}, the crate rejects it: {}", e.message),
            }
        }
    }
    // The generator must exercise the fast path, not only the fallback.
    assert!(fast_count * 5 > total, "only {fast_count} of {total} took the fast path");
}

/// Known shapes, spelled out: each parses the same both ways.
#[test]
fn the_fast_parser_agrees_on_chosen_shapes() {
    for text in [
        "a.b.c",
        "research.output.deal_value > 50000",
        "a && b && c && d && e",
        "a || b && c || d",
        "(a + b) * c",
        "((a))",
        "-x",
        "!(a)",
        "-1u",
        "a ? b : c ? d : e",
        "f()",
        "f(a, (b))",
        "a.b(c).d[e]",
        "x.map(v, v * 2)",
        "x.map(v, v > 1, v * 2)",
        "x.filter(v, v)",
        "x.exists_one(v, v)",
        "has(a.b)",
        "has((a.b))",
        "[1, 2,]",
        "{'a': 1, 'b': [x],}",
        "{}",
        "[]",
        "1 - 2",
        "a-5",
        "a - -5",
        "-5 + x",
        "- 2.5 * x",
        "-5.size()",
        "-0x10",
        "-9223372036854775808",
        "x > -0.0",
        "a.if",
        "a.if()",
        "x\n.y // c\n .z",
        "'héllo' + ü",
    ] {
        let lexed = lex(text);
        let fast = fast::parse(text, &lexed, 3);
        let slow = parse_with_crate(text, &lexed, 3);
        match (fast, slow) {
            (Some(f), Ok(s)) => assert_eq!(f, s, "{text:?}"),
            (Some(_), Err(e)) => panic!("{text:?}: fast accepted, crate rejected: {}", e.message),
            (None, _) => {}
        }
    }
}

fn scope() -> MapScope {
    let t = |s: &str| s.parse::<Ty>().unwrap_or(Ty::Dyn);
    MapScope::new()
        .with_value("inputs", t("{a: int, b: string, c: list({d: double})}"))
        .with_value("a", Ty::Dyn)
        .with_value("x", t("list(int)"))
        .with("q", Binding::NotUpstream { step: "q".into(), help: "add `after q`".into(), fix: None })
}

/// Checks `text` placed after a prefix in a file, on a thread with a small
/// [`STACK`], and asserts every diagnostic stays inside the expression on char boundaries.
fn check_safely(text: String) {
    let handle = std::thread::Builder::new()
        .stack_size(STACK)
        .spawn(move || {
            let prefix = "step s { when `";
            let file = format!("{prefix}{text}`");
            let base = prefix.len() as u32;
            let expr = Expr { text: text.clone(), span: Span::new(base, base + text.len() as u32) };
            for site in [ExprSite::Backtick, ExprSite::Hole { short: false }] {
                let checked = check_expr("f.flow", &expr, site, Expect::Bool, &scope());
                for d in &checked.diagnostics {
                    assert!(
                        d.span.start >= expr.span.start && d.span.end <= expr.span.end && d.span.start <= d.span.end,
                        "{text:?}: span {:?} outside {:?}: {}",
                        d.span,
                        expr.span,
                        d.message
                    );
                    assert!(
                        file.is_char_boundary(d.span.start as usize) && file.is_char_boundary(d.span.end as usize),
                        "{text:?}: span {:?} splits a character",
                        d.span
                    );
                }
            }
        })
        .expect("spawn");
    if let Err(e) = handle.join() {
        std::panic::resume_unwind(e);
    }
}

#[test]
fn nothing_panics_on_generated_and_broken_text() {
    let mut r = Rng(0xF00D);
    let alphabet: Vec<char> = "ab.()[]{},:?!-+*/%<>=&|'\"\\`$#@ \n\t0159xu_éü日😀\u{0}".chars().collect();
    let mut inputs: Vec<String> = Vec::new();
    for _ in 0..600 {
        let mut text = String::new();
        gen_expr(&mut r, 3, &mut text);
        // Cut at a random character: most cuts leave a syntax error.
        let cut = r.below(text.chars().count() + 1);
        inputs.push(text.chars().take(cut).collect());
        inputs.push(text);
    }
    for _ in 0..400 {
        let n = r.below(24);
        inputs.push((0..n).map(|_| alphabet[r.below(alphabet.len())]).collect());
    }
    let handle = std::thread::Builder::new()
        .stack_size(STACK)
        .spawn(move || {
            for text in inputs {
                let prefix = "x `";
                let expr = Expr { text: text.clone(), span: Span::new(3, 3 + text.len() as u32) };
                let checked = check_expr("f.flow", &expr, ExprSite::Hole { short: false }, Expect::Any, &scope());
                for d in &checked.diagnostics {
                    assert!(d.span.start >= 3 && d.span.end <= expr.span.end, "{text:?}: {:?}", d.span);
                    let file = format!("{prefix}{text}");
                    assert!(file.is_char_boundary(d.span.start as usize) && file.is_char_boundary(d.span.end as usize));
                }
            }
        })
        .expect("spawn");
    if let Err(e) = handle.join() {
        std::panic::resume_unwind(e);
    }
}

#[test]
fn deep_nesting_is_refused_or_parsed_without_overflow() {
    for depth in [MAX_NESTING - 1, MAX_NESTING, MAX_NESTING + 1, 10_000] {
        check_safely(format!("{}a{}", "(".repeat(depth), ")".repeat(depth)));
        check_safely(format!("{}a{}", "[".repeat(depth), "]".repeat(depth)));
        check_safely(format!("{}a{}", "f(".repeat(depth), ")".repeat(depth)));
        check_safely("(".repeat(depth));
        check_safely(")".repeat(depth));
        check_safely(format!("{}a", "a ? a : ".repeat(depth.min(200))));
    }
}

#[test]
fn long_chains_are_refused_or_parsed_without_overflow() {
    for n in [MAX_CHAIN - 1, MAX_CHAIN, MAX_CHAIN + 1, MAX_TOKENS / 2 + 1, 50_000] {
        check_safely(format!("a{}", " + a".repeat(n)));
        check_safely(format!("a{}", ".b".repeat(n)));
        check_safely(format!("a{}", "[0]".repeat(n / 2)));
        check_safely(format!("a{}", ".f()".repeat(n / 3)));
        check_safely(format!("a{}", " < a".repeat(n)));
        // A raw string sends the whole chain to the crate's parser.
        check_safely(format!("r'x'{}", " + a".repeat(n)));
        check_safely(format!("{}a", "-!".repeat(n)));
        check_safely(format!("{}a", "!".repeat(n)));
        check_safely(format!("[{}]", "1, ".repeat(n)));
    }
}

#[test]
fn long_text_inside_a_string_is_fine() {
    let text = format!("inputs.b == '{}'", "é".repeat(100_000));
    let expr = Expr { text: text.clone(), span: Span::new(0, text.len() as u32) };
    let checked = check_expr("f.flow", &expr, ExprSite::Backtick, Expect::Bool, &scope());
    assert!(checked.diagnostics.is_empty(), "{:?}", checked.diagnostics);
}

#[test]
fn the_fast_path_covers_the_common_shapes() {
    for text in [
        "inputs.company",
        "research.output.deal_value > 50000",
        "size(inputs.name) > 0 && inputs.x in ['a', 'b']",
        "output.goals.map(g, g.description)",
        "item.description",
        "event.data.score > 50 || run.depth < 3",
        "research.output.deal_value > -5.0",
    ] {
        assert!(fast::parse(text, &lex(text), 0).is_some(), "{text} took the slow path");
    }
}

#[test]
fn parse_failures_point_inside_the_expression() {
    let failure = parse("a +\n  (b", 10).expect_err("a syntax error");
    assert_eq!(failure.span, Span::new(18, 18));
    let failure = parse("x.y <> 2", 100).expect_err("a syntax error");
    assert_eq!(failure.span, Span::new(105, 106));
}

#[test]
fn carriage_returns_and_tabs_count_as_one_column() {
    let failure = parse("x.y\r\n\t<> 2", 0).expect_err("a syntax error");
    assert_eq!(failure.span, Span::new(7, 8), "{failure:?}");
    let failure = parse("x.y +\r\n\t\t*", 0).expect_err("a syntax error");
    assert_eq!(failure.span, Span::new(9, 10), "{failure:?}");
}

#[test]
fn roots_are_the_scope_names_used_with_their_paths() {
    let text = "research.output.summary + inputs.x.map(v, v.y + item.z).size() + (inputs).w";
    let expr = Expr { text: text.to_string(), span: Span::new(10, 10 + text.len() as u32) };
    let roots: Vec<(String, Vec<String>, &str)> = super::referenced_roots(&expr)
        .into_iter()
        .map(|r| (r.name, r.path, &text[(r.span.start - 10) as usize..(r.span.end - 10) as usize]))
        .collect();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(
        roots,
        vec![
            ("research".to_string(), s(&["output", "summary"]), "research"),
            ("inputs".to_string(), s(&["x"]), "inputs"),
            ("item".to_string(), s(&["z"]), "item"),
            ("inputs".to_string(), s(&["w"]), "(inputs)"),
        ]
    );
}

#[test]
fn the_tree_is_returned_and_typed() {
    let text = "inputs.a > 1";
    let expr = Expr { text: text.to_string(), span: Span::new(0, text.len() as u32) };
    let checked = check_expr("f.flow", &expr, ExprSite::Backtick, Expect::Bool, &scope());
    assert_eq!(checked.ty, Ty::Bool);
    assert!(checked.diagnostics.is_empty());
    let ast = checked.ast.expect("a tree");
    assert!(matches!(ast.kind, super::syntax::NodeKind::Binary { op: super::syntax::BinaryOp::Gt, .. }));
    assert_eq!(checked.roots.len(), 1);
}
