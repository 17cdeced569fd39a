//! `flowc get`, `flowc describe` and `flowc export`: the project's
//! declarations and resources as manifests.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use serde_json::json;

use crate::{Cli, Failure};

use crate::print_json;

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
