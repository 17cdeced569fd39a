//! `flowc run`, `resume`, `pause`, `cancel`, `compensate` and `flowc runs …`.
//!
//! Everything about executing runs is `flowc_interpreter`'s; this module reads
//! arguments and files, picks the progress display, and prints results
//! (JSON on stdout with `--json`, human text on stderr).

use std::path::PathBuf;
use std::rc::Rc;

use clap::{Args, Subcommand};
use flowc_interpreter::runtime::{self, NotifySink, RunOptions, RunReport, Steered};
use flowc_interpreter::state::{RunStatus, SqliteStore, Store};
use serde_json::{json, Value};

use crate::progress::{self, Progress};
use crate::{print_json, usage, Cli, Failure};

#[derive(Args, Debug)]
pub struct RunArgs {
    /// What to run: a workflow of the project (`-C DIR`, default `.`),
    /// `FILE.flow:WORKFLOW`, a `.flow` file with one workflow, a plan
    /// `FILE.json` from `flowc build --emit json`, or `WORKFLOW@N`, the
    /// published version N (`flowc versions WORKFLOW`).
    pub target: String,
    /// An input, `NAME=VALUE`, read as the input's declared type (repeatable).
    #[arg(short = 'i', long = "input", value_name = "NAME=VALUE")]
    pub inputs: Vec<String>,
    /// A JSON object of inputs; `-i` values win over it.
    #[arg(long, value_name = "FILE")]
    pub input_file: Option<PathBuf>,
    /// Print the run summary as one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub notify: NotifyArg,
    /// Keep waiting in this process while steps are blocked on people or
    /// events, instead of returning (exit 3) with the run blocked.
    #[arg(long)]
    pub wait: bool,
    /// On behalf of whom the run starts (recorded). The initiator — whose
    /// approval `distinct_from_initiator` gates refuse — is you, the
    /// operating-system user.
    #[arg(long = "as", value_name = "NAME")]
    pub initiator: Option<String>,
}

#[derive(Args, Debug)]
pub struct ResumeArgs {
    #[command(flatten)]
    pub id: RunIdArgs,
    /// Keep waiting in this process while steps are blocked on people or events.
    #[arg(long)]
    pub wait: bool,
}

#[derive(Args, Debug)]
pub struct NotifyArg {
    /// Where `notify` steps send messages: `stderr`, `none`, or `command:CMD`
    /// (CMD gets the message on stdin and in FLOW_NOTIFY_MESSAGE).
    #[arg(long = "notify", env = "FLOW_NOTIFY", value_name = "SINK", default_value = "stderr")]
    pub sink: String,
}

#[derive(Args, Debug)]
pub struct RunIdArgs {
    /// The run id (see `flowc runs list`).
    pub run: String,
    /// Print the result as one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub notify: NotifyArg,
}

