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
use crate::snapshot::Snapshot;

/// What was last published for a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Published {
    /// The editor's version it was published for (`None`: a closed file).
    pub version: Option<i32>,
    /// The compiler's diagnostics, before conversion.
    pub diagnostics: Vec<Diagnostic>,
}

/// What a diagnostics job is to check, and against what.
pub struct Job {
    /// The edit generation the job's snapshot was taken at.
    pub generation: u64,
    /// The projects (indexes into the snapshot's projects) an edit touched.
    pub projects: Vec<usize>,
    /// What the client shows now: a file whose result equals it is not sent.
    pub published: Arc<HashMap<lsp::Uri, Published>>,
}

/// A file whose diagnostics are to be published.
pub struct FileResult {
    /// The file.
    pub uri: lsp::Uri,
    /// Its diagnostics as the compiler gave them, to compare next time.
    pub published: Published,
    /// The same diagnostics as the protocol shows them.
    pub lsp: Vec<lsp::Diagnostic>,
}

/// A finished diagnostics job: the files whose diagnostics changed.
pub struct Checked {
    /// The generation of the job; the state thread drops an outdated one.
    pub generation: u64,
    /// The files to publish, each with its new diagnostics.
    pub files: Vec<FileResult>,
}

/// Checks the job's projects on the snapshot (settings silence warnings as
/// for `flowc check`) and keeps the files whose diagnostics changed.
pub fn run(snapshot: &Snapshot, job: Job) -> Checked {
    let mut files = Vec::new();
    let world = snapshot.world();
    for p in job.projects {
        let (Some(entry), Some(project)) = (snapshot.projects.get(p), world.projects.get(p)) else { continue };
        let mut all = check_project(&world.db, project.project).clone();
        // Gates against the directory of the project's flowc.toml, as `flowc check` does.
        all.extend(flowc_compiler::check_approvers(&world.db, project.project, &entry.settings.directory));
        let mut by_path: HashMap<&str, Vec<Diagnostic>> = HashMap::new();
        // The project's `flowc.toml` silences warnings as for `flowc check`.
        for d in all.iter().filter(|d| !entry.settings.silences(d)) {
            by_path.entry(d.path.as_str()).or_default().push(d.clone());
        }
        for path in &project.members {
            let (Some(uri), Some(file)) = (snapshot.uris.get(path), world.file(path)) else { continue };
            let version = snapshot.files.get(uri).and_then(|e| e.version);
            let published = Published { version, diagnostics: by_path.remove(path.as_str()).unwrap_or_default() };
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
