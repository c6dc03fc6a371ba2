//! Test kernels: Debian's linux-source-6.1 (`$GAUNTLET_LINUX_TREE`, made by `.ci/linux-tree`),
//! `tinyconfig` plus a small boot fragment per architecture, built once into
//! `$GAUNTLET_TEST_CACHE/qemu-kernels/` (default `~/.cache/gauntlet-test`) and reused by every
//! test run and by `bench/lab.sh`. A build takes minutes on two cores (ccache helps when
//! installed); it is locked, so concurrent tests wait for one build.
//!
//! Shared by `tests/qemu.rs` and `examples/boot_bench.rs` (`#[path]`).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// One test kernel.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KernelSpec {
    /// gauntlet's architecture name.
    pub(crate) arch: &'static str,
    /// `ARCH=`.
    pub(crate) kernel_arch: &'static str,
    /// `CROSS_COMPILE=` (when the host is not this architecture).
    pub(crate) triplet: &'static str,
    pub(crate) host_arch: &'static str,
    pub(crate) target: &'static str,
    pub(crate) image: &'static str,
    pub(crate) fragment: &'static str,
}

/// lava-qemu.md §6.4's fragment (serial console, initrd, devtmpfs, KUnit with its own tests
/// and the example suite), plus `BUG` (so that WARN and BUG print), magic SysRq (a test panics
/// the kernel with `echo c > /proc/sysrq-trigger`) and LKDTM under debugfs (a test provokes a
/// WARNING; it sits in the runtime testing menu, which tinyconfig turns off).
pub(crate) const X86_64: KernelSpec = KernelSpec {
    arch: "x86_64",
    kernel_arch: "x86_64",
    triplet: "x86_64-linux-gnu",
    host_arch: "x86_64",
    target: "bzImage",
    image: "arch/x86/boot/bzImage",
    fragment: "CONFIG_64BIT=y
CONFIG_PRINTK=y
CONFIG_EARLY_PRINTK=y
CONFIG_TTY=y
CONFIG_SERIAL_8250=y
CONFIG_SERIAL_8250_CONSOLE=y
CONFIG_BLK_DEV_INITRD=y
CONFIG_RD_GZIP=y
CONFIG_BINFMT_ELF=y
CONFIG_BINFMT_SCRIPT=y
CONFIG_PROC_FS=y
CONFIG_SYSFS=y
CONFIG_DEVTMPFS=y
CONFIG_DEVTMPFS_MOUNT=y
CONFIG_KUNIT=y
CONFIG_KUNIT_TEST=y
CONFIG_KUNIT_EXAMPLE_TEST=y
CONFIG_BUG=y
CONFIG_MAGIC_SYSRQ=y
CONFIG_DEBUG_FS=y
CONFIG_RUNTIME_TESTING_MENU=y
CONFIG_LKDTM=y
",
};

/// arm64 `virt`: the PL011 UART and its console, initrd, devtmpfs, proc/sysfs, ELF, KUnit's
/// example suite. (PSCI, the GIC and the architected timer come with ARM64 itself.)
pub(crate) const ARM64: KernelSpec = KernelSpec {
    arch: "arm64",
    kernel_arch: "arm64",
    triplet: "aarch64-linux-gnu",
    host_arch: "aarch64",
    target: "Image",
    image: "arch/arm64/boot/Image",
    fragment: "CONFIG_PRINTK=y
CONFIG_TTY=y
CONFIG_SERIAL_AMBA_PL011=y
CONFIG_SERIAL_AMBA_PL011_CONSOLE=y
CONFIG_BLK_DEV_INITRD=y
CONFIG_RD_GZIP=y
CONFIG_BINFMT_ELF=y
CONFIG_BINFMT_SCRIPT=y
CONFIG_PROC_FS=y
CONFIG_SYSFS=y
CONFIG_DEVTMPFS=y
CONFIG_DEVTMPFS_MOUNT=y
CONFIG_KUNIT=y
CONFIG_KUNIT_EXAMPLE_TEST=y
",
};

