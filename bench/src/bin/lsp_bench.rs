//! How fast does the language server publish diagnostics after a keystroke?
//!
//! ```sh
//! cargo run --release -p flowc-bench --bin lsp_bench [-- --workflows 20 --steps 100 --edits 60 --kind mixed]
//! ```
//!
//! Writes a project (the shared agents and one file of `--workflows`
//! workflows of `--steps` steps each) to a temporary directory, starts the
//! server in process with tracing on (`flowc_lsp::Config::trace`), opens the
//! big file, then makes `--edits` one-character edits inside one step of the
//! middle workflow (a character typed, then deleted, inside its first string,
//! or a blank typed inside its first expression when it has no string),
//! waiting each time for the diagnostics of that version.
//!
//! `--kind` chooses what the steps are: `mixed` (the default: `run` steps
//! reading the previous step's output, every 10th an `agent` step, every
//! 25th a policy `check`), or a chain of steps all of one kind: `run`,
//! `notify`, `agent`, `approval`, `human`, `wait`, `check`, `call`,
//! `branch`, `foreach` (every other step sets `items`, the others run once
//! per item). `--kind all` runs every kind in turn and prints one table.
//!
//! It reports, per edit, the server-side time from receiving `didChange`
//! to handing `publishDiagnostics` to the transport (from the server's
//! trace), the client-side round trip, and which salsa queries re-executed:
//! the evidence that only the edited step was re-checked and no other
//! workflow was. Exits 1 when the median server-side time misses 10 ms.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, ReadHalf, WriteHalf};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

const TARGET: Duration = Duration::from_millis(10);

struct Options {
    workflows: usize,
    steps: usize,
    edits: usize,
    kinds: Vec<String>,
}

const KINDS: &[&str] = &["run", "notify", "agent", "approval", "human", "wait", "check", "call", "branch", "foreach"];

fn parse_args() -> Result<Options, String> {
    let mut opts = Options { workflows: 20, steps: 100, edits: 60, kinds: vec!["mixed".into()] };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| -> Result<usize, String> {
            args.next().ok_or_else(|| format!("{name} needs a value"))?.parse().map_err(|e| format!("{name}: {e}"))
        };
        match arg.as_str() {
            "--workflows" => opts.workflows = value("--workflows")?,
            "--steps" => opts.steps = value("--steps")?,
            "--edits" => opts.edits = value("--edits")?,
            "--kind" => {
                let kind = args.next().ok_or("--kind needs a value")?;
                opts.kinds = match kind.as_str() {
                    "all" => KINDS.iter().map(|k| k.to_string()).collect(),
                    k if k == "mixed" || KINDS.contains(&k) => vec![kind],
                    k => return Err(format!("--kind: unknown kind `{k}` (mixed, all, {})", KINDS.join(", "))),
                };
            }
            "-h" | "--help" => {
                println!("usage: lsp_bench [--workflows N] [--steps N] [--edits N] [--kind mixed|all|{}]", KINDS.join("|"));
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument `{other}` (try --help)")),
        }
    }
    if opts.workflows == 0 || opts.steps < 2 || opts.edits == 0 {
        return Err("--workflows and --edits must be at least 1, --steps at least 2".into());
    }
    Ok(opts)
}

fn main() -> ExitCode {
    let opts = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_time().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let mut rows = Vec::new();
    for kind in &opts.kinds {
        match runtime.block_on(run(&opts, kind)) {
            Ok(row) => rows.push(row),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        }
    }
    if rows.len() > 1 {
        println!("\n| kind | cold open | median | p90 | CPU per edit | target |");
        println!("|---|---|---|---|---|---|");
        for r in &rows {
            println!("| {} | {} | {} | {} | {} | {} |", r.kind, ms(r.cold), ms(r.median), ms(r.p90), ms(r.cpu), if r.ok { "met" } else { "MISSED" });
        }
    }
    if rows.iter().all(|r| r.ok) { ExitCode::SUCCESS } else { ExitCode::from(1) }
}

