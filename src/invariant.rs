//! What `flowc resume` says about a run's pinned invariants when the
//! source changed them since the run started.


use flowc_interpreter::runtime::{self, RunOptions};
use flowc_interpreter::state::{Checkpoints, SqliteStore, Store};

use crate::Cli;


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
