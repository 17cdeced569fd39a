//! What the server knows, as a worker sees it: the files and projects, and a snapshot of the database taken at one place in the client's stream of edits.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use flowc_compiler::{Database, LineIndex, Project, ProjectSettings, SourceFile};
use tower_lsp_server::ls_types as lsp;

use crate::text::TextRef;

/// One file the server knows: on disk in a workspace folder, or open in the
/// editor, or both.
#[derive(Clone)]
pub struct FileEntry {
    /// How the client names the file.
    pub uri: lsp::Uri,
    /// The path the compiler's diagnostics name the file by.
    pub path: String,
    /// The file's salsa input (its text).
    pub source: SourceFile,
    /// Its project: an index into the projects table.
    pub project: usize,
    /// The editor's version while the file is open.
    pub version: Option<i32>,
    /// The line index of its current text.
    pub index: Arc<LineIndex>,
}

/// A project: the files of one workspace folder share a namespace, as
/// `flowc check DIR` reads them; a file outside every folder is a project
/// of its own, as `flowc check FILE` reads it.
#[derive(Clone)]
pub struct ProjectEntry {
    /// The workspace folder; `None` for a file that is a project of its own.
    pub root: Option<PathBuf>,
    /// The project's salsa input (its list of files).
    pub project: Project,
    /// The files that belong to it.
    pub members: BTreeSet<lsp::Uri>,
    /// Where its `flowc.toml` is (`flowc_compiler::settings_path`, the rule
    /// `flowc check` follows), when the project is on disk.
    pub settings_path: Option<PathBuf>,
    /// What that file says (the defaults when it is missing or refused).
    pub settings: ProjectSettings,
}

/// What a worker sees: the database and the tables as they were when its
/// event was taken from the queue.
pub struct Snapshot {
    /// A clone of the database: reads only, cancelled by the next edit.
    pub db: Database,
    /// Every file the server knows, by URI.
    pub files: Arc<BTreeMap<lsp::Uri, FileEntry>>,
    /// The URI of each file by its compiler path.
    pub paths: Arc<HashMap<String, lsp::Uri>>,
    /// The projects; `FileEntry::project` indexes this.
    pub projects: Arc<Vec<ProjectEntry>>,
    /// Returned when the snapshot is dropped, after `db` (fields drop in
    /// order), so a returned lease means the clone is gone.
    pub(crate) _lease: Lease,
}

/// The snapshots handed out and not yet dropped, with their cancellation
/// tokens and stale flags.
#[derive(Default)]
pub(crate) struct Leases {
    pub(crate) out: Mutex<BTreeMap<u64, (salsa::CancellationToken, Arc<AtomicBool>)>>,
    pub(crate) returned: Condvar,
}

pub(crate) struct Lease {
    pub(crate) id: u64,
    pub(crate) leases: Arc<Leases>,
    /// Set when an edit came after the snapshot was taken.
    pub(crate) stale: Arc<AtomicBool>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Ok(mut out) = self.leases.out.lock() {
            out.remove(&self.id);
        }
        self.leases.returned.notify_all();
    }
}

impl Snapshot {
    /// Whether an edit came after this snapshot was taken: what was
    /// computed on it describes a text that is gone.
    pub fn is_stale(&self) -> bool {
        self._lease.stale.load(Ordering::SeqCst)
    }
    /// The file a URI names, if the server knows it.
    pub fn file(&self, uri: &lsp::Uri) -> Option<&FileEntry> {
        self.files.get(uri)
    }
    /// A file's text with its line index, for position conversion.
    pub fn text_ref<'a>(&'a self, file: &'a FileEntry) -> TextRef<'a> {
        TextRef { text: file.source.text(&self.db), index: &file.index }
    }
    /// The URI and text of the file a compiler path names.
    pub fn locate(&self, path: &str) -> Option<(lsp::Uri, TextRef<'_>)> {
        let uri = self.paths.get(path)?;
        let file = self.files.get(uri)?;
        Some((uri.clone(), self.text_ref(file)))
    }
    /// Whether the snapshot has the file a compiler path names.
    pub fn knows(&self, path: &str) -> bool {
        self.locate(path).is_some()
    }
    /// The salsa project a file belongs to.
    pub fn project_of(&self, file: &FileEntry) -> Project {
        self.projects[file.project].project
    }
}
