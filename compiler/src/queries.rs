//! The queries. Nouns, `db` first.

use flowc_grammar::Parse;

use crate::codes::Code;
use crate::db::{Db, Project, SourceFile};
use crate::diagnostic::{self, Diagnostic};

/// The syntax tree of one file, with its syntax errors.
#[salsa::tracked(returns(ref))]
pub fn parse(db: &dyn Db, file: SourceFile) -> Parse {
    flowc_grammar::parse(file.text(db))
}

/// The diagnostics that belong to one file.
#[salsa::tracked(returns(ref))]
pub fn file_diagnostics(db: &dyn Db, file: SourceFile) -> Vec<Diagnostic> {
    let path = file.path(db);
    parse(db, file)
        .errors
        .iter()
        .map(|e| {
            let mut d = Diagnostic::new(Code::from_syntax(e.kind), path.clone(), e.span, e.message.clone())
                .with_label(e.label.clone());
            d.help = e.help.clone();
            d
        })
        .collect()
}

/// Every diagnostic of the project, sorted by file and position.
#[salsa::tracked(returns(ref))]
pub fn check_project(db: &dyn Db, project: Project) -> Vec<Diagnostic> {
    let mut out: Vec<Diagnostic> = Vec::new();
    for file in project.files(db) {
        out.extend(file_diagnostics(db, *file).iter().cloned());
    }
    diagnostic::sort(&mut out);
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
