//! Control groups: one group per run, so that memory, processes and CPU are limited and counted
//! for the whole process tree, and every process of the run can be found and killed.
//!
//! Two layouts are handled:
//! * **cgroup v2** (unified): one directory per run under a parent whose `cgroup.subtree_control`
//!   enables `memory` and `pids` (and `cpu` when present). The parent is this process's own
//!   cgroup when the controllers can be enabled there (true when gauntlet runs at the root of a
//!   cgroup namespace, as in most containers and VMs), or a delegated cgroup the caller names.
//! * **cgroup v1** (legacy or hybrid hierarchies): one directory per run in each of the
//!   `memory`, `pids`, `cpu` and `cpuacct` hierarchies, under this process's own cgroup there.
//!
//! Groups are named `gauntlet-<pid>-<n>`; groups left behind by a gauntlet process that died are
//! emptied and removed at the next detection.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process};

/// Which cgroup layout carries the limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupVersion {
    V1,
    V2,
}

/// Where per-run groups are made, found once by [`detect`].
#[derive(Debug, Clone)]
pub(crate) struct Cgroups {
    pub(crate) version: CgroupVersion,
    /// The parent directory of the run groups, one per hierarchy, with its controllers.
    hierarchies: Vec<Hierarchy>,
}

#[derive(Debug, Clone)]
struct Hierarchy {
    dir: PathBuf,
    controllers: Vec<String>,
}

impl Cgroups {
    pub(crate) fn has(&self, controller: &str) -> bool {
        self.hierarchies
            .iter()
            .any(|h| h.controllers.iter().any(|c| c == controller))
    }

    /// The parents of the run groups (one for v2, one per hierarchy for v1).
    pub(crate) fn parents(&self) -> Vec<&Path> {
        self.hierarchies.iter().map(|h| h.dir.as_path()).collect()
    }
}

/// What a run's group is asked to enforce.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct GroupLimits {
    pub(crate) memory: Option<u64>,
    pub(crate) pids: Option<u64>,
    pub(crate) cpus: Option<u32>,
}

/// What a run's group counted.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct GroupStats {
    pub(crate) oom_kills: u64,
    pub(crate) cpu: Option<Duration>,
    pub(crate) memory_peak: Option<u64>,
}

/// One run's group. Dropping it kills what is left in it and removes it.
#[derive(Debug)]
pub(crate) struct Group {
    version: CgroupVersion,
    dirs: Vec<Hierarchy>,
}

static NEXT_GROUP: AtomicU64 = AtomicU64::new(0);

const CPU_PERIOD_US: u64 = 100_000;

impl Group {
    /// Creates the run's group and writes its limits. Under cgroup v1 only the hierarchies that
    /// are needed are used (memory, pids and cpuacct always, cpu for a CPU limit): every
    /// hierarchy the first process joins is a migration, which costs milliseconds (the kernel
    /// waits for an RCU grace period).
    pub(crate) fn create(cgroups: &Cgroups, limits: GroupLimits) -> io::Result<Group> {
        let name = format!(
            "gauntlet-{}-{}",
            std::process::id(),
            NEXT_GROUP.fetch_add(1, Ordering::Relaxed)
        );
        let mut group = Group {
            version: cgroups.version,
            dirs: Vec::new(),
        };
        let needed = |h: &Hierarchy| {
            cgroups.version == CgroupVersion::V2
                || h.controllers.iter().any(|c| {
                    matches!(c.as_str(), "memory" | "pids" | "cpuacct")
                        || (c == "cpu" && limits.cpus.is_some())
                })
        };
        for h in cgroups.hierarchies.iter().filter(|h| needed(h)) {
            let dir = h.dir.join(&name);
            fs::create_dir(&dir)?;
            // Pushed before the limits are written, so that a failure removes it again.
            group.dirs.push(Hierarchy {
                dir,
                controllers: h.controllers.clone(),
            });
        }
        group.write_limits(limits)?;
        Ok(group)
    }

    fn write_limits(&self, limits: GroupLimits) -> io::Result<()> {
        let v2 = self.version == CgroupVersion::V2;
        if let (Some(bytes), Some(dir)) = (limits.memory, self.dir_of("memory")) {
            if v2 {
                write(dir, "memory.max", &bytes.to_string())?;
                // No swap: the limit is on memory, not on memory plus disk.
                write_optional(dir, "memory.swap.max", "0");
                // An OOM kills the whole run, not one compiler among many.
                write_optional(dir, "memory.oom.group", "1");
            } else {
                write(dir, "memory.limit_in_bytes", &bytes.to_string())?;
                write_optional(dir, "memory.memsw.limit_in_bytes", &bytes.to_string());
            }
        }
        if let (Some(n), Some(dir)) = (limits.pids, self.dir_of("pids")) {
            write(dir, "pids.max", &n.to_string())?;
        }
        if let (Some(cpus), Some(dir)) = (limits.cpus, self.dir_of("cpu")) {
            let quota = u64::from(cpus.max(1)) * CPU_PERIOD_US;
            if v2 {
                write(dir, "cpu.max", &format!("{quota} {CPU_PERIOD_US}"))?;
            } else {
                write(dir, "cpu.cfs_period_us", &CPU_PERIOD_US.to_string())?;
                write(dir, "cpu.cfs_quota_us", &quota.to_string())?;
            }
        }
        Ok(())
    }