#[derive(Args, Debug)]
pub struct RunsArgs {
    #[command(subcommand)]
    pub command: Option<RunsCommand>,
    /// Print JSON on stdout (for `flowc runs` without a subcommand).
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum RunsCommand {
    /// The most recent runs, newest first.
    List {
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// One run: status, steps, attempts, outputs.
    Show {
        run: String,
        #[arg(long)]
        json: bool,
    },
    /// The run's event log, in order.
    Events {
        run: String,
        #[arg(long)]
        json: bool,
    },
    /// Step logs (stdout and stderr, timestamped): one step, or all.
    Logs {
        run: String,
        step: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Per workflow: runs by status, mean duration, retries, cost.
    Stats {
        #[arg(long)]
        json: bool,
    },
    /// Every step waiting on a person or an event, across runs, with the
    /// command that continues it.
    Waiting {
        #[arg(long)]
        json: bool,
    },
}

pub(crate) fn options(cli: &Cli, notify: &NotifyArg, progress: Option<Rc<Progress>>) -> Result<RunOptions, Failure> {
    let mut options = RunOptions::new(cli.state_path(), cli.project_dir());
    options.notify = NotifySink::parse(&notify.sink).map_err(Failure::usage)?;
    options.events = cli.events_sink()?;
    options.observer = progress.map(|p| p as Rc<dyn runtime::Observer>);
    Ok(options)
}

/// Prints the summary and turns the run's status into the exit code.
pub(crate) fn finish(cli: &Cli, report: &RunReport, json: bool, progress: Option<&Progress>) -> Result<(), Failure> {
    if let Some(p) = progress {
        p.stop();
    }
    let blocked = (report.status == RunStatus::Blocked).then(|| SqliteStore::open(&cli.state_path()).ok()).flatten();
    if json {
        let mut doc = report.to_json();
        if let Some(store) = &blocked {
            doc["blocked"] = crate::blocked::blocked_json(store, &report.run);
        }
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    }
    if !cli.quiet {
        progress::print_summary(report);
    }
    match report.status {
        // Compensated after it failed (`on_failure compensate`): still a failure.
        RunStatus::Compensated if report.error.is_some() => Err(Failure::Errors),
        RunStatus::Completed | RunStatus::Compensated => Ok(()),
        RunStatus::Blocked => {
            if let (false, Some(store)) = (cli.quiet, &blocked) {
                crate::blocked::print_blocked(store, report);
            }
            Err(Failure::Blocked)
        }
        RunStatus::Paused | RunStatus::Pending | RunStatus::Running => {
            if !cli.quiet {
                eprintln!("continue it with `flowc resume {}`", report.run);
            }
            Err(Failure::Blocked)
        }
        RunStatus::Failed | RunStatus::Cancelled => Err(Failure::Errors),
    }
}

pub fn run(cli: &Cli, args: &RunArgs) -> Result<(), Failure> {
    let plan = match crate::versions::published_plan(cli, &args.target) {
        Some(plan) => plan?,
        None => crate::build::plan_for(cli, &args.target)?,
    };
    let entry = plan
        .workflow(&plan.entry)
        .ok_or_else(|| Failure::usage(format!("the plan's entry workflow `{}` is not in the plan", plan.entry)))?;
    let file_inputs = match &args.input_file {
        None => None,
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| Failure::usage(format!("cannot read the input file {}: {e}", path.display())))?;
            match serde_json::from_str::<serde_json::Value>(&text) {
                Ok(serde_json::Value::Object(map)) => Some(map),
                Ok(_) => return Err(Failure::usage(format!("{} should hold a JSON object of inputs", path.display()))),
                Err(e) => return Err(Failure::usage(format!("{} is not JSON: {e}", path.display()))),
            }
        }
    };
    let inputs = flowc_interpreter::inputs::from_cli(entry, file_inputs, &args.inputs).map_err(Failure::usage)?;
    // Parsing (or compiling) the plan freed what its buffers outgrew.
    crate::release_freed_memory();
    let progress = (!cli.quiet).then(|| Progress::new(cli));
    let mut options = options(cli, &args.notify, progress.clone())?;
    options.wait_blocked = args.wait;
    let actor = flowc_interpreter::runtime::blocking::Actor::cli(args.initiator.as_deref());
    options.origin.initiator = Some(actor.principal.clone());
    if let Some(b) = &actor.on_behalf_of {
        options.origin.detail = serde_json::json!({ "on_behalf_of": b });
    }
    let report = runtime::run(plan, inputs, &options).map_err(usage)?;
    finish(cli, &report, args.json, progress.as_deref())
}

pub fn resume(cli: &Cli, args: &ResumeArgs) -> Result<(), Failure> {
    let (wait, args) = (args.wait, &args.id);
    let progress = (!cli.quiet).then(|| Progress::new(cli));
    let mut options = options(cli, &args.notify, progress.clone())?;
    options.wait_blocked = wait;
    crate::invariant::note_pinned(cli, &args.run, &mut options);
    let steered = runtime::resume(&args.run, &options).map_err(crate::steering::failure);
    finish_steered(cli, crate::steering::Command::Resume, steered, args.json, progress.as_deref())
}

/// Finishes a steering command that may have executed the run here: its
/// summary and exit code, as [`finish`]; or, when another process executes
/// it, what happened (`{"run", "status", "message"}` with `--json`).
pub(crate) fn finish_steered(
    cli: &Cli,
    command: crate::steering::Command,
    steered: Result<Steered, Failure>,
    json: bool,
    progress: Option<&Progress>,
) -> Result<(), Failure> {
    let steered = match steered {
        Ok(Steered::Ran(report)) => return finish(cli, &report, json, progress),
        Ok(s) => s,
        Err(e) => {
            if let Some(p) = progress {
                p.stop();
            }
            return Err(e);
        }
    };
    if let Some(p) = progress {
        p.stop();
    }
    let message = crate::steering::say(command, &steered).unwrap_or_default();
    if json {
        println!("{}", json!({ "run": steered.run(), "status": "running", "message": message }));
    }
    eprintln!("{message}");
    Ok(())
}

fn control(
    cli: &Cli,
    args: &RunIdArgs,
    command: crate::steering::Command,
    f: fn(&str, &RunOptions) -> Result<Steered, runtime::Error>,
) -> Result<(), Failure> {
    let options = options(cli, &args.notify, None)?;
    let steered = f(&args.run, &options).map_err(crate::steering::failure)?;
    let message = crate::steering::say(command, &steered).unwrap_or_default();
    if args.json {
        let store = SqliteStore::open(&options.state_path).map_err(usage)?;
        let status = store.run(&args.run).map_err(usage)?.map(|r| r.status.as_str()).unwrap_or("unknown");
        println!("{}", json!({ "run": args.run, "status": status, "message": message }));
    }
    if !cli.quiet {
        eprintln!("{message}");
    }
    Ok(())
}

pub fn pause(cli: &Cli, args: &RunIdArgs) -> Result<(), Failure> {
    control(cli, args, crate::steering::Command::Pause, runtime::pause)
}

pub fn cancel(cli: &Cli, args: &RunIdArgs) -> Result<(), Failure> {
    control(cli, args, crate::steering::Command::Cancel, runtime::cancel)
}

pub fn compensate(cli: &Cli, args: &RunIdArgs) -> Result<(), Failure> {
    let progress = (!cli.quiet).then(|| Progress::new(cli));
    let options = options(cli, &args.notify, progress.clone())?;
    let report = match runtime::compensate(&args.run, &options) {
        Ok(Steered::Ran(report)) => report,
        Ok(other) => return Err(Failure::usage(format!("run {} was not compensated: {other:?}", other.run()))),
        Err(e) => return Err(crate::steering::failure(e)),
    };
    if let Some(p) = &progress {
        p.stop();
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report.to_json()).unwrap_or_default());
    }
    match &report.error {
        Some(e) if report.status != RunStatus::Compensated => {
            eprintln!("error: {e}; fix it and run `flowc compensate {}` again", report.run);
            Err(Failure::Errors)
        }
        _ => {
            if !cli.quiet {
                eprintln!("run {} compensated", report.run);
            }
            Ok(())
        }
    }
}

