//! What flaredns remembers between runs, in the state directory (`$STATE_DIRECTORY`): the
//! zone list (`zones` owns its format) and the time before which Cloudflare asked not to be
//! called, so `--once` from cron does not ask early. Every file goes through `files` (regular
//! files only, size-capped, atomic writes, no symlinks, no directory others can write to). A
//! file that is missing, corrupt or from another version is ignored with one warning and the
//! API is asked instead; remembered state is a cache, never a reason to write.

mod lock;
pub mod remembered;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::de::DeserializeOwned;
use serde::Serialize;

pub use crate::clock::{unix_now, unix_seconds};
use crate::clock::{wall_after, MAX_SERVER_WAIT};
use crate::files::{self, FileError, Links};
pub use lock::{LockError, RunLock, LOCK_WAIT};

const RATE_LIMIT_FILE: &str = "rate-limited-until";

/// The state directory of one process. Problems writing it are warned about once.
#[derive(Debug)]
pub struct StateDir {
    path: PathBuf,
    warned: AtomicBool,
    /// False for a reader (doctor): every write is skipped, so looking changes nothing.
    writable: bool,
}

impl StateDir {
    /// A state directory at `path` (created on first write).
    pub fn new(path: &Path) -> StateDir {
        StateDir {
            path: path.to_path_buf(),
            warned: AtomicBool::new(false),
            writable: true,
        }
    }

    /// The state directory at `path` for a reader: it reads what is remembered and writes
    /// nothing (doctor changes nothing, on disk either).
    pub fn read_only(path: &Path) -> StateDir {
        StateDir {
            writable: false,
            ..StateDir::new(path)
        }
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// True when the directory may be trusted: it exists, or not yet, and others cannot write
    /// to it. State in a directory others can write is never read (it could say anything).
    fn trusted(&self) -> bool {
        match files::check_private_dir(&self.path) {
            Ok(()) => true,
            Err(error) => {
                self.warn_once(&error);
                false
            }
        }
    }

    /// Reads `name` as JSON. Missing: `None`. Unreadable or corrupt, or in a directory others
    /// can write: `None` and a warning.
    pub fn read_json<T: DeserializeOwned>(&self, name: &str) -> Option<T> {
        if !self.trusted() {
            return None;
        }
        let text =
            match files::read_text(&self.path.join(name), files::MAX_STATE_BYTES, Links::Refuse) {
                Ok(text) => text,
                Err(error) if error.is_not_found() => return None,
                Err(error) => {
                    tracing::warn!("ignoring the state file: {error}");
                    return None;
                }
            };
        match serde_json::from_str(&text) {
            Ok(value) => Some(value),
            Err(error) => {
                tracing::warn!(
                    "ignoring the state file {}: it is not what this version writes ({error}); flaredns asks the API instead",
                    self.path.join(name).display()
                );
                None
            }
        }
    }

    /// Writes `value` as JSON to `name`, atomically. A failure costs only the memory.
    pub fn write_json<T: Serialize>(&self, name: &str, value: &T) {
        if !self.writable {
            return;
        }
        let result = serde_json::to_vec_pretty(value)
            .map_err(|error| FileError::Io {
                path: self.path.join(name),
                source: std::io::Error::other(error),
            })
            .and_then(|bytes| files::write_atomic(&self.path, name, &bytes));
        if let Err(error) = result {
            self.warn_once(&error);
        }
    }

    /// Removes `name` if present.
    pub fn remove(&self, name: &str) {
        if !self.writable {
            return;
        }
        if let Err(error) = files::remove(&self.path, name) {
            self.warn_once(&error);
        }
    }

    fn warn_once(&self, error: &FileError) {
        if !self.warned.swap(true, Ordering::Relaxed) {
            tracing::warn!("cannot keep state in {}: {error}; flaredns works without it but asks the API more often", self.path.display());
        } else {
            tracing::debug!("cannot write state: {error}");
        }
    }

    /// The remembered Retry-After, if it is still in the future; never further out than
    /// `MAX_SERVER_WAIT` from now, whatever the file says (a clock that was wrong when it was
    /// written must not silence the tool).
    pub fn read_rate_limit(&self) -> Option<SystemTime> {
        if !self.trusted() {
            return None;
        }
        let path = self.path.join(RATE_LIMIT_FILE);
        let text = match files::read_text(&path, 64, Links::Refuse) {
            Ok(text) => text,
            Err(error) if error.is_not_found() => return None,
            Err(error) => {
                tracing::warn!("ignoring the remembered Retry-After: {error}");
                return None;
            }
        };
        let Ok(seconds) = text.trim().parse::<u64>() else {
            tracing::warn!(
                "ignoring the remembered Retry-After in {}: it is not a number of seconds",
                path.display()
            );
            return None;
        };
        let until = UNIX_EPOCH.checked_add(Duration::from_secs(seconds))?;
        let now = crate::clock::wall_now();
        let wait = until.duration_since(now).ok()?;
        Some(wall_after(now, wait.min(MAX_SERVER_WAIT)))
    }

    /// Remembers a Retry-After, or forgets it with `None`.
    pub fn write_rate_limit(&self, until: Option<SystemTime>) {
        if !self.writable {
            return;
        }
        match until {
            Some(until) => {
                let seconds = until
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_secs().saturating_add(1))
                    .unwrap_or(0);
                let result = files::write_atomic(
                    &self.path,
                    RATE_LIMIT_FILE,
                    format!("{seconds}\n").as_bytes(),
                );
                if let Err(error) = result {
                    self.warn_once(&error);
                }
            }
            None => self.remove(RATE_LIMIT_FILE),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remembered_wait_is_capped_and_garbage_is_ignored() {
        let dir = tempfile::tempdir().expect("dir");
        let state = StateDir::new(dir.path());
        for text in ["99999999999999999999999", "253402300799", "-1", "soon", ""] {
            std::fs::write(dir.path().join(RATE_LIMIT_FILE), text).expect("write");
            if let Some(until) = state.read_rate_limit() {
                let wait = until
                    .duration_since(SystemTime::now())
                    .unwrap_or(Duration::ZERO);
                assert!(wait <= MAX_SERVER_WAIT, "{text}: {wait:?}");
            }
        }
        state.write_rate_limit(Some(SystemTime::now() + Duration::from_secs(30)));
        let until = state.read_rate_limit().expect("remembered");
        assert!(until > SystemTime::now());
        state.write_rate_limit(None);
        assert_eq!(state.read_rate_limit(), None);
    }
}
