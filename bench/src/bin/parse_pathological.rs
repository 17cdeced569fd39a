//! Parse time of inputs built to hurt the parser (the shapes of
//! `flowc_grammar::pathological`: deep and unclosed brackets in every
//! position, long runs of one token), at growing sizes, to show the time
//! grows linearly with the input.
//!
//! ```sh
//! cargo run --release -p flowc-bench --bin parse_pathological [-- --sizes 1000,4000,16000 --runs 3]
//! ```
//!
//! Prints, per shape, the median parse time at each size and the ratio of the
//! largest size's time per byte to the smallest's (about 1 when linear).

use std::time::{Duration, Instant};

// mimalloc, as in every benchmark (set by the library).
use flowc_bench as _;

use flowc_grammar::pathological as shapes;

fn main() {
    let mut sizes: Vec<usize> = vec![1_000, 4_000, 16_000];
    let mut runs = 3;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let v = args.next();
        match (a.as_str(), v) {
            ("--sizes", Some(v)) => sizes = v.split(',').filter_map(|s| s.parse().ok()).collect(),
            ("--runs", Some(v)) if v.parse::<usize>().is_ok() => runs = v.parse().unwrap_or(3),
            _ => {
                eprintln!("usage: parse_pathological [--sizes N,N,…] [--runs N]");
                std::process::exit(2);
            }
        }
    }
    if sizes.is_empty() {
        eprintln!("--sizes needs at least one number");
        std::process::exit(2);
    }
    let names: Vec<&str> = shapes::shapes(1).into_iter().map(|(n, _)| n).collect();
    print!("{:<26}", "shape");
    for n in &sizes {
        print!(" {:>12}", format!("×{n}"));
    }
    println!(" {:>12}", "per-byte ×");
    for (i, name) in names.iter().enumerate() {
        print!("{name:<26}");
        let mut per_byte = Vec::new();
        for &n in &sizes {
            let (_, text) = shapes::shapes(n).swap_remove(i);
            let mut times: Vec<Duration> = (0..runs.max(1))
                .map(|_| {
                    let t = Instant::now();
                    let parsed = flowc_grammar::parse(&text);
                    std::hint::black_box(parsed);
                    t.elapsed()
                })
                .collect();
            times.sort();
            let median = times[times.len() / 2];
            per_byte.push(median.as_secs_f64() / text.len() as f64);
            print!(" {:>9.2} ms", median.as_secs_f64() * 1e3);
        }
        let ratio = per_byte.last().copied().unwrap_or(0.0) / per_byte[0].max(f64::MIN_POSITIVE);
        println!(" {ratio:>12.2}");
    }
}
