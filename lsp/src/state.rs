//! The state thread: the one writer of the salsa database.
//!
//! It owns the features' [`World`] (the database, the files and projects by
//! compiler path) and the server's tables beside it, and takes
//! [`Event`]s from one queue, in the order the client sent them. Edits are
//! applied here; everything that reads (requests, diagnostics) runs on a
//! worker thread with a [`Snapshot`] taken at its place in the stream.
//!
//! **Stale work is abandoned, never waited for.** A setter blocks until
//! every clone of the database is dropped, and a worker stops only at its
//! next query boundary: a parse that takes minutes (a pathological text)
//! would hold every later edit and request behind it. So before an edit
//! this thread cancels the snapshots still out, waits for them at most
//! [`GRACE`], and if one is still out then, moves to a fresh database with
//! the same inputs ([`State::fork`]): the old snapshot finishes (or not) on
//! its own, its diagnostics are dropped by generation, and nothing waits
//! for it. The fresh database recomputes what it needs once.
//!
//! What this thread must never do: run a query. A query here would hold up
//! every edit behind it; worse, a setter waits for every database clone to
//! be dropped, so a query here waiting on a worker could deadlock.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use flowc_compiler::{Database, LineIndex, Project, ProjectSettings, SourceFile};
use salsa::{Database as _, Setter};
use tokio::sync::mpsc::UnboundedSender;
use tower_lsp_server::ls_types as lsp;

use crate::ide::{File, ProjectFiles, World};
use crate::snapshot::{FileEntry, Lease, Leases, ProjectEntry, Snapshot};
use crate::text::{self, TextRef};
use crate::diagnostics::Published;
use crate::diagnostics;
use crate::workspace;

/// A unit of work for a worker thread, given its snapshot.
pub type Job = Box<dyn FnOnce(Snapshot) + Send>;

/// What the state thread takes from its queue, in the client's order.
pub enum Event {
    /// The workspace folders, from `initialize`.
    Initialize { roots: Vec<PathBuf> },
    /// `didOpen`: the editor's text of a file, which wins over the disk's.
    Open { uri: lsp::Uri, version: i32, text: String },
    /// `didChange`: edits to an open file, and when they arrived (for traces).
    Change { uri: lsp::Uri, version: i32, changes: Vec<lsp::TextDocumentContentChangeEvent>, received: Instant },
    /// `didClose`: the disk's text is the truth again.
    Close { uri: lsp::Uri },
    /// `didChangeWatchedFiles`: files created, changed or deleted outside the editor.
    Watched { changes: Vec<lsp::FileEvent> },
    /// A request's work, to run on a snapshot taken now.
    Request(Job),
    /// A diagnostics job finished.
    Checked(diagnostics::Checked),
}

/// What goes to the client, in this order.
pub enum Outgoing {
    /// `publishDiagnostics` for one file (all of its diagnostics).
    Publish { uri: lsp::Uri, diagnostics: Vec<lsp::Diagnostic>, version: Option<i32> },
    /// A `window/logMessage` line.
    Log(String),
}



/// How long an edit waits for the snapshots still out to stop after it
/// cancelled them, before it leaves them behind on a fork. Queries stop at
/// their next boundary, which is far sooner for any text a person writes.
pub const GRACE: Duration = Duration::from_millis(200);




/// Counts of the salsa queries that executed, by query name.
pub type QueryCounts = Arc<Mutex<BTreeMap<String, u32>>>;

