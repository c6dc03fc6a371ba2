//! An outbox maildir: where mails go when gauntlet does not send them (a dry run, or a mail
//! transport that picks them up).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::Error;

/// A maildir (`tmp/`, `new/`, `cur/`).
#[derive(Debug, Clone)]
pub struct Outbox {
    root: PathBuf,
}

static SEQUENCE: AtomicU64 = AtomicU64::new(0);

impl Outbox {
    /// Opens the maildir at `root`, creating it when needed.
    pub fn open(root: &Path) -> Result<Outbox, Error> {
        for sub in ["tmp", "new", "cur"] {
            std::fs::create_dir_all(root.join(sub)).map_err(|source| Error::Outbox {
                path: root.display().to_string(),
                source,
            })?;
        }
        Ok(Outbox {
            root: root.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.root
    }

    /// Delivers `mail`: written and synced under `tmp/`, then renamed into `new/` (the maildir
    /// protocol: a reader never sees half a mail). Returns the delivered file.
    pub fn deliver(&self, mail: &[u8]) -> Result<PathBuf, Error> {
        let error = |source| Error::Outbox {
            path: self.root.display().to_string(),
            source,
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let name = format!(
            "{}.M{}P{}Q{}.gauntlet",
            now.as_secs(),
            now.subsec_micros(),
            std::process::id(),
            SEQUENCE.fetch_add(1, Ordering::Relaxed)
        );
        let tmp = self.root.join("tmp").join(&name);
        let mut file = std::fs::File::create(&tmp).map_err(error)?;
        file.write_all(mail).map_err(error)?;
        file.sync_all().map_err(error)?;
        drop(file);
        let new = self.root.join("new").join(&name);
        std::fs::rename(&tmp, &new).map_err(error)?;
        Ok(new)
    }

    /// The mails delivered and not yet picked up, oldest first.
    pub fn pending(&self) -> Result<Vec<PathBuf>, Error> {
        let mut mails: Vec<PathBuf> = std::fs::read_dir(self.root.join("new"))
            .map_err(|source| Error::Outbox {
                path: self.root.display().to_string(),
                source,
            })?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .collect();
        mails.sort();
        Ok(mails)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivers_whole_mails_in_order() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let outbox = Outbox::open(&dir.path().join("outbox")).unwrap_or_else(|e| panic!("{e}"));
        let first = outbox
            .deliver(b"Subject: one\r\n\r\n1\r\n")
            .unwrap_or_else(|e| panic!("{e}"));
        let second = outbox
            .deliver(b"Subject: two\r\n\r\n2\r\n")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            outbox.pending().unwrap_or_default(),
            vec![first.clone(), second]
        );
        assert_eq!(
            std::fs::read(&first).unwrap_or_default(),
            b"Subject: one\r\n\r\n1\r\n"
        );
        assert_eq!(
            std::fs::read_dir(dir.path().join("outbox/tmp"))
                .map(|d| d.count())
                .unwrap_or(1),
            0
        );
    }
}
