//! Files and directories private to their owner, whatever the umask: directories `0700`, files `0600`; the state directory's files, step logs, run locks and a CloudEvents sink file are made this way.

use std::fs::{DirBuilder, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

/// Creates `dir` (and missing parents) with mode `0700`.
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

/// Opens `path` for appending, creating it with mode `0600`.
pub fn append_private(path: &Path) -> std::io::Result<std::fs::File> {
    OpenOptions::new().create(true).append(true).mode(0o600).open(path)
}

/// Opens `path` for reading and writing, creating it with mode `0600`.
pub fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    OpenOptions::new().create(true).read(true).write(true).truncate(false).mode(0o600).open(path)
}
