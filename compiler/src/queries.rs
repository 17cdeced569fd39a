//! The entry queries: a file's syntax tree, and the project's diagnostics.


use crate::checks::{check_decl, check_project_wide, check_workflow};
use crate::codes::Code;
use crate::db::{Db, Project, SourceFile};
use crate::diagnostic::{self, Diagnostic};
use crate::model::{DeclDef, file_model};
use crate::pending::{self, Pending};
pub use crate::model::parse;


/// The syntax errors of one file.
#[salsa::tracked(returns(ref))]
pub fn file_diagnostics(db: &dyn Db, file: SourceFile) -> Vec<Diagnostic> {
    let path = file.path(db);
    file_model(db, file)
        .syntax_errors
        .iter()
        .map(|e| {
            let mut d = Diagnostic::new(Code::from_syntax(e.kind), path.clone(), e.span, e.message.clone()).with_label(e.label.clone());
            d.help = e.help.clone();
            d.fixes = e
                .fix
                .iter()
                .map(|f| crate::diagnostic::Fix {
                    title: f.title.clone(),
                    edits: vec![crate::diagnostic::Edit { path: path.clone(), span: f.span, new_text: f.new_text.clone() }],
                })
                .collect();
            d
        })
        .collect()
}

/// Every diagnostic of the project, sorted by file and position.
#[salsa::tracked(returns(ref))]
pub fn check_project(db: &dyn Db, project: Project) -> Vec<Diagnostic> {
    let mut out: Vec<Diagnostic> = Vec::new();
    let mut pending: Vec<&Pending<'_>> = Vec::new();
    for file in project.files(db) {
        out.extend(file_diagnostics(db, *file).iter().cloned());
        for def in &file_model(db, *file).decls {
            match def {
                DeclDef::Workflow(w) => pending.extend(check_workflow(db, project, *w)),
                DeclDef::Other(o) => pending.extend(check_decl(db, project, *o)),
            }
        }
    }
    pending.extend(check_project_wide(db, project));
    out.extend(pending.into_iter().map(|p| pending::resolve(db, p)));
    // `// flowc: allow CODE` comments; project settings are the caller's.
    crate::allow::apply(db, project.files(db), &mut out);
    diagnostic::sort(&mut out);
    out.dedup();
    out
}

/// [`check_project`], with the per-step checks spread over every core: for
/// a command that checks a whole project once (`flowc check`). The steps'
/// checks are run ahead on clones of the database, one contiguous run of
/// steps per thread, so `check_project` finds them memoised; salsa makes
/// the clones share every result. The diagnostics are the same.
pub fn check_project_on_all_cores(db: &crate::db::Database, project: Project) -> &Vec<Diagnostic> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
    let mut steps = Vec::new();
    for file in project.files(db) {
        for def in &file_model(db, *file).decls {
            if let DeclDef::Workflow(w) = def {
                // Shared by every step's checks: computed once, before the threads.
                let _ = crate::graph::workflow_graph(db, *w);
                steps.extend(w.steps(db).iter().map(|s| (*w, *s)));
            }
        }
    }
    // Below this, a thread costs more than it saves.
    if threads > 1 && steps.len() >= 256 {
        let _ = crate::model::item_index(db, project);
        let per = steps.len().div_ceil(threads);
        std::thread::scope(|scope| {
            for run in steps.chunks(per).skip(1) {
                let db = db.clone();
                scope.spawn(move || {
                    for (wf, step) in run {
                        let _ = crate::checks::check_step(&db, project, *wf, *step);
                    }
                });
            }
            for (wf, step) in steps.chunks(per).next().unwrap_or(&[]) {
                let _ = crate::checks::check_step(db, project, *wf, *step);
            }
        });
    }
    check_project(db, project)
}

/// Checks files as one project in a fresh database: the convenience entry
/// point for tests and one-shot tools.
pub fn check_files(files: &[(&str, &str)]) -> Vec<Diagnostic> {
    check_files_with(files, &crate::allow::ProjectSettings::default())
}

/// [`check_files`] for a project with these settings (flowc.toml): its
/// directory checks the gates' approvers, its allow list silences warnings,
/// as `flowc check` does.
pub fn check_files_with(files: &[(&str, &str)], settings: &crate::allow::ProjectSettings) -> Vec<Diagnostic> {
    let db = crate::db::Database::default();
    let files: Vec<SourceFile> =
        files.iter().map(|(path, text)| SourceFile::new(&db, path.to_string(), text.to_string())).collect();
    let project = Project::new(&db, files);
    let mut out = check_project(&db, project).clone();
    out.extend(crate::checks::approvers::check_approvers(&db, project, &settings.directory));
    out.retain(|d| !settings.silences(d));
    diagnostic::sort(&mut out);
    out
}
