//! The host's process table, read from `/proc`: the descendants of a process (to signal a tree
//! that no cgroup holds) and the CPU time of an exited, not yet reaped, child.

use std::collections::HashMap;
use std::fs;
use std::time::Duration;

/// The fields of `/proc/PID/stat` after the command name, which may itself contain spaces and
/// parentheses: the last `)` ends it.
fn stat_fields(stat: &str) -> Option<Vec<&str>> {
    let end = stat.rfind(')')?;
    Some(stat.get(end + 1..)?.split_whitespace().collect())
}

/// `(pid, ppid)` from one `/proc/PID/stat` text.
fn parent_of(stat: &str) -> Option<(i32, i32)> {
    let pid = stat.split_whitespace().next()?.parse().ok()?;
    // Field 4 (ppid) is the second after the name; field 3 is the state.
    let ppid = stat_fields(stat)?.get(1)?.parse().ok()?;
    Some((pid, ppid))
}

/// Every live descendant of `root` (not `root` itself) with its depth (1 for a child).
pub(crate) fn descendants(root: i32) -> Vec<(i32, usize)> {
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    if let Ok(entries) = fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let name = entry.file_name();
            if !name
                .to_str()
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
            {
                continue;
            }
            if let Some((pid, ppid)) = fs::read_to_string(entry.path().join("stat"))
                .ok()
                .as_deref()
                .and_then(parent_of)
            {
                children.entry(ppid).or_default().push(pid);
            }
        }
    }
    let mut found: Vec<(i32, usize)> = Vec::new();
    let mut queue = vec![(root, 0)];
    while let Some((pid, depth)) = queue.pop() {
        for &kid in children.get(&pid).into_iter().flatten() {
            if kid != root && !found.iter().any(|&(p, _)| p == kid) {
                found.push((kid, depth + 1));
                queue.push((kid, depth + 1));
            }
        }
    }
    found
}

/// User plus system time of a process and of all its reaped descendants, from its stat text.
fn cpu_of(stat: &str, ticks_per_second: u64) -> Option<Duration> {
    let fields = stat_fields(stat)?;
    // Fields 14–17: utime, stime, cutime, cstime, in clock ticks; index 0 here is field 3.
    let ticks: u64 = fields
        .get(11..15)?
        .iter()
        .map(|f| f.parse::<u64>().ok())
        .sum::<Option<u64>>()?;
    let ticks_per_second = ticks_per_second.max(1);
    Some(Duration::from_nanos(
        ticks.saturating_mul(1_000_000_000) / ticks_per_second,
    ))
}

/// The CPU time of `pid` and its descendants, read while it is a zombie (exited, not reaped):
/// the kernel keeps the counts of its reaped children until it is reaped itself.
pub(crate) fn zombie_cpu(pid: i32) -> Option<Duration> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    cpu_of(&stat, rustix::param::clock_ticks_per_second())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const STAT: &str = "4242 (odd ) name) S 17 4242 4242 0 -1 4194304 100 0 0 0 250 50 30 20 20 0 1 0 \
                        123 4096 100 18446744073709551615";

    #[test]
    fn parent_and_cpu_from_stat() {
        assert_eq!(parent_of(STAT), Some((4242, 17)));
        // 250 + 50 + 30 + 20 ticks at 100 per second.
        assert_eq!(cpu_of(STAT, 100), Some(Duration::from_millis(3500)));
        assert_eq!(cpu_of("1 (x) S 0", 100), None);
    }

    #[test]
    fn this_process_has_a_stat_and_descendants_of_a_child() {
        let me = std::process::id() as i32;
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let kids = descendants(me);
        assert!(kids.contains(&(child.id() as i32, 1)), "{kids:?}");
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
