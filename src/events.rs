//! `flowc event send`: deliver an event to the runs waiting for it and to the
//! project's `on event` triggers, continuing those runs in this process.

use clap::{Args, Subcommand};
use flowc_interpreter::plan::{LoadedPlan, Plan};
use flowc_interpreter::runtime::{self, delivery, inbox, triggers, RunReport, Steered};
use serde_json::{json, Value};

use crate::progress::Progress;
use crate::runs::NotifyArg;
use crate::{Cli, Failure};

#[derive(Args, Debug)]
pub struct EventArgs {
    #[command(subcommand)]
    pub command: EventCommand,
}

#[derive(Subcommand, Debug)]
pub enum EventCommand {
    /// Store a CloudEvent, continue the runs whose `wait` steps it satisfies,
    /// and start the workflows whose `on event` triggers it fires.
    ///
    /// Example: flowc event send email.reply --subject leads/L-1 --data '{"text": "Interested"}'
    Send(SendArgs),
}

#[derive(Args, Debug)]
pub struct SendArgs {
    /// The event type (`email.reply`).
    #[arg(value_name = "TYPE")]
    pub event_type: String,
    /// The event's subject (`leads/L-1`).
    #[arg(long)]
    pub subject: Option<String>,
    /// The event's data, JSON (the output of a `wait` step has it as `data`).
    #[arg(long, value_name = "JSON")]
    pub data: Option<String>,
    /// The event's source.
    #[arg(long, default_value = "flowc/cli")]
    pub source: String,
    /// The event's id (default: a fresh one). An event with the same source
    /// and id as one already received is a duplicate and does nothing.
    #[arg(long)]
    pub id: Option<String>,
    /// Keep waiting in this process if a continued or started run blocks.
    #[arg(long)]
    pub wait: bool,
    /// Print what happened as one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub notify: NotifyArg,
}

/// The plans of the project's workflows that have triggers (none when the
/// project directory holds no `.flow` files). A project with errors fails.
pub fn trigger_plans(cli: &Cli) -> Result<Vec<Plan>, Failure> {
    let dir = cli.project_dir();
    if crate::project::find(&dir).is_err() {
        return Ok(Vec::new());
    }
    let checked = crate::build::checked(cli, &dir)?;
    let mut plans = Vec::new();
    for w in checked.workflows().iter().filter(|w| checked.has_triggers(w)) {
        match checked.lower(w) {
            Ok(plan) if plan.workflow(w).is_some_and(|wf| !wf.triggers.is_empty()) => plans.push(plan),
            Ok(_) => {}
            Err(Failure::Usage(msg)) => eprintln!("warning: the triggers of workflow {w} are ignored: {msg}"),
            Err(e) => return Err(e),
        }
    }
    Ok(plans)
}

pub fn event(cli: &Cli, args: &EventArgs) -> Result<(), Failure> {
    match &args.command {
        EventCommand::Send(send_args) => send(cli, send_args),
    }
}

fn status_of(report: &RunReport) -> Value {
    json!({ "run": report.run, "workflow": report.workflow, "status": report.status })
}

fn send(cli: &Cli, args: &SendArgs) -> Result<(), Failure> {
    let data = match &args.data {
        Some(text) => Some(serde_json::from_str::<Value>(text).map_err(|e| Failure::usage(format!("--data is not JSON: {e}")))?),
        None => None,
    };
    let event = inbox::new_event(&args.event_type, args.subject.as_deref(), data, &args.source, args.id.as_deref());
    inbox::validate_event(&event).map_err(Failure::usage)?;
    // Check the project before storing anything: a broken project stores nothing.
    let plans = trigger_plans(cli)?;
    let loaded: Vec<LoadedPlan> =
        plans.iter().map(|p| LoadedPlan::load(p.clone())).collect::<Result<_, _>>().map_err(|e| Failure::usage(e.to_string()))?;

    let progress = (!cli.quiet).then(|| Progress::new(cli));
    let mut options = crate::runs::options(cli, &args.notify, progress.clone())?;
    options.wait_blocked = args.wait;
    let usage = |e: runtime::Error| Failure::usage(e.to_string());
    let mut store = runtime::open_store(&options).map_err(|e| Failure::usage(e.to_string()))?;
    // Whoever sent the event started the runs it fires.
    let me = flowc_interpreter::runtime::blocking::os_user();
    let origin = |event: &Value| triggers::event_origin(event, &me);
    let delivered = delivery::deliver(&mut *store, vec![event], &loaded, &origin, &options).map_err(usage)?;
    drop(store);
    let Some(delivered) = delivered.into_iter().next() else { return Ok(()) };
    let stored = delivered.stored;
    let mut started = Vec::new();
    let mut continued = Vec::new();
    let problems = delivered.problems;
    let created = delivered.created.into_iter().collect::<Result<Vec<_>, _>>().map_err(usage)?;
    // Runs waiting for it first: they were there before the triggers' runs.
    for root in delivery::roots(&delivered.waiting) {
        continued.push(match delivery::continue_waiting(&root, &options) {
            Ok(Steered::Ran(report)) => status_of(&report),
            Ok(Steered::Recorded { .. }) => json!({ "run": root, "status": "paused", "message": format!("`flowc resume {root}` applies the event") }),
            Ok(_) => json!({ "run": root, "status": "running", "message": "the process executing the run applies the event" }),
            Err(e) => json!({ "run": root, "status": "waiting", "message": e.to_string() }),
        });
    }
    for c in created {
        if let Some(err) = &c.error {
            started.push(json!({ "run": c.run, "workflow": c.workflow, "status": "failed", "error": err }));
            continue;
        }
        match runtime::resume(&c.run, &options) {
            Ok(Steered::Ran(report)) => started.push(status_of(&report)),
            Ok(s) => started.push(json!({ "run": c.run, "workflow": c.workflow, "status": "running", "message": crate::steering::say(crate::steering::Command::Resume, &s) })),
            Err(e) => started.push(json!({ "run": c.run, "workflow": c.workflow, "status": "pending", "error": e.to_string() })),
        }
    }
    if let Some(p) = &progress {
        p.stop();
    }
    let summary = json!({
        "event": stored.event,
        "seq": stored.seq,
        "duplicate": stored.duplicate,
        "continued": continued,
        "started": started,
        "problems": problems,
    });
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary).unwrap_or_default());
    }
    if !cli.quiet {
        let id = stored.event["id"].as_str().unwrap_or("");
        if stored.duplicate {
            eprintln!("event {id} was received before (same source and id); nothing was done");
        } else {
            eprintln!("event {id} ({}) stored", args.event_type);
        }
        for c in &continued {
            eprintln!("  continued run {}: {}", c["run"].as_str().unwrap_or(""), c["status"].as_str().unwrap_or(""));
        }
        for s in &started {
            eprintln!("  started run {} of {}: {}", s["run"].as_str().unwrap_or(""), s["workflow"].as_str().unwrap_or(""), s["status"].as_str().unwrap_or(""));
        }
        for p in &problems {
            eprintln!("  warning: {p}");
        }
        if continued.is_empty() && started.is_empty() && !stored.duplicate {
            eprintln!("  no run waits for it and no trigger fired; a `wait` step that starts later in a run begun before now still receives it");
        }
    }
    Ok(())
}
