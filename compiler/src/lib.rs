//! Semantic analysis of `.flow` projects.
//!
//! Everything is a salsa query over [`SourceFile`] and [`Project`] inputs;
//! diagnostics are returned as values. See ARCHITECTURE.md for the layering
//! and the invariants this crate keeps.

pub mod allow;
pub mod cel_check;
pub mod checks;
pub mod codes;
pub mod db;
pub mod diagnostic;
pub mod graph;
pub mod line_index;
pub mod literal;
pub mod lower;
pub mod shell_lex;
pub mod manifests;
pub mod matrix;
pub mod model;
pub mod name_index;
pub mod pending;
mod queries;
pub mod refs;
pub mod retry;
pub mod types;

pub use allow::{ProjectSettings, SETTINGS_FILE, SettingsError, settings_path};
pub use checks::approvers::check_approvers;
pub use codes::Code;
pub use db::{Database, Db, Project, SourceFile};
pub use diagnostic::{Diagnostic, Edit, Fix, Related, Severity};
pub use line_index::LineIndex;
pub use queries::{check_files, check_files_with, check_project, check_project_on_all_cores, file_diagnostics, parse};
pub use types::{FieldTy, ObjectTy, Ty};
