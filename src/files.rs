//! The one reader and the one writer for every file flaredns touches, so that the rules hold
//! everywhere at once: a file is read only if it is a regular file (a FIFO would hang, and
//! `/dev/zero` would fill memory), and never past a size cap; a state file is written to a new
//! temporary file in the same directory (`O_EXCL | O_NOFOLLOW`, so a planted symlink cannot
//! redirect the write) and renamed over the old one, so a reader sees the old or the new file,
//! never half of one; and nothing is written into a directory that others may write to.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// A config file larger than this is refused: a real one is a few kilobytes.
pub const MAX_CONFIG_BYTES: u64 = 1024 * 1024;
/// A token file larger than this is refused: a token is 40 characters.
pub const MAX_TOKEN_BYTES: u64 = 4096;
/// A state file larger than this is ignored (and rewritten on the next successful cycle).
pub const MAX_STATE_BYTES: u64 = 8 * 1024 * 1024;

/// Why a file could not be read or written. `Display` names the path and the cause.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{} is not a regular file (a FIFO, a device or a directory); flaredns reads only regular files", path.display())]
    NotRegular { path: PathBuf },
    #[error("{} is larger than {limit} bytes; flaredns refuses to read it", path.display())]
    TooLarge { path: PathBuf, limit: u64 },
    #[error("{} is a symbolic link; flaredns does not read or write state through links", path.display())]
    Symlink { path: PathBuf },
    #[error("{} is writable by other users (mode {mode:o}); flaredns neither reads nor writes its files there: run `chmod o-w {}` or choose another directory", path.display(), path.display())]
    WorldWritable { path: PathBuf, mode: u32 },
}

impl FileError {
    /// True when the file simply does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, FileError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound)
    }
}

/// Whether a read may follow a symbolic link at the last component.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Links {
    /// Config and token files: admins link them on purpose.
    Follow,
    /// State files: flaredns wrote them itself, so a link there was planted.
    Refuse,
}

/// Reads a regular file of at most `limit` bytes as UTF-8 text.
pub fn read_text(path: &Path, limit: u64, links: Links) -> Result<String, FileError> {
    let bytes = read_bytes(path, limit, links)?;
    String::from_utf8(bytes).map_err(|_| FileError::Io {
        path: path.to_path_buf(),
        source: io::Error::new(io::ErrorKind::InvalidData, "the file is not UTF-8 text"),
    })
}

/// Reads a regular file of at most `limit` bytes.
pub fn read_bytes(path: &Path, limit: u64, links: Links) -> Result<Vec<u8>, FileError> {
    let io_error = |source| FileError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // O_NONBLOCK: opening a FIFO with no writer would otherwise block forever.
        let mut flags = libc::O_NONBLOCK | libc::O_CLOEXEC;
        if links == Links::Refuse {
            flags |= libc::O_NOFOLLOW;
        }
        options.custom_flags(flags);
    }
    let file = options.open(path).map_err(|source| {
        if links == Links::Refuse && source.raw_os_error() == Some(libc::ELOOP) {
            FileError::Symlink {
                path: path.to_path_buf(),
            }
        } else {
            io_error(source)
        }
    })?;
    let metadata = file.metadata().map_err(io_error)?;
    if !metadata.is_file() {
        return Err(FileError::NotRegular {
            path: path.to_path_buf(),
        });
    }
    if metadata.len() > limit {
        return Err(FileError::TooLarge {
            path: path.to_path_buf(),
            limit,
        });
    }
    let mut bytes = Vec::new();
    // The length can change between the check and the read: take at most one byte too many.
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(io_error)?;
    if bytes.len() as u64 > limit {
        return Err(FileError::TooLarge {
            path: path.to_path_buf(),
            limit,
        });
    }
    Ok(bytes)
}

/// Writes `contents` to `dir/name` atomically: a new temporary file beside it (created with
/// `O_EXCL | O_NOFOLLOW`, mode 0600), then a rename. Creates `dir` (mode 0700) when missing and
/// refuses a directory that other users may write to.
pub fn write_atomic(dir: &Path, name: &str, contents: &[u8]) -> Result<(), FileError> {
    ensure_private_dir(dir)?;
    write_in(dir, name, contents, 0o600)
}

/// The temporary-file-and-rename write, with the new file's mode.
fn write_in(dir: &Path, name: &str, contents: &[u8], mode: u32) -> Result<(), FileError> {
    let target = dir.join(name);
    let io_error = |path: &Path, source| FileError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut attempts = 0;
    let (temporary, mut file) = loop {
        attempts += 1;
        let temporary = dir.join(format!(".{name}.{:016x}.tmp", fastrand::u64(..)));
        match create_new(&temporary, mode) {
            Ok(file) => break (temporary, file),
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists && attempts < 8 => continue,
            Err(error) => return Err(io_error(&temporary, error)),
        }
    };
    // No fsync: these are caches and status, read back with a tolerant reader; a daemon at a
    // 1 s interval must not wear out a firewall's flash with syncs. The mode is set again on
    // the open file: `create_new`'s mode is cut by the umask (the units' UMask=0077 made the
    // metrics textfile 0600, unreadable by node_exporter).
    let written = file
        .set_permissions(std::fs::Permissions::from_mode(mode))
        .and_then(|()| file.write_all(contents))
        .and_then(|()| std::fs::rename(&temporary, &target));
    if let Err(error) = written {
        let _ = std::fs::remove_file(&temporary);
        return Err(io_error(&target, error));
    }
    Ok(())
}

