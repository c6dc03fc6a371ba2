//! Finding a static busybox for the guest's architecture, and checking that it is one.

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::Error;
use super::machine::Machine;

/// The ELF identity of a guest's binaries: class, byte order, `e_machine`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ElfKind {
    pub bits64: bool,
    pub little_endian: bool,
    pub machine: u16,
    /// How `file` would name it.
    pub name: &'static str,
}

impl ElfKind {
    pub const X86_64: ElfKind = ElfKind {
        bits64: true,
        little_endian: true,
        machine: 62,
        name: "x86-64",
    };
    pub const AARCH64: ElfKind = ElfKind {
        bits64: true,
        little_endian: true,
        machine: 183,
        name: "ARM aarch64",
    };
    pub const PPC64LE: ElfKind = ElfKind {
        bits64: true,
        little_endian: true,
        machine: 21,
        name: "64-bit PowerPC, little-endian",
    };
    pub const PPC64: ElfKind = ElfKind {
        bits64: true,
        little_endian: false,
        machine: 21,
        name: "64-bit PowerPC, big-endian",
    };

    const KNOWN: [ElfKind; 4] = [
        ElfKind::X86_64,
        ElfKind::AARCH64,
        ElfKind::PPC64LE,
        ElfKind::PPC64,
    ];

    /// A readable name for what a header says (for error messages).
    fn describe(bits64: bool, little_endian: bool, machine: u16) -> String {
        ElfKind::KNOWN
            .iter()
            .find(|k| {
                k.bits64 == bits64 && k.little_endian == little_endian && k.machine == machine
            })
            .map(|k| k.name.to_owned())
            .unwrap_or_else(|| {
                format!(
                    "{}-bit {}-endian ELF for machine {machine}",
                    if bits64 { 64 } else { 32 },
                    if little_endian { "little" } else { "big" }
                )
            })
    }
}

/// What the first bytes of a file say it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileKind {
    Elf {
        bits64: bool,
        little_endian: bool,
        machine: u16,
    },
    NotElf,
}

impl FileKind {
    /// Reads the ELF header of `path` (20 bytes).
    pub fn of(path: &Path) -> std::io::Result<FileKind> {
        let mut head = [0u8; 20];
        let mut file = std::fs::File::open(path)?;
        let mut filled = 0;
        while filled < head.len() {
            match file.read(&mut head[filled..])? {
                0 => break,
                n => filled += n,
            }
        }
        Ok(FileKind::from_header(&head[..filled]))
    }

    pub fn from_header(head: &[u8]) -> FileKind {
        if head.len() < 20 || &head[..4] != b"\x7fELF" {
            return FileKind::NotElf;
        }
        let little_endian = head[5] == 1;
        let machine = if little_endian {
            u16::from_le_bytes([head[18], head[19]])
        } else {
            u16::from_be_bytes([head[18], head[19]])
        };
        FileKind::Elf {
            bits64: head[4] == 2,
            little_endian,
            machine,
        }
    }

    pub fn is(&self, want: ElfKind) -> bool {
        matches!(self, FileKind::Elf { bits64, little_endian, machine }
            if *bits64 == want.bits64 && *little_endian == want.little_endian && *machine == want.machine)
    }

    pub fn describe(&self) -> String {
        match self {
            FileKind::Elf {
                bits64,
                little_endian,
                machine,
            } => ElfKind::describe(*bits64, *little_endian, *machine),
            FileKind::NotElf => "not an ELF file".to_owned(),
        }
    }
}

/// Where the lab looks for a guest busybox, in this order: an explicit path, then
/// `<env_dir>/<arch>/busybox` (`$GAUNTLET_BUSYBOX_DIR`), then `<cache_dir>/<arch>/busybox`
/// (`${GAUNTLET_CACHE:-$HOME/.cache/gauntlet}/busybox`, where `.ci/guest-busybox` puts them),
/// then the host's `/bin/busybox` when the guest is the host's architecture.
#[derive(Debug, Clone, Default)]
pub struct BusyboxSearch {
    /// Used for every architecture when set (and must then be right).
    pub explicit: Option<PathBuf>,
    pub env_dir: Option<PathBuf>,
    pub cache_dir: Option<PathBuf>,
    /// The host's busybox (`/bin/busybox`); `None` to never use it.
    pub host: Option<PathBuf>,
}

impl BusyboxSearch {
    /// The search from the environment, read through `lookup` (the binary passes
    /// `std::env::var_os`: only it reads the environment).
    pub fn from_env(lookup: impl Fn(&str) -> Option<OsString>) -> BusyboxSearch {
        let nonempty = |key: &str| lookup(key).filter(|v| !v.is_empty()).map(PathBuf::from);
        let cache = nonempty("GAUNTLET_CACHE")
            .or_else(|| nonempty("HOME").map(|home| home.join(".cache/gauntlet")));
        BusyboxSearch {
            explicit: nonempty("GAUNTLET_BUSYBOX"),
            env_dir: nonempty("GAUNTLET_BUSYBOX_DIR"),
            cache_dir: cache.map(|c| c.join("busybox")),
            host: Some(PathBuf::from("/bin/busybox")),
        }
    }

