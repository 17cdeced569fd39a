//! The salsa database: inputs and the concrete database type.
//!
//! **Architecture invariant:** the compiler does no IO. The CLI and the
//! language server read files and hand their text in as [`SourceFile`]
//! inputs; a deleted file is removed from the [`Project`]'s list, never read
//! from disk here.

/// One `.flow` file: its path (as the user should see it) and its text.
#[salsa::input(debug)]
pub struct SourceFile {
    #[returns(ref)]
    pub path: String,
    #[returns(ref)]
    pub text: String,
}

/// The files of a project: every `*.flow` under its directory, or the files
/// named on the command line. They share one namespace.
#[salsa::input(debug)]
pub struct Project {
    #[returns(ref)]
    pub files: Vec<SourceFile>,
}

#[salsa::db]
pub trait Db: salsa::Database {}

/// The one concrete database.
#[salsa::db]
#[derive(Clone, Default)]
pub struct Database {
    storage: salsa::Storage<Self>,
}

impl Database {
    /// A database that reports every salsa event to `on_event` (tests use this
    /// to prove which queries re-executed after an edit).
    pub fn with_event_hook(on_event: impl Fn(salsa::Event) + Send + Sync + 'static) -> Self {
        Database { storage: salsa::Storage::new(Some(Box::new(on_event))) }
    }
}

#[salsa::db]
impl salsa::Database for Database {}

#[salsa::db]
impl Db for Database {}
