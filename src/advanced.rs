//! The commands of the advanced primitives: `flowc restore`, `flowc skip`,
//! `flowc store`, `flowc get`, `flowc describe` and `flowc export`, and the
//! extras `flowc resume` and `flowc runs show|stats` print for them.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use flowc_interpreter::runtime::{self, RunOptions};
use flowc_interpreter::state::{SqliteStore, StateExt, Store};
use serde_json::{json, Value};

use crate::progress::Progress;
use crate::runs::NotifyArg;
use crate::{Cli, Failure};

#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// The run id (see `flowc runs list`).
    pub run: String,
    /// The step whose checkpoint to go back to: every step that completed
    /// after it runs again.
    #[arg(long, value_name = "STEP")]
    pub to: String,
    /// Print the run summary as one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub notify: NotifyArg,
}

#[derive(Args, Debug)]
pub struct SkipArgs {
    /// The run id.
    pub run: String,
    /// The step that paused the run: a `skippable` gate, or a step with `on_failure pause`.
    pub step: String,
    /// Print the run summary as one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub notify: NotifyArg,
}

#[derive(Args, Debug)]
pub struct StoreArgs {
    #[command(subcommand)]
    pub command: StoreCommand,
}

#[derive(Subcommand, Debug)]
pub enum StoreCommand {
    /// Write a value (JSON, or else the text as a string), validated against the store's schema.
    Put {
        store: String,
        key: String,
        value: String,
        #[arg(long)]
        json: bool,
    },
    /// Print a value (exit 1 when the key is absent or expired).
    Get {
        store: String,
        key: String,
        #[arg(long)]
        json: bool,
    },
    /// List the live keys, oldest write first.
    List {
        store: String,
        #[arg(long)]
        json: bool,
    },
    /// Remove a key.
    Delete {
        store: String,
        key: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args, Debug)]
