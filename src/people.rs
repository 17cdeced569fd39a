//! `flowc approve`, `flowc reject`, `flowc complete`, and the lines that
//! tell a person how to continue a blocked run.
//!
//! Who decides is the operating-system user running the command
//! ([`Actor::cli`]), matched against a gate's `approvers` (principals or
//! groups of the project's flowc.toml). `--as NAME` records "on behalf of
//! NAME" and changes nothing else. Whoever can write the state database can
//! decide: docs/security.md says what that means.

use std::path::PathBuf;

use clap::Args;
use flowc_interpreter::runtime::people::Actor;
use flowc_interpreter::runtime::{self, Gate, Resolved, RunReport};
use flowc_interpreter::state::{GateAction, SqliteStore};
use serde_json::{json, Value};

use crate::progress::Progress;
use crate::runs::NotifyArg;
use crate::{Cli, Failure};

#[derive(Args, Debug)]
pub struct DecideArgs {
    /// The run id (see `flowc runs list`).
    pub run: String,
    /// The blocked approval step.
    pub step: String,
    /// On behalf of whom (recorded; you, the operating-system user, decide).
    #[arg(long = "as", value_name = "NAME")]
    pub actor: Option<String>,
    /// Why: recorded in the event log with the decision.
    #[arg(long, value_name = "TEXT")]
    pub comment: Option<String>,
    /// Keep waiting in this process if the run blocks again.
    #[arg(long)]
    pub wait: bool,
    /// Print the run summary as one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub notify: NotifyArg,
}

#[derive(Args, Debug)]
pub struct CompleteArgs {
    /// The run id (see `flowc runs list`).
    pub run: String,
    /// The blocked human step.
    pub step: String,
    /// The task's result as JSON; checked against the step's declared `output` type.
    #[arg(long, value_name = "JSON", required_unless_present = "output_file")]
    pub output: Option<String>,
    /// Read the result from a file instead.
    #[arg(long, value_name = "FILE", conflicts_with = "output")]
    pub output_file: Option<PathBuf>,
    /// On behalf of whom (recorded; you, the operating-system user, complete it).
    #[arg(long = "as", value_name = "NAME")]
    pub actor: Option<String>,
    /// A note recorded with the completion.
    #[arg(long, value_name = "TEXT")]
    pub comment: Option<String>,
    /// Keep waiting in this process if the run blocks again.
    #[arg(long)]
    pub wait: bool,
    /// Print the run summary as one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub notify: NotifyArg,
}


pub fn approve(cli: &Cli, args: &DecideArgs) -> Result<(), Failure> {
    decide(cli, args, GateAction::Approve)
}

pub fn reject(cli: &Cli, args: &DecideArgs) -> Result<(), Failure> {
    decide(cli, args, GateAction::Reject)
}

fn decide(cli: &Cli, args: &DecideArgs, action: GateAction) -> Result<(), Failure> {
    let actor = Actor::cli(args.actor.as_deref());
    resolve(cli, &args.run, &args.step, action, &actor, args.comment.as_deref(), None, args.wait, args.json, &args.notify)
}

pub fn complete(cli: &Cli, args: &CompleteArgs) -> Result<(), Failure> {
    let actor = Actor::cli(args.actor.as_deref());
    let text = match (&args.output, &args.output_file) {
        (Some(t), _) => t.clone(),
        (None, Some(path)) => std::fs::read_to_string(path)
            .map_err(|e| Failure::usage(format!("cannot read {}: {}", path.display(), crate::project::io_reason(&e))))?,
        (None, None) => return Err(Failure::usage("give the task's result with --output JSON")),
    };
    let output: Value = serde_json::from_str(&text).map_err(|e| Failure::usage(format!("--output is not JSON: {e}")))?;
    resolve(cli, &args.run, &args.step, GateAction::Complete, &actor, args.comment.as_deref(), Some(&output), args.wait, args.json, &args.notify)
}

#[allow(clippy::too_many_arguments)]
fn resolve(
    cli: &Cli,
    run: &str,
    step: &str,
    action: GateAction,
    actor: &Actor,
    comment: Option<&str>,
    output: Option<&Value>,
    wait: bool,
    json: bool,
    notify: &NotifyArg,
) -> Result<(), Failure> {
    let progress = (!cli.quiet).then(|| Progress::new(cli));
    let mut options = crate::runs::options(cli, notify, progress.clone())?;
    options.wait_blocked = wait;
    let outcome = runtime::resolve(run, step, action, actor, comment, output, &options).map_err(|e| Failure::usage(e.to_string()));
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => {
            if let Some(p) = &progress {
                p.stop();
            }
            return Err(e);
        }
    };
    match outcome {
        Resolved::Here(report) => crate::runs::finish(cli, &report, json, progress.as_deref()),
        Resolved::Elsewhere(message) | Resolved::Recorded(message) => {
            if let Some(p) = &progress {
                p.stop();
            }
            if json {
                println!("{}", json!({ "run": run, "step": step, "action": action, "by": actor.principal, "on_behalf_of": actor.on_behalf_of, "message": message }));
            }
            if !cli.quiet {
                eprintln!("{message}");
            }
            Ok(())
        }
    }
}

