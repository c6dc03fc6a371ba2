//! Whether KVM really works here: `/dev/kvm` existing proves little (on this project's build
//! machine it opens, creates VMs, and guests never get past the kernel's decompressor). The
//! probe boots the kernel under test with `-accel kvm` and no initramfs, in the same sandbox as
//! real boots, under a short timeout: KVM is used only when that kernel reaches its end (the
//! panic for a missing root file system) in time. The answer is cached per machine in the
//! lab's cache directory, keyed by what could change it (host kernel, CPU, QEMU, sandbox).

use std::path::{Path, PathBuf};
use std::time::Duration;

use gauntlet_results::{ConsoleConfig, End, StreamConfig};
use gauntlet_sandbox::Sandbox;
use serde::{Deserialize, Serialize};

use super::boot::{BootSpec, NoObserver, boot};
use super::machine::{Accel, Machine};

/// What the lab decided, and why (logged, and in the run's details).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccelDecision {
    pub accel: String,
    pub reason: String,
    /// The answer came from the cache.
    #[serde(default)]
    pub cached: bool,
}

impl AccelDecision {
    pub fn tcg(reason: impl Into<String>) -> AccelDecision {
        AccelDecision {
            accel: Accel::Tcg.as_str().to_owned(),
            reason: reason.into(),
            cached: false,
        }
    }

    pub fn accel(&self) -> Accel {
        if self.accel == Accel::Kvm.as_str() {
            Accel::Kvm
        } else {
            Accel::Tcg
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Cached {
    key: String,
    decision: AccelDecision,
}

/// What could change the answer: the host's kernel and CPU, QEMU's binary, the sandbox.
fn machine_key(machine: &Machine, sandbox: &Sandbox) -> String {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let release = read("/proc/sys/kernel/osrelease");
    let cpuinfo = read("/proc/cpuinfo");
    let cpu = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim())
        .unwrap_or("unknown cpu");
    let flags = cpuinfo
        .lines()
        .find(|l| l.starts_with("flags"))
        .map(|l| {
            let words: Vec<&str> = l
                .split_whitespace()
                .filter(|w| matches!(*w, "vmx" | "svm" | "hypervisor"))
                .collect();
            words.join(",")
        })
        .unwrap_or_default();
    let qemu = super::boot::which(machine.program)
        .and_then(|p| std::fs::metadata(p).ok())
        .and_then(|m| m.modified().ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!(
        "{} | {} | {} | {}@{} | {}",
        release.trim(),
        cpu,
        flags,
        machine.program,
        qemu,
        sandbox.confinement().kind()
    )
}

/// Decides between KVM and TCG for booting `kernel` on `machine`.
pub(crate) async fn decide(
    sandbox: &Sandbox,
    machine: &'static Machine,
    kernel: &Path,
    cache_dir: &Path,
    timeout: Duration,
) -> AccelDecision {
    if super::host_arch_name() != Some(machine.arch) {
        return AccelDecision::tcg(format!(
            "TCG: the guest ({}) is not the host's architecture",
            machine.arch
        ));
    }
    if let Err(e) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
    {
        return AccelDecision::tcg(format!("TCG: /dev/kvm cannot be opened ({e})"));
    }
    let key = machine_key(machine, sandbox);
    let file = cache_file(cache_dir, machine);
    if let Some(cached) = std::fs::read_to_string(&file)
        .ok()
        .and_then(|t| serde_json::from_str::<Cached>(&t).ok())
        .filter(|c| c.key == key)
    {
        return AccelDecision {
            cached: true,
            ..cached.decision
        };
    }
    let decision = probe(sandbox, machine, kernel, cache_dir, timeout).await;
    tracing::info!(accel = %decision.accel, reason = %decision.reason, "qemu: KVM probe");
    let cached = Cached {
        key,
        decision: decision.clone(),
    };
    if let Ok(text) = serde_json::to_string_pretty(&cached) {
        let _ = std::fs::create_dir_all(cache_dir);
        let tmp = file.with_extension(format!("{}.tmp", std::process::id()));
        if std::fs::write(&tmp, text).is_ok() {
            let _ = std::fs::rename(&tmp, &file);
        }
    }
    decision
}

fn cache_file(cache_dir: &Path, machine: &Machine) -> PathBuf {
    cache_dir.join(format!("kvm-{}.json", machine.arch))
}

/// Boots the kernel with KVM and no initramfs: a working KVM reaches the kernel's end (no root
/// file system: a panic, after which QEMU exits) within `timeout`.
async fn probe(
    sandbox: &Sandbox,
    machine: &'static Machine,
    kernel: &Path,
    cache_dir: &Path,
    timeout: Duration,
) -> AccelDecision {
    let dir = cache_dir.join(format!("kvm-probe-{}", std::process::id()));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        return AccelDecision::tcg(format!("TCG: the KVM probe could not run ({e})"));
    }
    // QEMU needs an initrd argument for our command line: an empty cpio (just the trailer).
    let initrd = dir.join("empty.cpio");
    let log = dir.join("console.log");
    let written = crate::initramfs::Initramfs::new().write_cpio(&initrd);
    let decision = match written {
        Err(e) => AccelDecision::tcg(format!("TCG: the KVM probe could not run ({e})")),
        Ok(_) => {
            let mut spec = BootSpec::new(machine, kernel, &initrd, &dir, &log);
            spec.accel = Accel::Kvm;
            spec.timeout = timeout;
            spec.silence = timeout;
            spec.log_size = 1 << 20;
            spec.output_kill = Some(16 << 20);
            spec.stream = StreamConfig {
                console: ConsoleConfig {
                    userspace_marker: None,
                    done_marker: None,
                    ..ConsoleConfig::default()
                },
                ..StreamConfig::kernel_console()
            };
            match boot(sandbox, &spec, &mut NoObserver).await {
                Ok(outcome) => {
                    let console = &outcome.report.console;
                    let ended =
                        console.events.iter().any(|e| e.kind.is_fatal()) || outcome.end == End::Eof;
                    if console.kernel_started.is_some() && ended {
                        AccelDecision {
                            accel: Accel::Kvm.as_str().to_owned(),
                            reason: format!(
                                "KVM: a probe boot reached the kernel's end in {:.1}s",
                                outcome.timings.total.as_secs_f64()
                            ),
                            cached: false,
                        }
                    } else if console.kernel_started.is_some() {
                        AccelDecision::tcg(format!(
                            "TCG: under KVM the kernel started but did not finish booting within {}s",
                            timeout.as_secs()
                        ))
                    } else {
                        AccelDecision::tcg(format!(
                            "TCG: under KVM the kernel printed nothing within {}s (guests do not run here)",
                            timeout.as_secs()
                        ))
                    }
                }
                Err(e) => AccelDecision::tcg(format!("TCG: QEMU could not use KVM: {e}")),
            }
        }
    };
    let _ = std::fs::remove_dir_all(&dir);
    decision
}
