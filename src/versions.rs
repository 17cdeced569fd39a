//! `flowc publish` and `flowc versions`: versioned workflow definitions.

use std::path::PathBuf;

use clap::Args;
use flowc_interpreter::runtime::{self, RunOptions};
use flowc_interpreter::state::{SqliteStore, Versions};
use serde_json::json;

use crate::{Cli, Failure};

#[derive(Args, Debug)]
pub struct PublishArgs {
    /// The project directory or a `.flow` file (default: the project root, `-C`).
    pub path: Option<PathBuf>,
    /// On behalf of whom the versions are published (the author recorded is you, the operating-system user).
    #[arg(long = "as", value_name = "NAME")]
    pub author: Option<String>,
    /// Print what was published as one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct VersionsArgs {
    /// The workflow.
    pub workflow: String,
    /// Print the versions as one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
}

/// `WORKFLOW@N`: the plan of a published version, if the target names one.
pub fn published_plan(cli: &Cli, target: &str) -> Option<Result<flowc_plan::Plan, Failure>> {
    let (workflow, version) = target.rsplit_once('@')?;
    let version: i64 = version.parse().ok()?;
    Some((|| {
        let path = cli.state_path();
        let store = if path.exists() { Some(SqliteStore::open(&path).map_err(|e| Failure::usage(e.to_string()))?) } else { None };
        let body = match &store {
            Some(s) => s.version_plan(workflow, version).map_err(|e| Failure::usage(e.to_string()))?,
            None => None,
        };
        let body = body.ok_or_else(|| {
            Failure::usage(format!("workflow {workflow} has no published version {version} (see `flowc versions {workflow}`)"))
        })?;
        flowc_plan::Plan::from_json(&body).map_err(|e| Failure::usage(format!("{target}: {e}")))
    })())
}

fn short(hash: &str) -> &str {
    let hex = hash.strip_prefix("sha256:").unwrap_or(hash);
    hex.get(..12).unwrap_or(hex)
}

/// Checks the whole project, lowers every workflow, and stores the ones whose
/// plan changed, all in one transaction: a project with errors, or a workflow
/// that cannot be lowered, publishes nothing.
pub fn publish(cli: &Cli, args: &PublishArgs) -> Result<(), Failure> {
    let path = args.path.clone().unwrap_or_else(|| cli.project_dir());
    let checked = crate::build::checked(cli, &path)?;
    let workflows = checked.workflows().to_vec();
    if workflows.is_empty() {
        return Err(Failure::usage(format!("{} declares no workflow to publish", path.display())));
    }
    let plans = workflows.iter().map(|w| checked.lower(w)).collect::<Result<Vec<_>, _>>()?;
    let mut options = RunOptions::new(cli.state_path(), cli.project_dir());
    options.events = cli.events_sink()?;
    let author = Some(flowc_interpreter::runtime::blocking::Actor::cli(args.author.as_deref()).describe());
    let published = runtime::versions::publish(&plans, author.as_deref(), &options).map_err(|e| Failure::usage(e.to_string()))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&json!(published)).unwrap_or_default());
    }
    if !cli.quiet {
        for p in &published {
            if p.new {
                eprintln!("{}  version {}  {}  published", p.workflow, p.version, short(&p.plan_hash));
            } else {
                eprintln!("{}  version {}  {}  unchanged", p.workflow, p.version, short(&p.plan_hash));
            }
        }
    }
    Ok(())
}

pub fn versions(cli: &Cli, args: &VersionsArgs) -> Result<(), Failure> {
    let path = cli.state_path();
    let list = if path.exists() {
        let store = SqliteStore::open(&path).map_err(|e| Failure::usage(e.to_string()))?;
        store.versions(&args.workflow).map_err(|e| Failure::usage(e.to_string()))?
    } else {
        Vec::new()
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&json!(list)).unwrap_or_default());
        return Ok(());
    }
    if list.is_empty() {
        eprintln!("workflow {} has no published versions; `flowc publish` stores them", args.workflow);
        return Ok(());
    }
    println!("{:<8} {:<14} {:<24} {:<16} {:>6}", "VERSION", "PLAN", "PUBLISHED", "AUTHOR", "RUNS");
    let latest = list.last().map(|v| v.version);
    for v in &list {
        let mark = if Some(v.version) == latest { " (latest)" } else { "" };
        println!(
            "{:<8} {:<14} {:<24} {:<16} {:>6}{mark}",
            v.version,
            short(&v.plan_hash),
            v.created_at.get(..19).unwrap_or(&v.created_at).replace('T', " "),
            v.author.as_deref().unwrap_or("-"),
            v.runs
        );
    }
    Ok(())
}
