//! (a) 1,000 steps of `true` in a wide DAG (10 layers × 100, fan-in 2),
//! `concurrency 2`: `flowc run` against `make -j2` on the same DAG.
//!
//! `cargo run --release -p flowc-bench --bin dag_vs_make [FLOWC]`

use std::process::Command;

use flowc_bench::*;
use serde_json::json;

fn main() {
    let flowc = flowc_path();
    let dag = Dag { layers: 10, width: 100 };
    let dir = scratch("dag");
    dag.write_plan(&dir, 2, run_step(), json!([{ "parts": [{ "text": "true" }] }]));
    // `make` runs a recipe without a shell when it has no shell syntax; `:;`
    // forces `sh -c`, as flowc always does, so both pay for one shell per step.
    std::fs::write(dir.join("Makefile.sh"), dag.makefile("true;")).unwrap();
    std::fs::write(dir.join("Makefile.exec"), dag.makefile("true")).unwrap();
    let runs = 5;
    let mut flow = Vec::new();
    let mut make_sh = Vec::new();
    let mut make_exec = Vec::new();
    let (mut flow_cpu, mut make_cpu) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let m = flowc_run(&flowc, &dir);
        assert!(m.success, "flowc run failed");
        flow.push(m.wall.as_secs_f64());
        flow_cpu.push(m.cpu.as_secs_f64());
        let m = measure(Command::new("make").current_dir(&dir).args(["-s", "-j2", "-f", "Makefile.sh"]));
        assert!(m.success, "make failed");
        make_sh.push(m.wall.as_secs_f64());
        make_cpu.push(m.cpu.as_secs_f64());
        let m = measure(Command::new("make").current_dir(&dir).args(["-s", "-j2", "-f", "Makefile.exec"]));
        make_exec.push(m.wall.as_secs_f64());
    }
    let (f, ms, me) = (median(flow), median(make_sh), median(make_exec));
    println!("steps: {} (10 layers x 100, fan-in 2), concurrency 2, median of {runs}", dag.steps());
    println!("flowc run:                  {:.3} s", f);
    println!("make -j2 (recipe via sh):   {:.3} s   ratio flowc/make = {:.2}x", ms, f / ms);
    println!("make -j2 (recipe exec'd):   {:.3} s   ratio flowc/make = {:.2}x", me, f / me);
    let (fc, mc) = (median(flow_cpu), median(make_cpu));
    println!("CPU (user+sys, shells included): flowc {fc:.3} s, make (via sh) {mc:.3} s, ratio {:.2}x", fc / mc);
    let _ = std::fs::remove_dir_all(&dir);
}
