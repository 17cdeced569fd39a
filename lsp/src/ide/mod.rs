//! The editor features, one module each. They run on worker threads with a
//! [`Snapshot`], read the compiler's queries, and answer in plain types.
//!
//! **Architecture Invariant:** nothing here knows the protocol. A feature
//! takes a file and a byte offset and answers in byte spans, files named
//! by the path the compiler knows them by, and the plain structs below;
//! `crate::convert` turns those into LSP types (lines, UTF-16 columns,
//! URIs) and `crate::server` sends them.
//!
//! Positions come from the whole-file tree (`flowc_compiler::parse`,
//! memoised per file text), meaning from the piecewise model and its
//! queries (the name index, the step graph, expression scopes): a feature
//! finds *where* in the tree and asks the model *what*. None of this is on
//! the diagnostics path.

pub mod actions;
pub mod completion;
pub mod format;
pub mod hover;
pub mod navigate;
pub mod rename;
mod scope;
pub mod symbols;
pub mod tokens;

use flowc_compiler::Project;
use flowc_compiler::model::{StepDef, WorkflowDef, item_index};
use flowc_grammar::Parse;
use flowc_grammar::ast::Span;

use crate::convert::TextRef;
use crate::state::{FileEntry, Snapshot};

/// A span of one file of the project, the file named by its compiler path
/// (`FileEntry::path`, the name diagnostics use).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileSpan {
    /// The compiler's path of the file.
    pub path: String,
    /// Byte offsets into that file's text.
    pub span: Span,
}

/// Replace the bytes of `span` with `new_text`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextEdit {
    /// Byte offsets into the edited file's text, before the edit.
    pub span: Span,
    /// What the span becomes.
    pub new_text: String,
}

/// Edits across the project: for each file (by compiler path, in the order
/// first edited), its edits.
pub type FileEdits = Vec<(String, Vec<TextEdit>)>;

/// Adds an edit to the list of its file in `edits`.
fn push_edit(edits: &mut FileEdits, path: &str, edit: TextEdit) {
    match edits.iter_mut().find(|(p, _)| p == path) {
        Some((_, list)) => list.push(edit),
        None => edits.push((path.to_string(), vec![edit])),
    }
}

/// One file of a snapshot, ready for a feature.
pub struct FileCx<'a> {
    /// The snapshot the feature reads.
    pub snap: &'a Snapshot,
    /// The file the request is about.
    pub file: &'a FileEntry,
    /// That file's text and line index.
    pub text: TextRef<'a>,
    /// The project (namespace) the file belongs to.
    pub project: Project,
}

impl<'a> FileCx<'a> {
    /// The context of one file of the snapshot.
    pub fn new(snap: &'a Snapshot, file: &'a FileEntry) -> FileCx<'a> {
        FileCx { snap, file, text: snap.text_ref(file), project: snap.project_of(file) }
    }

    /// The file's whole-file tree (memoised per text).
    pub fn parse(&self) -> &'a Parse {
        flowc_compiler::parse(&self.snap.db, self.file.source)
    }

    /// The workflow of the project with this name.
    pub fn workflow(&self, name: &str) -> Option<WorkflowDef<'a>> {
        item_index(&self.snap.db, self.project).workflow(name)
    }

    /// A step of a workflow of the project, with its workflow.
    pub fn step(&self, workflow: &str, name: &str) -> Option<(WorkflowDef<'a>, StepDef<'a>)> {
        let wf = self.workflow(workflow)?;
        let step = wf.steps(&self.snap.db).iter().find(|s| s.name(&self.snap.db) == name).copied()?;
        Some((wf, step))
    }
}

/// Whether `s` can be a name: a step, a declaration, a key.
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_') && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