pub struct GetArgs {
    /// A kind: a resource's kind, plural or short name (`promptlibraries`,
    /// `pl`), or a built-in one (`workflows`, `agents`, `stores`, `crds`, …).
    pub kind: String,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct DescribeArgs {
    /// A kind, as for `flowc get`.
    pub kind: String,
    /// The name of the instance or declaration.
    pub name: String,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    #[arg(long, value_enum, default_value_t = ExportFormat::Yaml)]
    pub format: ExportFormat,
    /// Write to this file instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// YAML documents separated by `---`.
    Yaml,
    /// One JSON array of manifests.
    Json,
}

fn usage(e: impl std::fmt::Display) -> Failure {
    Failure::usage(e.to_string())
}

fn print_json(value: &Value) {
    println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
}

pub fn restore(cli: &Cli, args: &RestoreArgs) -> Result<(), Failure> {
    let progress = (!cli.quiet).then(|| Progress::new(cli));
    let options = crate::runs::options(cli, &args.notify, progress.clone())?;
    let report = runtime::restore(&args.run, &args.to, &options).map_err(usage)?;
    crate::runs::finish(cli, &report, args.json, progress.as_deref())
}

pub fn skip(cli: &Cli, args: &SkipArgs) -> Result<(), Failure> {
    let progress = (!cli.quiet).then(|| Progress::new(cli));
    let options = crate::runs::options(cli, &args.notify, progress.clone())?;
    let report = runtime::skip(&args.run, &args.step, &options).map_err(usage)?;
    crate::runs::finish(cli, &report, args.json, progress.as_deref())
}

// ------------------------------------------------------------------ stores

pub fn store(cli: &Cli, args: &StoreArgs) -> Result<(), Failure> {
    let name = match &args.command {
        StoreCommand::Put { store, .. } | StoreCommand::Get { store, .. } | StoreCommand::List { store, .. } | StoreCommand::Delete { store, .. } => store,
    };
    let checked = crate::build::checked_with(cli, &cli.project_dir(), false)?;
    let Some(def) = flowc_compiler::lower::store_def(checked.db(), checked.project(), name) else {
        let known: Vec<String> =
            flowc_compiler::lower::project_stores(checked.db(), checked.project()).into_iter().map(|s| format!("`{}`", s.name)).collect();
        return Err(Failure::usage(format!(
            "the project declares no store `{name}`; {}",
            if known.is_empty() { "it has none".to_string() } else { format!("its stores are {}", known.join(", ")) }
        )));
    };
    let options = RunOptions::new(cli.state_path(), cli.project_dir());
    match &args.command {
        StoreCommand::Put { key, value, json, .. } => {
            let value: Value = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.clone()));
            runtime::stores::put_value(&options, &def, key, &value).map_err(usage)?;
            if *json {
                print_json(&json!({ "store": def.name, "key": key, "value": value }));
            } else if !cli.quiet {
                eprintln!("{}.{key} = {value}", def.name);
            }
            Ok(())
        }
        StoreCommand::Get { key, json, .. } => {
            let entry = runtime::stores::get(&options, &def, key).map_err(usage)?;
            match (&entry, json) {
                (Some(e), true) => print_json(&json!({ "store": def.name, "key": key, "value": e.value, "found": true, "written_at": e.written_at, "run": e.run })),
                (Some(e), false) => print_json(&e.value),
                (None, true) => print_json(&json!({ "store": def.name, "key": key, "value": null, "found": false })),
                (None, false) => eprintln!("store `{}` has no key `{key}`", def.name),
            }
            if entry.is_some() { Ok(()) } else { Err(Failure::Errors) }
        }
        StoreCommand::List { json, .. } => {
            let entries = runtime::stores::list(&options, &def).map_err(usage)?;
            if *json {
                print_json(&json!(entries));
            } else if entries.is_empty() {
                eprintln!("store `{}` is empty", def.name);
            } else {
                for e in &entries {
                    if e.written_at.is_empty() {
                        println!("{}", e.key);
                    } else {
                        let mut value = e.value.to_string();
                        if value.chars().count() > 60 {
                            value = format!("{}…", value.chars().take(59).collect::<String>());
                        }
                        println!("{:<24} {:<25} {value}", e.key, e.written_at);
                    }
                }
            }
            Ok(())
        }
        StoreCommand::Delete { key, json, .. } => {
            let deleted = runtime::stores::delete(&options, &def, key).map_err(usage)?;
            if *json {
                print_json(&json!({ "store": def.name, "key": key, "deleted": deleted }));
            } else if !cli.quiet {
                eprintln!("{}", if deleted { format!("deleted {}.{key}", def.name) } else { format!("store `{}` had no key `{key}`", def.name) });
            }
            Ok(())
        }
    }
}

// --------------------------------------------------------------- resources

fn kind_of(cli: &Cli, checked: &crate::build::Checked, word: &str) -> Result<flowc_compiler::manifests::KindInfo, Failure> {
    let _ = cli;
    flowc_compiler::manifests::resolve_kind(checked.db(), checked.project(), word).ok_or_else(|| {
        let kinds: Vec<String> = flowc_compiler::manifests::kinds(checked.db(), checked.project())
            .into_iter()
            .map(|k| if k.short.is_empty() { k.plural } else { format!("{} ({})", k.plural, k.short.join(", ")) })
            .collect();
        Failure::usage(format!("there is no kind `{word}`; the kinds are {}", kinds.join(", ")))
    })
}

pub fn get(cli: &Cli, args: &GetArgs) -> Result<(), Failure> {
    let checked = crate::build::checked_with(cli, &cli.project_dir(), false)?;
    let kind = kind_of(cli, &checked, &args.kind)?;
    let list = flowc_compiler::manifests::manifests(checked.db(), checked.project(), Some(&kind));
    if args.json {
        print_json(&json!(list));
        return Ok(());
    }
    if list.is_empty() {
        eprintln!("no {} in this project", kind.plural);
        return Ok(());
    }
    println!("{:<28} {:<44} LABELS", "NAME", "API VERSION");
    for m in &list {
        let labels = m["metadata"]["labels"]
            .as_object()
            .map(|l| l.iter().map(|(k, v)| format!("{k}={}", v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()))).collect::<Vec<_>>().join(","))
            .unwrap_or_default();
        println!("{:<28} {:<44} {labels}", m["metadata"]["name"].as_str().unwrap_or(""), m["apiVersion"].as_str().unwrap_or(""));
    }
    Ok(())
}

