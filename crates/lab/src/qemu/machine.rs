//! The QEMU machine per guest architecture: which emulator, which board, which console, and how
//! the guest ends the machine.

use std::ffi::OsString;
use std::path::Path;

use gauntlet_project::Arch;

use super::Error;

/// How the guest's init ends the machine once the tests are done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PowerOff {
    /// `reboot -f`, which `-no-reboot` turns into QEMU's exit (kernels without ACPI: x86
    /// tinyconfig).
    Reboot,
    /// `poweroff -f` (PSCI on arm64, RTAS on pseries).
    Poweroff,
}

impl PowerOff {
    /// The busybox command.
    pub fn command(self) -> &'static str {
        match self {
            PowerOff::Reboot => "reboot -f",
            PowerOff::Poweroff => "poweroff -f",
        }
    }
}

/// The accelerator a boot uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Accel {
    /// QEMU's own translator: works everywhere, slower.
    Tcg,
    /// The host's hypervisor (`/dev/kvm`), when a probe showed that guests really run there.
    Kvm,
}

impl Accel {
    pub fn as_str(self) -> &'static str {
        match self {
            Accel::Tcg => "tcg",
            Accel::Kvm => "kvm",
        }
    }
}

/// One guest architecture's machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Machine {
    /// gauntlet's architecture name (`x86_64`, `arm64`, `powerpc64le`…).
    pub arch: &'static str,
    /// The system emulator and Debian's package for it.
    pub program: &'static str,
    pub package: &'static str,
    /// `-machine`.
    pub board: &'static str,
    /// `-cpu` under TCG (`None`: the board's default).
    pub cpu: Option<&'static str>,
    /// The kernel's console on that board (`console=` on the command line).
    pub console: &'static str,
    pub power_off: PowerOff,
    /// The ELF `e_machine` and byte order of the guest's user space (busybox is checked
    /// against them).
    pub elf: super::busybox::ElfKind,
    /// The board's NVRAM is given a formatted image ([`pseries_nvram`]).
    pub nvram: bool,
}

/// pseries with QEMU's Virtual Open Firmware instead of SLOF, and the speculation-mitigation
/// capabilities TCG cannot provide turned off (else QEMU warns about each on every boot).
const PSERIES: &str =
    "pseries,x-vof=on,cap-cfpc=broken,cap-sbbc=broken,cap-ibs=broken,cap-ccf-assist=off";

/// The machines the lab knows.
///
/// * **x86_64**: `pc` (i440FX; SeaBIOS boots a bzImage through `-kernel`), the 8250 UART as
///   `ttyS0`. Measured on the tinyconfig kernel, QEMU start to the done marker (medians of 12,
///   TCG): `pc` 1.50 s; `-bios qboot.rom` 1.40–1.47 s (within the noise, and a less common
///   firmware); `-machine microvm` 1.54 s, and its reset does not end QEMU; `q35` 1.60 s;
///   `-cpu max` 1.68 s. What does help is an uncompressed initramfs (1.31 s), which the lab uses.
/// * **arm64**: `virt` with a Cortex-A57, the PL011 UART as `ttyAMA0`, PSCI to power off.
/// * **powerpc64le** and **powerpc64** (big-endian; its busybox is built by `.ci/guest-busybox`): `pseries` with its
///   hypervisor console `hvc0` (spapr-vty), RTAS to power off, and QEMU's small Virtual Open
///   Firmware instead of SLOF (`x-vof=on`: measured 0.8–0.9 s to the done marker against
///   5.4–6.6 s with SLOF). VOF leaves the NVRAM blank, which the kernel reports as
///   `WARNING: nvram corruption detected` (a kernel warning to the console reader): the board
///   gets a formatted NVRAM image instead ([`pseries_nvram`]).
pub const MACHINES: &[Machine] = &[
    Machine {
        arch: "x86_64",
        program: "qemu-system-x86_64",
        package: "qemu-system-x86",
        board: "pc",
        cpu: None,
        console: "ttyS0",
        power_off: PowerOff::Reboot,
        elf: super::busybox::ElfKind::X86_64,
        nvram: false,
    },
    Machine {
        arch: "arm64",
        program: "qemu-system-aarch64",
        package: "qemu-system-arm",
        board: "virt",
        cpu: Some("cortex-a57"),
        console: "ttyAMA0",
        power_off: PowerOff::Poweroff,
        elf: super::busybox::ElfKind::AARCH64,
        nvram: false,
    },
    Machine {
        arch: "powerpc64le",
        program: "qemu-system-ppc64",
        package: "qemu-system-ppc",
        board: PSERIES,
        cpu: None,
        console: "hvc0",
        power_off: PowerOff::Poweroff,
        elf: super::busybox::ElfKind::PPC64LE,
        nvram: true,
    },
    Machine {
        arch: "powerpc64",
        program: "qemu-system-ppc64",
        package: "qemu-system-ppc",
        board: PSERIES,
        cpu: None,
        console: "hvc0",
        power_off: PowerOff::Poweroff,
        elf: super::busybox::ElfKind::PPC64,
        nvram: true,
    },
];

