//! Embeds gauntlet's own program tree (`lkp/`) in the library: a sorted list of
//! `(path, contents, executable)` that `ProgramTree::builtin()` reads and `builtin_tree_write`
//! writes out, so that an installed binary needs no source tree.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn walk(dir: &Path, root: &Path, out: &mut Vec<(String, PathBuf, bool)>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let meta = std::fs::symlink_metadata(&path)?;
        if meta.is_dir() {
            walk(&path, root, out)?;
        } else if meta.is_file() {
            let rel = path
                .strip_prefix(root)
                .map_err(std::io::Error::other)?
                .to_string_lossy()
                .replace('\\', "/");
            #[cfg(unix)]
            let exec = {
                use std::os::unix::fs::PermissionsExt;
                meta.permissions().mode() & 0o111 != 0
            };
            #[cfg(not(unix))]
            let exec = rel.starts_with("bin/") || !rel.contains('.');
            out.push((rel, path, exec));
        }
    }
    Ok(())
}

fn main() -> std::io::Result<()> {
    let manifest =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").map_err(std::io::Error::other)?);
    let root = manifest.join("lkp");
    println!("cargo:rerun-if-changed=lkp");
    let mut files = Vec::new();
    walk(&root, &root, &mut files)?;
    for (_, path, _) in &files {
        println!("cargo:rerun-if-changed={}", path.display());
    }
    files.sort();
    let mut code = String::from("pub(crate) static BUILTIN_FILES: &[(&str, &str, bool)] = &[\n");
    for (rel, path, exec) in &files {
        writeln!(
            code,
            "    ({rel:?}, include_str!({:?}), {exec}),",
            path.display()
        )
        .map_err(std::io::Error::other)?;
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").map_err(std::io::Error::other)?);
    std::fs::write(out.join("builtin_files.rs"), code)
}