fn open_store(cli: &Cli) -> Result<SqliteStore, Failure> {
    let path = cli.state_path();
    if !path.exists() {
        return Err(Failure::usage(format!("there is no state database at {} (no run has been started here)", path.display())));
    }
    SqliteStore::open(&path).map_err(usage)
}

fn duration(started: Option<&str>, finished: Option<&str>) -> Option<i64> {
    let s = flowc_interpreter::time::parse_rfc3339(started?)?;
    let f = flowc_interpreter::time::parse_rfc3339(finished?)?;
    Some(f - s)
}

pub fn runs(cli: &Cli, args: &RunsArgs) -> Result<(), Failure> {
    let command = args.command.as_ref().map_or(RunsCommand::List { limit: 50, json: args.json }, |c| match c {
        RunsCommand::List { limit, json } => RunsCommand::List { limit: *limit, json: *json },
        RunsCommand::Show { run, json } => RunsCommand::Show { run: run.clone(), json: *json },
        RunsCommand::Events { run, json } => RunsCommand::Events { run: run.clone(), json: *json },
        RunsCommand::Logs { run, step, json } => RunsCommand::Logs { run: run.clone(), step: step.clone(), json: *json },
        RunsCommand::Stats { json } => RunsCommand::Stats { json: *json },
        RunsCommand::Waiting { json } => RunsCommand::Waiting { json: *json },
    });
    let store = open_store(cli)?;
    match command {
        RunsCommand::List { limit, json } => {
            let runs = store.runs(limit).map_err(usage)?;
            if json {
                let list: Vec<_> = runs
                    .iter()
                    .map(|r| {
                        json!({
                            "run": r.id, "workflow": r.workflow, "status": r.status, "parent_run": r.parent_run,
                            "created_at": r.created_at, "started_at": r.started_at, "finished_at": r.finished_at,
                            "cost_usd": r.cost_usd,
                            "version": flowc_interpreter::state::Origins::origin(&store, &r.id).ok().flatten().and_then(|o| o.version),
                        })
                    })
                    .collect();
                print_json(&json!(list));
            } else if runs.is_empty() {
                eprintln!("no runs yet");
            } else {
                let mut table = Table::new(&[("RUN", Left), ("WORKFLOW", Left), ("STATUS", Left), ("STARTED", Left), ("DURATION", Right), ("COST", Right)]);
                for r in &runs {
                    let dur = duration(r.started_at.as_deref(), r.finished_at.as_deref())
                        .map(progress::format_ms)
                        .unwrap_or_else(|| "-".into());
                    let started = r.started_at.as_deref().map(|s| s.get(..19).unwrap_or(s).replace('T', " ")).unwrap_or_default();
                    table.row(vec![r.id.clone(), r.workflow.clone(), r.status.as_str().to_string(), started, dur, format!("${:.4}", r.cost_usd)]);
                }
                table.print();
            }
        }
        RunsCommand::Show { run, json } => {
            let record = store.run(&run).map_err(usage)?.ok_or_else(|| Failure::usage(format!("there is no run `{run}`")))?;
            let report = RunReport::load(&store, &run).map_err(usage)?;
            let attempts = store.attempts(&run).map_err(usage)?;
            if json {
                let mut doc = report.to_json();
                doc["inputs"] = record.inputs.clone();
                doc["parent_run"] = json!(record.parent_run);
                doc["created_at"] = json!(record.created_at);
                doc["started_at"] = json!(record.started_at);
                doc["finished_at"] = json!(record.finished_at);
                doc["attempts"] = json!(attempts);
                doc["origin"] = json!(flowc_interpreter::state::Origins::origin(&store, &run).map_err(usage)?);
                if record.status == RunStatus::Blocked {
                    doc["blocked"] = crate::blocked::blocked_json(&store, &run);
                }
                show_extras(&store, &run, Some(&mut doc))?;
                let jobs = crate::item_jobs::item_jobs(&store, &run, &record.workflow)?;
                doc["jobs"] = jobs.iter().map(|j| j.to_json()).collect();
                print_json(&doc);
            } else {
                println!("run       {}", record.id);
                println!("workflow  {}", record.workflow);
                println!("status    {}", record.status);
                if let Some(p) = &record.parent_run {
                    println!("parent    {p} (step {})", record.parent_step.clone().unwrap_or_default());
                }
                println!("inputs    {}", record.inputs);
                println!("started   {}", record.started_at.clone().unwrap_or_else(|| "-".into()));
                println!("finished  {}", record.finished_at.clone().unwrap_or_else(|| "-".into()));
                println!("cost      ${:.4}", record.cost_usd);
                if let Some(outputs) = &record.outputs {
                    println!("outputs   {outputs}");
                }
                if let Some(e) = &record.error {
                    println!("error     {e}");
                }
                if let Some(o) = flowc_interpreter::state::Origins::origin(&store, &run).map_err(usage)? {
                    let who = o.initiator.as_deref().map(|i| format!(" by {i}")).unwrap_or_default();
                    let version = o.version.map(|v| format!("version {v}")).unwrap_or_else(|| "unpublished".into());
                    println!("origin    {}{who}; {version} ({})", o.trigger, o.plan_hash);
                }
                println!();
                let mut table = Table::new(&[("STEP", Left), ("STATUS", Left), ("ATTEMPTS", Right), ("OUTPUT", Left)]);
                let mut errors = Vec::new();
                let clip = |v: &Value| {
                    let out = v.to_string();
                    if out.chars().count() > 60 { format!("{}…", out.chars().take(59).collect::<String>()) } else { out }
                };
                // A `for each item` group's jobs go under its step: each
                // item's run, then its steps (`build[0].compile`).
                let jobs = crate::item_jobs::item_jobs(&store, &run, &record.workflow)?;
                for s in &report.steps {
                    table.row(vec![s.name.clone(), s.status.as_str().to_string(), s.attempts.to_string(), clip(&s.output)]);
                    errors.push(s.error.clone());
                    for j in jobs.iter().filter(|j| j.group == s.name) {
                        let item = j.run.inputs.get("item").map(|i| format!("item {}", clip(i))).unwrap_or_default();
                        table.row(vec![format!("  {}", j.label()), j.run.status.as_str().to_string(), "-".into(), item]);
                        errors.push(None);
                        for m in &j.steps {
                            table.row(vec![format!("    {}.{}", j.label(), m.name), m.status.as_str().to_string(), m.attempts.to_string(), clip(&m.output)]);
                            errors.push(m.error.clone());
                        }
                    }
                }
                // A step's error goes on the line below it, under STATUS.
                let indent = " ".repeat(table.width(0) + 1);
                for (line, error) in table.lines().into_iter().zip(std::iter::once(None).chain(errors)) {
                    println!("{line}");
                    if let Some(e) = error {
                        println!("{indent}error: {e}");
                    }
                }
                if record.status == RunStatus::Blocked {
                    println!();
                    crate::blocked::print_blocked(&store, &report);
                }
                show_extras(&store, &run, None)?;
            }
        }
        RunsCommand::Events { run, json } => {
            if store.run(&run).map_err(usage)?.is_none() {
                return Err(Failure::usage(format!("there is no run `{run}`")));
            }
            let events = store.events(&run).map_err(usage)?;
            if json {
                print_json(&json!(events));
            } else {
                for e in &events {
                    println!("{:>5} {} {:<16} {:<18} {}", e.seq, e.at, e.step.clone().unwrap_or_else(|| "-".into()), e.event, e.payload);
                }
            }
        }
        RunsCommand::Logs { run, step, json } => {
            let report = RunReport::load(&store, &run).map_err(usage)?;
            let runs_dir = runtime::runs_dir_for(&cli.state_path());
            // `(name shown, run, step)`: a job's steps are `GROUP[I].STEP`
            // of the item's child run (`item_jobs`).
            let jobs = crate::item_jobs::item_jobs(&store, &run, &report.workflow)?;
            let job_logs = |group: &str| -> Vec<(String, String, String)> {
                jobs.iter()
                    .filter(|j| j.group == group)
                    .flat_map(|j| j.steps.iter().map(move |m| (format!("{}.{}", j.label(), m.name), j.run.id.clone(), m.name.clone())))
                    .collect()
            };
            let names: Vec<(String, String, String)> = match &step {
                Some(s) if report.steps.iter().any(|x| &x.name == s) => vec![(s.clone(), run.clone(), s.clone())],
                Some(s) => {
                    let found = crate::item_jobs::split_step(s).and_then(|(group, index, member)| {
                        let job = jobs.iter().find(|j| j.group == group && j.index == index)?;
                        job.steps.iter().any(|m| m.name == member).then(|| (s.clone(), job.run.id.clone(), member.to_string()))
                    });
                    match found {
                        Some(one) => vec![one],
                        None => return Err(Failure::usage(format!("run `{run}` has no step `{s}`"))),
                    }
                }
                None => report.steps.iter().flat_map(|s| std::iter::once((s.name.clone(), run.clone(), s.name.clone())).chain(job_logs(&s.name))).collect(),
            };
            let mut docs = Vec::new();
            for (name, in_run, file) in names {
                let path = runtime::process::log_path(&runs_dir, &in_run, &file);
                let text = match std::fs::read_to_string(&path) {
                    Ok(t) => t,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
                    Err(e) => return Err(Failure::usage(format!("cannot read {}: {e}", path.display()))),
                };
                if json {
                    docs.push(json!({ "step": name, "log": text }));
                } else if step.is_some() {
                    print!("{text}");
                } else if !text.is_empty() {
                    println!("==> {name} <==");
                    print!("{text}");
                }
            }
            if json {
                print_json(&json!(docs));
            }
        }
        RunsCommand::Waiting { json } => crate::blocked::print_waiting(&store, json).map_err(usage)?,
        RunsCommand::Stats { json } => {
            let stats = store.stats().map_err(usage)?;
            if json {
                let mut doc = json!(stats);
                stats_extras(&store, Some(&mut doc))?;
                print_json(&doc);
            } else if stats.is_empty() {
                eprintln!("no runs yet");
            } else {
                let mut table = Table::new(&[
                    ("WORKFLOW", Left),
                    ("RUNS", Right),
                    ("COMPLETED", Right),
                    ("FAILED", Right),
                    ("MEAN TIME", Right),
                    ("RETRIES", Right),
                    ("COST", Right),
                ]);
                for s in &stats {
                    let get = |k: &str| s.by_status.get(k).copied().unwrap_or(0);
                    table.row(vec![
                        s.workflow.clone(),
                        s.runs.to_string(),
                        get("completed").to_string(),
                        get("failed").to_string(),
                        s.avg_duration_ms.map(|d| progress::format_ms(d as i64)).unwrap_or_else(|| "-".into()),
                        s.retries.to_string(),
                        format!("${:.4}", s.cost_usd),
                    ]);
                }
                table.print();
            }
            if !json {
                stats_extras(&store, None)?;
            }
        }
    }
    Ok(())
}

