//! How fast is the analysis, cold and after a one-step edit?
//!
//! ```sh
//! cargo run --release -p flowc-bench --bin analysis_bench [-- --steps 10000 --edit-steps 2000 --runs 7]
//! ```
//!
//! 1. **Full check**: a fresh salsa database checks the generated project of
//!    `--steps` steps (parse, names, graph, CEL, schemas): median of `--runs`.
//!    Target: under 250 ms for 10,000 steps.
//! 2. **Re-check after a one-step edit**: a 2,000-step file (`--edit-steps`) is
//!    checked once; then, repeatedly, one character inside one step's command
//!    changes and the project is checked again through the same database.
//!    Target: under 10 ms. The salsa event log counts which queries re-ran, to
//!    show that only the edited step was re-checked.
//!
//! Exits 1 when a target is missed.

use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use flowc_compiler::{Database, Project, SourceFile, check_project};
use salsa::Setter;

fn main() -> ExitCode {
    let mut steps = 10_000;
    let mut edit_steps = 2_000;
    let mut runs = 7;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| -> usize {
            args.next().and_then(|v| v.parse().ok()).unwrap_or_else(|| {
                eprintln!("error: {name} takes a number");
                std::process::exit(2)
            })
        };
        match a.as_str() {
            "--steps" => steps = value("--steps"),
            "--edit-steps" => edit_steps = value("--edit-steps"),
            "--runs" => runs = value("--runs"),
            other => {
                eprintln!("error: unknown argument {other}");
                return ExitCode::from(2);
            }
        }
    }

    // 1. Full check, cold.
    let files = flowc_bench::project(steps);
    let bytes: usize = files.iter().map(|(_, t)| t.len()).sum();
    let mut times = Vec::new();
    let mut model_times = Vec::new();
    let mut diags = 0;
    for _ in 0..runs {
        // As `flowc check` builds it: pieces parsed ahead on every core.
        let db = Database::batch();
        let inputs: Vec<SourceFile> = files.iter().map(|(p, t)| SourceFile::new(&db, p.clone(), t.clone())).collect();
        let project = Project::new(&db, inputs.clone());
        let t = Instant::now();
        // The model (split into pieces, parse each) first, to report it apart.
        for f in &inputs {
            let _ = flowc_compiler::model::file_model(&db, *f);
        }
        model_times.push(t.elapsed());
        diags = flowc_compiler::check_project_on_all_cores(&db, project).len();
        times.push(t.elapsed());
    }
    let full = median(&mut times);
    let model = median(&mut model_times);
    println!(
        "full check: {steps} steps, {:.2} MB, {diags} diagnostics: median {:.1} ms over {runs} runs (target < 250 ms)",
        bytes as f64 / 1e6,
        ms(full)
    );
    println!(
        "  of which splitting and parsing: {:.1} ms ({:.1} MB/s); analysis: {:.1} ms",
        ms(model),
        bytes as f64 / 1e6 / model.as_secs_f64(),
        ms(full.saturating_sub(model))
    );

    // 2. Re-check after a one-step edit.
    let log: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = log.clone();
    let mut db = Database::with_event_hook(move |e| {
        if let salsa::EventKind::WillExecute { database_key } = e.kind {
            sink.lock().unwrap().push(format!("{database_key:?}"));
        }
    });
    let files = flowc_bench::project(edit_steps);
    let inputs: Vec<SourceFile> = files.iter().map(|(p, t)| SourceFile::new(&db, p.clone(), t.clone())).collect();
    let edited = inputs[1];
    let project = Project::new(&db, inputs);
    let _ = check_project(&db, project);
    let base = edited.text(&db).clone();
    // Edit the command of a step in the middle of the file.
    let target = format!("s{} ", edit_steps / 2);
    let Some(at) = base.find(&format!("step {target}")).and_then(|i| base[i..].find("command \"").map(|j| i + j + 9)) else {
        eprintln!("error: the generated file has no step {target} with a command");
        return ExitCode::from(2);
    };
    let mut times = Vec::new();
    let mut reran = Vec::new();
    for run in 0..runs.max(3) * 3 {
        let mut text = base.clone();
        text.insert_str(at, if run % 2 == 0 { "x" } else { "yy" });
        log.lock().unwrap().clear();
        let t0 = Instant::now();
        edited.set_text(&mut db).to(text);
        let _ = check_project(&db, project);
        times.push(t0.elapsed());
        reran = std::mem::take(&mut *log.lock().unwrap());
    }
    let edit = median(&mut times);
    let count = |q: &str| reran.iter().filter(|l| l.starts_with(&format!("{q}("))).count();
    println!(
        "re-check after a one-step edit of a {edit_steps}-step file: median {:.2} ms (target < 10 ms)",
        ms(edit)
    );
    println!(
        "  queries re-executed: {} in all; check_step {}, check_workflow {}, workflow_graph {}, parse_piece {}",
        reran.len(),
        count("check_step"),
        count("check_workflow"),
        count("workflow_graph"),
        count("parse_piece")
    );
    if full > Duration::from_millis(250) || edit > Duration::from_millis(10) { ExitCode::from(1) } else { ExitCode::SUCCESS }
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
