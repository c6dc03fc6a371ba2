//! The kernel configuration: when it must be made again, and whether the fragments took effect.

use std::path::{Path, PathBuf};
use std::process::Command;

use gauntlet_project::{Arch, BaseConfig};
use gauntlet_verdict::Severity;
use sha2::{Digest, Sha256};

use crate::{Diagnostic, Error, io};

/// What the configuration of a build depends on: the architecture, the base configuration, the
/// fragments' contents, and every Kconfig file and defconfig of the tree (by their git object
/// ids, so computing it reads the index, not 1,700 files).
pub(crate) fn key(
    source: &Path,
    arch: &Arch,
    base: Option<&BaseConfig>,
    fragments: &[PathBuf],
) -> Result<String, Error> {
    let mut hash = Sha256::new();
    hash.update(b"gauntlet kconfig key 1\n");
    hash.update(arch.name.as_bytes());
    hash.update(b"\n");
    match base {
        None => hash.update(format!("defconfig {}\n", arch.defconfig)),
        Some(BaseConfig::Target(target)) => hash.update(format!("target {target}\n")),
        Some(BaseConfig::File(file)) => {
            hash.update(b"file\n");
            hash.update(std::fs::read(file).map_err(io(format!("reading {}", file.display())))?);
        }
    }
    for fragment in fragments {
        hash.update(b"fragment\n");
        hash.update(
            std::fs::read(fragment).map_err(io(format!("reading {}", fragment.display())))?,
        );
    }
    let output = Command::new("git")
        .arg("-C")
        .arg(source)
        .args([
            "ls-files",
            "-s",
            "--",
            ":(glob)**/Kconfig*",
            ":(glob)arch/*/configs/**",
            ":(glob)kernel/configs/**",
            "scripts/kconfig",
        ])
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .map_err(io("running git ls-files"))?;
    if !output.status.success() {
        return Err(Error::Git {
            dir: source.display().to_string(),
            message: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    // Files a patch changed but that are not committed would not be in the index: the working
    // copy is always a commit (git am), so the index is the tree.
    hash.update(&output.stdout);
    Ok(hash.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// `ARCH` and `CROSS_COMPILE` for scripts that call make themselves (merge_config.sh).
pub(crate) fn env(arch: &Arch, cross: Option<&str>) -> Vec<(String, String)> {
    let mut env = vec![("ARCH".to_owned(), arch.kernel_arch.to_owned())];
    if let Some(cross) = cross {
        env.push(("CROSS_COMPILE".to_owned(), cross.to_owned()));
    }
    env
}

/// A fragment's request: `CONFIG_X=value`, or `# CONFIG_X is not set` (value `n`).
fn requests(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            if let Some(rest) = line.strip_prefix("# ")
                && let Some(name) = rest.strip_suffix(" is not set")
                && name.starts_with("CONFIG_")
            {
                return Some((name.to_owned(), "n".to_owned()));
            }
            let (name, value) = line.split_once('=')?;
            name.starts_with("CONFIG_")
                .then(|| (name.trim().to_owned(), value.trim().to_owned()))
        })
        .collect()
}

/// Warnings for every fragment option that is not what the final `.config` says (an option
/// whose dependencies are missing is silently dropped by `olddefconfig`).
pub(crate) fn check_fragments(config: &Path, fragments: &[PathBuf]) -> Vec<Diagnostic> {
    let Ok(final_config) = std::fs::read_to_string(config) else {
        return Vec::new();
    };
    let actual: std::collections::HashMap<String, String> =
        requests(&final_config).into_iter().collect();
    let mut out = Vec::new();
    for fragment in fragments {
        let Ok(text) = std::fs::read_to_string(fragment) else {
            continue;
        };
        for (line_no, line) in text.lines().enumerate() {
            for (name, wanted) in requests(line) {
                let got = actual.get(&name).map(String::as_str).unwrap_or("n");
                if got != wanted {
                    out.push(Diagnostic {
                        severity: Severity::Warning,
                        file: Some(fragment.display().to_string()),
                        line: u32::try_from(line_no + 1).ok(),
                        column: None,
                        message: format!(
                            "{name}={wanted} is requested but the final .config has {} (its \
                             dependencies are not met)",
                            if got == "n" {
                                "it unset".to_owned()
                            } else {
                                format!("{name}={got}")
                            }
                        ),
                        flag: None,
                        context: Vec::new(),
                        log_line: 0,
                    });
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_that_did_not_take_effect_are_warnings() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let config = dir.path().join(".config");
        std::fs::write(
            &config,
            "CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=m\nCONFIG_S=\"x\"\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let fragment = dir.path().join("frag");
        std::fs::write(
            &fragment,
            "CONFIG_A=y\nCONFIG_B=y\nCONFIG_C=y\n# CONFIG_D is not set\nCONFIG_S=\"x\"\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let warnings: Vec<String> = check_fragments(&config, &[fragment])
            .iter()
            .map(|d| format!("{}: {}", d.line.unwrap_or(0), d.message))
            .collect();
        assert_eq!(
            warnings,
            [
                "2: CONFIG_B=y is requested but the final .config has it unset (its dependencies are not met)",
                "3: CONFIG_C=y is requested but the final .config has CONFIG_C=m (its dependencies are not met)",
            ]
        );
    }
}
