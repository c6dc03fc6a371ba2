//! The LAVA helper scripts gauntlet ships (`sh/` in this crate): `lava-test-case`,
//! `lava-test-set` and `lava-test-raise`, in POSIX sh for dash and busybox, printing exactly
//! LAVA's signals. A definition run by the local test stage, or in our own initramfs, finds
//! them on its `PATH`; what they print is read back by [`crate::LavaCollector`].

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::Error;

/// The helpers: (file name, script).
pub const HELPERS: &[(&str, &str)] = &[
    ("lava-test-case", include_str!("../sh/lava-test-case")),
    ("lava-test-set", include_str!("../sh/lava-test-set")),
    ("lava-test-raise", include_str!("../sh/lava-test-raise")),
];

/// Writes the helpers into `dir` (which must exist), executable (mode 0755); returns their
/// paths.
pub fn write_helpers(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    HELPERS
        .iter()
        .map(|(name, script)| {
            let path = dir.join(name);
            let fail = |source| Error::Write {
                path: path.clone(),
                source,
            };
            fs::write(&path, script).map_err(fail)?;
            set_executable(&path).map_err(fail)?;
            Ok(path)
        })
        .collect()
}

#[cfg(unix)]
fn set_executable(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755))
}

#[cfg(not(unix))]
fn set_executable(_path: &Path) -> std::io::Result<()> {
    Ok(())
}