/// Writes a file others must read (the metrics textfile for node_exporter): atomically, like
/// `write_atomic`, with mode 0644, into a directory that must already exist and that others
/// may not write to.
pub fn write_public(path: &Path, contents: &[u8]) -> Result<(), FileError> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(FileError::Io {
            path: path.to_path_buf(),
            source: io::Error::new(io::ErrorKind::InvalidInput, "not a file path"),
        });
    };
    let metadata = std::fs::metadata(dir).map_err(|source| FileError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    check_not_world_writable(dir, &metadata)?;
    let name = name.to_string_lossy();
    write_in(dir, &name, contents, 0o644)
}

/// Removes `dir/name` if it exists (a symlink there is removed, never followed).
pub fn remove(dir: &Path, name: &str) -> Result<(), FileError> {
    let path = dir.join(name);
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(FileError::Io { path, source }),
    }
}

/// Checks, without creating anything, that `dir` is missing or not writable by others.
pub fn check_private_dir(dir: &Path) -> Result<(), FileError> {
    match std::fs::metadata(dir) {
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(FileError::Io {
            path: dir.to_path_buf(),
            source,
        }),
        Ok(metadata) => check_not_world_writable(dir, &metadata),
    }
}

/// Creates `dir` (0700) if missing; refuses it when it is a link or writable by others.
pub fn ensure_private_dir(dir: &Path) -> Result<(), FileError> {
    let io_error = |source| FileError::Io {
        path: dir.to_path_buf(),
        source,
    };
    match std::fs::symlink_metadata(dir) {
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            let mut builder = std::fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            builder.create(dir).map_err(io_error)
        }
        Err(error) => Err(io_error(error)),
        Ok(metadata) => {
            // systemd's StateDirectory= can be a link under DynamicUser=; a link made by
            // someone else is caught by the ownership of what it points to.
            let metadata = if metadata.file_type().is_symlink() {
                std::fs::metadata(dir).map_err(io_error)?
            } else {
                metadata
            };
            check_not_world_writable(dir, &metadata)
        }
    }
}

#[cfg(unix)]
fn check_not_world_writable(dir: &Path, metadata: &std::fs::Metadata) -> Result<(), FileError> {
    let mode = metadata.permissions().mode() & 0o7777;
    if mode & 0o002 != 0 {
        return Err(FileError::WorldWritable {
            path: dir.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_not_world_writable(_dir: &Path, _metadata: &std::fs::Metadata) -> Result<(), FileError> {
    Ok(())
}

fn create_new(path: &Path, mode: u32) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options
            .mode(mode)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC);
    }
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fifo_and_a_device_are_refused_at_once() {
        let dir = tempfile::tempdir().expect("dir");
        let fifo = dir.path().join("fifo");
        let c_path = std::ffi::CString::new(fifo.to_string_lossy().as_bytes()).expect("path");
        // SAFETY: mkfifo reads a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        assert!(matches!(
            read_text(&fifo, 100, Links::Follow),
            Err(FileError::NotRegular { .. })
        ));
        assert!(matches!(
            read_text(Path::new("/dev/zero"), 100, Links::Follow),
            Err(FileError::NotRegular { .. })
        ));
    }

    #[test]
    fn a_large_file_is_refused() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("big");
        std::fs::write(&path, vec![b'a'; 101]).expect("write");
        assert!(matches!(
            read_text(&path, 100, Links::Follow),
            Err(FileError::TooLarge { .. })
        ));
        assert_eq!(
            read_text(&path, 101, Links::Follow).expect("fits").len(),
            101
        );
    }

    #[test]
    fn writes_replace_a_planted_symlink_instead_of_following_it() {
        let dir = tempfile::tempdir().expect("dir");
        let state = dir.path().join("state");
        std::fs::create_dir(&state).expect("mkdir");
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").expect("write");
        std::os::unix::fs::symlink(&victim, state.join("zones.json")).expect("link");
        assert!(matches!(
            read_text(&state.join("zones.json"), 100, Links::Refuse),
            Err(FileError::Symlink { .. })
        ));
        write_atomic(&state, "zones.json", b"new").expect("write");
        assert_eq!(std::fs::read_to_string(&victim).expect("read"), "precious");
        assert_eq!(
            read_text(&state.join("zones.json"), 100, Links::Refuse).expect("read"),
            "new"
        );
        let leftovers: Vec<_> = std::fs::read_dir(&state)
            .expect("list")
            .filter_map(Result::ok)
            .filter(|entry| entry.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn a_world_writable_directory_is_refused() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o1777))
            .expect("chmod");
        assert!(matches!(
            write_atomic(dir.path(), "x", b"y"),
            Err(FileError::WorldWritable { .. })
        ));
    }
}
