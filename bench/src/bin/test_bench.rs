//! `flowc test` throughput (issue 16): 200 tests of one 100-step workflow —
//! 96 agent steps in 12 layers of 8 (each waits for two of the layer
//! before), a branch, an approval and a `wait` with a timeout — every agent
//! call mocked with one `mock agent` line. Half the tests approve and
//! deliver the reply; half let the approval time out (`advance 73h`). Each
//! test runs on the real interpreter with its own state database; the
//! figure is the whole `flowc test` process, checking and lowering
//! included, run with every core and with `-j 1`.
//!
//! Also times `flowc test` over every project in `examples/`.
//!
//! `cargo build --release -p flowc -p flowc-bench && ./target/release/test_bench [FLOWC]`

use std::fmt::Write;
use std::process::Command;

use flowc_bench::*;

const LAYERS: usize = 12;
const WIDTH: usize = 8;
const TESTS: usize = 200;

fn workflow() -> String {
    let mut w = String::from("agent worker {\n  command \"sh worker.sh\"\n}\n\nworkflow big {\n  input size: int\n  concurrency 8\n\n");
    for layer in 0..LAYERS {
        for i in 0..WIDTH {
            let _ = write!(w, "  step s{layer}_{i}: agent worker");
            if layer > 0 {
                let _ = write!(w, " after s{}_{}, s{}_{}", layer - 1, i, layer - 1, (i + 1) % WIDTH);
            }
            let _ = writeln!(w, " {{\n    prompt \"part {i} of layer {layer} for ${{inputs.size}}\"\n    output {{ score: int }}\n  }}");
        }
    }
    let last: Vec<String> = (0..WIDTH).map(|i| format!("s{}_{i}", LAYERS - 1)).collect();
    let _ = writeln!(w, "  step route: branch after {} {{\n    when `inputs.size > 100` -> review\n    else -> done\n  }}", last.join(", "));
    w.push_str("  step review: approval after route {\n    approvers [\"ann\"]\n    timeout 72h\n  }\n");
    w.push_str("  step done after one_success(review, route) {\n    command \"true\"\n  }\n");
    w.push_str("  step reply: wait after done {\n    event \"deal.reply\" subject \"deals/${inputs.size}\"\n    timeout 24h\n  }\n}\n");
    w
}

fn tests() -> String {
    let mut t = String::new();
    for n in 0..TESTS {
        let size = 1000 + n;
        let _ = writeln!(t, "test \"test {n}\" {{\n  run big with {{ size: {size} }}\n  mock agent worker returns {{ score: {n} }}\n  mock done returns \"\"");
        if n % 2 == 0 {
            let _ = writeln!(t, "  approve review as \"ann\"\n  send event \"deal.reply\" subject \"deals/{size}\" with {{ ok: true }}\n  expect run completed");
        } else {
            let _ = writeln!(t, "  advance 73h\n  expect review failed\n  expect run failed");
        }
        let _ = writeln!(t, "  expect `s{}_0.output.score == {n}`\n}}\n", LAYERS - 1);
    }
    t
}

fn time_test(flowc: &std::path::Path, dir: &std::path::Path, extra: &[&str]) -> f64 {
    let mut walls = Vec::new();
    for _ in 0..3 {
        let m = measure(Command::new(flowc).current_dir(dir).arg("test").args(extra));
        assert!(m.success, "flowc test failed in {}", dir.display());
        walls.push(m.wall.as_secs_f64());
    }
    median(walls)
}

fn main() {
    let flowc = flowc_path();
    let dir = scratch("test");
    std::fs::write(dir.join("big.flow"), workflow()).unwrap();
    std::fs::write(dir.join("big.test.flow"), tests()).unwrap();
    std::fs::write(dir.join("worker.sh"), "echo '{\"score\": 0}'\n").unwrap();
    let steps = LAYERS * WIDTH + 4;
    for (label, extra) in [("every core", &[][..]), ("-j 1", &["-j", "1"][..])] {
        let w = time_test(&flowc, &dir, extra);
        println!(
            "{TESTS} tests of a {steps}-step workflow, {label}: {w:.2} s ({:.1} ms per test, {:.0} steps/s), median of 3",
            w * 1000.0 / TESTS as f64,
            (TESTS * steps) as f64 / w
        );
    }
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut total = 0.0;
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&examples).unwrap() {
        let src = entry.unwrap().path();
        let copy = scratch(&format!("test-example-{}", src.file_name().unwrap().to_string_lossy()));
        let status = Command::new("cp").arg("-r").arg(format!("{}/.", src.display())).arg(&copy).status().unwrap();
        assert!(status.success());
        total += time_test(&flowc, &copy, &[]);
        names.push(src.file_name().unwrap().to_string_lossy().into_owned());
        let _ = std::fs::remove_dir_all(&copy);
    }
    names.sort();
    println!("the examples' tests ({}), one `flowc test` each: {total:.2} s in all", names.join(", "));
    let _ = std::fs::remove_dir_all(&dir);
}
