//! `flowc build`, `flowc graph`, and turning what `flowc run` is given into a plan.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use flowc_compiler::{Database, Diagnostic, Project, Severity, SourceFile};
use flowc_plan::Plan;

use crate::render::Sources;
use crate::project::{self, LoadedProject};
use crate::{Cli, Failure};

#[derive(Args, Debug)]
pub struct BuildArgs {
    /// The project directory or a `.flow` file (default: the project root, `-C`).
    pub path: Option<PathBuf>,
    /// The workflow to build (default: every workflow for `--emit plan`; the
    /// only workflow, if there is one, for `--emit json`).
    #[arg(long, short = 'w')]
    pub workflow: Option<String>,
    /// What to write: the readable disassembly, or the plan as JSON (which
    /// `flowc run FILE.json` accepts).
    #[arg(long, value_enum, default_value_t = Emit::Plan)]
    pub emit: Emit,
    /// Write to this file instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Emit {
    Plan,
    Json,
}

#[derive(Args, Debug)]
pub struct GraphArgs {
    /// The workflow to draw (`WORKFLOW`, or `FILE.flow:WORKFLOW`).
    pub workflow: String,
    #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
    pub format: GraphFormat,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    /// Graphviz.
    Dot,
    /// Mermaid flowchart (renders in GitHub Markdown).
    Mermaid,
}

/// A checked project, ready to lower.
pub struct Checked {
    db: Database,
    project: Project,
    workflows: Vec<String>,
}

/// Loads and checks a project; prints its diagnostics and fails on errors.
pub fn checked(cli: &Cli, path: &Path) -> Result<Checked, Failure> {
    checked_with(cli, path, true)
}

/// `checked`, printing warnings only when asked (commands that read the
/// project's data, such as `flowc get`, print diagnostics only on errors).
pub fn checked_with(cli: &Cli, path: &Path, warnings: bool) -> Result<Checked, Failure> {
    let loaded = project::load(path)?;
    let (db, project, diagnostics, sources) = analyse(&loaded);
    let errors = diagnostics.iter().filter(|d| d.severity == Severity::Error).count();
    if errors > 0 || (warnings && !cli.quiet && !diagnostics.is_empty()) {
        crate::render::human::print(cli, &diagnostics, &sources, loaded.files.len());
    }
    if errors > 0 {
        return Err(Failure::Errors);
    }
    let index = flowc_compiler::model::item_index(&db, project);
    let workflows = index.names(flowc_grammar::ast::DeclKind::Workflow).map(str::to_string).collect();
    Ok(Checked { db, project, workflows })
}

fn analyse(loaded: &LoadedProject) -> (Database, Project, Vec<Diagnostic>, Sources) {
    let db = Database::batch();
    let mut sources = Sources::new();
    let files: Vec<SourceFile> = loaded
        .files
        .iter()
        .map(|f| {
            sources.insert(f.path.clone(), f.text.clone());
            SourceFile::new(&db, f.path.clone(), f.text.clone())
        })
        .collect();
    let project = Project::new(&db, files);
    let diagnostics = flowc_compiler::check_project(&db, project).clone();
    (db, project, diagnostics, sources)
}

impl Checked {
    pub fn db(&self) -> &Database {
        &self.db
    }

    pub fn project(&self) -> Project {
        self.project
    }

    pub fn lower(&self, workflow: &str) -> Result<Plan, Failure> {
        if !self.workflows.iter().any(|w| w == workflow) {
            let known: Vec<String> = self.workflows.iter().map(|w| format!("`{w}`")).collect();
            return Err(Failure::usage(format!(
                "there is no workflow `{workflow}` in the project; {}",
                if known.is_empty() { "it has none".to_string() } else { format!("the workflows are {}", known.join(", ")) }
            )));
        }
        flowc_compiler::lower::lower(&self.db, self.project, workflow).map_err(|errors| {
            let lines: Vec<String> = errors.iter().map(|e| format!("  {e}")).collect();
            Failure::usage(format!("cannot build a plan for `{workflow}`:\n{}", lines.join("\n")))
        })
    }

