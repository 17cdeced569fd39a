//! How fast is `flowc check` on a large project?
//!
//! ```sh
//! cargo run --release -p flowc-bench --bin check_bench [-- --steps 10000 --runs 7 --flowc PATH --keep DIR]
//! ```
//!
//! Generates a project with one workflow of `--steps` steps in a temporary
//! directory, then measures
//! 1. parse throughput in MB/s, in process, through `flowc_grammar::parse`;
//! 2. the wall time of the release `flowc check` binary on the project, as
//!    the median of `--runs` runs, against the 1 s target.
//!
//! Without `--flowc`, it uses the `flowc` next to this executable, building
//! it first with the cargo that runs this benchmark so the figure is never
//! taken from a stale binary. `--keep DIR` writes the project there and
//! leaves it, for profiling. Exits 1 when the target is missed.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

const TARGET: Duration = Duration::from_secs(1);

struct Options {
    steps: usize,
    runs: usize,
    flowc: Option<PathBuf>,
    keep: Option<PathBuf>,
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(msg) => {
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
    }
}

fn parse_args() -> Result<Options, String> {
    let mut opts = Options { steps: 10_000, runs: 7, flowc: None, keep: None };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--steps" => opts.steps = value("--steps")?.parse().map_err(|e| format!("--steps: {e}"))?,
            "--runs" => opts.runs = value("--runs")?.parse().map_err(|e| format!("--runs: {e}"))?,
            "--flowc" => opts.flowc = Some(PathBuf::from(value("--flowc")?)),
            "--keep" => opts.keep = Some(PathBuf::from(value("--keep")?)),
            "-h" | "--help" => {
                println!("usage: check_bench [--steps N] [--runs N] [--flowc PATH] [--keep DIR]");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument `{other}` (try --help)")),
        }
    }
    if opts.runs == 0 {
        return Err("--runs must be at least 1".into());
    }
    Ok(opts)
}