    /// The busybox for `machine`, checked to be an ELF for its architecture.
    pub fn find(&self, machine: &Machine) -> Result<PathBuf, Error> {
        let arch = machine.arch;
        if let Some(path) = &self.explicit {
            return check(path, machine)
                .map(|()| path.clone())
                .map_err(|why| Error::Busybox {
                    arch: arch.to_owned(),
                    message: format!("the busybox given ({}) {why}", path.display()),
                });
        }
        let mut candidates: Vec<PathBuf> = Vec::new();
        for dir in [&self.env_dir, &self.cache_dir].into_iter().flatten() {
            candidates.push(dir.join(arch).join("busybox"));
        }
        let host_arch = super::host_arch_name();
        if let Some(host) = &self.host
            && host_arch == Some(arch)
        {
            candidates.push(host.clone());
        }
        let mut refused = Vec::new();
        for path in &candidates {
            match check(path, machine) {
                Ok(()) => return Ok(path.clone()),
                Err(why) if path.exists() => refused.push(format!("{} {why}", path.display())),
                Err(_) => {}
            }
        }
        let looked: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
        let mut message = format!(
            "no static busybox for {arch} (looked at {})",
            if looked.is_empty() {
                "nothing: no GAUNTLET_BUSYBOX_DIR and no cache directory".to_owned()
            } else {
                looked.join(", ")
            }
        );
        if !refused.is_empty() {
            message.push_str(&format!("; refused: {}", refused.join("; ")));
        }
        message.push_str(": ");
        message.push_str(&install_hint(arch, host_arch == Some(arch)));
        Err(Error::Busybox {
            arch: arch.to_owned(),
            message,
        })
    }
}

/// What to install or run to get a busybox for `arch`.
fn install_hint(arch: &str, is_host: bool) -> String {
    match arch {
        "powerpc64" => "Debian has no big-endian ppc64 port, hence no busybox-static package for \
                        powerpc64: run .ci/guest-busybox (it builds Debian's busybox source \
                        with the ppc64 cross compiler), or put a static big-endian busybox at \
                        $GAUNTLET_BUSYBOX_DIR/powerpc64/busybox"
            .to_owned(),
        _ if is_host => "install Debian's busybox-static (apt-get install busybox-static), or run \
                         .ci/guest-busybox"
            .to_owned(),
        _ => format!(
            "run .ci/guest-busybox (it fetches Debian's busybox-static for {arch} into the \
             cache), or put one at $GAUNTLET_BUSYBOX_DIR/{arch}/busybox"
        ),
    }
}

fn check(path: &Path, machine: &Machine) -> Result<(), String> {
    let kind = FileKind::of(path).map_err(|e| format!("cannot be read: {e}"))?;
    if kind.is(machine.elf) {
        Ok(())
    } else {
        Err(format!(
            "is {}, not {} ({})",
            kind.describe(),
            machine.elf.name,
            machine.arch
        ))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::qemu::machine::MACHINES;

    fn header(little: bool, machine: u16) -> Vec<u8> {
        let mut h = b"\x7fELF".to_vec();
        h.extend_from_slice(&[2, if little { 1 } else { 2 }, 1, 0]);
        h.extend_from_slice(&[0; 10]);
        if little {
            h.extend_from_slice(&machine.to_le_bytes());
        } else {
            h.extend_from_slice(&machine.to_be_bytes());
        }
        h
    }

    #[test]
    fn elf_headers() {
        assert!(FileKind::from_header(&header(true, 62)).is(ElfKind::X86_64));
        assert!(FileKind::from_header(&header(false, 21)).is(ElfKind::PPC64));
        assert!(!FileKind::from_header(&header(true, 21)).is(ElfKind::PPC64));
        assert_eq!(FileKind::from_header(b"#!/bin/sh\n"), FileKind::NotElf);
        assert_eq!(
            FileKind::from_header(&header(true, 183)).describe(),
            "ARM aarch64"
        );
    }

    #[test]
    fn the_search_order_and_the_hints() {
        let dir = tempfile::tempdir().unwrap();
        let arm = MACHINES.iter().find(|m| m.arch == "arm64").unwrap();
        let ppc = MACHINES.iter().find(|m| m.arch == "powerpc64").unwrap();
        let env = dir.path().join("env");
        let cache = dir.path().join("cache");
        std::fs::create_dir_all(env.join("arm64")).unwrap();
        std::fs::create_dir_all(cache.join("arm64")).unwrap();
        // A wrong binary in the first place, the right one in the second.
        std::fs::write(env.join("arm64/busybox"), header(true, 62)).unwrap();
        std::fs::write(cache.join("arm64/busybox"), header(true, 183)).unwrap();
        let search = BusyboxSearch {
            explicit: None,
            env_dir: Some(env.clone()),
            cache_dir: Some(cache.clone()),
            host: None,
        };
        assert_eq!(search.find(arm).unwrap(), cache.join("arm64/busybox"));
        std::fs::remove_file(cache.join("arm64/busybox")).unwrap();
        let err = search.find(arm).unwrap_err().to_string();
        assert!(err.contains("is x86-64, not ARM aarch64"), "{err}");
        assert!(err.contains(".ci/guest-busybox"), "{err}");
        let err = search.find(ppc).unwrap_err().to_string();
        assert!(err.contains("no big-endian ppc64 port"), "{err}");
        let explicit = BusyboxSearch {
            explicit: Some(env.join("arm64/busybox")),
            ..BusyboxSearch::default()
        };
        assert!(explicit.find(arm).is_err());
    }

    #[test]
    fn the_environment_is_read_through_the_callers_lookup() {
        let search = BusyboxSearch::from_env(|key| match key {
            "HOME" => Some("/home/u".into()),
            "GAUNTLET_BUSYBOX_DIR" => Some("/bb".into()),
            _ => None,
        });
        assert_eq!(search.env_dir, Some(PathBuf::from("/bb")));
        assert_eq!(
            search.cache_dir,
            Some(PathBuf::from("/home/u/.cache/gauntlet/busybox"))
        );
        assert_eq!(search.explicit, None);
    }
}