#[derive(Clone, Copy)]
enum Align {
    Left,
    Right,
}
use Align::{Left, Right};

/// A table for the terminal whose columns are as wide as their widest cell
/// (in characters), one space apart, so long workflow and step names never
/// run into the next column. Hand-written: `comfy-table` and `tabled` draw
/// boxes, wrap and detect terminals, and these tables need none of it.
struct Table {
    columns: Vec<(&'static str, Align)>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn new(columns: &[(&'static str, Align)]) -> Table {
        Table { columns: columns.to_vec(), rows: Vec::new() }
    }

    fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    fn width(&self, column: usize) -> usize {
        let header = self.columns.get(column).map_or(0, |(h, _)| h.chars().count());
        self.rows.iter().filter_map(|r| r.get(column)).map(|c| c.chars().count()).fold(header, usize::max)
    }

    /// The header line, then one line per row, without trailing blanks.
    fn lines(&self) -> Vec<String> {
        let widths: Vec<usize> = (0..self.columns.len()).map(|i| self.width(i)).collect();
        let header: Vec<String> = self.columns.iter().map(|(h, _)| h.to_string()).collect();
        std::iter::once(&header)
            .chain(&self.rows)
            .map(|cells| {
                let mut line = String::new();
                for (i, cell) in cells.iter().enumerate() {
                    if i > 0 {
                        line.push(' ');
                    }
                    let pad = widths[i].saturating_sub(cell.chars().count());
                    match self.columns[i].1 {
                        Left => {
                            line.push_str(cell);
                            line.push_str(&" ".repeat(pad));
                        }
                        Right => {
                            line.push_str(&" ".repeat(pad));
                            line.push_str(cell);
                        }
                    }
                }
                line.trim_end().to_string()
            })
            .collect()
    }

    fn print(&self) {
        for line in self.lines() {
            println!("{line}");
        }
    }
}