/// The state thread's tables: the world (the database, the files and
/// projects by compiler path), what the server knows beside it, and what
/// the client was last sent.
pub struct State {
    world: World,
    /// Every file by URI: its compiler path (its key in the world) and version.
    files: Arc<BTreeMap<lsp::Uri, FileEntry>>,
    /// The URI of each file by its compiler path.
    uris: Arc<HashMap<String, lsp::Uri>>,
    /// Each project's folder and settings, indexed as the world's projects.
    projects: Arc<Vec<ProjectEntry>>,
    /// Bumped by every edit; a diagnostics result from an older generation
    /// is dropped.
    generation: u64,
    /// Projects whose published diagnostics may be out of date.
    dirty: BTreeSet<usize>,
    /// Whether the last batch changed anything (a diagnostics job is due).
    changed: bool,
    published: Arc<HashMap<lsp::Uri, Published>>,
    /// When the oldest edit not yet reflected in a publish arrived.
    first_change: Option<Instant>,
    out: UnboundedSender<Outgoing>,
    events: mpsc::Sender<Event>,
    trace: Option<QueryCounts>,
    leases: Arc<Leases>,
    next_lease: u64,
    /// How many times stale snapshots were left behind on a fork.
    forks: u64,
    /// The `flowc.toml` files whose refusal is published on them.
    settings_errors: BTreeSet<lsp::Uri>,
}

impl State {
    /// A state with no files yet. `out` is the queue to the client,
    /// `events` its own queue (workers report finished diagnostics there);
    /// `trace` counts executed queries for `flowc-trace` log lines.
    pub fn new(out: UnboundedSender<Outgoing>, events: mpsc::Sender<Event>, trace: bool) -> State {
        let trace = trace.then(QueryCounts::default);
        let world = World::new(new_database(trace.as_ref()));
        State {
            world,
            files: Arc::default(),
            uris: Arc::default(),
            projects: Arc::default(),
            generation: 0,
            dirty: BTreeSet::new(),
            changed: false,
            published: Arc::default(),
            first_change: None,
            out,
            events,
            trace,
            leases: Arc::default(),
            next_lease: 0,
            forks: 0,
            settings_errors: BTreeSet::new(),
        }
    }

    /// Takes events until every sender is gone (the server exited).
    pub fn run(mut self, events: mpsc::Receiver<Event>) {
        while let Ok(event) = events.recv() {
            self.handle(event);
            // Take whatever else is queued before checking: a burst of edits
            // costs one diagnostics job, not one per keystroke.
            while let Ok(event) = events.try_recv() {
                self.handle(event);
            }
            if self.changed {
                self.changed = false;
                self.start_diagnostics();
            }
        }
    }

    fn snapshot(&mut self) -> Snapshot {
        let world = self.world.clone();
        self.next_lease += 1;
        let id = self.next_lease;
        let stale = Arc::new(AtomicBool::new(false));
        if let Ok(mut out) = self.leases.out.lock() {
            out.insert(id, (world.db.cancellation_token(), stale.clone()));
        }
        let _lease = Lease { id, leases: self.leases.clone(), stale };
        Snapshot { world, files: self.files.clone(), uris: self.uris.clone(), projects: self.projects.clone(), _lease }
    }

    /// Makes the database writable without waiting on stale work (see the
    /// module's docs): cancels the snapshots still out, gives them
    /// [`GRACE`] to go, and forks if one stays.
    fn before_write(&mut self) {
        let leases = self.leases.clone();
        let Ok(mut out) = leases.out.lock() else { return self.fork() };
        if out.is_empty() {
            return;
        }
        for (token, stale) in out.values() {
            stale.store(true, Ordering::SeqCst);
            token.cancel();
        }
        let deadline = Instant::now() + GRACE;
        let stuck = loop {
            if out.is_empty() {
                break false;
            }
            let Some(left) = deadline.checked_duration_since(Instant::now()) else { break true };
            out = match leases.returned.wait_timeout(out, left) {
                Ok((out, _)) => out,
                Err(_) => break true,
            };
        };
        if stuck {
            self.fork();
        }
    }