    fn dir_of(&self, controller: &str) -> Option<&Path> {
        self.dirs
            .iter()
            .find(|h| h.controllers.iter().any(|c| c == controller))
            .map(|h| h.dir.as_path())
    }

    /// The `cgroup.procs` files a process writes its pid into to join the group.
    pub(crate) fn procs_files(&self) -> Vec<PathBuf> {
        self.dirs
            .iter()
            .map(|h| h.dir.join("cgroup.procs"))
            .collect()
    }

    /// Every process in the group (host pids).
    pub(crate) fn pids(&self) -> Vec<i32> {
        let mut pids: Vec<i32> = Vec::new();
        for h in &self.dirs {
            if let Ok(text) = fs::read_to_string(h.dir.join("cgroup.procs")) {
                pids.extend(text.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
            }
        }
        pids.sort_unstable();
        pids.dedup();
        pids
    }

    /// Sends SIGKILL to every process in the group, once.
    pub(crate) fn kill_all(&self) {
        if self.version == CgroupVersion::V2
            && let Some(h) = self.dirs.first()
            && fs::write(h.dir.join("cgroup.kill"), "1").is_ok()
        {
            return;
        }
        for pid in self.pids() {
            if let Some(pid) = Pid::from_raw(pid) {
                let _ = kill_process(pid, Signal::KILL);
            }
        }
    }

    pub(crate) fn stats(&self) -> GroupStats {
        let mut stats = GroupStats::default();
        if let Some(dir) = self.dir_of("memory") {
            let (events, peak) = match self.version {
                CgroupVersion::V2 => ("memory.events", "memory.peak"),
                CgroupVersion::V1 => ("memory.oom_control", "memory.max_usage_in_bytes"),
            };
            if let Ok(text) = fs::read_to_string(dir.join(events)) {
                stats.oom_kills = keyed_value(&text, "oom_kill").unwrap_or(0);
            }
            stats.memory_peak = fs::read_to_string(dir.join(peak))
                .ok()
                .and_then(|t| t.trim().parse().ok());
        }
        stats.cpu = match self.version {
            CgroupVersion::V2 => self
                .dir_of("memory")
                .or_else(|| self.dirs.first().map(|h| h.dir.as_path()))
                .and_then(|dir| fs::read_to_string(dir.join("cpu.stat")).ok())
                .and_then(|t| keyed_value(&t, "usage_usec"))
                .map(Duration::from_micros),
            CgroupVersion::V1 => self
                .dir_of("cpuacct")
                .and_then(|dir| fs::read_to_string(dir.join("cpuacct.usage")).ok())
                .and_then(|t| t.trim().parse().ok())
                .map(Duration::from_nanos),
        };
        stats
    }

    /// Kills what is left and removes the group, waiting at most `patience` for the processes
    /// to be gone. Returns whether every directory was removed.
    pub(crate) fn remove(&mut self, patience: Duration) -> bool {
        let deadline = Instant::now() + patience;
        loop {
            self.dirs.retain(|h| fs::remove_dir(&h.dir).is_err());
            if self.dirs.is_empty() {
                return true;
            }
            if Instant::now() >= deadline {
                for h in &self.dirs {
                    tracing::warn!(group = %h.dir.display(), "cannot remove a run's cgroup: it still has processes");
                }
                return false;
            }
            self.kill_all();
            thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if !self.dirs.is_empty() {
            self.remove(Duration::from_secs(2));
        }
    }
}

fn write(dir: &Path, file: &str, value: &str) -> io::Result<()> {
    fs::write(dir.join(file), value).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("writing `{value}` to {}: {e}", dir.join(file).display()),
        )
    })
}

fn write_optional(dir: &Path, file: &str, value: &str) {
    let path = dir.join(file);
    if path.exists()
        && let Err(e) = fs::write(&path, value)
    {
        tracing::debug!(file = %path.display(), error = %e, "optional cgroup setting not applied");
    }
}