/// `flowc runs show`: the run's children and checkpoints.
pub fn show_extras(store: &dyn Store, run: &str, doc: Option<&mut Value>) -> Result<(), Failure> {
    let children = store.children(run).map_err(usage)?;
    let checkpoints = store.checkpoints(run).map_err(usage)?;
    match doc {
        Some(doc) => {
            doc["children"] = children
                .iter()
                .map(|c| {
                    json!({
                        "run": c.run.id, "workflow": c.run.workflow, "status": c.run.status, "depth": c.run.depth,
                        "step": c.run.parent_step, "spawned": c.spawn_key.is_some(),
                    })
                })
                .collect();
            doc["checkpoints"] = checkpoints.iter().map(|c| json!({ "seq": c.seq, "step": c.step, "attempt": c.attempt, "at": c.at })).collect();
        }
        None => {
            if !children.is_empty() {
                println!();
                println!("{:<22} {:<20} {:<12} {:<10} FROM STEP", "CHILD RUN", "WORKFLOW", "STATUS", "HOW");
                for c in &children {
                    println!(
                        "{:<22} {:<20} {:<12} {:<10} {}",
                        c.run.id,
                        c.run.workflow,
                        c.run.status.as_str(),
                        if c.spawn_key.is_some() { "spawned" } else { "called" },
                        c.run.parent_step.clone().unwrap_or_default()
                    );
                }
            }
            if !checkpoints.is_empty() {
                println!();
                let list: Vec<String> = checkpoints.iter().map(|c| format!("{}:{}", c.seq, c.step)).collect();
                println!("checkpoints  {}", list.join("  "));
            }
        }
    }
    Ok(())
}

/// `flowc runs stats`: each gate's pass and fail counts.
pub fn stats_extras(store: &dyn Store, doc: Option<&mut Value>) -> Result<(), Failure> {
    let gates = store.gate_stats().map_err(usage)?;
    match doc {
        Some(Value::Array(list)) => {
            for entry in list.iter_mut() {
                let wf = entry["workflow"].as_str().unwrap_or("").to_string();
                entry["gates"] = gates
                    .iter()
                    .filter(|g| g.workflow == wf)
                    .map(|g| json!({ "gate": g.gate, "passed": g.passed, "failed": g.failed }))
                    .collect();
            }
        }
        Some(_) => {}
        None => {
            if !gates.is_empty() {
                println!();
                println!("{:<24} {:<24} {:>8} {:>8} {:>10}", "WORKFLOW", "GATE", "PASSED", "FAILED", "PASS RATE");
                for g in &gates {
                    let total = g.passed + g.failed;
                    let rate = if total > 0 { format!("{:.0}%", 100.0 * g.passed as f64 / total as f64) } else { "-".into() };
                    println!("{:<24} {:<24} {:>8} {:>8} {:>10}", g.workflow, g.gate, g.passed, g.failed, rate);
                }
            }
        }
    }
    Ok(())
}
