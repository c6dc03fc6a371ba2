//! Exclusive locks on lock files (`flock(2)`, through `std::fs::File::lock`).
//!
//! A `flock` belongs to the open file, not to the process's good manners: it is released when
//! the last descriptor of that open file is closed, which the kernel does when the process dies,
//! however it dies (a crash, Ctrl-C, SIGKILL). So a lock is never leaked. Git commands started
//! for a lease get a duplicate of the lock's descriptor as their standard input
//! ([`crate::git::Git::stdin_file`]), so that a git left running by a killed parent keeps the
//! lock until it exits too. `flock(1)` takes the same locks, which is how tests and scripts can
//! hold a slot.

use std::fs::{File, OpenOptions, TryLockError};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A held lock: dropping it closes the file, which releases the lock (unless a child still
/// holds a duplicate of it).
#[derive(Debug)]
pub(crate) struct Lock {
    file: File,
    path: PathBuf,
}

impl Lock {
    /// Tries once to take the lock at `path` (creating the file). `None`: someone holds it.
    pub(crate) fn try_take(path: &Path) -> Result<Option<Lock>> {
        loop {
            let file = open(path)?;
            match file.try_lock() {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => return Ok(None),
                Err(TryLockError::Error(e)) => return Err(Error::io(path, e)),
            }
            if still_there(&file, path)? {
                return Ok(Some(Lock {
                    file,
                    path: path.to_path_buf(),
                }));
            }
        }
    }

    /// Takes the lock at `path`, waiting as long as it takes (on a blocking thread).
    pub(crate) async fn take(path: &Path) -> Result<Lock> {
        let path = path.to_path_buf();
        let task = tokio::task::spawn_blocking(move || -> Result<Lock> {
            loop {
                let file = open(&path)?;
                file.lock().map_err(|e| Error::io(&path, e))?;
                if still_there(&file, &path)? {
                    return Ok(Lock { file, path });
                }
            }
        });
        match task.await {
            Ok(lock) => lock,
            Err(e) => Err(Error::Io {
                path: PathBuf::new(),
                source: std::io::Error::other(e.to_string()),
            }),
        }
    }

    /// A duplicate of the locked descriptor, for a child's standard input.
    pub(crate) fn share(&self) -> Result<File> {
        self.file.try_clone().map_err(|e| Error::io(&self.path, e))
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

fn open(path: &Path) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| Error::io(path, e))
}

/// Whether the file we locked is still the one at `path`: someone may have removed or replaced
/// the lock file between our open and our lock (a prune), and a lock on an unlinked file
/// protects nothing.
fn still_there(file: &File, path: &Path) -> Result<bool> {
    let ours = file.metadata().map_err(|e| Error::io(path, e))?;
    match std::fs::metadata(path) {
        Ok(now) => Ok(now.ino() == ours.ino() && now.dev() == ours.dev()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io(path, e)),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_excludes_another_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.lock");
        let first = Lock::try_take(&path).unwrap().unwrap();
        assert!(Lock::try_take(&path).unwrap().is_none());
        let shared = first.share().unwrap();
        drop(first);
        // The duplicate still holds it.
        assert!(Lock::try_take(&path).unwrap().is_none());
        drop(shared);
        assert!(Lock::try_take(&path).unwrap().is_some());
    }
}