/// The blocked gates of a run (and its child runs), as JSON.
pub fn blocked_json(store: &SqliteStore, run: &str) -> Value {
    let gates = runtime::people::blocked_in_tree(store, run).unwrap_or_default();
    Value::Array(
        gates
            .into_iter()
            .map(|(r, step, gate)| {
                let mut v = serde_json::to_value(&gate).unwrap_or(Value::Null);
                v["run"] = json!(r);
                v["step"] = json!(step);
                v["command"] = json!(how_to(&r, &step, &gate));
                v
            })
            .collect(),
    )
}

/// `flowc runs waiting`: every blocked step of every run that is not over.
pub fn print_waiting(store: &SqliteStore, json: bool) -> Result<(), runtime::Error> {
    use flowc_interpreter::state::{PeopleStore, RunStatus};
    let runs = store.runs_with_status(&[RunStatus::Blocked, RunStatus::Running, RunStatus::Paused, RunStatus::Pending])?;
    let mut all = Vec::new();
    for run in runs.iter().filter(|r| r.parent_run.is_none()) {
        if let Value::Array(list) = blocked_json(store, &run.id) {
            for mut item in list {
                item["workflow_run"] = json!(run.id);
                item["workflow"] = json!(run.workflow);
                all.push(item);
            }
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&Value::Array(all)).unwrap_or_default());
        return Ok(());
    }
    if all.is_empty() {
        eprintln!("no step is waiting on a person or an event");
        return Ok(());
    }
    for item in &all {
        let text = |k: &str| item[k].as_str().unwrap_or("").to_string();
        let what = match text("gate").as_str() {
            "approval" => "approval".to_string(),
            "human" => "task".to_string(),
            _ => format!("event {}", text("event")),
        };
        println!("{}  {}/{}  {what}  {}", text("run"), text("workflow"), text("step"), text("message"));
        println!("    {}", text("command"));
    }
    Ok(())
}

/// A command that continues the gate, ready to paste by one of its
/// approvers (whoever runs it decides): placeholders are values that work
/// (a skeleton of the declared output, an event type the glob matches).
pub fn how_to(run: &str, step: &str, gate: &Gate) -> String {
    use flowc_plan::table::shell_quote;
    match gate.gate.as_str() {
        "approval" => format!(
            "flowc approve {run} {step} --comment 'looks good'   (or: flowc reject {run} {step} --comment 'why not')"
        ),
        "human" => {
            let example = gate.output_example.clone().unwrap_or(serde_json::Value::Object(Default::default()));
            format!("flowc complete {run} {step} --output {}", shell_quote(&example.to_string()))
        }
        "wait" => {
            let mut cmd = format!("flowc event send {}", shell_quote(&flowc_interpreter::runtime::inbox::glob_example(gate.event.as_deref().unwrap_or("example"))));
            if let Some(s) = &gate.subject {
                cmd.push_str(&format!(" --subject {}", shell_quote(&flowc_interpreter::runtime::inbox::glob_example(s))));
            }
            cmd.push_str(" --data '{}'");
            cmd
        }
        _ => format!("flowc resume {run}"),
    }
}

/// "How to continue" lines for a blocked run, on stderr.
pub fn print_blocked(store: &SqliteStore, report: &RunReport) {
    let gates = runtime::people::blocked_in_tree(store, &report.run).unwrap_or_default();
    for (run, step, gate) in &gates {
        eprintln!();
        let mut what = match gate.gate.as_str() {
            "approval" => {
                let mut w = "waits for an approval".to_string();
                if gate.implicit {
                    w.push_str(&format!(" required by policy {}", gate.policy.as_deref().unwrap_or("?")));
                }
                if !gate.approvers.is_empty() {
                    w.push_str(&format!(" from {}", gate.approvers.join(" or ")));
                }
                if gate.distinct_from_initiator {
                    w.push_str(" (not the run's initiator)");
                }
                w
            }
            "human" => match &gate.output_type {
                Some(t) => format!("waits for a person to complete the task (output {t})"),
                None => "waits for a person to complete the task".to_string(),
            },
            "wait" => format!(
                "waits for an event of type {}{}",
                gate.event.as_deref().unwrap_or("?"),
                gate.subject.as_deref().map(|s| format!(" with subject {s}")).unwrap_or_default()
            ),
            _ => "waits for its child run".to_string(),
        };
        if let Some(d) = &gate.deadline {
            what.push_str(&format!(", until {d}"));
        }
        eprintln!("step {step} of run {run} {what}");
        if let Some(m) = &gate.message {
            eprintln!("  {m}");
        }
        eprintln!("  continue with: {}", how_to(run, step, gate));
    }
}
