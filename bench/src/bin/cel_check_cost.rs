//! What checking an expression costs: a micro-benchmark, not a test.
//!
//! ```text
//! cargo run --release -p flowc-bench --bin cel_check_cost
//! ```
//!
//! Prints, per expression, the `cel` crate's parse alone and the whole of
//! `check_expr` (whose fast parser skips the crate for common shapes), then
//! a project-sized load: 10,000 steps, each with a condition and a command
//! with two holes.

use std::hint::black_box;
use std::time::Instant;

use flowc_compiler::cel_check::{Expect, ExprSite, MapScope, check_expr};
use flowc_compiler::types::Ty;
use flowc_grammar::ast::{Expr, Span};

/// Microseconds per call: the best of five rounds, since the machine may
/// be busy with other work.
fn per_call(n: u32, mut f: impl FnMut()) -> f64 {
    f();
    (0..5)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..n {
                f();
            }
            start.elapsed().as_secs_f64() * 1e6 / f64::from(n)
        })
        .fold(f64::INFINITY, f64::min)
}

fn expr(text: &str) -> Expr {
    Expr { text: text.to_string(), span: Span::new(100, 100 + text.len() as u32) }
}

fn main() {
    let ty = |s: &str| s.parse::<Ty>().expect("a type");
    let scope = MapScope::new()
        .with_value("inputs", ty("{company: string, name: string, x: string, deal_value: double}"))
        .with_value("research", ty("{output: {deal_value: double, summary: string}, status: string}"))
        .with_value("output", ty("{goals: list({description: string})}"))
        .with_value("item", ty("{description: string}"));
    let cases = [
        "inputs.company",
        "item.description",
        "research.output.deal_value > 50000",
        "size(inputs.name) > 0 && inputs.x in ['a', 'b']",
        "output.goals.map(g, g.description)",
        "research.status == 'completed' ? research.output.summary : 'n/a'",
        // Outside the fast parser's subset: these take the crate's parser.
        r"inputs.company.matches('^[A-Z]\\w+$')",
        "research.output.deal_value > -5.0",
    ];
    println!("{:>10} {:>12}  expression", "cel parse", "check_expr");
    for text in cases {
        let crate_us = per_call(400, || {
            black_box(cel::parser::Parser::new().parse_with_source_info(black_box(text)).is_ok());
        });
        let e = expr(text);
        let check_us = per_call(400, || {
            black_box(check_expr("a.flow", black_box(&e), ExprSite::Backtick, Expect::Any, &scope));
        });
        println!("{crate_us:>8.2}µs {check_us:>10.2}µs  {text}");
    }

    let steps = 10_000;
    let exprs: Vec<(Expr, ExprSite, Expect)> = (0..steps)
        .flat_map(|i| {
            [
                (expr(&format!("research.output.deal_value > {i}")), ExprSite::Backtick, Expect::Bool),
                (expr("inputs.company"), ExprSite::Hole { short: false }, Expect::Any),
                (expr("research.output.summary"), ExprSite::Hole { short: true }, Expect::Any),
            ]
        })
        .collect();
    let mut errors = 0;
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let start = Instant::now();
        errors = 0;
        for (e, site, expect) in &exprs {
            errors += check_expr("a.flow", e, *site, *expect, &scope).diagnostics.len();
        }
        best = best.min(start.elapsed().as_secs_f64());
    }
    println!("{steps} steps, {} expressions: {:.1} ms ({errors} diagnostics)", exprs.len(), best * 1e3);
}