/// A `pseries` fragment of either endianness.
macro_rules! pseries_fragment {
    ($endian:literal) => {
        concat!(
            "CONFIG_PPC64=y\nCONFIG_PPC_BOOK3S_64=y\n",
            $endian,
            "\n",
            "CONFIG_ALTIVEC=y\nCONFIG_VSX=y\nCONFIG_PPC_PSERIES=y\nCONFIG_PPC_OF_BOOT_TRAMPOLINE=y\nCONFIG_HVC_CONSOLE=y\nCONFIG_PRINTK=y\nCONFIG_TTY=y\nCONFIG_BLK_DEV_INITRD=y\nCONFIG_RD_GZIP=y\nCONFIG_BINFMT_ELF=y\nCONFIG_BINFMT_SCRIPT=y\nCONFIG_PROC_FS=y\nCONFIG_SYSFS=y\nCONFIG_DEVTMPFS=y\nCONFIG_DEVTMPFS_MOUNT=y\nCONFIG_KUNIT=y\nCONFIG_KUNIT_EXAMPLE_TEST=y\n"
        )
    };
}

/// powerpc64le `pseries`: 64-bit Book3S, little endian, AltiVec and VSX (Debian's ppc64el user
/// space is built for POWER8 and uses them: without, busybox dies of an illegal instruction),
/// the pSeries platform (RTAS to power
/// off), the Open Firmware boot trampoline (`prom_init`: without it the firmware cannot enter
/// the kernel) and the hypervisor console (`hvc0`), initrd, devtmpfs, proc/sysfs, ELF, KUnit's example
/// suite.
pub(crate) const PPC64LE: KernelSpec = KernelSpec {
    arch: "powerpc64le",
    kernel_arch: "powerpc",
    triplet: "powerpc64le-linux-gnu",
    host_arch: "powerpc64le",
    target: "vmlinux",
    image: "vmlinux",
    fragment: pseries_fragment!("CONFIG_CPU_LITTLE_ENDIAN=y"),
};

/// powerpc64 (big-endian) `pseries`: as powerpc64le, big-endian (its busybox is built from
/// Debian's source by `.ci/guest-busybox`: Debian has no ppc64 port).
pub(crate) const PPC64: KernelSpec = KernelSpec {
    arch: "powerpc64",
    kernel_arch: "powerpc",
    triplet: "powerpc64-linux-gnu",
    host_arch: "powerpc64",
    target: "vmlinux",
    image: "vmlinux",
    fragment: pseries_fragment!("CONFIG_CPU_BIG_ENDIAN=y"),
};

