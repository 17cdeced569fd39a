//! Does `flowc check` stay O((steps + edges) · log) for every step kind and
//! every shape of graph?
//!
//! ```sh
//! cargo build --release -p flowc -p flowc-bench
//! ./target/release/scaling [--sizes 10000,40000,100000] [--kinds run,notify] [--shapes wide,chain] [--flowc PATH]
//! ```
//!
//! For each step kind and each shape it generates a project of each size,
//! runs the release `flowc check DIR --format json` on it (best of two runs;
//! one at 100,000 steps and above) and reads the wall time and the peak
//! resident set of the process. It prints one table row per kind and shape,
//! and exits 1 when, between two consecutive sizes, the time grew faster than
//! n·log n allows (with a factor of [`SLACK`] for noise and cache effects) or
//! a check failed. A program, not a test: `cargo test` never runs it.
//!
//! Shapes, for `L` layers of `W` steps:
//! - `chain`: each step after the one before it;
//! - `wide`: layers of 100, each step after two of the previous layer;
//! - `dense`: layers of 20, each step after all 20 of the previous layer;
//! - `groups`: `parallel` groups of a chain of 10 steps, each group after the
//!   one before;
//! - `reads`: a chain in which each step reads the output of the step before
//!   it and of the first step (scope queries far up the graph).
//!
//! Kinds: `run`, `notify`, `agent`, `approval`, `human`, `wait`, `check` (a
//! policy), `call` (a child workflow), `branch` (every step but the last
//! layer's is a branch whose two arms are the steps after it) and `foreach`
//! (every other step sets `items`; the others run once per item).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use flowc_bench::measure;

/// How much faster than n·log n the time may grow between two sizes before
/// the benchmark fails.
const SLACK: f64 = 1.6;

