//! Inputs built to hurt the parser: deep or unclosed brackets of every kind
//! in every position (top level, data, types, CEL, template holes, recovery
//! chunks) and long runs of one token. Each must parse and format in time
//! linear in its size, on a small stack, with at most a coded error.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use flowc_grammar::{SyntaxErrorKind, format, lexer::MAX_NESTING, parse};

/// A quarter of a spawned thread's default stack (2 MiB). Unoptimised, pest
/// spends about 4 KiB of stack per bracket level, so this is what the nesting
/// bound needs in a debug build; a release build needs far less.
const SMALL_STACK: usize = 512 * 1024;

use flowc_grammar::pathological::{in_step, shapes};

/// Parses and formats `text` on a small stack, within `limit`.
fn parse_and_format(name: &str, text: String, limit: Duration) -> Vec<SyntaxErrorKind> {
    let (tx, rx) = mpsc::channel();
    let owned = name.to_string();
    std::thread::Builder::new()
        .stack_size(SMALL_STACK)
        .spawn(move || {
            let kinds: Vec<_> = parse(&text).errors.iter().map(|e| e.kind).collect();
            let formatted = format(&text);
            let _ = tx.send((kinds, formatted.is_ok()));
        })
        .unwrap_or_else(|e| panic!("{owned}: cannot start a thread: {e}"));
    let start = Instant::now();
    match rx.recv_timeout(limit) {
        Ok((kinds, formatted)) => {
            assert_eq!(formatted, kinds.is_empty(), "{name}: fmt refuses iff parse reports an error");
            kinds
        }
        Err(_) => panic!("{name}: no answer after {:?} (or the thread died)", start.elapsed()),
    }
}

#[test]
fn unclosed_brackets_parse_in_linear_time() {
    // On an exponential grammar 27 unclosed `[` took over 10 s, and each one
    // more doubled it; these are still below the nesting bound.
    for (name, text) in shapes(MAX_NESTING - 2) {
        parse_and_format(name, text, Duration::from_secs(10));
    }
}

#[test]
fn nesting_beyond_the_bound_is_a_coded_error() {
    for n in [MAX_NESTING + 1, 7_500] {
        for (name, text) in shapes(n) {
            let kinds = parse_and_format(name, text, Duration::from_secs(20));
            if name == "top-level [" || name == "top-level (" || name.starts_with("data") || name.starts_with("type") || name == "hole {" {
                assert_eq!(kinds, vec![SyntaxErrorKind::NestingTooDeep], "{name} × {n}");
            }
        }
    }
}

#[test]
fn braces_in_a_hole_count_toward_the_bound() {
    // The shape that once overflowed the language server's stack.
    let text = in_step(&format!("command \"${{{}", "{".repeat(7_500)));
    let parsed = parse(&text);
    assert_eq!(parsed.errors.len(), 1);
    assert_eq!(parsed.errors[0].kind, SyntaxErrorKind::NestingTooDeep);
    let at = parsed.errors[0].span.start as usize;
    assert_eq!(at, text.find("${").unwrap() + 1 + (MAX_NESTING - 2), "the first brace too deep (two are the workflow and step)");

    // Below the bound, and braces a hole does not nest, are fine.
    let ok = in_step(&format!("command \"${{{}1{}}}\"", "{".repeat(100), "}".repeat(100)));
    assert!(!parse(&ok).errors.iter().any(|e| e.kind == SyntaxErrorKind::NestingTooDeep));
    for plain in [
        format!("description \"{}\"", "{".repeat(300)),
        format!("command \"$${}\"", "{".repeat(300)),
        format!("command \"\\${}\"", "{".repeat(300)),
        format!("command \"${{'{}'}}\"", "{".repeat(300)),
    ] {
        let parsed = parse(&in_step(&plain));
        assert!(!parsed.errors.iter().any(|e| e.kind == SyntaxErrorKind::NestingTooDeep), "{plain}");
    }
}

#[test]
fn time_grows_linearly_with_size() {
    // Doubling the input may not much more than double the time: measured on
    // the slowest shape at two sizes, best of three to ride out a busy machine.
    let best = |n: usize| {
        (0..3)
            .map(|_| {
                let shapes = shapes(n);
                let t = Instant::now();
                for (_, text) in &shapes {
                    let _ = parse(text);
                }
                t.elapsed()
            })
            .min()
            .unwrap_or_default()
    };
    let small = best(2_000);
    let large = best(8_000);
    assert!(large < small * 10, "4× the input took {large:?} against {small:?}");
}
