//! The argument vectors and shell snippets that make a sandbox: pure functions of what the
//! caller asked and what this machine has.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// bubblewrap options that depend on its version, found by the probe.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct BwrapFlags {
    /// `--disable-userns` (bubblewrap ≥ 0.8): no user namespace can be made inside.
    pub(crate) disable_userns: bool,
}

/// A host path made visible in the sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Bind {
    pub(crate) source: PathBuf,
    pub(crate) dest: PathBuf,
    pub(crate) writable: bool,
}

impl Bind {
    pub(crate) fn same(path: impl Into<PathBuf>, writable: bool) -> Bind {
        let path = path.into();
        Bind {
            source: path.clone(),
            dest: path,
            writable,
        }
    }
}

/// The host's system directories, read-only in the sandbox (symlinks such as Debian's merged
/// `/bin -> usr/bin` are recreated as symlinks).
pub(crate) const SYSTEM_DIRS: [&str; 7] = [
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
];

/// What of `/etc` the sandbox sees, read-only: what the C library, compilers (through
/// `alternatives`) and OpenSSL (kernel module signing) read. Nothing secret: not `shadow`,
/// `ssh/`, `ssl/private/`, gauntlet's own configuration. The list is short because every entry
/// is a mount, and mounts are most of bubblewrap's start-up time; callers add what a project
/// needs with [`Command::read_only`](crate::Command::read_only).
pub(crate) const ETC_ENTRIES: [&str; 9] = [
    "alternatives",
    "group",
    "hosts",
    "ld.so.cache",
    "localtime",
    "nsswitch.conf",
    "os-release",
    "passwd",
    "ssl/openssl.cnf",
];

/// The sandbox's host name.
pub const HOSTNAME: &str = "gauntlet";

/// The sandbox's `PATH`, unless the caller sets one.
pub const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// The host directories visible in the sandbox besides the binds (the host's `/tmp` is not:
/// the sandbox has its own).
pub(crate) fn visible_roots() -> Vec<PathBuf> {
    SYSTEM_DIRS.iter().map(PathBuf::from).collect()
}

/// bubblewrap's options up to `--`, for a command working in `cwd`, with a private `/tmp` of
/// `tmp_size` bytes (a tmpfs, gone with the sandbox).
pub(crate) fn bwrap_args(
    flags: BwrapFlags,
    binds: &[Bind],
    tmp_size: u64,
    cwd: &Path,
) -> Vec<OsString> {
    let mut args: Vec<OsString> = Vec::new();
    let mut push = |items: &[&OsStr]| args.extend(items.iter().map(|s| s.to_os_string()));
    if flags.disable_userns {
        push(&["--unshare-user".as_ref(), "--disable-userns".as_ref()]);
    } else {
        push(&["--unshare-user-try".as_ref()]);
    }
    for flag in [
        "--unshare-net",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--new-session",
        "--die-with-parent",
    ] {
        push(&[flag.as_ref()]);
    }
    push(&["--hostname".as_ref(), HOSTNAME.as_ref()]);
    push(&["--cap-drop".as_ref(), "ALL".as_ref()]);
    for dir in SYSTEM_DIRS {
        let path = Path::new(dir);
        match fs::symlink_metadata(path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                if let Ok(target) = fs::read_link(path) {
                    push(&["--symlink".as_ref(), target.as_os_str(), path.as_os_str()]);
                }
            }
            Ok(meta) if meta.is_dir() => {
                push(&["--ro-bind".as_ref(), path.as_os_str(), path.as_os_str()]);
            }
            _ => {}
        }
    }
    for entry in ETC_ENTRIES {
        let path = Path::new("/etc").join(entry);
        push(&["--ro-bind-try".as_ref(), path.as_os_str(), path.as_os_str()]);
    }
    push(&[
        "--symlink".as_ref(),
        "../proc/self/mounts".as_ref(),
        "/etc/mtab".as_ref(),
    ]);
    push(&[
        "--proc".as_ref(),
        "/proc".as_ref(),
        "--dev".as_ref(),
        "/dev".as_ref(),
    ]);
    let size = OsString::from(tmp_size.to_string());
    push(&[
        "--size".as_ref(),
        &size,
        "--tmpfs".as_ref(),
        "/tmp".as_ref(),
    ]);
    for bind in binds {
        let flag = if bind.writable { "--bind" } else { "--ro-bind" };
        push(&[
            flag.as_ref(),
            bind.source.as_os_str(),
            bind.dest.as_os_str(),
        ]);
    }
    push(&["--remount-ro".as_ref(), "/".as_ref()]);
    push(&["--chdir".as_ref(), cwd.as_os_str()]);
    push(&["--".as_ref()]);
    args
}