/// `key N` in a cgroup's flat-keyed file (`memory.events`, `cpu.stat`, `memory.oom_control`).
fn keyed_value(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

// ---------------------------------------------------------------------------------------------
// Detection.

/// One line of `/proc/self/mountinfo`, the fields that matter here.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Mount {
    root: String,
    mount_point: PathBuf,
    fstype: String,
    super_options: Vec<String>,
}

fn parse_mountinfo(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let left: Vec<&str> = left.split(' ').collect();
            let mut right = right.split(' ');
            let fstype = right.next()?.to_owned();
            let _source = right.next()?;
            let super_options = right
                .next()
                .unwrap_or("")
                .split(',')
                .map(str::to_owned)
                .collect();
            Some(Mount {
                root: unescape(left.get(3)?),
                mount_point: PathBuf::from(unescape(left.get(4)?)),
                fstype,
                super_options,
            })
        })
        .collect()
}

/// Undoes mountinfo's octal escapes (`\040` for a space, …).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && let Some(octal) = field.get(i + 1..i + 4)
            && octal.bytes().all(|b| (b'0'..=b'7').contains(&b))
            && let Ok(value) = u8::from_str_radix(octal, 8)
        {
            out.push(value);
            i += 4;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One line of `/proc/self/cgroup`: hierarchy id, controllers, path.
fn parse_proc_cgroup(text: &str) -> Vec<(String, Vec<String>, String)> {
    text.lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, ':');
            let id = parts.next()?.to_owned();
            let controllers = parts.next()?;
            let path = parts.next()?.to_owned();
            let controllers = controllers
                .split(',')
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect();
            Some((id, controllers, path))
        })
        .collect()
}

/// The directory of cgroup `path` in a hierarchy mounted at `mount`.
fn dir_in(mount: &Mount, path: &str) -> Option<PathBuf> {
    let rel = if mount.root == "/" {
        path
    } else {
        path.strip_prefix(mount.root.as_str())?
    };
    Some(mount.mount_point.join(rel.trim_start_matches('/')))
}

/// Finds how to make per-run groups here; the error says why none can be made.
pub(crate) fn detect(parent: Option<&Path>) -> Result<Cgroups, String> {
    let mounts = fs::read_to_string("/proc/self/mountinfo")
        .map(|t| parse_mountinfo(&t))
        .map_err(|e| format!("cannot read /proc/self/mountinfo: {e}"))?;
    let own = fs::read_to_string("/proc/self/cgroup")
        .map(|t| parse_proc_cgroup(&t))
        .map_err(|e| format!("cannot read /proc/self/cgroup: {e}"))?;

    if let Some(parent) = parent {
        return v2_at(parent.to_path_buf());
    }
    let v2 = mounts
        .iter()
        .find(|m| m.fstype == "cgroup2")
        .and_then(|m| {
            let (_, _, path) = own.iter().find(|(id, c, _)| id == "0" && c.is_empty())?;
            dir_in(m, path)
        })
        .ok_or_else(|| "no cgroup v2 hierarchy is mounted".to_owned())
        .and_then(v2_at);
    let v2_reason = match v2 {
        Ok(found) => return Ok(found),
        Err(reason) => reason,
    };
    v1(&mounts, &own).map_err(|v1_reason| format!("{v2_reason}; {v1_reason}"))
}

fn v2_at(dir: PathBuf) -> Result<Cgroups, String> {
    let read = |file: &str| fs::read_to_string(dir.join(file)).unwrap_or_default();
    let available: Vec<String> = read("cgroup.controllers")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    if !["memory", "pids"]
        .iter()
        .all(|c| available.iter().any(|a| a == c))
    {
        return Err(format!(
            "cgroup v2 at {} offers no memory and pids controllers (it has: {})",
            dir.display(),
            if available.is_empty() {
                "none".to_owned()
            } else {
                available.join(" ")
            }
        ));
    }
    let wanted: Vec<&str> = ["memory", "pids", "cpu"]
        .into_iter()
        .filter(|c| available.iter().any(|a| a == c))
        .collect();
    let enabled = read("cgroup.subtree_control");
    let missing: Vec<&str> = wanted
        .iter()
        .copied()
        .filter(|c| !enabled.split_whitespace().any(|e| e == *c))
        .collect();
    if !missing.is_empty() {
        let request: Vec<String> = missing.iter().map(|c| format!("+{c}")).collect();
        fs::write(dir.join("cgroup.subtree_control"), request.join(" ")).map_err(|e| {
            format!(
                "cannot enable {} in {}/cgroup.subtree_control ({e}); run gauntlet in a \
                 delegated cgroup and name it",
                missing.join(", "),
                dir.display()
            )
        })?;
    }
    let cgroups = Cgroups {
        version: CgroupVersion::V2,
        hierarchies: vec![Hierarchy {
            dir,
            controllers: wanted.iter().map(|c| (*c).to_owned()).collect(),
        }],
    };
    probe(&cgroups)?;
    Ok(cgroups)
}