const KINDS: &[&str] = &["run", "notify", "agent", "approval", "human", "wait", "check", "call", "branch", "foreach"];
const SHAPES: &[&str] = &["chain", "wide", "dense", "groups", "reads"];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let list = |flag: &str, default: &[&str]| -> Vec<String> {
        match args.iter().position(|a| a == flag) {
            Some(i) => args.get(i + 1).map(|v| v.split(',').map(str::to_string).collect()).unwrap_or_default(),
            None => default.iter().map(|s| s.to_string()).collect(),
        }
    };
    let sizes: Vec<usize> = list("--sizes", &["10000", "40000", "100000"]).iter().filter_map(|s| s.parse().ok()).collect();
    let kinds = list("--kinds", KINDS);
    let shapes = list("--shapes", SHAPES);
    let flowc = match args.iter().position(|a| a == "--flowc") {
        Some(i) => PathBuf::from(&args[i + 1]),
        None => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/release/flowc")),
    };
    if let Some(bad) = kinds.iter().find(|k| !KINDS.contains(&k.as_str())).or(shapes.iter().find(|s| !SHAPES.contains(&s.as_str()))) {
        eprintln!("error: unknown kind or shape `{bad}` (kinds: {}; shapes: {})", KINDS.join(", "), SHAPES.join(", "));
        return ExitCode::from(2);
    }
    let dir = std::env::temp_dir().join(format!("flowc-scaling-{}", std::process::id()));
    let mut header = String::from("| kind | shape |");
    for n in &sizes {
        let _ = write!(header, " {n} steps |");
    }
    println!("{header} growth |");
    println!("|---|---|{}---|", "---|".repeat(sizes.len()));
    let mut failed = Vec::new();
    for shape in &shapes {
        for kind in &kinds {
            let mut row = format!("| {kind} | {shape} |");
            let mut times: Vec<(usize, f64)> = Vec::new();
            let mut worst: f64 = 0.0;
            for &n in &sizes {
                let _ = std::fs::remove_dir_all(&dir);
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(dir.join("main.flow"), project(kind, shape, n)).unwrap();
                let runs = if n >= 100_000 { 1 } else { 2 };
                let mut best: Option<(f64, i64)> = None;
                for _ in 0..runs {
                    let m = check(&flowc, &dir);
                    if !m.2 {
                        failed.push(format!("{kind}/{shape} at {n} steps: `flowc check` found problems or failed (kept in {})", dir.display()));
                        println!("{row} check failed |");
                        return finish(failed);
                    }
                    if best.is_none_or(|b| m.0 < b.0) {
                        best = Some((m.0, m.1));
                    }
                }
                let (secs, rss) = best.expect("one run");
                let _ = write!(row, " {:.2} s, {} MiB |", secs, rss / 1024);
                if let Some(&(n0, t0)) = times.last() {
                    let allowed = nlogn(n) / nlogn(n0);
                    let ratio = (secs / t0) / allowed;
                    worst = worst.max(ratio);
                    if ratio > SLACK {
                        failed.push(format!("{kind}/{shape}: {n0} → {n} steps took {:.1}× the time; n·log n allows {allowed:.1}×", secs / t0));
                    }
                }
                times.push((n, secs));
            }
            println!("{row} {worst:.2}× n·log n |");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    finish(failed)
}

fn finish(failed: Vec<String>) -> ExitCode {
    if failed.is_empty() {
        println!("\nevery kind and shape grows within {SLACK}× of n·log n");
        ExitCode::SUCCESS
    } else {
        for f in &failed {
            eprintln!("superlinear: {f}");
        }
        ExitCode::from(1)
    }
}

fn nlogn(n: usize) -> f64 {
    let n = n as f64;
    n * n.log2()
}

/// Wall seconds, peak RSS in KiB, and whether the check passed cleanly.
fn check(flowc: &Path, dir: &Path) -> (f64, i64, bool) {
    let m = measure(Command::new(flowc).arg("check").arg(dir).args(["--format", "json"]));
    (m.wall.as_secs_f64(), m.max_rss_kib, m.success)
}

/// A project of about `n` steps of `kind` in `shape`.
fn project(kind: &str, shape: &str, n: usize) -> String {
    let width = match shape {
        "chain" | "reads" => 1,
        "wide" => 100,
        "dense" => 20,
        _ => 10,
    };
    let layers = n.div_ceil(width);
    let mut out = String::with_capacity(n * 120);
    out.push_str("workflow w {\n");
    let name = |l: usize, i: usize| format!("s{l}_{i}");
    for l in 0..layers {
        if shape == "groups" {
            let _ = write!(out, "  parallel g{l}");
            if l > 0 {
                let _ = write!(out, " after g{}", l - 1);
            }
            out.push_str(" {\n");
        }
        for i in 0..width {
            let deps: Vec<String> = match (shape, l) {
                ("groups", _) if i == 0 => Vec::new(),
                ("groups", _) => vec![name(l, i - 1)],
                (_, 0) => Vec::new(),
                ("wide", _) => vec![name(l - 1, i), name(l - 1, (i + 1) % width)],
                ("dense", _) => (0..width).map(|j| name(l - 1, j)).collect(),
                _ => vec![name(l - 1, i)],
            };
            let last = l + 1 == layers;
            let body_kind = match kind {
                "branch" if last && shape != "groups" => "run",
                "branch" if shape == "groups" && i + 1 == width => "run",
                "foreach" if l % 2 == 0 => "items",
                "foreach" => "each",
                k => k,
            };
            let reads = if shape == "reads" && l > 0 { format!(" from ${{{}.status}} and ${{s0_0.status}}", name(l - 1, i)) } else { String::new() };
            // Only one arm of a branch runs: joins of arms wait for one.
            let after = match (deps.len(), kind) {
                (0, _) => String::new(),
                (1, _) => format!(" after {}", deps[0]),
                (_, "branch") => format!(" after one_success({})", deps.join(", ")),
                _ => format!(" after {}", deps.join(", ")),
            };
            let me = name(l, i);
            let arms = if body_kind == "branch" {
                // Two steps of the next layer that run after this one.
                let (a, b) = if shape == "wide" {
                    (name(l + 1, i), name(l + 1, (i + width - 1) % width))
                } else if shape == "groups" {
                    (name(l, i + 1), name(l, i + 1))
                } else if shape == "dense" {
                    (name(l + 1, i), name(l + 1, (i + 1) % width))
                } else {
                    (name(l + 1, i), name(l + 1, i))
                };
                if a == b { format!("when `inputs.go` -> {a}") } else { format!("when `inputs.go` -> {a}\n    else -> {b}") }
            } else {
                String::new()
            };
            let step = flowc_bench::kind_step(body_kind, &me, &after, &reads, i, &arms);
            let indent = if shape == "groups" { "    " } else { "  " };
            out.push_str(indent);
            out.push_str(&step.replace("\n  ", &format!("\n{indent}")));
            out.push('\n');
        }
        if shape == "groups" {
            out.push_str("  }\n");
        }
    }
    if kind == "branch" {
        out.push_str("  input go: bool = true\n");
    }
    out.push_str("}\n");
    out.push_str(flowc_bench::kind_decls(kind));
    out
}
