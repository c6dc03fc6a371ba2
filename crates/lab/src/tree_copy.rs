//! A bounded copy of the tests' directory, so that each run starts from the same files and may
//! write next to them without touching the project's own.

use std::path::Path;

use crate::{Error, io};

/// Copies at most this many bytes …
pub(crate) const MAX_BYTES: u64 = 256 << 20;
/// … and this many files.
pub(crate) const MAX_FILES: usize = 20_000;

/// Copies `from` into `to` (created), skipping `.git`; symbolic links are copied as links.
/// Refuses a directory over the limits (the project file should live in a directory of its
/// own, with its tests, not in a home directory).
pub(crate) fn copy(from: &Path, to: &Path) -> Result<(), Error> {
    let mut budget = (MAX_BYTES, MAX_FILES);
    copy_dir(from, to, &mut budget, from)
}

fn copy_dir(from: &Path, to: &Path, budget: &mut (u64, usize), root: &Path) -> Result<(), Error> {
    std::fs::create_dir_all(to).map_err(io(format!("creating {}", to.display())))?;
    let entries = std::fs::read_dir(from).map_err(io(format!("reading {}", from.display())))?;
    for entry in entries {
        let entry = entry.map_err(io(format!("reading {}", from.display())))?;
        let name = entry.file_name();
        if name == ".git" {
            continue;
        }
        let source = entry.path();
        let target = to.join(&name);
        let kind = entry
            .file_type()
            .map_err(io(format!("reading {}", source.display())))?;
        if budget.1 == 0 {
            return Err(too_big(root));
        }
        budget.1 -= 1;
        if kind.is_symlink() {
            let link =
                std::fs::read_link(&source).map_err(io(format!("reading {}", source.display())))?;
            std::os::unix::fs::symlink(link, &target)
                .map_err(io(format!("creating {}", target.display())))?;
        } else if kind.is_dir() {
            copy_dir(&source, &target, budget, root)?;
        } else if kind.is_file() {
            let size = entry
                .metadata()
                .map_err(io(format!("reading {}", source.display())))?
                .len();
            if size > budget.0 {
                return Err(too_big(root));
            }
            budget.0 -= size;
            std::fs::copy(&source, &target).map_err(io(format!("copying {}", source.display())))?;
        }
    }
    Ok(())
}

fn too_big(root: &Path) -> Error {
    Error::Unsupported(format!(
        "the tests' directory {} is larger than {} MiB or {MAX_FILES} files: keep the project \
         file and its tests in a directory of their own",
        root.display(),
        MAX_BYTES >> 20
    ))
}
