//! The salsa database: inputs and the concrete database type.
//!
//! **Architecture invariant:** the compiler does no IO. The CLI and the
//! language server read files and hand their text in as [`SourceFile`]
//! inputs; a deleted file is removed from the [`Project`]'s list, never read
//! from disk here.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use flowc_grammar::ast::Step;
use flowc_grammar::outline::{OutlineDecl, PieceKind};
use flowc_grammar::PieceAst;

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
pub trait Db: salsa::Database {
    /// Whether a file's pieces are parsed ahead, on every core, when the
    /// file's model is first built ([`Database::batch`]).
    fn parses_ahead(&self) -> bool {
        false
    }
    /// Keeps parses done ahead of [`crate::model::parse_piece`].
    fn put_parsed(&self, _parsed: Vec<(PieceKind, String, ParseResult)>) {}
    /// Takes the parse done ahead for this piece, if any.
    fn take_parsed(&self, _kind: PieceKind, _text: &str) -> Option<ParseResult> {
        None
    }
    /// The last outline of a file whose pieces all parsed cleanly, with the
    /// text it is the outline of: [`crate::model::file_model`] splits the
    /// next text of the file again only around what changed
    /// (`outline::reoutline`).
    fn last_outline(&self, _file: SourceFile) -> Option<Arc<KeptOutline>> {
        None
    }
    /// Keeps a file's outline for [`Db::last_outline`].
    fn keep_outline(&self, _file: SourceFile, _outline: KeptOutline) {}
}

/// A file's text and its outline.
pub struct KeptOutline {
    pub text: String,
    pub decls: Vec<OutlineDecl>,
}

/// A piece parsed ahead: what [`crate::model::parse_piece`] returns.
pub type ParseResult = Option<ParsedText>;

/// The parse of one piece, shared by every piece with the same text.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ParsedText {
    /// The piece's tree; `None` for a step, which is all in `step`.
    pub ast: Option<Arc<PieceAst>>,
    /// Parsed without recovering from a syntax error.
    pub clean: bool,
    /// When the piece is one step: that step, in its own `Arc`, so that every
    /// revision hands the same pointer to the step's tracked struct (equal by
    /// pointer, no deep comparison).
    pub step: Option<Arc<Step>>,
}

/// Parses done ahead, by piece text, one map per piece kind ([`slot`]), so a
/// lookup borrows the text instead of copying it into a key.
type Ahead = Arc<Mutex<[HashMap<String, ParseResult>; 3]>>;

fn slot(kind: PieceKind) -> usize {
    match kind {
        PieceKind::Declaration => 0,
        PieceKind::WorkflowItem => 1,
        PieceKind::GroupHeader => 2,
    }
}

/// The one concrete database.
#[salsa::db]
#[derive(Clone, Default)]
pub struct Database {
    storage: salsa::Storage<Self>,
    /// Set for a one-shot command (`flowc check`, `build`, `run`): see
    /// [`Database::batch`].
    ahead: Option<Ahead>,
    /// The last outline of each file ([`Db::last_outline`]). Like the
    /// parses done ahead, a cache of a pure function (the outline of a
    /// text), so what a query computes from it is what it would compute
    /// without it; shared by the clones of the database.
    outlines: Arc<Mutex<HashMap<SourceFile, Arc<KeptOutline>>>>,
}

impl Database {
    /// A database that reports every salsa event to `on_event` (tests use this
    /// to prove which queries re-executed after an edit).
    pub fn with_event_hook(on_event: impl Fn(salsa::Event) + Send + Sync + 'static) -> Self {
        Database { storage: salsa::Storage::new(Some(Box::new(on_event))), ahead: None, outlines: Arc::default() }
    }

    /// A database for a command that checks a project once: when a file's
    /// model is built, its pieces are parsed ahead on every core, and
    /// `parse_piece` takes those parses instead of parsing again. Parsing is
    /// a pure function of a piece's text, so the results are the ones
    /// `parse_piece` would compute; only the work is spread. The language
    /// server does not use it: after an edit, it parses one piece.
    pub fn batch() -> Self {
        Database { storage: salsa::Storage::default(), ahead: Some(Arc::default()), outlines: Arc::default() }
    }
}

#[salsa::db]
impl salsa::Database for Database {}

#[salsa::db]
impl Db for Database {
    fn parses_ahead(&self) -> bool {
        self.ahead.is_some()
    }

    fn put_parsed(&self, parsed: Vec<(PieceKind, String, ParseResult)>) {
        if let Some(ahead) = &self.ahead {
            let mut maps = ahead.lock().unwrap_or_else(|e| e.into_inner());
            for (kind, text, result) in parsed {
                maps[slot(kind)].insert(text, result);
            }
        }
    }

    fn take_parsed(&self, kind: PieceKind, text: &str) -> Option<ParseResult> {
        let ahead = self.ahead.as_ref()?;
        let mut maps = ahead.lock().unwrap_or_else(|e| e.into_inner());
        maps[slot(kind)].remove(text)
    }

    fn last_outline(&self, file: SourceFile) -> Option<Arc<KeptOutline>> {
        // A one-shot check splits each file once: nothing to keep.
        if self.ahead.is_some() {
            return None;
        }
        self.outlines.lock().unwrap_or_else(|e| e.into_inner()).get(&file).cloned()
    }

    fn keep_outline(&self, file: SourceFile, outline: KeptOutline) {
        if self.ahead.is_none() {
            self.outlines.lock().unwrap_or_else(|e| e.into_inner()).insert(file, Arc::new(outline));
        }
    }
}