    /// Whether the workflow has `on …` triggers.
    pub fn has_triggers(&self, workflow: &str) -> bool {
        let index = flowc_compiler::model::item_index(&self.db, self.project);
        index.workflow(workflow).is_some_and(|wf| {
            wf.header(&self.db).iter().any(|(_, s)| matches!(s.kind, flowc_grammar::ast::WorkflowStmtKind::On(_)))
        })
    }

    /// The project's workflows, by name.
    pub fn workflows(&self) -> &[String] {
        &self.workflows
    }

    /// The workflow to use when none was named: the only one there is.
    pub fn only_workflow(&self) -> Result<String, Failure> {
        match self.workflows.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(Failure::usage("the project declares no workflow")),
            many => Err(Failure::usage(format!(
                "the project has {} workflows ({}); name one",
                many.len(),
                many.iter().map(|w| format!("`{w}`")).collect::<Vec<_>>().join(", ")
            ))),
        }
    }
}

/// What `flowc run TARGET` runs: a plan file (`.json`), `FILE.flow:WORKFLOW`,
/// a `.flow` file with one workflow, or a workflow of the project at `-C`.
pub fn plan_for(cli: &Cli, target: &str) -> Result<Plan, Failure> {
    let as_path = Path::new(target);
    if target.ends_with(".json") && as_path.is_file() {
        let text = std::fs::read_to_string(as_path)
            .map_err(|e| Failure::usage(format!("cannot read the plan {target}: {}", project::io_reason(&e))))?;
        return Plan::from_json(&text).map_err(|e| Failure::usage(format!("{target}: {e}")));
    }
    if let Some((file, workflow)) = target.rsplit_once(".flow:") {
        let path = PathBuf::from(format!("{file}.flow"));
        return checked(cli, &path)?.lower(workflow);
    }
    if target.ends_with(".flow") {
        let c = checked(cli, as_path)?;
        let workflow = c.only_workflow()?;
        return c.lower(&workflow);
    }
    checked(cli, &cli.project_dir())?.lower(target)
}

pub fn build(cli: &Cli, args: &BuildArgs) -> Result<(), Failure> {
    let path = args.path.clone().unwrap_or_else(|| cli.project_dir());
    let c = checked(cli, &path)?;
    let text = match (args.emit, &args.workflow) {
        (Emit::Json, workflow) => {
            let workflow = match workflow {
                Some(w) => w.clone(),
                None => c.only_workflow()?,
            };
            let plan = c.lower(&workflow)?;
            serde_json::to_string_pretty(&plan).map_err(|e| Failure::usage(format!("cannot write the plan: {e}")))? + "\n"
        }
        (Emit::Plan, Some(w)) => c.lower(w)?.disassemble(),
        (Emit::Plan, None) => {
            let mut out = String::new();
            for w in &c.workflows {
                if !out.is_empty() {
                    out.push('\n');
                }
                out.push_str(&c.lower(w)?.disassemble());
            }
            out
        }
    };
    match &args.output {
        Some(file) => std::fs::write(file, text)
            .map_err(|e| Failure::usage(format!("cannot write {}: {}", file.display(), project::io_reason(&e)))),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

pub fn graph(cli: &Cli, args: &GraphArgs) -> Result<(), Failure> {
    let (path, workflow) = match args.workflow.rsplit_once(".flow:") {
        Some((file, w)) => (PathBuf::from(format!("{file}.flow")), w.to_string()),
        None => (cli.project_dir(), args.workflow.clone()),
    };
    let c = checked(cli, &path)?;
    let plan = c.lower(&workflow)?;
    let Some(wf) = plan.workflow(&workflow) else {
        return Err(Failure::usage(format!("there is no workflow `{workflow}`")));
    };
    print!(
        "{}",
        match args.format {
            GraphFormat::Dot => flowc_plan::graph::dot(&plan, wf),
            GraphFormat::Mermaid => flowc_plan::graph::mermaid(&plan, wf),
        }
    );
    Ok(())
}