pub(crate) fn env_path(key: &str) -> Option<PathBuf> {
    std::env::var_os(key)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

fn home() -> PathBuf {
    env_path("HOME").unwrap_or_else(|| PathBuf::from("/root"))
}

/// `$GAUNTLET_TEST_CACHE`, default `~/.cache/gauntlet-test`.
pub(crate) fn test_cache() -> PathBuf {
    env_path("GAUNTLET_TEST_CACHE").unwrap_or_else(|| home().join(".cache/gauntlet-test"))
}

/// The kernel tree: `$GAUNTLET_LINUX_TREE`, else `.ci/linux-tree`'s default place.
pub(crate) fn linux_tree() -> Result<PathBuf, String> {
    let tree = env_path("GAUNTLET_LINUX_TREE").unwrap_or_else(|| {
        env_path("GAUNTLET_CACHE")
            .unwrap_or_else(|| home().join(".cache/gauntlet"))
            .join("linux-6.1")
    });
    if tree.join("Makefile").is_file() && tree.join(".git").exists() {
        Ok(tree)
    } else {
        Err(format!(
            "no kernel tree at {} (run .ci/linux-tree, set GAUNTLET_LINUX_TREE)",
            tree.display()
        ))
    }
}

pub(crate) fn have(program: &str) -> bool {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .any(|dir| dir.join(program).is_file())
}

/// FNV-1a, for the cache key (no hashing crate in this package).
fn fnv(parts: &[&str]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.bytes().chain([0u8]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

fn run(command: &mut Command, what: &str, log: &Path) -> Result<(), String> {
    let out = command
        .output()
        .map_err(|e| format!("{what}: cannot run: {e}"))?;
    let mut text = out.stdout.clone();
    text.extend_from_slice(&out.stderr);
    let _ = std::fs::write(log, &text);
    if out.status.success() {
        Ok(())
    } else {
        let tail: String = String::from_utf8_lossy(&text)
            .lines()
            .rev()
            .take(20)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n");
        Err(format!("{what} failed ({}):\n{tail}", out.status))
    }
}

/// Why there is no kernel.
#[derive(Debug)]
pub(crate) enum Missing {
    /// This machine cannot build it (no tree, no compiler): the test is SKIPPED.
    Unavailable(String),
    /// The build failed.
    Failed(String),
}

/// The test kernel for `spec`: built when it is not in the cache yet.
pub(crate) fn kernel(spec: &KernelSpec) -> Result<PathBuf, Missing> {
    let tree = linux_tree().map_err(Missing::Unavailable)?;
    let host = std::env::consts::ARCH;
    let cross = if host == spec.host_arch {
        String::new()
    } else {
        format!("{}-", spec.triplet)
    };
    let gcc = format!("{cross}gcc");
    if !have(&gcc) {
        return Err(Missing::Unavailable(format!("{gcc} is not installed")));
    }
    build(spec, &tree, &cross, &gcc).map_err(Missing::Failed)
}

fn build(spec: &KernelSpec, tree: &Path, cross: &str, gcc: &str) -> Result<PathBuf, String> {
    let head = Command::new("git")
        .arg("-C")
        .arg(tree)
        .args(["rev-parse", "HEAD"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let key = fnv(&[spec.arch, spec.fragment, &head]);
    let dir = test_cache()
        .join("qemu-kernels")
        .join(format!("{}-{key}", spec.arch));
    let image = dir.join(Path::new(spec.image).file_name().unwrap());
    let ready = dir.join("ready");
    if ready.is_file() && image.is_file() {
        return Ok(image);
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let lock = std::fs::File::create(dir.join("lock"))
        .map_err(|e| format!("creating the lock in {}: {e}", dir.display()))?;
    lock.lock()
        .map_err(|e| format!("locking {}: {e}", dir.display()))?;
    if ready.is_file() && image.is_file() {
        return Ok(image);
    }
    eprintln!(
        "building the {} test kernel in {} (minutes, once per cache)…",
        spec.arch,
        dir.display()
    );
    let out = dir.join("build");
    let fragment = dir.join("boot.config");
    std::fs::write(&fragment, spec.fragment).map_err(|e| e.to_string())?;
    let jobs = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let mut cc = gcc.to_owned();
    let ccache_dir = test_cache().join("ccache");
    if have("ccache") {
        cc = format!("ccache {gcc}");
    }
    let make = |args: &[&str]| {
        let mut c = Command::new("make");
        c.arg("-C")
            .arg(tree)
            .arg(format!("O={}", out.display()))
            .arg(format!("ARCH={}", spec.kernel_arch))
            .arg(format!("CROSS_COMPILE={cross}"))
            .arg(format!("CC={cc}"))
            .args(args)
            .env("CCACHE_DIR", &ccache_dir)
            .env("KBUILD_BUILD_TIMESTAMP", "2025-01-01")
            .env("KBUILD_BUILD_USER", "gauntlet")
            .env("KBUILD_BUILD_HOST", "gauntlet");
        c
    };
    run(
        &mut make(&["tinyconfig"]),
        "make tinyconfig",
        &dir.join("config.log"),
    )?;
    run(
        Command::new(tree.join("scripts/kconfig/merge_config.sh"))
            .current_dir(&out)
            .env("ARCH", spec.kernel_arch)
            .env("CROSS_COMPILE", cross)
            .args(["-m", "-O"])
            .arg(&out)
            .arg(out.join(".config"))
            .arg(&fragment),
        "merge_config.sh",
        &dir.join("merge.log"),
    )?;
    run(
        &mut make(&["olddefconfig"]),
        "make olddefconfig",
        &dir.join("olddefconfig.log"),
    )?;
    let config = std::fs::read_to_string(out.join(".config")).map_err(|e| e.to_string())?;
    for line in spec.fragment.lines().filter(|l| l.ends_with("=y")) {
        if !config.lines().any(|c| c == line) {
            return Err(format!("{}: the configuration lost {line}", spec.arch));
        }
    }
    let j = format!("-j{jobs}");
    run(
        &mut make(&[&j, spec.target]),
        &format!("make {}", spec.target),
        &dir.join("build.log"),
    )?;
    std::fs::copy(out.join(spec.image), &image).map_err(|e| e.to_string())?;
    std::fs::write(&ready, &head).map_err(|e| e.to_string())?;
    Ok(image)
}
