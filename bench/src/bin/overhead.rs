//! (b) Interpreter overhead without processes: 10,000 `notify` steps (sink
//! `none`), the durable event log on, in a wide DAG (100 layers × 100,
//! fan-in 2). Reports steps per second of the whole `flowc run`, process
//! start, plan load and every state write included.
//!
//! `cargo run --release -p flowc-bench --bin overhead [FLOWC]`

use flowc_bench::*;
use serde_json::json;

fn main() {
    let flowc = flowc_path();
    let dir = scratch("overhead");
    for (layers, width, label) in [(100, 100, "wide DAG 100x100"), (10_000, 1, "chain of 10,000")] {
        let dag = Dag { layers, width };
        dag.write_plan(&dir, 2, notify_step(), json!([{ "parts": [{ "text": "hello" }] }]));
        let mut walls = Vec::new();
        for _ in 0..5 {
            let m = flowc_run(&flowc, &dir);
            assert!(m.success, "flowc run failed");
            walls.push(m.wall.as_secs_f64());
        }
        let w = median(walls);
        println!("{label}: {} steps in {:.3} s = {:.0} steps/s (median of 5)", dag.steps(), w, dag.steps() as f64 / w);
    }
    // `FLOWC_BENCH_KEEP=1` keeps the last plan for a profiler.
    if std::env::var_os("FLOWC_BENCH_KEEP").is_some() {
        println!("kept {}", dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
}
