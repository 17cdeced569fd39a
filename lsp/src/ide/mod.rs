//! The editor features, one module each. They run on worker threads with a
//! [`Snapshot`], read the compiler's queries, and answer in LSP types.
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
mod index;
mod keywords;
pub mod navigate;
pub mod rename;
mod scope;
pub mod symbols;
pub mod tokens;

use flowc_compiler::Project;
use flowc_compiler::model::{StepDef, WorkflowDef, item_index};
use flowc_grammar::Parse;
use tower_lsp_server::ls_types as lsp;

use crate::convert::TextRef;
use crate::state::{FileEntry, Snapshot};

/// One file of a snapshot, ready for a feature.
pub struct FileCx<'a> {
    pub snap: &'a Snapshot,
    pub file: &'a FileEntry,
    pub text: TextRef<'a>,
    pub project: Project,
}

impl<'a> FileCx<'a> {
    /// `None` for a URI the server does not know (never opened, not in a
    /// workspace folder): every feature then answers "nothing".
    pub fn new(snap: &'a Snapshot, uri: &lsp::Uri) -> Option<FileCx<'a>> {
        let file = snap.file(uri)?;
        Some(FileCx { snap, file, text: snap.text_ref(file), project: snap.project_of(file) })
    }

    pub fn parse(&self) -> &'a Parse {
        flowc_compiler::parse(&self.snap.db, self.file.source)
    }

    pub fn offset(&self, pos: lsp::Position) -> u32 {
        self.text.offset(pos)
    }

    pub fn workflow(&self, name: &str) -> Option<WorkflowDef<'a>> {
        item_index(&self.snap.db, self.project).workflow(name)
    }

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