    /// Moves to a fresh database holding the same inputs. The snapshots
    /// still out keep the old one alive until they end; nothing here waits
    /// for them.
    fn fork(&mut self) {
        let old = std::mem::replace(&mut self.world.db, new_database(self.trace.as_ref()));
        let mut sources = HashMap::new();
        for entry in Arc::make_mut(&mut self.world.files).values_mut() {
            let fresh = SourceFile::new(&self.world.db, entry.path.clone(), entry.source.text(&old).clone());
            sources.insert(entry.source, fresh);
            entry.source = fresh;
        }
        for entry in Arc::make_mut(&mut self.world.projects).iter_mut() {
            let files = entry.project.files(&old).iter().filter_map(|f| sources.get(f).copied()).collect();
            entry.project = Project::new(&self.world.db, files);
        }
        // Every project is re-checked on the fresh database; what the
        // client shows is compared as before, so only changes are sent.
        self.dirty.extend(0..self.projects.len());
        self.changed = true;
        self.forks += 1;
        let _ = self.out.send(Outgoing::Log(format!("flowc lsp: left a stale analysis behind (fork {})", self.forks)));
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Initialize { roots } => self.initialize(roots),
            Event::Open { uri, version, text } => self.open(uri, version, text),
            Event::Change { uri, version, changes, received } => self.change(uri, version, changes, received),
            Event::Close { uri } => self.close(uri),
            Event::Watched { changes } => self.watched(changes),
            Event::Request(job) => {
                let snapshot = self.snapshot();
                spawn_worker("flowc-lsp-request", move || job(snapshot));
            }
            Event::Checked(checked) => self.checked(checked),
        }
    }

    // ------------------------------------------------------------ projects

    fn initialize(&mut self, roots: Vec<PathBuf>) {
        self.before_write();
        for root in roots {
            if self.projects.iter().any(|p| p.root.as_deref() == Some(root.as_path())) {
                continue;
            }
            let project = self.add_project(ProjectEntry {
                root: Some(root.clone()),
                settings_path: Some(flowc_compiler::settings_path(&root, true)),
                settings: ProjectSettings::default(),
            });
            self.load_settings(project);
            for path in workspace::find_flow_files(&root) {
                if let (Some(text), Some(uri)) = (workspace::read_text(&path), lsp::Uri::from_file_path(&path)) {
                    self.upsert(uri, text, None, false);
                }
            }
            self.sync_members(project);
        }
        self.mark_changed(None);
    }

    /// Adds a project with no files yet, in the world and beside it (the
    /// two tables keep one index); returns its index.
    fn add_project(&mut self, entry: ProjectEntry) -> usize {
        let project = Project::new(&self.world.db, Vec::new());
        Arc::make_mut(&mut self.world.projects).push(ProjectFiles { project, members: BTreeSet::new() });
        let projects = Arc::make_mut(&mut self.projects);
        projects.push(entry);
        projects.len() - 1
    }

    /// The project a file on disk at `path` (`None`: not on disk) belongs
    /// to: the innermost workspace folder holding it, or a new project of
    /// its own.
    fn project_for(&mut self, path: Option<&Path>) -> usize {
        let best = path.and_then(|path| {
            self.projects
                .iter()
                .enumerate()
                .filter_map(|(i, p)| {
                    let root = p.root.as_ref()?;
                    (path.starts_with(root) && !workspace::in_skipped_dir(root, path)).then_some((root.components().count(), i))
                })
                .max()
                .map(|(_, i)| i)
        });
        if let Some(i) = best {
            return i;
        }
        let i = self.add_project(ProjectEntry {
            root: None,
            settings_path: path.map(|p| flowc_compiler::settings_path(p, false)),
            settings: ProjectSettings::default(),
        });
        self.load_settings(i);
        i
    }

    // ------------------------------------------------------------ settings

    /// (Re-)reads a project's `flowc.toml`. A file that cannot be read or is
    /// refused gets a diagnostic of its own and the defaults apply (nothing
    /// silenced), so a typo never silences anything quietly; `flowc check`
    /// refuses such a project outright.
    fn load_settings(&mut self, project: usize) {
        let Some(path) = self.projects[project].settings_path.clone() else { return };
        let (settings, problem) = match workspace::read_settings(&path) {
            Ok(None) => (ProjectSettings::default(), None),
            Ok(Some(text)) => match ProjectSettings::parse_located(&text) {
                Ok(settings) => (settings, None),
                Err(e) => {
                    let index = LineIndex::new(&text);
                    let at = TextRef { text: &text, index: &index };
                    let span = e.span.map_or(flowc_grammar::ast::Span::new(0, 0), |r| {
                        flowc_grammar::ast::Span::new(r.start as u32, r.end as u32)
                    });
                    (ProjectSettings::default(), Some((e.message, at.range(span))))
                }
            },
            Err(message) => (ProjectSettings::default(), Some((message, lsp::Range::default()))),
        };
        if self.projects[project].settings != settings {
            Arc::make_mut(&mut self.projects)[project].settings = settings;
            self.dirty.insert(project);
        }
        let Some(uri) = lsp::Uri::from_file_path(&path) else { return };
        match problem {
            Some((message, range)) => {
                let diagnostic = lsp::Diagnostic {
                    range,
                    severity: Some(lsp::DiagnosticSeverity::ERROR),
                    source: Some("flowc".into()),
                    message: format!("{message}\nthe project's settings are ignored until this is fixed (`flowc check` refuses the project)"),
                    ..Default::default()
                };
                self.settings_errors.insert(uri.clone());
                let _ = self.out.send(Outgoing::Publish { uri, diagnostics: vec![diagnostic], version: None });
            }
            None => {
                if self.settings_errors.remove(&uri) {
                    let _ = self.out.send(Outgoing::Publish { uri, diagnostics: Vec::new(), version: None });
                }
            }
        }
    }

    /// Re-reads the settings of every project a changed `flowc.toml` is for.
    fn settings_changed(&mut self, path: &Path) {
        let affected: Vec<usize> = (0..self.projects.len())
            .filter(|i| self.projects[*i].settings_path.as_deref() == Some(path))
            .collect();
        for i in affected {
            self.load_settings(i);
        }
    }

    /// Sets a file's text (and version), adding the file if it is new.
    /// `sync` is false while loading a folder, which syncs its project once.
    fn upsert(&mut self, uri: lsp::Uri, text: String, version: Option<i32>, sync: bool) {
        if let Some(file) = self.file(&uri) {
            let (path, source, project) = (file.path.clone(), file.source, file.project);
            if source.text(&self.world.db) != &text {
                let index = Arc::new(LineIndex::new(&text));
                source.set_text(&mut self.world.db).to(text);
                let file = Arc::make_mut(&mut self.world.files).get_mut(&path).expect("present above");
                file.index = index;
            }
            if self.files.get(&uri).is_some_and(|e| e.version != version)
                && let Some(entry) = Arc::make_mut(&mut self.files).get_mut(&uri) {
                    entry.version = version;
                }
            self.dirty.insert(project);
            return;
        }
        let fs_path = uri.to_file_path().map(|p| p.into_owned());
        let path = fs_path.as_ref().map_or_else(|| uri.as_str().to_string(), |p| p.to_string_lossy().into_owned());
        let index = Arc::new(LineIndex::new(&text));
        let source = SourceFile::new(&self.world.db, path.clone(), text);
        let project = self.project_for(fs_path.as_deref());
        Arc::make_mut(&mut self.world.projects)[project].members.insert(path.clone());
        Arc::make_mut(&mut self.world.files).insert(path.clone(), File { path: path.clone(), source, project, index });
        Arc::make_mut(&mut self.uris).insert(path.clone(), uri.clone());
        Arc::make_mut(&mut self.files).insert(uri, FileEntry { path, version });
        if sync {
            self.sync_members(project);
        }
    }

    /// The world's file a URI names.
    fn file(&self, uri: &lsp::Uri) -> Option<&File> {
        self.world.file(&self.files.get(uri)?.path)
    }

    fn remove(&mut self, uri: &lsp::Uri) {
        let Some(entry) = Arc::make_mut(&mut self.files).remove(uri) else { return };
        Arc::make_mut(&mut self.uris).remove(&entry.path);
        if let Some(file) = Arc::make_mut(&mut self.world.files).remove(&entry.path) {
            Arc::make_mut(&mut self.world.projects)[file.project].members.remove(&entry.path);
            self.sync_members(file.project);
        }
        // Its diagnostics go now: no later check covers a file that left.
        if Arc::make_mut(&mut self.published).remove(uri).is_some() {
            let _ = self.out.send(Outgoing::Publish { uri: uri.clone(), diagnostics: Vec::new(), version: None });
        }
    }

    /// Gives a project's salsa input its current list of files.
    fn sync_members(&mut self, project: usize) {
        let entry = &self.world.projects[project];
        let files: Vec<SourceFile> = entry.members.iter().filter_map(|p| self.world.files.get(p)).map(|f| f.source).collect();
        let handle = entry.project;
        if handle.files(&self.world.db) != &files {
            handle.set_files(&mut self.world.db).to(files);
        }
        self.dirty.insert(project);
    }

    fn mark_changed(&mut self, at: Option<Instant>) {
        self.generation += 1;
        self.changed = true;
        if self.first_change.is_none() {
            self.first_change = Some(at.unwrap_or_else(Instant::now));
        }
    }

    /// Called before an edit is applied: the first edit after a publish
    /// starts a new count of executed queries. (Counts cover everything the
    /// database ran until the next publish, requests included; traces are
    /// for benchmarks and tests, which do not interleave requests.)
    fn before_edit(&mut self) {
        self.before_write();
        if self.first_change.is_none()
            && let Some(Ok(mut counts)) = self.trace.as_ref().map(|c| c.lock()) {
                counts.clear();
            }
    }

    // ------------------------------------------------------------- editing

    fn open(&mut self, uri: lsp::Uri, version: i32, text: String) {
        self.before_edit();
        // A `flowc.toml` opened in the editor is no `.flow` file: its saved
        // text is re-read (edits reach the server through the watcher).
        if let Some(path) = uri.to_file_path().filter(|p| workspace::is_settings_file(p)) {
            self.settings_changed(&path);
            self.mark_changed(None);
            return;
        }
        self.upsert(uri, text, Some(version), true);
        self.mark_changed(None);
    }

    fn change(&mut self, uri: lsp::Uri, version: i32, changes: Vec<lsp::TextDocumentContentChangeEvent>, received: Instant) {
        if !self.files.contains_key(&uri) {
            let _ = self.out.send(Outgoing::Log(format!("didChange for {} which is not open; ignored", uri.as_str())));
            return;
        }
        // First: it may move to a fresh database, with fresh inputs.
        self.before_edit();
        let Some((source, index)) = self.file(&uri).map(|f| (f.source, f.index.clone())) else { return };
        let mut text = source.text(&self.world.db).clone();
        for (i, change) in changes.iter().enumerate() {
            text::apply_change(&mut text, (i == 0).then_some(&*index), change);
        }
        self.upsert(uri, text, Some(version), true);
        self.mark_changed(Some(received));
    }

    fn close(&mut self, uri: lsp::Uri) {
        if !self.files.contains_key(&uri) {
            return;
        }
        self.before_edit();
        // The disk's text is the truth again; a file that only lived in the
        // editor leaves the project.
        match uri.to_file_path().and_then(|p| workspace::read_text(&p)) {
            Some(text) if self.is_workspace_file(&uri) => self.upsert(uri, text, None, true),
            _ => self.remove(&uri),
        }
        self.mark_changed(None);
    }

    /// Whether a file belongs to a workspace folder's project (rather than
    /// being a project of its own because it was opened).
    fn is_workspace_file(&self, uri: &lsp::Uri) -> bool {
        self.file(uri).is_some_and(|f| self.projects[f.project].root.is_some())
    }

    fn watched(&mut self, changes: Vec<lsp::FileEvent>) {
        self.before_edit();
        for change in changes {
            let uri = change.uri;
            let Some(path) = uri.to_file_path().map(|p| p.into_owned()) else { continue };
            // Created, changed or deleted alike: read it again.
            if workspace::is_settings_file(&path) {
                self.settings_changed(&path);
                continue;
            }
            if change.typ == lsp::FileChangeType::DELETED {
                // A deleted folder takes every closed file below it.
                let gone: Vec<lsp::Uri> = self
                    .files
                    .iter()
                    .filter(|(u, f)| f.version.is_none() && (**u == uri || Path::new(&f.path).starts_with(&path)))
                    .map(|(u, _)| u.clone())
                    .collect();
                for u in gone {
                    self.remove(&u);
                }
                continue;
            }
            if !workspace::is_flow_file(&path) {
                continue;
            }
            // The editor's buffer wins over the disk while the file is open.
            if self.files.get(&uri).is_some_and(|f| f.version.is_some()) {
                continue;
            }
            match workspace::read_text(&path) {
                Some(text) => {
                    let in_root = self.projects.iter().any(|p| p.root.as_ref().is_some_and(|r| path.starts_with(r) && !workspace::in_skipped_dir(r, &path)));
                    if in_root || self.files.contains_key(&uri) {
                        self.upsert(uri, text, None, true);
                    }
                }
                None => self.remove(&uri),
            }
        }
        self.mark_changed(None);
    }

    // --------------------------------------------------------- diagnostics

    fn start_diagnostics(&mut self) {
        let snapshot = self.snapshot();
        let job = diagnostics::Job {
            generation: self.generation,
            projects: self.dirty.iter().copied().collect(),
            published: self.published.clone(),
        };
        let events = self.events.clone();
        spawn_worker("flowc-lsp-diagnostics", move || {
            // A newer edit cancels this job: it just ends, and the job that
            // edit started publishes instead.
            if let Ok(checked) = run_cancellable(|| diagnostics::run(&snapshot, job)) {
                let _ = events.send(Event::Checked(checked));
            }
        });
    }

    fn checked(&mut self, checked: diagnostics::Checked) {
        if checked.generation != self.generation {
            return;
        }
        let published = Arc::make_mut(&mut self.published);
        for file in checked.files {
            let _ = self.out.send(Outgoing::Publish { uri: file.uri.clone(), diagnostics: file.lsp, version: file.published.version });
            published.insert(file.uri, file.published);
        }
        self.dirty.clear();
        let started = self.first_change.take();
        if let (Some(counts), Some(started)) = (&self.trace, started) {
            let executed = counts
                .lock()
                .map(|c| c.iter().map(|(k, v)| format!("{k}:{v}")).collect::<Vec<_>>().join(","))
                .unwrap_or_default();
            let micros = started.elapsed().as_micros();
            let _ = self.out.send(Outgoing::Log(format!(
                "flowc-trace generation={} change_to_publish_us={micros} executed={executed}",
                checked.generation
            )));
        }
    }
}

fn new_database(trace: Option<&QueryCounts>) -> Database {
    let Some(counts) = trace else { return Database::default() };
    let sink = counts.clone();
    Database::with_event_hook(move |event| {
        if let salsa::EventKind::WillExecute { database_key } = event.kind {
            let key = format!("{database_key:?}");
            let name = key.split('(').next().unwrap_or_default().to_string();
            if let Ok(mut counts) = sink.lock() {
                *counts.entry(name).or_default() += 1;
            }
        }
    })
}

/// Runs `f`, turning salsa's cancellation into an `Err`. The one place the
/// server catches `salsa::Cancelled`: any other panic keeps unwinding and
/// ends only the worker thread it happened on.
pub fn run_cancellable<T>(f: impl FnOnce() -> T) -> Result<T, salsa::Cancelled> {
    salsa::Cancelled::catch(AssertUnwindSafe(f))
}

fn spawn_worker(name: &str, f: impl FnOnce() + Send + 'static) {
    if let Err(e) = std::thread::Builder::new().name(name.to_string()).spawn(f) {
        eprintln!("flowc lsp: cannot start a worker thread: {e}");
    }
}