/// A word quoted for `sh`.
pub(crate) fn quote(word: &OsStr) -> String {
    let text = String::from_utf8_lossy(word.as_bytes());
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// A resource limit the wrapper sets with `ulimit` (dash's letters: `-c` core size, `-d` data
/// size in KiB, `-p` processes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ulimit {
    pub(crate) letter: char,
    pub(crate) value: u64,
}

/// The script of the sandbox's first process: join the run's cgroup, set the resource limits,
/// then (when `announce`) print the start marker (`$0`), and execute the rest of its arguments.
/// Any failure before `exec` ends it without the marker.
pub(crate) fn wrapper_script(
    cgroup_procs: &[PathBuf],
    ulimits: &[Ulimit],
    announce: bool,
) -> String {
    let mut script = String::from("set -e; ");
    for file in cgroup_procs {
        script.push_str(&format!("echo $$ > {}; ", quote(file.as_os_str())));
    }
    for limit in ulimits {
        script.push_str(&format!("ulimit -{} {}; ", limit.letter, limit.value));
    }
    if announce {
        script.push_str(ANNOUNCE);
    }
    script.push_str(r#"exec "$@""#);
    script
}

/// Prints the start marker, passed as `$0`.
const ANNOUNCE: &str = r#"printf '%s\n' "$0"; "#;

/// The script run inside bubblewrap, just before the command.
pub(crate) fn announce_script() -> String {
    format!(r#"{ANNOUNCE}exec "$@""#)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn strings(args: &[OsString]) -> Vec<String> {
        args.iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn quoting() {
        assert_eq!(quote(OsStr::new("plain")), "'plain'");
        assert_eq!(quote(OsStr::new("it's")), r"'it'\''s'");
    }

    #[test]
    fn wrapper_joins_limits_then_executes() {
        let script = wrapper_script(
            &[PathBuf::from("/sys/fs/cgroup/x/cgroup.procs")],
            &[
                Ulimit {
                    letter: 'c',
                    value: 0,
                },
                Ulimit {
                    letter: 'd',
                    value: 1024,
                },
            ],
            true,
        );
        assert_eq!(
            script,
            r#"set -e; echo $$ > '/sys/fs/cgroup/x/cgroup.procs'; ulimit -c 0; ulimit -d 1024; printf '%s\n' "$0"; exec "$@""#
        );
        assert_eq!(wrapper_script(&[], &[], false), r#"set -e; exec "$@""#);
    }

    #[test]
    fn bwrap_arguments_confine() {
        let binds = [
            Bind::same("/work/tree", true),
            Bind::same("/opt/tools", false),
        ];
        let args = strings(&bwrap_args(
            BwrapFlags {
                disable_userns: true,
            },
            &binds,
            1000,
            Path::new("/work/tree"),
        ));
        let joined = args.join(" ");
        for expected in [
            "--unshare-user --disable-userns",
            "--unshare-net",
            "--unshare-pid",
            "--die-with-parent",
            "--new-session",
            "--cap-drop ALL",
            "--hostname gauntlet",
            "--proc /proc --dev /dev",
            "--size 1000 --tmpfs /tmp",
            "--bind /work/tree /work/tree",
            "--ro-bind /opt/tools /opt/tools",
            "--ro-bind-try /etc/passwd /etc/passwd",
            "--remount-ro / --chdir /work/tree --",
        ] {
            assert!(joined.contains(expected), "{expected} not in {joined}");
        }
        assert!(!joined.contains("shadow"));
        // Caller binds come after the private /tmp, so that they may lie inside it.
        let tmp = args.iter().position(|a| a == "--tmpfs").unwrap();
        let bind = args.iter().position(|a| a == "--bind").unwrap();
        assert!(tmp < bind);
        assert_eq!(args.last().map(String::as_str), Some("--"));
    }
}
