//! One run at a time per state directory: `--once` from cron and a manual run, or two timers,
//! would otherwise race (the loser sees the winner's fresh record and reports a duplicate).
//! An advisory `flock` on `lock` in the state directory, waited for a bounded time.

use std::fs::{File, OpenOptions};
use std::path::Path;
use std::time::Duration;

/// How long a run waits for another run on the same state directory to finish.
pub const LOCK_WAIT: Duration = Duration::from_secs(30);

/// Held while a run works; released when dropped (or when the process ends).
#[derive(Debug)]
#[cfg_attr(not(unix), allow(dead_code))]
pub struct RunLock {
    file: File,
}

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another flaredns run holds {} and did not finish within {}; is a daemon running with the same state directory?", path.display(), humantime::format_duration(*waited))]
    Busy {
        path: std::path::PathBuf,
        waited: Duration,
    },
    #[error(transparent)]
    File(#[from] crate::files::FileError),
}

impl RunLock {
    /// Takes the lock on `dir`, polling until `wait` has passed.
    pub async fn acquire(dir: &Path, wait: Duration) -> Result<RunLock, LockError> {
        crate::files::ensure_private_dir(dir)?;
        let path = dir.join("lock");
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC);
        }
        let file = options
            .open(&path)
            .map_err(|source| crate::files::FileError::Io {
                path: path.clone(),
                source,
            })?;
        let started = tokio::time::Instant::now();
        let mut told = false;
        loop {
            if try_lock(&file) {
                return Ok(RunLock { file });
            }
            if !std::mem::replace(&mut told, true) {
                // Says why nothing happens yet (a --once from the timer, or a second daemon).
                tracing::info!(
                    "another flaredns run holds {}: waiting for it, at most {}",
                    path.display(),
                    humantime::format_duration(wait)
                );
            }
            if started.elapsed() >= wait {
                return Err(LockError::Busy { path, waited: wait });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Unlocks before the file is closed: closing releases an `flock` only when the last copy of
/// the descriptor goes, and a process forked meanwhile (a hook, or another thread's child
/// before its exec closes the copy) would hold the lock on until then.
#[cfg(unix)]
impl Drop for RunLock {
    fn drop(&mut self) {
        use std::os::unix::io::AsRawFd;
        // SAFETY: flock on a file descriptor this value owns; it changes no memory.
        unsafe { libc::flock(self.file.as_raw_fd(), libc::LOCK_UN) };
    }
}

#[cfg(unix)]
fn try_lock(file: &File) -> bool {
    use std::os::unix::io::AsRawFd;
    // SAFETY: flock on a file descriptor this process owns; it changes no memory.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

#[cfg(not(unix))]
fn try_lock(_file: &File) -> bool {
    true
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    // A copy of the lock's descriptor outliving the lock (a child forked by another thread,
    // not yet at its exec) does not keep the next run out.
    #[tokio::test]
    async fn a_copy_of_the_descriptor_does_not_outlive_the_lock() {
        let dir = tempfile::tempdir().expect("dir");
        let lock = RunLock::acquire(dir.path(), Duration::ZERO)
            .await
            .expect("first");
        let copy = lock.file.try_clone().expect("a copy, as a fork makes");
        drop(lock);
        let again = RunLock::acquire(dir.path(), Duration::ZERO).await;
        assert!(again.is_ok(), "{again:?}");
        drop(copy);
    }
}
