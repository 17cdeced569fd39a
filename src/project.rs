//! Finding and reading `.flow` files. All file reading of `check` and `fmt`
//! happens here.

use std::path::{Path, PathBuf};

use crate::Failure;

/// The files of one project, read into memory.
pub struct LoadedProject {
    pub files: Vec<LoadedFile>,
    /// `flowc.toml` in the project directory (for a single file: its
    /// directory), or the defaults.
    pub settings: flowc_compiler::ProjectSettings,
}

/// Reads the project's `flowc.toml` (where [`flowc_compiler::settings_path`]
/// says, as the language server finds it), if there is one.
pub fn settings(path: &Path) -> Result<flowc_compiler::ProjectSettings, Failure> {
    match std::fs::read_to_string(path) {
        Ok(text) => flowc_compiler::ProjectSettings::parse(&text)
            .map_err(|e| Failure::usage(format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Default::default()),
        Err(e) => Err(Failure::usage(format!("cannot read {}: {}", path.display(), io_reason(&e)))),
    }
}

pub struct LoadedFile {
    /// The path shown in diagnostics: the argument joined with the path below it.
    pub path: String,
    pub text: String,
}

/// Directories never searched for `.flow` files: state, VCS, build output.
const SKIPPED_DIRS: &[&str] = &[".flow", ".git", "target", "node_modules"];

/// Loads the project a path names: a directory (every `*.flow` below it) or one file.
pub fn load(path: &Path) -> Result<LoadedProject, Failure> {
    let paths = find(path)?;
    let files = paths.iter().map(|p| read(p)).collect::<Result<Vec<_>, _>>()?;
    Ok(LoadedProject { files, settings: settings(&flowc_compiler::settings_path(path, path.is_dir()))? })
}

/// The files a path names: every `*.flow` below a directory (sorted, skipping
/// `SKIPPED_DIRS`; none at all is an error), or the path itself.
pub fn find(path: &Path) -> Result<Vec<PathBuf>, Failure> {
    let meta = std::fs::metadata(path)
        .map_err(|e| Failure::usage(format!("cannot read {}: {}", path.display(), io_reason(&e))))?;
    let paths = if meta.is_dir() {
        let mut found = Vec::new();
        walk(path, &mut found)?;
        found.sort();
        if found.is_empty() {
            return Err(Failure::usage(format!(
                "{} contains no .flow files (looked in every directory below it except {})",
                path.display(),
                SKIPPED_DIRS.join(", ")
            )));
        }
        found
    } else {
        vec![path.to_path_buf()]
    };
    Ok(paths)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), Failure> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| Failure::usage(format!("cannot read directory {}: {}", dir.display(), io_reason(&e))))?;
    for entry in entries {
        let entry = entry.map_err(|e| Failure::usage(format!("cannot read directory {}: {}", dir.display(), io_reason(&e))))?;
        let path = entry.path();
        let file_type = entry
            .file_type()
            .map_err(|e| Failure::usage(format!("cannot read {}: {}", path.display(), io_reason(&e))))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if file_type.is_dir() {
            if !SKIPPED_DIRS.contains(&name.as_ref()) {
                walk(&path, out)?;
            }
        } else if path.extension().is_some_and(|e| e == "flow") {
            out.push(path);
        }
    }
    Ok(())
}

/// Reads one file, refusing anything that is not UTF-8.
pub fn read(path: &Path) -> Result<LoadedFile, Failure> {
    let bytes = std::fs::read(path).map_err(|e| Failure::usage(format!("cannot read {}: {}", path.display(), io_reason(&e))))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        Failure::usage(format!(
            "{} is not valid UTF-8 (invalid byte at offset {}); .flow files must be UTF-8 text",
            path.display(),
            e.utf8_error().valid_up_to()
        ))
    })?;
    Ok(LoadedFile { path: display_path(path), text })
}

fn display_path(path: &Path) -> String {
    let s = path.to_string_lossy();
    s.strip_prefix("./").map(str::to_string).unwrap_or_else(|| s.into_owned())
}

/// The OS error without Rust's "(os error N)" suffix.
pub fn io_reason(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}
