//! The entry queries: a file's syntax tree, and the project's diagnostics.

use flowc_grammar::Parse;

use crate::checks::{check_decl, check_project_wide, check_workflow};
use crate::codes::Code;
use crate::db::{Db, Project, SourceFile};
use crate::diagnostic::{self, Diagnostic};
use crate::model::{DeclDef, file_model};
use crate::pending::{self, Pending};

/// The syntax tree of one whole file, with its syntax errors. The analyses use
/// the piecewise [`file_model`]; this is for tools that want the whole tree
/// (formatting, editor features) and for files the pieces cannot handle.
#[salsa::tracked(returns(ref))]
pub fn parse(db: &dyn Db, file: SourceFile) -> Parse {
    flowc_grammar::parse(file.text(db))
}

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
    diagnostic::sort(&mut out);
    out.dedup();
    out
}

/// Checks files as one project in a fresh database: the convenience entry
/// point for tests and one-shot tools.
pub fn check_files(files: &[(&str, &str)]) -> Vec<Diagnostic> {
    let db = crate::db::Database::default();
    let files: Vec<SourceFile> =
        files.iter().map(|(path, text)| SourceFile::new(&db, path.to_string(), text.to_string())).collect();
    let project = Project::new(&db, files);
    check_project(&db, project).clone()
}
