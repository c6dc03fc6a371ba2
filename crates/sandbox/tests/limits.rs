//! Time, memory, process, CPU-time and output limits, in every kind of sandbox this machine has.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::time::Duration;

use common::{Scratch, all, assert_no_survivors, marker, run_within};
use gauntlet_sandbox::{Exit, Limits, Mechanism, Termination};

fn limits(time: Duration) -> Limits {
    Limits {
        time,
        kill_grace: Duration::from_secs(1),
        ..Limits::default()
    }
}

#[tokio::test]
async fn a_timeout_kills_the_whole_tree() {
    for (name, sandbox) in all() {
        let s = Scratch::new();
        let m = marker();
        // A background child, an orphaned grandchild, and the shell itself.
        let script = format!("sleep {m} & (sleep {m} &) ; sleep {m}");
        let cmd = s
            .sh(&sandbox, &script)
            .limits(limits(Duration::from_millis(500)));
        let out = run_within(Duration::from_secs(20), cmd).await;
        assert_eq!(out.termination, Termination::TimedOut, "{name}: {out:?}");
        assert!(out.termination.is_limit());
        assert!(out.wall_time < Duration::from_secs(5), "{name}: {out:?}");
        assert_no_survivors(&m, name);
    }
}

#[tokio::test]
async fn sigterm_is_escalated_to_sigkill_after_the_grace_period() {
    for (name, sandbox) in all() {
        let s = Scratch::new();
        let m = marker();
        // The ignored signal is inherited by `sleep` too.
        let script = format!("trap '' TERM; sleep {m}");
        let cmd = s
            .sh(&sandbox, &script)
            .limits(limits(Duration::from_millis(300)));
        let out = run_within(Duration::from_secs(20), cmd).await;
        assert_eq!(out.termination, Termination::TimedOut, "{name}: {out:?}");
        // 0.3 s of time, then 1 s of grace.
        assert!(
            out.wall_time >= Duration::from_millis(1250),
            "{name}: {out:?}"
        );
        assert!(out.wall_time < Duration::from_secs(6), "{name}: {out:?}");
        assert_no_survivors(&m, name);
    }
}

#[tokio::test]
async fn a_stopped_command_may_clean_up_within_the_grace_period() {
    for (name, sandbox) in all() {
        let s = Scratch::new();
        let m = marker();
        let script = format!("trap 'echo cleaned > cleaned; exit 0' TERM; sleep {m} & wait");
        let cmd = s.sh(&sandbox, &script).limits(Limits {
            kill_grace: Duration::from_secs(10),
            ..limits(Duration::from_millis(300))
        });
        let out = run_within(Duration::from_secs(20), cmd).await;
        assert_eq!(out.termination, Termination::TimedOut, "{name}: {out:?}");
        assert!(out.wall_time < Duration::from_secs(5), "{name}: {out:?}");
        assert_eq!(
            fs::read_to_string(s.work.join("cleaned")).unwrap_or_default(),
            "cleaned\n",
            "{name}"
        );
        assert_no_survivors(&m, name);
    }
}

#[tokio::test]
async fn memory_is_limited() {
    for (name, sandbox) in all() {
        let s = Scratch::new();
        let script = "perl -e '$x = q(a) x (512 * 1024 * 1024); print qq(survived\\n)'";
        let cmd = s.sh(&sandbox, script).limits(Limits {
            memory: Some(128 << 20),
            ..limits(Duration::from_secs(60))
        });
        let out = run_within(Duration::from_secs(60), cmd).await;
        let log = s.log_text();
        assert!(!log.contains("survived"), "{name}: {log}");
        match sandbox.enforcement().memory {
            Mechanism::Cgroup(_) => {
                assert_eq!(
                    out.termination,
                    Termination::OutOfMemory,
                    "{name}: {out:?}\n{log}"
                );
                assert!(out.oom_kills >= 1, "{name}: {out:?}");
                assert!(
                    out.memory_peak.is_some_and(|p| p <= 129 << 20),
                    "{name}: {out:?}"
                );
            }
            // Per process: perl's allocation fails and it says so.
            _ => {
                assert!(!out.success(), "{name}: {out:?}");
                assert!(log.contains("Out of memory"), "{name}: {log}");
            }
        }
    }
}

