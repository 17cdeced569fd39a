//! Parse throughput of the whole-file parser on a generated workflow.
//!
//! ```sh
//! cargo run --release -p flowc-bench --bin parse_bench [-- --steps 10000 --runs 7]
//! ```
//!
//! Deterministic enough for `valgrind --tool=callgrind` (use `--runs 1`),
//! which counts instructions instead of seconds.

use std::time::{Duration, Instant};

fn main() {
    let mut steps = 10_000;
    let mut runs = 7;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let v = args.next().and_then(|v| v.parse().ok());
        match (a.as_str(), v) {
            ("--steps", Some(n)) => steps = n,
            ("--runs", Some(n)) => runs = n,
            _ => {
                eprintln!("usage: parse_bench [--steps N] [--runs N]");
                std::process::exit(2);
            }
        }
    }
    let text = flowc_bench::workflow(steps);
    let mut times: Vec<Duration> = (0..runs.max(1))
        .map(|_| {
            let t = Instant::now();
            let parsed = flowc_grammar::parse(&text);
            assert!(parsed.errors.is_empty(), "the generated workflow parses clean");
            t.elapsed()
        })
        .collect();
    times.sort();
    let median = times[times.len() / 2];
    println!(
        "parse: {steps} steps, {:.2} MB, median {:.1} ms, {:.1} MB/s",
        text.len() as f64 / 1e6,
        median.as_secs_f64() * 1e3,
        text.len() as f64 / 1e6 / median.as_secs_f64()
    );
}
