//! `flowc store`: list, read, write and delete the entries of a project's
//! persistent stores.


use clap::{Args, Subcommand};
use flowc_interpreter::runtime::{self, RunOptions};
use serde_json::{json, Value};

use crate::{Cli, Failure};

use crate::{print_json, usage};

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
