//! (c) Peak memory of a 100,000-step run of `notify` steps (no processes),
//! as the peak resident set size of the `flowc run` process.
//!
//! `cargo run --release -p flowc-bench --bin memory [FLOWC]` (`FLOWC_BENCH_KEEP=1`
//! keeps the generated plan and prints where it is).

use flowc_bench::*;
use serde_json::json;

fn main() {
    let flowc = flowc_path();
    let dir = scratch("memory");
    let dag = Dag { layers: 1000, width: 100 };
    dag.write_plan(&dir, 16, notify_step(), json!([{ "parts": [{ "text": "hello" }] }]));
    let plan_bytes = std::fs::metadata(dir.join("plan.json")).map(|m| m.len()).unwrap_or(0);
    let m = flowc_run(&flowc, &dir);
    assert!(m.success, "flowc run failed");
    let db: u64 = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("state-"))
        .map(|e| e.metadata().map(|m| m.len()).unwrap_or(0))
        .sum();
    println!(
        "{} steps (1000 layers x 100): {:.2} s, peak RSS {:.1} MiB; plan JSON {:.1} MiB, state database {:.1} MiB",
        dag.steps(),
        m.wall.as_secs_f64(),
        m.max_rss_kib as f64 / 1024.0,
        plan_bytes as f64 / 1048576.0,
        db as f64 / 1048576.0
    );
    // `FLOWC_BENCH_KEEP=1` keeps the plan for a profiler (`heaptrack flowc run DIR/plan.json`).
    if std::env::var_os("FLOWC_BENCH_KEEP").is_some() {
        println!("kept {}", dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
}