/// What one run measured.
struct Row {
    kind: String,
    cold: Duration,
    median: Duration,
    p90: Duration,
    cpu: Duration,
    ok: bool,
}

/// One file of `workflows` workflows, each a chain of `steps` steps of one
/// `kind`, with the declarations they use.
fn kind_file(kind: &str, workflows: usize, steps: usize) -> String {
    let mut out = String::with_capacity(workflows * steps * 120);
    out.push_str("// Generated by lsp_bench: one kind of step.\n");
    for w in 0..workflows {
        let _ = writeln!(out, "\nworkflow w{w} {{");
        if kind == "branch" {
            out.push_str("  input go: bool = true\n");
        }
        for i in 0..steps {
            let me = format!("w{w}s{i}");
            let after = if i == 0 { String::new() } else { format!(" after w{w}s{}", i - 1) };
            // The last step of a chain of branches has nothing to branch to.
            let body_kind = match kind {
                "branch" if i + 1 == steps => "run",
                "foreach" if i % 2 == 0 => "items",
                "foreach" => "each",
                k => k,
            };
            let arms = format!("when `inputs.go` -> w{w}s{}", i + 1);
            let step = flowc_bench::kind_step(body_kind, &me, &after, "", i, &arms);
            out.push_str("  ");
            out.push_str(&step);
            out.push('\n');
        }
        out.push_str("}\n");
    }
    out.push_str(flowc_bench::kind_decls(kind));
    out
}

/// Where to make the one-character edit in step `name`: just inside its
/// first string (typing `x`), or else just inside its first expression or
/// `{` of data (typing a blank, which changes no diagnostic).
fn edit_point(text: &str, name: &str) -> Option<(usize, &'static str)> {
    let start = text.find(&format!("step {name} ")).or_else(|| text.find(&format!("step {name}:")))?;
    let end = start + text[start..].find("\n  step ").unwrap_or(text.len() - start);
    let body = &text[start..end];
    if let Some(q) = body.find('"') {
        return Some((start + q + 1, "x"));
    }
    if let Some(b) = body.find('`') {
        return Some((start + b + 1, " "));
    }
    body.find("with {").map(|w| (start + w + "with {".len(), " "))
}

/// The client end of the in-process server.
struct Client {
    write: WriteHalf<DuplexStream>,
    messages: UnboundedReceiver<Value>,
    next_id: i64,
}

impl Client {
    async fn send(&mut self, message: Value) -> Result<(), String> {
        let body = message.to_string();
        let framed = format!("Content-Length: {}\r\n\r\n{body}", body.len());
        self.write.write_all(framed.as_bytes()).await.map_err(|e| e.to_string())
    }

    async fn notify(&mut self, method: &str, params: Value) -> Result<(), String> {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params})).await
    }

    async fn request(&mut self, method: &str, params: Value) -> Result<Value, String> {
        self.next_id += 1;
        let id = self.next_id;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})).await?;
        self.wait(|m| m["id"] == id && m.get("method").is_none()).await
    }

    /// The next message matching `pred`; server requests are answered.
    async fn wait(&mut self, pred: impl Fn(&Value) -> bool) -> Result<Value, String> {
        loop {
            let message = tokio::time::timeout(Duration::from_secs(120), self.messages.recv())
                .await
                .map_err(|_| "timed out waiting for the server".to_string())?
                .ok_or("the server stopped")?;
            if message.get("method").is_some() && message.get("id").is_some() {
                self.send(json!({"jsonrpc": "2.0", "id": message["id"], "result": null})).await?;
                continue;
            }
            if pred(&message) {
                return Ok(message);
            }
        }
    }
}

async fn read_frames(mut read: ReadHalf<DuplexStream>, tx: tokio::sync::mpsc::UnboundedSender<Value>) {
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let header = String::from_utf8_lossy(&buf[..end]).to_string();
            let len: usize = header.lines().find_map(|l| l.strip_prefix("Content-Length:")).and_then(|v| v.trim().parse().ok()).unwrap_or(0);
            if buf.len() < end + 4 + len {
                break;
            }
            let body: Vec<u8> = buf.drain(..end + 4 + len).skip(end + 4).collect();
            if let Ok(v) = serde_json::from_slice(&body)
                && tx.send(v).is_err() {
                    return;
                }
        }
        match read.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// CPU time used by the whole process so far (every thread, finished ones
