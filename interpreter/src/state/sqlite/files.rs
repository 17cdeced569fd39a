//! The state directory and its files: private to their owner, never
//! silently new.
//!
//! Everything under the state directory (the database and its `-wal` and
//! `-shm` files, step logs, run locks, a CloudEvents sink file) holds
//! outputs, prompts and decisions: directories are created `0700` and files
//! `0600`, whatever the umask, and an existing database is narrowed to
//! `0600` when opened. A new database is made beside the final path and
//! linked into place only once SQLite has written its header, so a
//! zero-byte `state.db` is never flowc's own: it is refused, not taken for
//! a new database.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::state::StateError;
use crate::private::{open_private, private_dir};

/// Before SQLite opens `path`: the directory exists (private), a missing
/// database is created, and an empty one is refused.
pub(super) fn check_before_open(path: &Path) -> Result<(), StateError> {
    let shown = path.display();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        private_dir(dir).map_err(|e| StateError(format!("cannot create the state directory {}: {e}", dir.display())))?;
    }
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() && m.len() == 0 => Err(StateError(format!(
            "the state database {shown} is empty (0 bytes). flowc never leaves a database empty, so this one was \
             truncated or made by something else, and treating it as new would lose every run it held. \
             Restore a backup, or remove the file to start a new database"
        ))),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_new(path),
        Err(e) => Err(StateError(format!("cannot read the state database {shown}: {e}"))),
    }
}

/// Makes a new, valid, empty SQLite database at `path` (mode `0600`),
/// unless another process made one first.
fn create_new(path: &Path) -> Result<(), StateError> {
    let shown = path.display();
    let tmp = path.with_extension(format!("new-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let made = (|| -> Result<(), String> {
        open_private(&tmp).map_err(|e| e.to_string())?;
        let conn = rusqlite::Connection::open(&tmp).map_err(|e| e.to_string())?;
        // Writes the header: the file is a database from here on.
        conn.execute_batch(&format!("PRAGMA application_id = {};", super::schema::APPLICATION_ID)).map_err(|e| e.to_string())?;
        drop(conn);
        std::fs::File::open(&tmp).and_then(|f| f.sync_all()).map_err(|e| e.to_string())?;
        match std::fs::hard_link(&tmp, path) {
            Ok(()) => Ok(()),
            // Another process made it first: use theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    })();
    let _ = std::fs::remove_file(&tmp);
    made.map_err(|e| StateError(format!("cannot create the state database {shown}: {e}")))
}

/// Narrows the database and its WAL files to `0600` (older flowc made
/// them with the umask's mode).
pub(super) fn make_private(path: &Path) {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    for suffix in ["", "-wal", "-shm"] {
        let p = path.with_file_name(format!("{name}{suffix}"));
        if let Ok(m) = std::fs::metadata(&p)
            && m.permissions().mode() & 0o077 != 0 {
                let _ = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600));
            }
    }
}
