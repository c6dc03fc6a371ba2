//! The architectures a kbuild project can build for, and the facts about each that the build
//! and the lab need: the kernel's `ARCH`, Debian's cross toolchain, the defconfig, the image and
//! the QEMU that boots it.

/// One architecture as the kernel and Debian name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arch {
    /// The name used in project files (`x86_64`, `arm64`, `powerpc64`, …).
    pub name: &'static str,
    /// Other names accepted for it (`amd64`, `aarch64`, `ppc64le`, …).
    pub aliases: &'static [&'static str],
    /// The kernel's `ARCH=`.
    pub kernel_arch: &'static str,
    /// Debian's GNU triplet for this architecture; `CROSS_COMPILE` is `<triplet>-` unless the
    /// host is this architecture.
    pub triplet: &'static str,
    /// Debian's package with the cross compiler.
    pub cross_gcc_package: &'static str,
    /// Rust's `std::env::consts::ARCH` of a host that builds natively.
    pub host_arch: &'static str,
    /// `make <defconfig>`.
    pub defconfig: &'static str,
    /// The image target (`make <target>`) and where it lands in the build directory.
    pub image_target: &'static str,
    pub image_path: &'static str,
    /// The QEMU system emulator and Debian's package for it.
    pub qemu: &'static str,
    pub qemu_package: &'static str,
}

impl Arch {
    /// `CROSS_COMPILE` for a build on a host of architecture `host` (`std::env::consts::ARCH`).
    pub fn cross_compile(&self, host: &str) -> Option<String> {
        (host != self.host_arch).then(|| format!("{}-", self.triplet))
    }
}

pub const ARCHES: &[Arch] = &[
    Arch {
        name: "x86_64",
        aliases: &["amd64", "x86-64"],
        kernel_arch: "x86_64",
        triplet: "x86_64-linux-gnu",
        cross_gcc_package: "gcc-x86-64-linux-gnu",
        host_arch: "x86_64",
        defconfig: "x86_64_defconfig",
        image_target: "bzImage",
        image_path: "arch/x86/boot/bzImage",
        qemu: "qemu-system-x86_64",
        qemu_package: "qemu-system-x86",
    },
    Arch {
        name: "i386",
        aliases: &["i686", "x86"],
        kernel_arch: "i386",
        triplet: "i686-linux-gnu",
        cross_gcc_package: "gcc-i686-linux-gnu",
        host_arch: "x86",
        defconfig: "i386_defconfig",
        image_target: "bzImage",
        image_path: "arch/x86/boot/bzImage",
        qemu: "qemu-system-i386",
        qemu_package: "qemu-system-x86",
    },
    Arch {
        name: "arm64",
        aliases: &["aarch64"],
        kernel_arch: "arm64",
        triplet: "aarch64-linux-gnu",
        cross_gcc_package: "gcc-aarch64-linux-gnu",
        host_arch: "aarch64",
        defconfig: "defconfig",
        image_target: "Image",
        image_path: "arch/arm64/boot/Image",
        qemu: "qemu-system-aarch64",
        qemu_package: "qemu-system-arm",
    },
    Arch {
        name: "arm",
        aliases: &["armhf", "armv7"],
        kernel_arch: "arm",
        triplet: "arm-linux-gnueabihf",
        cross_gcc_package: "gcc-arm-linux-gnueabihf",
        host_arch: "arm",
        defconfig: "multi_v7_defconfig",
        image_target: "zImage",
        image_path: "arch/arm/boot/zImage",
        qemu: "qemu-system-arm",
        qemu_package: "qemu-system-arm",
    },
    Arch {
        name: "powerpc64",
        aliases: &["ppc64"],
        kernel_arch: "powerpc",
        triplet: "powerpc64-linux-gnu",
        cross_gcc_package: "gcc-powerpc64-linux-gnu",
        host_arch: "powerpc64",
        defconfig: "ppc64_defconfig",
        image_target: "vmlinux",
        image_path: "vmlinux",
        qemu: "qemu-system-ppc64",
        qemu_package: "qemu-system-ppc",
    },
    Arch {
        name: "powerpc64le",
        aliases: &["ppc64le", "ppc64el"],
        kernel_arch: "powerpc",
        triplet: "powerpc64le-linux-gnu",
        cross_gcc_package: "gcc-powerpc64le-linux-gnu",
        host_arch: "powerpc64le",
        defconfig: "ppc64le_defconfig",
        image_target: "vmlinux",
        image_path: "vmlinux",
        qemu: "qemu-system-ppc64",
        qemu_package: "qemu-system-ppc",
    },
    Arch {
        name: "riscv64",
        aliases: &["riscv"],
        kernel_arch: "riscv",
        triplet: "riscv64-linux-gnu",
        cross_gcc_package: "gcc-riscv64-linux-gnu",
        host_arch: "riscv64",
        defconfig: "defconfig",
        image_target: "Image",
        image_path: "arch/riscv/boot/Image",
        qemu: "qemu-system-riscv64",
        qemu_package: "qemu-system-misc",
    },
    Arch {
        name: "s390x",
        aliases: &["s390"],
        kernel_arch: "s390",
        triplet: "s390x-linux-gnu",
        cross_gcc_package: "gcc-s390x-linux-gnu",
        host_arch: "s390x",
        defconfig: "defconfig",
        image_target: "bzImage",
        image_path: "arch/s390/boot/bzImage",
        qemu: "qemu-system-s390x",
        qemu_package: "qemu-system-misc",
    },
];

/// The architecture called `name` (or one of its aliases), case-insensitively.
pub fn lookup(name: &str) -> Option<&'static Arch> {
    ARCHES.iter().find(|arch| {
        arch.name.eq_ignore_ascii_case(name)
            || arch.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
    })
}

/// The names accepted in project files, for error messages.
pub fn names() -> String {
    ARCHES
        .iter()
        .map(|arch| arch.name)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_aliases() {
        assert_eq!(lookup("x86_64").map(|a| a.kernel_arch), Some("x86_64"));
        assert_eq!(lookup("AMD64").map(|a| a.name), Some("x86_64"));
        assert_eq!(lookup("aarch64").map(|a| a.name), Some("arm64"));
        assert_eq!(lookup("powerpc64").map(|a| a.kernel_arch), Some("powerpc"));
        assert_eq!(lookup("vax"), None);
        assert!(names().contains("powerpc64le"));
    }

    #[test]
    fn cross_compile_only_off_the_host() {
        let arm64 = lookup("arm64").map(|a| a.cross_compile("x86_64"));
        assert_eq!(arm64, Some(Some("aarch64-linux-gnu-".into())));
        let x86 = lookup("x86_64").map(|a| a.cross_compile("x86_64"));
        assert_eq!(x86, Some(None));
    }
}
