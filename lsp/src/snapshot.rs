//! What a worker sees: the features' `ide::World` as it was at one place in the client's stream of edits, and beside it what only the server knows of its files and projects.
//!
//! The world names files as the compiler does and knows nothing of the
//! protocol; the tables here hold how the client names them (URIs), the
//! editor's versions, and each project's folder and settings, and turn a
//! URI into the world's file and a compiler path back into a URI. Taking a
//! snapshot copies no table: the world and the tables are `Arc`s, shared
//! with the state thread until its next edit.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use flowc_compiler::ProjectSettings;
use tower_lsp_server::ls_types as lsp;

use crate::ide::{File, World};
use crate::text::TextRef;

/// What the server knows of one file beyond the world's [`File`]: on disk
/// in a workspace folder, or open in the editor, or both.
#[derive(Clone)]
pub struct FileEntry {
    /// The path the compiler names the file by: its key in the world.
    pub path: String,
    /// The editor's version while the file is open.
    pub version: Option<i32>,
}

/// What the server knows of one project beyond the world's
/// [`crate::ide::ProjectFiles`] (same index): the files of one workspace
/// folder share a namespace, as `flowc check DIR` reads them; a file
/// outside every folder is a project of its own, as `flowc check FILE`
/// reads it.
#[derive(Clone)]
pub struct ProjectEntry {
    /// The workspace folder; `None` for a file that is a project of its own.
    pub root: Option<PathBuf>,
    /// Where its `flowc.toml` is (`flowc_compiler::settings_path`, the rule
    /// `flowc check` follows), when the project is on disk.
    pub settings_path: Option<PathBuf>,
    /// What that file says (the defaults when it is missing or refused).
    pub settings: ProjectSettings,
}

/// What a worker sees: the world and the server's tables as they were when
/// its event was taken from the queue.
pub struct Snapshot {
    /// The features' view: a clone of the database (reads only, cancelled
    /// by the next edit) and of the file and project tables.
    pub(crate) world: World,
    /// Every file the server knows, by URI.
    pub files: Arc<BTreeMap<lsp::Uri, FileEntry>>,
    /// The URI of each file by its compiler path.
    pub uris: Arc<HashMap<String, lsp::Uri>>,
    /// The projects, indexed as the world's.
    pub projects: Arc<Vec<ProjectEntry>>,
    /// Returned when the snapshot is dropped, after `world` and its
    /// database (fields drop in order), so a returned lease means the clone
    /// is gone.
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
    /// What the features read.
    pub fn world(&self) -> &World {
        &self.world
    }
    /// The world's file a URI names, if the server knows it.
    pub fn file(&self, uri: &lsp::Uri) -> Option<&File> {
        self.world.file(&self.files.get(uri)?.path)
    }
    /// A file's text with its line index, for position conversion.
    pub fn text_ref<'a>(&'a self, file: &'a File) -> TextRef<'a> {
        TextRef { text: self.world.text(file), index: &file.index }
    }
    /// The URI and text of the file a compiler path names.
    pub fn locate(&self, path: &str) -> Option<(lsp::Uri, TextRef<'_>)> {
        let uri = self.uris.get(path)?;
        let file = self.world.file(path)?;
        Some((uri.clone(), self.text_ref(file)))
    }
}
