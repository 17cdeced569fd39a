//! The renderers over generated diagnostics: every format, every kind of
//! span (end of file, inside a multi-byte character, on a very long line),
//! and the cost of positions (one line index per file, not per position).

use flowc_compiler::{Code, Diagnostic, LineIndex, Related};
use flowc_grammar::ast::Span;
use serde_json::Value;

use super::{github, human, json, sarif};
use super::Sources;

/// splitmix64: a few lines of deterministic randomness, so a failing case
/// is reproduced from its seed without a dependency for it.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn code(s: &str) -> Code {
    Code::parse(s).unwrap_or_else(|| panic!("{s} is a code"))
}

fn sources(files: &[(&str, String)]) -> Sources {
    files.iter().map(|(p, t)| (p.to_string(), t.clone())).collect()
}

/// Pieces of text that stress positions: multi-byte characters, a
/// combining accent, an emoji with a skin tone, CRLF, tabs, long lines.
const PIECES: &[&str] = &["step a", " ", "\n", "é", "e\u{301}", "😀", "👍🏽", "\t", "\r\n", "{ }", "naïve", "\"x\"", "// c"];

fn random_text(rng: &mut Rng) -> String {
    let mut text = String::new();
    for _ in 0..rng.below(40) {
        text.push_str(PIECES[rng.below(PIECES.len())]);
        if rng.below(12) == 0 {
            text.push_str(&"x".repeat(rng.below(90_000)));
        }
    }
    text
}

/// Any span of the text, even one starting or ending inside a character
/// or past the end: renderers must take stale spans too.
fn random_span(rng: &mut Rng, text: &str) -> Span {
    let len = text.len() + 3;
    let (a, b) = match rng.below(4) {
        0 => (text.len(), text.len()),
        1 => {
            let a = rng.below(len);
            (a, a)
        }
        _ => (rng.below(len), rng.below(len)),
    };
    Span::new(a.min(b) as u32, a.max(b) as u32)
}

#[test]
fn every_renderer_takes_any_span() {
    let codes = [code("E0101"), code("E0201"), code("W0104")];
    for seed in 0..60 {
        let mut rng = Rng(seed);
        let files = [("a.flow", random_text(&mut rng)), ("b.flow", random_text(&mut rng))];
        let srcs = sources(&files);
        let mut diags = Vec::new();
        for _ in 0..1 + rng.below(4) {
            let (path, text) = &files[rng.below(2)];
            let mut d = Diagnostic::new(codes[rng.below(3)], *path, random_span(&mut rng, text), "something is wrong");
            if rng.below(2) == 0 {
                d = d.with_label("here");
            }
            for _ in 0..rng.below(3) {
                let (path, text) = &files[rng.below(2)];
                d.related.push(Related { path: path.to_string(), span: random_span(&mut rng, text), message: "and here".into() });
            }
            diags.push(d);
        }
        let json: Value = serde_json::from_str(&json::render(&diags, &srcs)).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        let sarif: Value = serde_json::from_str(&sarif::render(&diags, &srcs)).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        assert_eq!(json.as_array().map(Vec::len), Some(diags.len()), "seed {seed}");
        assert_eq!(sarif["runs"][0]["results"].as_array().map(Vec::len), Some(diags.len()), "seed {seed}");
        assert_eq!(github::render(&diags, &srcs).lines().count(), diags.len(), "seed {seed}");
        for (d, j) in diags.iter().zip(json.as_array().unwrap()) {
            assert!(j["line"].as_u64() >= Some(1) && j["column"].as_u64() >= Some(1), "seed {seed}: {j}");
            let out = human::render(d, &srcs, false);
            assert!(out.contains(d.code.as_str()), "seed {seed}: {out}");
            // The header names the true line: the one JSON reports.
            let header = format!("[{}:{}:", d.path, j["line"]);
            assert!(out.contains(&header), "seed {seed}: no `{header}` in\n{out}");
        }
    }
}

/// 70,000 characters before the span: miette would pad past the 65,535
/// a format width allows. The snippet is a window; line:column stay true.
#[test]
fn human_output_clips_a_very_long_line_and_keeps_its_position() {
    let text = format!("workflow a {{{}@ }}", " ".repeat(70_000));
    let at = text.find('@').unwrap() as u32;
    let srcs = sources(&[("long.flow", text.clone())]);
    let d = Diagnostic::new(code("E0101"), "long.flow", Span::new(at, at + 1), "unexpected `@`").with_label("here");
    let out = human::render(&d, &srcs, false);
    assert!(out.contains(&format!("[long.flow:1:{}]", at + 1)), "{out}");
    assert!(out.contains("@ }"), "the window shows the span: {out}");
    assert!(out.lines().all(|l| l.chars().count() < 400), "{out}");
    // A label far along the same line and one on the next are drawn too.
    let mut d = d;
    d.related.push(Related { path: "long.flow".into(), span: Span::new(0, 8), message: "in this workflow".into() });
    let out = human::render(&d, &srcs, false);
    assert!(out.contains("in this workflow") && out.contains("here"), "{out}");
}

/// 5,000 diagnostics, and one with 5,000 related locations: each
/// renderer builds one line index per file it reports on, not one per
/// position (which made them quadratic in the file's size).
#[test]
fn renderers_build_one_line_index_per_file() {
    let a = "step s { command \"x\" }\n".repeat(5_000);
    let b = "é😀\n".repeat(100);
    let srcs = sources(&[("a.flow", a.clone()), ("b.flow", b)]);
    let mut diags: Vec<Diagnostic> = (0..5_000u32).map(|i| Diagnostic::new(code("E0201"), "a.flow", Span::new(i * 23, i * 23 + 4), "bad")).collect();
    let mut cycle = Diagnostic::new(code("E0101"), "a.flow", Span::new(0, 4), "a cycle");
    cycle.related = (0..5_000u32).map(|i| Related { path: if i % 2 == 0 { "a.flow" } else { "b.flow" }.into(), span: Span::new(i, i + 1), message: "via".into() }).collect();
    diags.push(cycle);
    for (name, render) in [("json", json::render as fn(&[Diagnostic], &Sources) -> String), ("sarif", sarif::render), ("github", github::render)] {
        let before = LineIndex::built_on_this_thread();
        let out = render(&diags, &srcs);
        assert!(!out.is_empty());
        let built = LineIndex::built_on_this_thread() - before;
        let expected = if name == "github" { 1 } else { 2 };
        assert_eq!(built, expected, "{name} built {built} line indexes for 2 files");
    }
}
