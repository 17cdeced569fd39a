//! What the editor features read: the database, and the files and projects
//! named by the compiler's paths, with nothing of the protocol (no URIs, no
//! editor versions).
//!
//! The server keeps one [`World`] and gives each worker a clone of it: a
//! clone of the database and of the `Arc`s of its tables, nothing copied.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use flowc_compiler::{Database, LineIndex, Project, SourceFile};

/// One file: its salsa input, named by the path the compiler knows it by.
#[derive(Clone)]
pub struct File {
    /// The path the compiler's diagnostics name the file by.
    pub path: String,
    /// The file's salsa input (its text).
    pub source: SourceFile,
    /// Its project: an index into [`World::projects`].
    pub project: usize,
    /// The line index of its current text.
    pub index: Arc<LineIndex>,
}

/// A project (one namespace): its salsa input and the files that belong to it.
#[derive(Clone)]
pub struct ProjectFiles {
    /// The project's salsa input (its list of files).
    pub project: Project,
    /// The compiler paths of its files.
    pub members: BTreeSet<String>,
}

/// The database with its files and projects, as the features read them.
#[derive(Clone)]
pub struct World {
    /// The database (a worker's is a clone: reads only, cancelled by the next edit).
    pub db: Database,
    /// Every file, by compiler path.
    pub files: Arc<BTreeMap<String, File>>,
    /// The projects; [`File::project`] indexes this.
    pub projects: Arc<Vec<ProjectFiles>>,
}

impl World {
    /// A world on `db` with no files yet.
    pub fn new(db: Database) -> World {
        World { db, files: Arc::default(), projects: Arc::default() }
    }

    /// The file a compiler path names, if the world has it.
    pub fn file(&self, path: &str) -> Option<&File> {
        self.files.get(path)
    }

    /// Whether the world has the file a compiler path names.
    pub fn knows(&self, path: &str) -> bool {
        self.files.contains_key(path)
    }

    /// A file's current text.
    pub fn text(&self, file: &File) -> &str {
        file.source.text(&self.db)
    }

    /// The salsa project a file belongs to.
    pub fn project_of(&self, file: &File) -> Project {
        self.projects[file.project].project
    }

    /// The files of the project a file belongs to, in path order.
    pub fn members<'a>(&'a self, file: &File) -> impl Iterator<Item = &'a File> + 'a {
        self.projects[file.project].members.iter().filter_map(|p| self.files.get(p))
    }

    /// A world holding one file, `path`, as a project of its own.
    #[cfg(test)]
    pub fn single_file(path: &str, text: &str) -> World {
        let db = Database::default();
        let source = SourceFile::new(&db, path.to_string(), text.to_string());
        let project = Project::new(&db, vec![source]);
        let file = File { path: path.to_string(), source, project: 0, index: Arc::new(LineIndex::new(text)) };
        World {
            db,
            files: Arc::new(BTreeMap::from([(path.to_string(), file)])),
            projects: Arc::new(vec![ProjectFiles { project, members: BTreeSet::from([path.to_string()]) }]),
        }
    }
}