#[tokio::test]
async fn a_fork_bomb_is_contained() {
    for (name, sandbox) in all() {
        if sandbox.enforcement().processes == Mechanism::Unenforced {
            eprintln!("SKIPPED ({name}): processes are not limited here (root without a cgroup)");
            continue;
        }
        let s = Scratch::new();
        let m = marker();
        let script = format!("bomb() {{ bomb | bomb & }}; bomb; sleep {m}");
        let cmd = s.sh(&sandbox, &script).limits(Limits {
            processes: Some(64),
            log_size: 64 << 10,
            ..limits(Duration::from_secs(2))
        });
        let out = run_within(Duration::from_secs(30), cmd).await;
        assert!(!out.success(), "{name}: {out:?}");
        assert!(out.wall_time < Duration::from_secs(10), "{name}: {out:?}");
        assert_no_survivors(&m, name);
        assert!(out.output.kept_bytes <= 64 << 10);
    }
}

#[tokio::test]
async fn a_gigabyte_of_output_is_capped_and_the_command_finishes() {
    let (name, sandbox) = all().remove(0);
    let s = Scratch::new();
    let cmd = s.sh(&sandbox, "yes | head -c 1073741824").limits(Limits {
        log_size: 4 << 20,
        output_kill: None,
        ..limits(Duration::from_secs(120))
    });
    let out = run_within(Duration::from_secs(120), cmd).await;
    assert_eq!(
        out.termination,
        Termination::Exited(Exit::Code(0)),
        "{name}: {out:?}"
    );
    assert_eq!(out.output.total_bytes, 1 << 30);
    assert!(out.output_capped());
    assert_eq!(out.output.kept_bytes + out.output.dropped_bytes, 1 << 30);
    assert!(out.output.kept_bytes <= 4 << 20);
    let log = fs::read(&s.log).unwrap();
    assert!(log.len() <= (4 << 20) + 200, "{}", log.len());
    assert!(log.starts_with(b"y\ny\ny\n"));
    assert!(log.ends_with(b"y\ny\ny\n"));
    let marker = format!(
        "\n[gauntlet-sandbox: {} bytes of output dropped here",
        out.output.dropped_bytes
    );
    assert!(log.windows(marker.len()).any(|w| w == marker.as_bytes()));
}

#[tokio::test]
async fn endless_output_is_killed_at_the_hard_limit() {
    for (name, sandbox) in all() {
        let s = Scratch::new();
        let cmd = s.sh(&sandbox, "yes").limits(Limits {
            log_size: 1 << 20,
            output_kill: Some(32 << 20),
            ..limits(Duration::from_secs(60))
        });
        let out = run_within(Duration::from_secs(60), cmd).await;
        assert_eq!(out.termination, Termination::OutputLimit, "{name}: {out:?}");
        assert!(out.output.total_bytes > 32 << 20);
        assert!(out.wall_time < Duration::from_secs(20), "{name}: {out:?}");
        assert!(fs::metadata(&s.log).unwrap().len() <= (1 << 20) + 200);
    }
}

#[tokio::test]
async fn cpu_time_is_counted() {
    for (name, sandbox) in all() {
        let s = Scratch::new();
        let script = "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done";
        let out = run_within(Duration::from_secs(60), s.sh(&sandbox, script)).await;
        assert!(out.success(), "{name}: {out:?}");
        if out.cpu_time.is_none()
            && sandbox.is_confined()
            && sandbox
                .warnings()
                .iter()
                .any(|w| matches!(w, gauntlet_sandbox::Warning::NoCgroup { .. }))
        {
            eprintln!("SKIPPED ({name}): no CPU time under bubblewrap without a cgroup");
            continue;
        }
        let cpu = out.cpu_time.unwrap();
        assert!(cpu >= Duration::from_millis(50), "{name}: {out:?}");
        assert!(
            cpu <= out.wall_time * 2 + Duration::from_millis(50),
            "{name}: {out:?}"
        );
    }
}

#[tokio::test]
async fn cpus_are_limited_by_the_cgroup() {
    for (name, sandbox) in all() {
        if !matches!(sandbox.enforcement().cpus, Mechanism::Cgroup(_)) {
            eprintln!("SKIPPED ({name}): CPUs are not limited here");
            continue;
        }
        let s = Scratch::new();
        // Two busy loops for a second, on one CPU's worth of time.
        let busy = "timeout 1 sh -c 'while :; do :; done'";
        let script = format!("{busy} & {busy} & wait");
        let cmd = s.sh(&sandbox, &script).limits(Limits {
            cpus: Some(1),
            ..limits(Duration::from_secs(30))
        });
        let out = run_within(Duration::from_secs(30), cmd).await;
        assert!(out.success(), "{name}: {out:?}\n{}", s.log_text());
        let cpu = out.cpu_time.unwrap();
        assert!(cpu <= Duration::from_millis(1300), "{name}: {out:?}");
    }
}
