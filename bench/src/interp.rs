//! Shared pieces of the interpreter benchmarks: plan generation from one DAG
//! description, running the `flowc` binary, and measuring it.
//!
//! The binaries take the path of a release `flowc` (default
//! `target/release/flowc`) and work in a fresh temporary directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// A DAG: `layers` layers of `width` steps; a step in layer L > 0 depends
/// on steps i and i+1 (mod width) of layer L-1. Wide and shallow, with
/// fan-in, like a build.
pub struct Dag {
    pub layers: usize,
    pub width: usize,
}

impl Dag {
    pub fn name(l: usize, i: usize) -> String {
        format!("s{l}_{i}")
    }

    pub fn deps(&self, l: usize, i: usize) -> Vec<(usize, usize)> {
        if l == 0 {
            return vec![];
        }
        let mut d = vec![(l - 1, i)];
        if self.width > 1 {
            d.push((l - 1, (i + 1) % self.width));
        }
        d
    }

    pub fn steps(&self) -> usize {
        self.layers * self.width
    }

    /// Writes the plan to `DIR/plan.json`, streaming: the benchmark process
    /// must stay small, because a forked child's peak RSS counts the
    /// parent's pages until it execs.
    pub fn write_plan(&self, dir: &Path, concurrency: u32, step: (&str, Value), templates: Value) {
        use std::io::Write;
        let file = std::fs::File::create(dir.join("plan.json")).unwrap();
        let mut w = std::io::BufWriter::new(file);
        let (kind, code) = step;
        // The plan format these step codes are written in (`flowc_plan::FORMAT_VERSION`;
        // the bench does not depend on the plan crate). Templates here have no holes.
        write!(
            w,
            r#"{{"format_version":3,"entry":"bench","workflows":[{{"name":"bench","defaults":{{"concurrency":{concurrency}}},"templates":{templates},"steps":["#
        )
        .unwrap();
        for l in 0..self.layers {
            for i in 0..self.width {
                let id = l * self.width + i;
                let after: Vec<usize> = self.deps(l, i).into_iter().map(|(dl, di)| dl * self.width + di).collect();
                let step = json!({ "id": id, "name": Self::name(l, i), "kind": kind, "after": after, "code": code });
                write!(w, "{}{step}", if id == 0 { "" } else { "," }).unwrap();
            }
        }
        write!(w, "]}}]}}").unwrap();
        w.flush().unwrap();
    }

    /// The same DAG as a Makefile whose recipes are `recipe`.
    pub fn makefile(&self, recipe: &str) -> String {
        let mut out = String::new();
        let leaves: Vec<String> = (0..self.width).map(|i| Self::name(self.layers - 1, i)).collect();
        out.push_str(&format!(".PHONY: all {}\nall: {}\n", self.all_names().join(" "), leaves.join(" ")));
        for l in 0..self.layers {
            for i in 0..self.width {
                let deps: Vec<String> = self.deps(l, i).into_iter().map(|(a, b)| Self::name(a, b)).collect();
                out.push_str(&format!("{}: {}\n\t@{recipe}\n", Self::name(l, i), deps.join(" ")));
            }
        }
        out
    }

    fn all_names(&self) -> Vec<String> {
        (0..self.layers).flat_map(|l| (0..self.width).map(move |i| Self::name(l, i))).collect()
    }
}

/// A `run` step of template 0.
pub fn run_step() -> (&'static str, Value) {
    (
        "run",
        json!([
            { "op": "RENDER", "template": 0, "dst": "cmd" },
            { "op": "EXEC", "cmd": "cmd" },
            { "op": "PARSE_OUTPUT", "mode": "auto" },
            { "op": "END" }
        ]),
    )
}

/// A `notify` step of template 0.
pub fn notify_step() -> (&'static str, Value) {
    (
        "notify",
        json!([
            { "op": "RENDER", "template": 0, "dst": "m" },
            { "op": "NOTIFY", "message": "m" },
            { "op": "END" }
        ]),
    )
}

pub fn flowc_path() -> PathBuf {
    std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/release/flowc")))
}

pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("flowc-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub struct Measured {
    pub wall: Duration,
    /// Peak resident set of the child, in KiB.
    pub max_rss_kib: i64,
    /// User + system CPU of the child and the processes it waited for.
    pub cpu: Duration,
    pub success: bool,
}

/// Runs a command to its end; wall time and the child's peak RSS.
pub fn measure(cmd: &mut Command) -> Measured {
    let start = Instant::now();
    let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child and fills a zeroed rusage.
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = start.elapsed();
    let _ = child.try_wait();
    let tv = |t: libc::timeval| Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64);
    let cpu = tv(usage.ru_utime) + tv(usage.ru_stime);
    Measured { wall, cpu, max_rss_kib: if rc > 0 { usage.ru_maxrss } else { -1 }, success: rc > 0 && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 }
}

/// `flowc run DIR/plan.json -q --notify none` against a fresh state database.
pub fn flowc_run(flowc: &Path, dir: &Path) -> Measured {
    static COUNT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let state = dir.join(format!("state-{n}.db"));
    let _ = std::fs::remove_file(&state);
    measure(
        Command::new(flowc)
            .current_dir(dir)
            .args(["run", "plan.json", "-q", "--notify", "none", "--state"])
            .arg(&state),
    )
}

pub fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    xs[xs.len() / 2]
}
