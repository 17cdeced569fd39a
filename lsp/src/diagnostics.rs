//! The diagnostics job: `check_project` for each project an edit touched,
//! split by file, compared with what the client shows, and converted for
//! the files whose list or version changed. Warnings the project's
//! `flowc.toml` allows are left out, as `flowc check` leaves them out.
//!
//! This is the hot path after every keystroke. It calls only
//! `check_project`, which reads the piecewise model (an edit inside one step
//! re-parses that step's piece and re-checks that step), never the
//! whole-file `parse`.

use std::collections::HashMap;
use std::sync::Arc;

use flowc_compiler::{Diagnostic, check_project};
use tower_lsp_server::ls_types as lsp;

use crate::convert;
use crate::state::{Published, Snapshot};

pub struct Job {
    pub generation: u64,
    pub projects: Vec<usize>,
    pub published: Arc<HashMap<lsp::Uri, Published>>,
}

/// A file whose diagnostics are to be published.
pub struct FileResult {
    pub uri: lsp::Uri,
    pub published: Published,
    pub lsp: Vec<lsp::Diagnostic>,
}

pub struct Checked {
    pub generation: u64,
    pub files: Vec<FileResult>,
}

pub fn run(snapshot: &Snapshot, job: Job) -> Checked {
    let mut files = Vec::new();
    for p in job.projects {
        let Some(entry) = snapshot.projects.get(p) else { continue };
        let mut all = check_project(&snapshot.db, entry.project).clone();
        // Gates against the directory of the project's flowc.toml, as `flowc check` does.
        all.extend(flowc_compiler::check_approvers(&snapshot.db, entry.project, &entry.settings.directory));
        let mut by_path: HashMap<&str, Vec<Diagnostic>> = HashMap::new();
        // The project's `flowc.toml` silences warnings as for `flowc check`.
        for d in all.iter().filter(|d| !entry.settings.silences(d)) {
            by_path.entry(d.path.as_str()).or_default().push(d.clone());
        }
        for uri in &entry.members {
            let Some(file) = snapshot.file(uri) else { continue };
            let published = Published { version: file.version, diagnostics: by_path.remove(file.path.as_str()).unwrap_or_default() };
            if job.published.get(uri) == Some(&published) {
                continue;
            }
            let here = snapshot.text_ref(file);
            let locate = |path: &str| snapshot.locate(path);
            let lsp = published.diagnostics.iter().map(|d| convert::diagnostic(d, here, &locate)).collect();
            files.push(FileResult { uri: uri.clone(), published, lsp });
        }
    }
    Checked { generation: job.generation, files }
}