pub fn describe(cli: &Cli, args: &DescribeArgs) -> Result<(), Failure> {
    let checked = crate::build::checked_with(cli, &cli.project_dir(), false)?;
    let kind = kind_of(cli, &checked, &args.kind)?;
    let list = flowc_compiler::manifests::manifests(checked.db(), checked.project(), Some(&kind));
    let Some(m) = list.iter().find(|m| m["metadata"]["name"] == args.name.as_str()) else {
        let names: Vec<&str> = list.iter().filter_map(|m| m["metadata"]["name"].as_str()).collect();
        return Err(Failure::usage(format!(
            "there is no {} named `{}`; {}",
            kind.kind,
            args.name,
            if names.is_empty() { "there are none".to_string() } else { format!("there are {}", names.join(", ")) }
        )));
    };
    if args.json {
        print_json(m);
    } else {
        print!("{}", crate::yaml::to_yaml(m));
    }
    Ok(())
}

pub fn export(cli: &Cli, args: &ExportArgs) -> Result<(), Failure> {
    let checked = crate::build::checked_with(cli, &cli.project_dir(), false)?;
    let list = flowc_compiler::manifests::manifests(checked.db(), checked.project(), None);
    let text = match args.format {
        ExportFormat::Json => serde_json::to_string_pretty(&list).unwrap_or_default() + "\n",
        ExportFormat::Yaml => crate::yaml::documents(&list),
    };
    match &args.output {
        Some(file) => std::fs::write(file, text)
            .map_err(|e| Failure::usage(format!("cannot write {}: {}", file.display(), crate::project::io_reason(&e)))),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

// ------------------------------------------------ extras of other commands

/// The hash of the invariants the project's source declares now for
/// `workflow`, if the project compiles cleanly (quietly: no diagnostics).
fn source_invariants_hash(project_dir: &std::path::Path, workflow: &str) -> Option<String> {
    let loaded = crate::project::load(project_dir).ok()?;
    let db = flowc_compiler::Database::batch();
    let files: Vec<flowc_compiler::SourceFile> =
        loaded.files.iter().map(|f| flowc_compiler::SourceFile::new(&db, f.path.clone(), f.text.clone())).collect();
    let project = flowc_compiler::Project::new(&db, files);
    let errors = flowc_compiler::check_project(&db, project).iter().any(|d| d.severity == flowc_compiler::Severity::Error);
    if errors {
        return None;
    }
    let plan = flowc_compiler::lower::lower(&db, project, workflow).ok()?;
    plan.workflow(workflow).map(flowc_plan::invariants_hash)
}

/// Before a resume: when the source's invariants differ from those the run
/// pinned, say so (the run keeps its pinned ones, and records the notice).
pub fn note_pinned(cli: &Cli, run: &str, options: &mut RunOptions) {
    let Ok(store) = SqliteStore::open(&options.state_path) else { return };
    let Ok(Some(record)) = store.run(run) else { return };
    let Some(source) = source_invariants_hash(std::path::Path::new(&record.project_dir), &record.workflow) else { return };
    let pinned = match store.pin(run) {
        Ok(Some(p)) => p.hash,
        _ => runtime::empty_invariants_hash(),
    };
    if pinned != source {
        if !cli.quiet {
            eprintln!(
                "note: the invariants of workflow `{}` changed since run {run} started; the run keeps the invariants it pinned then",
                record.workflow
            );
        }
        options.source_invariants_hash = Some(source);
    }
}

/// `flowc runs show`: the run's children and checkpoints.
pub fn show_extras(store: &SqliteStore, run: &str, doc: Option<&mut Value>) -> Result<(), Failure> {
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
pub fn stats_extras(store: &SqliteStore, doc: Option<&mut Value>) -> Result<(), Failure> {
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
