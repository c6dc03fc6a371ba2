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
}

/// The machines the lab knows.
///
/// * **x86_64**: `pc` (i440FX; SeaBIOS boots a bzImage through `-kernel`), the 8250 UART as
///   `ttyS0`. `-machine microvm` and `-bios qboot.rom` were measured: microvm saves nothing
///   measurable with a bzImage and its reset does not end QEMU, qboot saves ~0.1 s at most
///   (lab README).
/// * **arm64**: `virt` with a Cortex-A57, the PL011 UART as `ttyAMA0`, PSCI to power off.
/// * **powerpc64le** (and powerpc64, which has no guest busybox in Debian): `pseries` with its
///   hypervisor console `hvc0` (spapr-vty), RTAS to power off, and QEMU's small Virtual Open
///   Firmware instead of SLOF (`x-vof=on`: no firmware menu, boots in a fraction of the time).
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
    },
    Machine {
        arch: "powerpc64le",
        program: "qemu-system-ppc64",
        package: "qemu-system-ppc",
        board: "pseries,x-vof=on",
        cpu: None,
        console: "hvc0",
        power_off: PowerOff::Poweroff,
        elf: super::busybox::ElfKind::PPC64LE,
    },
    Machine {
        arch: "powerpc64",
        program: "qemu-system-ppc64",
        package: "qemu-system-ppc",
        board: "pseries,x-vof=on",
        cpu: None,
        console: "hvc0",
        power_off: PowerOff::Poweroff,
        elf: super::busybox::ElfKind::PPC64,
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