/// The machine for `arch`, or why there is none.
pub fn machine_for(arch: &Arch) -> Result<&'static Machine, Error> {
    MACHINES
        .iter()
        .find(|m| m.arch == arch.name)
        .ok_or_else(|| Error::NoMachine {
            arch: arch.name.to_owned(),
            known: MACHINES
                .iter()
                .map(|m| m.arch)
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// What a boot needs to build QEMU's command line.
#[derive(Debug, Clone)]
pub struct CommandLine<'a> {
    pub machine: &'a Machine,
    pub accel: Accel,
    pub kernel: &'a Path,
    pub initramfs: &'a Path,
    pub memory_mb: u32,
    pub cpus: u32,
    /// Appended to the kernel's command line after gauntlet's own words.
    pub cmdline_extra: &'a [String],
    /// The NVRAM image, for boards that take one.
    pub nvram: Option<&'a Path>,
}

impl CommandLine<'_> {
    /// The kernel's command line: the console, no reboot after a panic (QEMU then exits,
    /// `-no-reboot`), an oops is a panic (the machine stops at the first one, with its report),
    /// then the caller's words.
    pub fn kernel_cmdline(&self) -> String {
        let mut words = vec![
            format!("console={}", self.machine.console),
            "panic=-1".to_owned(),
            "oops=panic".to_owned(),
        ];
        words.extend(self.cmdline_extra.iter().cloned());
        words.join(" ")
    }

    /// QEMU's arguments: no display, no network, no default devices (the serial console is
    /// the only one, on stdio), no monitor, no reboot.
    pub fn args(&self) -> Vec<OsString> {
        let m = self.machine;
        let mut args: Vec<OsString> = Vec::new();
        let mut push = |s: &str| args.push(OsString::from(s));
        push("-machine");
        push(m.board);
        match self.accel {
            Accel::Tcg => {
                push("-accel");
                push("tcg");
                if let Some(cpu) = m.cpu {
                    push("-cpu");
                    push(cpu);
                }
            }
            Accel::Kvm => {
                push("-accel");
                push("kvm");
                push("-cpu");
                push("host");
            }
        }
        for word in [
            "-nodefaults",
            "-no-user-config",
            "-display",
            "none",
            "-monitor",
            "none",
            "-serial",
            "stdio",
            "-nic",
            "none",
            "-no-reboot",
        ] {
            push(word);
        }
        if let Some(nvram) = self.nvram.filter(|_| m.nvram) {
            let mut drive = OsString::from("if=none,id=nvram,format=raw,file=");
            drive.push(nvram.as_os_str());
            args.push("-drive".into());
            args.push(drive);
            args.push("-global".into());
            args.push("spapr-nvram.drive=nvram".into());
        }
        let mut push = |s: &str| args.push(OsString::from(s));
        push("-m");
        push(&self.memory_mb.to_string());
        push("-smp");
        push(&self.cpus.max(1).to_string());
        args.push("-kernel".into());
        args.push(self.kernel.as_os_str().to_owned());
        args.push("-initrd".into());
        args.push(self.initramfs.as_os_str().to_owned());
        args.push("-append".into());
        args.push(self.kernel_cmdline().into());
        args
    }
}