fn v1(mounts: &[Mount], own: &[(String, Vec<String>, String)]) -> Result<Cgroups, String> {
    const WANTED: [&str; 4] = ["memory", "pids", "cpu", "cpuacct"];
    let mut hierarchies: Vec<Hierarchy> = Vec::new();
    for m in mounts.iter().filter(|m| m.fstype == "cgroup") {
        let controllers: Vec<String> = m
            .super_options
            .iter()
            .filter(|o| WANTED.contains(&o.as_str()))
            .cloned()
            .collect();
        if controllers.is_empty()
            || hierarchies
                .iter()
                .any(|h| h.controllers.iter().any(|c| controllers.contains(c)))
        {
            continue;
        }
        let Some((_, _, path)) = own
            .iter()
            .find(|(_, c, _)| controllers.iter().all(|w| c.contains(w)))
        else {
            continue;
        };
        let Some(dir) = dir_in(m, path) else { continue };
        hierarchies.push(Hierarchy { dir, controllers });
    }
    let cgroups = Cgroups {
        version: CgroupVersion::V1,
        hierarchies,
    };
    if !cgroups.has("memory") && !cgroups.has("pids") {
        return Err("no cgroup v1 memory or pids hierarchy is mounted".to_owned());
    }
    probe(&cgroups)?;
    Ok(cgroups)
}

/// Makes and removes a group, after clearing groups left by dead gauntlet processes.
fn probe(cgroups: &Cgroups) -> Result<(), String> {
    for h in &cgroups.hierarchies {
        remove_stale(&h.dir);
    }
    let mut group = Group::create(cgroups, GroupLimits::default()).map_err(|e| {
        format!(
            "cannot create a cgroup under {}: {e}",
            cgroups
                .parents()
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    })?;
    group.remove(Duration::from_secs(1));
    Ok(())
}

fn remove_stale(parent: &Path) {
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(owner) = name
            .to_str()
            .and_then(|n| n.strip_prefix("gauntlet-"))
            .and_then(|n| n.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if owner == std::process::id() || Path::new(&format!("/proc/{owner}")).exists() {
            continue;
        }
        tracing::info!(group = %entry.path().display(), "removing a cgroup left by a dead gauntlet process");
        let mut stale = Group {
            version: CgroupVersion::V1,
            dirs: vec![Hierarchy {
                dir: entry.path(),
                controllers: Vec::new(),
            }],
        };
        stale.remove(Duration::from_secs(1));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const MOUNTINFO: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 /outer /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
42 23 0:40 / /mnt/with\\040space rw - ext4 /dev/sda1 rw
";

    #[test]
    fn mountinfo_fields() {
        let mounts = parse_mountinfo(MOUNTINFO);
        assert_eq!(mounts.len(), 5);
        assert_eq!(
            mounts[1].mount_point,
            PathBuf::from("/sys/fs/cgroup/cpu,cpuacct")
        );
        assert_eq!(mounts[1].super_options, ["rw", "cpu", "cpuacct"]);
        assert_eq!(mounts[2].root, "/outer");
        assert_eq!(mounts[3].fstype, "cgroup2");
        assert_eq!(mounts[4].mount_point, PathBuf::from("/mnt/with space"));
    }

    #[test]
    fn proc_cgroup_lines() {
        let own = parse_proc_cgroup("4:memory:/outer/inner\n2:cpu,cpuacct:/\n0::/user.slice\n");
        assert_eq!(
            own[0],
            ("4".into(), vec!["memory".into()], "/outer/inner".into())
        );
        assert_eq!(own[1].1, ["cpu", "cpuacct"]);
        assert_eq!(own[2], ("0".into(), vec![], "/user.slice".into()));
    }

    #[test]
    fn directory_of_a_cgroup() {
        let mounts = parse_mountinfo(MOUNTINFO);
        assert_eq!(
            dir_in(&mounts[2], "/outer/inner"),
            Some(PathBuf::from("/sys/fs/cgroup/memory/inner"))
        );
        assert_eq!(dir_in(&mounts[2], "/elsewhere"), None);
        assert_eq!(
            dir_in(&mounts[3], "/"),
            Some(PathBuf::from("/sys/fs/cgroup/unified"))
        );
    }

    #[test]
    fn flat_keyed_values() {
        let events = "low 0\nhigh 0\nmax 12\noom 3\noom_kill 2\noom_group_kill 1\n";
        assert_eq!(keyed_value(events, "oom_kill"), Some(2));
        assert_eq!(keyed_value(events, "oom"), Some(3));
        assert_eq!(keyed_value(events, "none"), None);
    }
}
