//! The disk: finding a workspace's `.flow` files and reading them. All file
//! IO of the server happens here (the compiler does none).

use std::path::{Path, PathBuf};

/// Directories never searched, as `flowc check` skips them.
const SKIPPED_DIRS: &[&str] = &[".flow", ".git", "target", "node_modules"];

/// Every `*.flow` file below `root`, sorted. Unreadable directories are
/// skipped: an editor should still serve the files it can read.
pub fn find_flow_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    walk(root, &mut out, 0);
    out.sort();
    out
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>, depth: usize) {
    // Symlink loops cannot recurse forever; real projects are far shallower.
    if depth > 64 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(file_type) = entry.file_type() else { continue };
        let name = entry.file_name();
        if file_type.is_dir() {
            if !SKIPPED_DIRS.contains(&name.to_string_lossy().as_ref()) {
                walk(&path, out, depth + 1);
            }
        } else if is_flow_file(&path) {
            out.push(path);
        }
    }
}

/// Whether a path names a `.flow` file (by its extension).
pub fn is_flow_file(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "flow")
}

/// Whether a path lies in a directory the project never reads.
pub fn in_skipped_dir(root: &Path, path: &Path) -> bool {
    path.strip_prefix(root).is_ok_and(|rel| {
        rel.parent().is_some_and(|dir| dir.components().any(|c| SKIPPED_DIRS.contains(&c.as_os_str().to_string_lossy().as_ref())))
    })
}

/// A file's text, or `None` when it is gone, unreadable or not UTF-8 (such a
/// file is left out of the project, as if it did not exist).
pub fn read_text(path: &Path) -> Option<String> {
    let bytes = std::fs::read(path).ok()?;
    String::from_utf8(bytes).ok()
}

/// Whether a path names a project settings file (`flowc.toml`).
pub fn is_settings_file(path: &Path) -> bool {
    path.file_name().is_some_and(|n| n == flowc_compiler::SETTINGS_FILE)
}

/// A `flowc.toml`'s text: `Ok(None)` when there is none (the defaults
/// apply), `Err` when it is there but cannot be read as text.
pub fn read_settings(path: &Path) -> Result<Option<String>, String> {
    match std::fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes).map(Some).map_err(|_| "flowc.toml is not valid UTF-8".to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read flowc.toml: {e}")),
    }
}
