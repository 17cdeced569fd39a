//! `flowc check`.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use flowc_compiler::{Database, Diagnostic, Project, Severity, SourceFile};

use crate::project::{self, LoadedProject};
use crate::render::{self, Sources};
use crate::{Cli, Failure};

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Project directories or files (default: the current directory).
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Treat warnings as errors (exit 1 when there are any).
    #[arg(long)]
    pub deny_warnings: bool,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Annotated source snippets on stderr.
    Human,
    /// A JSON array of diagnostics on stdout.
    Json,
    /// A SARIF 2.1.0 log on stdout (for code-scanning tools).
    Sarif,
    /// GitHub Actions workflow commands (`::error file=…`) on stdout.
    Github,
}

pub fn run(cli: &Cli, args: &CheckArgs) -> Result<(), Failure> {
    let paths = cli.paths_or_root(&args.paths);
    let projects = paths.iter().map(|p| project::load(p)).collect::<Result<Vec<_>, _>>()?;
    let (diagnostics, sources, file_count) = check_projects(&projects);

    match args.format {
        Format::Human => render::human::print(cli, &diagnostics, &sources, file_count),
        Format::Json => println!("{}", render::json::render(&diagnostics, &sources)),
        Format::Sarif => println!("{}", render::sarif::render(&diagnostics, &sources)),
        Format::Github => print!("{}", render::github::render(&diagnostics, &sources)),
    }

    let errors = diagnostics.iter().filter(|d| d.severity == Severity::Error).count();
    let warnings = diagnostics.len() - errors;
    if errors > 0 || (args.deny_warnings && warnings > 0) { Err(Failure::Errors) } else { Ok(()) }
}

/// Checks each project in one database and returns all diagnostics. For
/// `flowc check`, which exits right after: the database is not dropped.
pub fn check_projects(projects: &[LoadedProject]) -> (Vec<Diagnostic>, Sources, usize) {
    let db = Database::batch();
    let mut diagnostics = Vec::new();
    let mut sources = Sources::new();
    let mut file_count = 0;
    for loaded in projects {
        let files: Vec<SourceFile> = loaded
            .files
            .iter()
            .map(|f| {
                sources.insert(f.path.clone(), f.text.clone());
                SourceFile::new(&db, f.path.clone(), f.text.clone())
            })
            .collect();
        file_count += files.len();
        let project = Project::new(&db, files);
        diagnostics.extend(
            flowc_compiler::check_project_on_all_cores(&db, project)
                .iter()
                .filter(|d| !loaded.settings.silences(d))
                .cloned(),
        );
        // Gates against flowc.toml's principals and groups.
        let approvers = flowc_compiler::check_approvers(&db, project, &loaded.settings.directory);
        diagnostics.extend(approvers.into_iter().filter(|d| !loaded.settings.silences(d)));
    }
    // Freeing every memoised tree and query result one allocation at a time
    // is a sixth of the time of checking a large project, and the process
    // ends in a moment anyway: the OS takes the memory back at once (rustc
    // does the same with its arenas).
    std::mem::forget(db);
    (diagnostics, sources, file_count)
}