/// A 64 KiB pseries NVRAM holding one free partition over all of it (signature 0x7f, name
/// `wwwwwwwwwwww`, as firmware formats it): the kernel finds a valid partition table and makes
/// its own partitions in the free space.
pub fn pseries_nvram() -> Vec<u8> {
    const SIZE: usize = 64 << 10;
    let blocks = (SIZE / 16) as u16;
    let mut header = [0u8; 16];
    header[0] = 0x7f;
    header[2..4].copy_from_slice(&blocks.to_be_bytes());
    header[4..].copy_from_slice(b"wwwwwwwwwwww");
    header[1] = nvram_checksum(&header);
    let mut image = vec![0u8; SIZE];
    image[..16].copy_from_slice(&header);
    image
}

/// The kernel's `nvram_checksum` (arch/powerpc/kernel/nvram_64.c): signature + length + the
/// name as six 16-bit words, folded. The name is symmetric, so byte order does not matter.
fn nvram_checksum(header: &[u8; 16]) -> u8 {
    let mut sum = u32::from(header[0]) + u32::from(u16::from_be_bytes([header[2], header[3]]));
    for word in header[4..].chunks_exact(2) {
        sum += u32::from(u16::from_le_bytes([word[0], word[1]]));
    }
    let sum = ((sum & 0xffff) + (sum >> 16)) & 0xffff;
    let swapped = (sum >> 8) + (sum << 8);
    (((sum + swapped) >> 8) & 0xff) as u8
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_seed_arches_have_machines() {
        for name in ["x86_64", "arm64", "powerpc64le", "powerpc64"] {
            let arch = gauntlet_project::arch::lookup(name).unwrap();
            assert_eq!(machine_for(arch).unwrap().arch, name);
        }
        let riscv = gauntlet_project::arch::lookup("riscv64").unwrap();
        let err = machine_for(riscv).unwrap_err().to_string();
        assert!(err.contains("riscv64") && err.contains("x86_64"), "{err}");
    }

    #[test]
    fn the_nvram_checksum_is_the_kernels() {
        // What the kernel computed for this header when it was wrong (0x38 written).
        let image = pseries_nvram();
        assert_eq!(image.len(), 65536);
        assert_eq!(&image[..4], &[0x7f, 0x29, 0x10, 0x00]);
    }

    #[test]
    fn command_lines() {
        let arch = gauntlet_project::arch::lookup("arm64").unwrap();
        let machine = machine_for(arch).unwrap();
        let extra = vec!["quiet_not".to_owned()];
        let line = CommandLine {
            machine,
            accel: Accel::Tcg,
            kernel: Path::new("/k/Image"),
            initramfs: Path::new("/k/i.gz"),
            memory_mb: 256,
            cpus: 1,
            cmdline_extra: &extra,
            nvram: None,
        };
        let args: Vec<String> = line
            .args()
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let joined = args.join(" ");
        for want in [
            "-machine virt -accel tcg -cpu cortex-a57",
            "-nic none",
            "-no-reboot",
            "-serial stdio",
            "-kernel /k/Image -initrd /k/i.gz",
        ] {
            assert!(joined.contains(want), "{want} not in {joined}");
        }
        assert_eq!(
            args.last().map(String::as_str),
            Some("console=ttyAMA0 panic=-1 oops=panic quiet_not")
        );
        let kvm = CommandLine {
            accel: Accel::Kvm,
            ..line
        };
        let joined = kvm
            .args()
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ");
        assert!(joined.contains("-accel kvm -cpu host"), "{joined}");
    }
}
