//! `flowc approve`, `flowc reject` and `flowc complete`: a person decides a
//! blocked gate or completes a human task.
//!
//! Who decides is the operating-system user running the command
//! ([`Actor::cli`]), matched against a gate's `approvers` (principals or
//! groups of the project's flowc.toml). `--as NAME` records "on behalf of
//! NAME" and changes nothing else. Whoever can write the state database can
//! decide: docs/security.md says what that means.

use std::path::PathBuf;

use clap::Args;
use flowc_interpreter::runtime::blocking::Actor;
use flowc_interpreter::runtime::{self, Steered};
use flowc_interpreter::state::GateAction;
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
    let outcome = runtime::resolve(run, step, action, actor, comment, output, &options).map_err(crate::steering::failure);
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
        Steered::Ran(report) => crate::runs::finish(cli, &report, json, progress.as_deref()),
        steered => {
            let message = crate::steering::say(crate::steering::Command::Decide(action), &steered).unwrap_or_default();
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
