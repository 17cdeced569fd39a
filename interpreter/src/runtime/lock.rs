//! The lock that makes one process a run's only executor, and the wait for that process to act on a request.
//!
//! Whoever executes a run holds an exclusive `flock` on `RUNS_DIR/RUN/.lock`
//! (the kernel drops it when that process dies, even by `kill -9`; the file
//! is opened close-on-exec so step processes never inherit it).

use std::path::Path;
use std::time::{Duration, Instant};

use super::Error;

/// How long a command waits for the executing process to act on a request.
const ACK_TIMEOUT: Duration = Duration::from_secs(60);

/// Held while a process executes (or changes) a run.
pub struct RunLock {
    _file: std::fs::File,
}

/// Takes the run's lock if nobody holds it.
pub fn try_lock(runs_dir: &Path, run: &str) -> Result<Option<RunLock>, Error> {
    let dir = runs_dir.join(run);
    crate::private::private_dir(&dir).map_err(|e| Error::Io(format!("cannot create {}: {e}", dir.display())))?;
    let path = dir.join(".lock");
    // std opens files with O_CLOEXEC.
    let file = crate::private::open_private(&path)
        .map_err(|e| Error::Io(format!("cannot open {}: {e}", path.display())))?;
    use std::os::fd::AsRawFd;
    // A lock this process just released can still look held for a moment:
    // a process another thread is starting holds a copy of every descriptor
    // between its fork and its exec (close-on-exec closes them only then),
    // and a `flock` belongs to the open file, not to the descriptor. So a
    // refusal is asked again a few times over 20 ms before it is believed
    // (`flowc test` resumes runs on four threads that start processes).
    for attempt in 0..10 {
        // SAFETY: flock on a descriptor we own; no memory is involved.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc == 0 {
            return Ok(Some(RunLock { _file: file }));
        }
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EWOULDBLOCK) {
            return Err(Error::Io(format!("cannot lock {}: {err}", path.display())));
        }
        if attempt < 9 {
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }
    Ok(None)
}


/// Polls `done` until it holds, for at most a minute; `what` names what the
/// executing process was asked to do, for the error.
pub(crate) fn wait_for(mut done: impl FnMut() -> Result<bool, Error>, what: &str) -> Result<(), Error> {
    let start = Instant::now();
    while start.elapsed() < ACK_TIMEOUT {
        if done()? {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(30));
    }
    Err(Error::Run(format!("the process executing the run did not {what} within {}s", ACK_TIMEOUT.as_secs())))
}