fn run() -> Result<bool, String> {
    let opts = parse_args()?;
    if cfg!(debug_assertions) {
        eprintln!("warning: this is a debug build; run with --release for meaningful figures");
    }
    let flowc = match &opts.flowc {
        Some(p) => p.clone(),
        None => build_flowc()?,
    };

    if let Some(dir) = &opts.keep {
        return measure(&opts, &flowc, dir);
    }
    let dir = std::env::temp_dir().join(format!("flowc-bench-{}", std::process::id()));
    let result = measure(&opts, &flowc, &dir);
    // Leave nothing behind, whatever happened.
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn measure(opts: &Options, flowc: &Path, dir: &Path) -> Result<bool, String> {
    let files = flowc_bench::project(opts.steps);
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut bytes = 0;
    for (name, text) in &files {
        std::fs::write(dir.join(name), text).map_err(|e| format!("cannot write {name}: {e}"))?;
        bytes += text.len();
    }
    let lines: usize = files.iter().map(|(_, t)| t.lines().count()).sum();
    println!(
        "project: {} steps, {} files, {:.2} MB, {lines} lines ({})",
        opts.steps,
        files.len(),
        mb(bytes),
        dir.display()
    );

    // 1. Parse throughput, in process. One warm-up parse, then enough parses to
    // run for about a second.
    for (name, text) in &files {
        let parse = flowc_grammar::parse(text);
        if !parse.errors.is_empty() {
            return Err(format!("the generated {name} has syntax errors: {:?}", parse.errors[0]));
        }
    }
    let mut parsed = 0usize;
    let mut parses = 0usize;
    let cpu_before = cpu::own();
    let start = Instant::now();
    while parses < 3 || start.elapsed() < Duration::from_secs(1) {
        for (_, text) in &files {
            let parse = flowc_grammar::parse(text);
            parsed += text.len();
            std::hint::black_box(&parse);
        }
        parses += 1;
    }
    let elapsed = start.elapsed();
    let cpu_note = match (cpu_before, cpu::own()) {
        (Some(before), Some(after)) if after > before => {
            format!("; {:.1} MB/s of CPU time", mb(parsed) / (after - before).as_secs_f64())
        }
        _ => String::new(),
    };
    println!(
        "parse:  {:.1} MB/s ({parses} parses of the project in {:.2} s, {:.1} ms each{cpu_note})",
        mb(parsed) / elapsed.as_secs_f64(),
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1000.0 / parses as f64
    );

    // 2. The binary, end to end: process start, reading, parsing, checking,
    // rendering. JSON output, so the run also proves the project is clean.
    let mut times = Vec::with_capacity(opts.runs);
    let mut cpu_times = Vec::with_capacity(opts.runs);
    for _ in 0..opts.runs {
        let cpu_before = cpu::children();
        let start = Instant::now();
        let out = Command::new(flowc)
            .arg("check")
            .arg(dir)
            .args(["--format", "json"])
            .output()
            .map_err(|e| format!("cannot run {}: {e}", flowc.display()))?;
        times.push(start.elapsed());
        if let (Some(before), Some(after)) = (cpu_before, cpu::children()) {
            cpu_times.push(after.saturating_sub(before));
        }
        if !out.status.success() || String::from_utf8_lossy(&out.stdout).trim() != "[]" {
            return Err(format!(
                "`flowc check` did not pass on the generated project (exit {:?}):\n{}{}",
                out.status.code(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    times.sort();
    let median = times[times.len() / 2];
    let met = median < TARGET;
    println!(
        "check:  median {:.0} ms over {} runs (min {:.0} ms, max {:.0} ms) of {} check DIR --format json",
        ms(median),
        times.len(),
        ms(times[0]),
        ms(times[times.len() - 1]),
        flowc.display()
    );
    if cpu_times.len() == times.len() {
        cpu_times.sort();
        println!(
            "        median CPU time (user + system) {:.0} ms (above the wall time: parsing and the step checks use every core)",
            ms(cpu_times[cpu_times.len() / 2])
        );
    }
    println!("target: under {:.0} ms: {}", ms(TARGET), if met { "met" } else { "MISSED" });
    Ok(met)
}

/// Builds the release `flowc` with the cargo running this benchmark and
/// returns its path, next to this executable.
fn build_flowc() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this executable: {e}"))?;
    let dir = exe.parent().ok_or("this executable has no directory")?;
    let flowc = dir.join(format!("flowc{}", std::env::consts::EXE_SUFFIX));
    // `cargo run` tells its child which cargo it is; without it, trust what is there.
    if let Some(cargo) = std::env::var_os("CARGO") {
        let profile = if dir.file_name().is_some_and(|n| n == "release") { "--release" } else { "--profile=dev" };
        eprintln!("building flowc ({profile}) …");
        let status = Command::new(cargo)
            .args(["build", "--quiet", profile, "-p", "flowc", "--bin", "flowc", "--manifest-path"])
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml"))
            .status()
            .map_err(|e| format!("cannot run cargo: {e}"))?;
        if !status.success() {
            return Err("building flowc failed".into());
        }
    }
    if !flowc.is_file() {
        return Err(format!(
            "no flowc binary at {}; build it with `cargo build --release` or pass --flowc PATH",
            flowc.display()
        ));
    }
    Ok(flowc)
}

/// CPU time, from `/proc` on Linux. On a machine shared with other work the
/// wall time swings with the load; CPU time says what the code costs.
mod cpu {
    use std::time::Duration;

    /// Clock ticks per second of `/proc/*/stat`: USER_HZ, 100 on every Linux
    /// architecture that matters (reading `sysconf` would need libc).
    const TICKS_PER_SECOND: u64 = 100;

    /// The user + system time of this process.
    pub fn own() -> Option<Duration> {
        stat_fields(14, 15)
    }

    /// The user + system time of the children this process has waited for.
    pub fn children() -> Option<Duration> {
        stat_fields(16, 17)
    }

    /// The sum of two fields of `/proc/self/stat`, numbered as in proc(5).
    /// Fields are split after the parenthesised command name (field 2), which
    /// may itself contain spaces; field 3 comes first.
    fn stat_fields(a: usize, b: usize) -> Option<Duration> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        let rest = stat.get(stat.rfind(')')? + 2..)?;
        let fields: Vec<&str> = rest.split(' ').collect();
        let get = |n: usize| fields.get(n.checked_sub(3)?)?.parse::<u64>().ok();
        let ticks = get(a)? + get(b)?;
        Some(Duration::from_millis(ticks * 1000 / TICKS_PER_SECOND))
    }
}

fn mb(bytes: usize) -> f64 {
    bytes as f64 / 1_000_000.0
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