/// too): the server's work, without the time it waited for a core on a
/// busy machine.
fn process_cpu() -> Duration {
    // SAFETY: getrusage only writes into the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return Duration::ZERO;
    }
    let tv = |t: libc::timeval| Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

async fn run(opts: &Options, kind: &str) -> Result<Row, String> {
    let dir = std::env::temp_dir().join(format!("flowc-lsp-bench-{}-{kind}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let text = if kind == "mixed" { flowc_bench::many_workflows(opts.workflows, opts.steps) } else { kind_file(kind, opts.workflows, opts.steps) };
    std::fs::write(dir.join("agents.flow"), flowc_bench::agents()).map_err(|e| e.to_string())?;
    let path = dir.join("editor.flow");
    std::fs::write(&path, &text).map_err(|e| e.to_string())?;
    let root_uri = format!("file://{}", dir.display());
    let uri = format!("file://{}", path.display());

    // The server, in process, on its own thread and runtime.
    let (client_end, server_end) = tokio::io::duplex(1 << 20);
    let server = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("a runtime");
        let (input, output) = tokio::io::split(server_end);
        let config = flowc_lsp::Config { trace: true, request_delay: None };
        runtime.block_on(flowc_lsp::serve(input, output, config))
    });
    let (read, write) = tokio::io::split(client_end);
    let (tx, rx) = unbounded_channel();
    tokio::spawn(read_frames(read, tx));
    let mut client = Client { write, messages: rx, next_id: 0 };

    println!(
        "\n[{kind}] project: {} workflows x {} steps = {} steps in one file ({} KB, {} lines)",
        opts.workflows,
        opts.steps,
        opts.workflows * opts.steps,
        text.len() / 1024,
        text.lines().count()
    );
    client.request("initialize", json!({"processId": null, "rootUri": root_uri, "workspaceFolders": [{"uri": root_uri, "name": "bench"}], "capabilities": {}})).await?;
    client.notify("initialized", json!({})).await?;
    let cold = Instant::now();
    client.notify("textDocument/didOpen", json!({"textDocument": {"uri": uri, "languageId": "flow", "version": 1, "text": text}})).await?;
    let first = client.wait(|m| m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == uri.as_str() && m["params"]["version"] == 1).await?;
    let errors = first["params"]["diagnostics"].as_array().map_or(0, Vec::len);
    let cold = cold.elapsed();
    println!("cold: open to first diagnostics {} ({errors} diagnostics)", ms(cold));

    // The edit point: inside the middle step of the middle workflow (for
    // `mixed`, inside the `command` of a `run` step).
    let w = opts.workflows / 2;
    let (at, typed) = if kind == "mixed" {
        let s = opts.steps / 2 + usize::from((opts.steps / 2) % 10 == 9 || (opts.steps / 2) % 25 == 24);
        let anchor = format!("step w{w}s{s} after w{w}s{} {{\n    command \"sh bin/process.sh", s - 1);
        (text.find(&anchor).ok_or("edit anchor not found")? + anchor.len(), "x")
    } else {
        edit_point(&text, &format!("w{w}s{}", opts.steps / 2)).ok_or("edit point not found")?
    };
    let s = if kind == "mixed" { opts.steps / 2 + usize::from((opts.steps / 2) % 10 == 9 || (opts.steps / 2) % 25 == 24) } else { opts.steps / 2 };
    let line = text[..at].matches('\n').count();
    let col = at - text[..at].rfind('\n').map_or(0, |i| i + 1);
    println!("edit: one character at line {}, inside step `w{w}s{s}` of workflow `w{w}`", line + 1);

    let mut server_side = Vec::new();
    let mut round_trip = Vec::new();
    let mut executed: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let cpu_before = process_cpu();
    for k in 0..opts.edits {
        let version = k as i64 + 2;
        let pos = json!({"line": line, "character": col});
        let change = if k % 2 == 0 {
            json!({"range": {"start": pos, "end": pos}, "text": typed})
        } else {
            json!({"range": {"start": pos, "end": {"line": line, "character": col + 1}}, "text": ""})
        };
        let sent = Instant::now();
        client.notify("textDocument/didChange", json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": [change]})).await?;
        client.wait(|m| m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == uri.as_str() && m["params"]["version"] == version).await?;
        round_trip.push(sent.elapsed());
        let trace = client.wait(|m| m["method"] == "window/logMessage" && m["params"]["message"].as_str().is_some_and(|s| s.starts_with("flowc-trace"))).await?;
        let line = trace["params"]["message"].as_str().unwrap_or_default().to_string();
        let field = |name: &str| line.split_whitespace().find_map(|w| w.strip_prefix(name)).unwrap_or_default().to_string();
        let us: u64 = field("change_to_publish_us=").parse().map_err(|e| format!("bad trace `{line}`: {e}"))?;
        server_side.push(Duration::from_micros(us));
        let counts: BTreeMap<String, u64> =
            field("executed=").split(',').filter_map(|kv| kv.split_once(':')).map(|(k, v)| (k.to_string(), v.parse().unwrap_or(0))).collect();
        for name in executed.keys().cloned().collect::<Vec<_>>() {
            if !counts.contains_key(&name) {
                executed.entry(name).or_default().push(0);
            }
        }
        for (name, n) in counts {
            let seen = executed.entry(name).or_default();
            while seen.len() < k {
                seen.push(0);
            }
            seen.push(n);
        }
    }
    let cpu_per_edit = (process_cpu() - cpu_before) / opts.edits as u32;
    client.request("shutdown", Value::Null).await?;
    client.notify("exit", Value::Null).await?;
    let _ = server.join();
    let _ = std::fs::remove_dir_all(&dir);

    server_side.sort();
    round_trip.sort();
    let median = percentile(&server_side, 0.5);
    println!("\n{} edits, didChange -> publishDiagnostics:", opts.edits);
    println!("  server side (trace): median {}, p90 {}, max {}", ms(median), ms(percentile(&server_side, 0.9)), ms(server_side[server_side.len() - 1]));
    println!("  client round trip:   median {}, p90 {}, max {}", ms(percentile(&round_trip, 0.5)), ms(percentile(&round_trip, 0.9)), ms(round_trip[round_trip.len() - 1]));
    println!("  CPU time per edit:   {} (the whole process, client included)", ms(cpu_per_edit));
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        println!("  machine load average during the run: {}", load.split_whitespace().next().unwrap_or("?"));
    }
    println!("\nsalsa queries re-executed per edit (min..max over the edits):");
    for (name, counts) in &executed {
        let min = counts.iter().min().copied().unwrap_or(0);
        let max = counts.iter().max().copied().unwrap_or(0);
        println!("  {name:<22} {min}..{max}");
    }
    let max_of = |q: &str| executed.get(q).and_then(|c| c.iter().max().copied()).unwrap_or(0);
    // Every edit re-checks the edited step alone (a `for each item` step
    // types `item` from its item source's signature, not its tree).
    let isolated = max_of("check_step") <= 1 && max_of("check_workflow") <= 1 && max_of("workflow_graph") == 0 && max_of("parse") == 0;
    println!(
        "\nother workflows re-checked: {} (check_workflow ran at most {} time(s) per edit, out of {} workflows)",
        if isolated { "none" } else { "YES" },
        max_of("check_workflow"),
        opts.workflows
    );
    let ok = median <= TARGET && isolated;
    println!("target: median under {} -> {}", ms(TARGET), if ok { "met" } else { "MISSED" });
    Ok(Row { kind: kind.to_string(), cold, median, p90: percentile(&server_side, 0.9), cpu: cpu_per_edit, ok })
}
