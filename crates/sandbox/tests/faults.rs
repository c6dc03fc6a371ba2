//! Commands that misbehave, and sandboxes that fail: each ends in bounded time, and the sandbox's
//! own failures are errors, never the command's outcome.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use common::{
    Scratch, all, assert_no_survivors, confined, error_of, marker, run_within, survivors,
};
use gauntlet_sandbox::{Choice, DetectOptions, Error, Exit, Limits, Sandbox, Termination};
use tokio::sync::{mpsc, oneshot};

const BOUND: Duration = Duration::from_secs(30);

fn quick() -> Limits {
    Limits {
        time: Duration::from_secs(20),
        kill_grace: Duration::from_secs(1),
        ..Limits::default()
    }
}

#[tokio::test]
async fn a_daemon_does_not_outlive_its_sandbox() {
    for (name, sandbox) in all() {
        // Without a pid namespace or a cgroup, a new session escapes: only the process group
        // is left to kill.
        let escapes_session = sandbox.is_confined() || name.contains(", cgroup");
        let m = marker();
        let detach = if escapes_session { "setsid " } else { "" };
        for script in [
            // Detached from the output…
            format!("{detach}sleep {m} > /dev/null 2>&1 < /dev/null & echo started"),
            // …or holding it open.
            format!("{detach}sleep {m} & echo started"),
        ] {
            let s = Scratch::new();
            let started = Instant::now();
            let out = run_within(BOUND, s.sh(&sandbox, &script).limits(quick())).await;
            assert!(out.success(), "{name}: {out:?}");
            assert_eq!(s.log_text(), "started\n", "{name}");
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "{name}: {out:?}"
            );
            assert_no_survivors(&m, &format!("{name}: {script}"));
        }
    }
}

#[tokio::test]
async fn a_command_that_closes_its_output_is_still_waited_for() {
    for (name, sandbox) in all() {
        let s = Scratch::new();
        let script = "echo before; exec >&- 2>&-; sleep 1; echo done > done; exit 3";
        let out = run_within(BOUND, s.sh(&sandbox, script)).await;
        assert_eq!(
            out.termination,
            Termination::Exited(Exit::Code(3)),
            "{name}: {out:?}"
        );
        assert!(out.wall_time >= Duration::from_secs(1), "{name}: {out:?}");
        assert!(s.work.join("done").exists(), "{name}");
        assert_eq!(s.log_text(), "before\n");

        let s = Scratch::new();
        let m = marker();
        let script = format!("exec >&- 2>&-; sleep {m}");
        let cmd = s.sh(&sandbox, &script).limits(Limits {
            time: Duration::from_millis(500),
            ..quick()
        });
        let out = run_within(BOUND, cmd).await;
        assert_eq!(out.termination, Termination::TimedOut, "{name}: {out:?}");
        assert_no_survivors(&m, name);
    }
}

#[tokio::test]
async fn a_missing_program_is_the_sandboxs_error() {
    let s = Scratch::new();
    // A program the host has but the sandbox does not see.
    let hidden = s.dir.path().join("hidden.sh");
    fs::write(&hidden, "#!/bin/sh\necho hi\n").unwrap();
    fs::set_permissions(&hidden, fs::Permissions::from_mode(0o755)).unwrap();
    for (name, sandbox) in all() {
        let mut programs = vec![
            std::path::PathBuf::from("gauntlet-no-such-program"),
            "./missing.sh".into(),
        ];
        if sandbox.is_confined() {
            programs.push(hidden.clone());
        }
        for program in programs {
            let cmd = sandbox
                .command(&program)
                .current_dir(&s.work)
                .writable(&s.work)
                .log(&s.log);
            let err = error_of(cmd).await;
            assert!(
                matches!(err, Error::ProgramNotFound { .. }),
                "{name}, {}: {err}",
                program.display()
            );
        }
    }
}

#[tokio::test]
async fn missing_directories_and_bad_input_are_the_sandboxs_errors() {
    type Expect = fn(&Error) -> bool;
    for (name, sandbox) in all() {
        let s = Scratch::new();
        let gone = s.dir.path().join("gone");
        let cases: [(&str, gauntlet_sandbox::Command, Expect); 6] = [
            (
                "missing working directory",
                s.sh(&sandbox, "true").current_dir(&gone),
                |e| {
                    matches!(
                        e,
                        Error::MissingPath {
                            what: "working directory",
                            ..
                        }
                    )
                },
            ),
            (
                "missing bind",
                s.sh(&sandbox, "true").writable(&gone),
                |e| {
                    matches!(
                        e,
                        Error::MissingPath {
                            what: "bind source",
                            ..
                        }
                    )
                },
            ),
            (
                "relative bind",
                s.sh(&sandbox, "true").writable("relative"),
                |e| matches!(e, Error::Invalid(_)),
            ),
            (
                "bad variable",
                s.sh(&sandbox, "true").env("A=B", "c"),
                |e| matches!(e, Error::Invalid(_)),
            ),
            (
                "log in a missing directory",
                s.sh(&sandbox, "true").log(gone.join("log")),
                |e| matches!(e, Error::Log { .. }),
            ),
            ("no log", sandbox.command("true"), |e| {
                matches!(e, Error::Invalid(_))
            }),
        ];
        for (case, command, expected) in cases {
            let err = error_of(command).await;
            assert!(expected(&err), "{name}, {case}: {err}");
        }
    }
    if let Some(sandbox) = confined() {
        // A working directory that exists on the host but is not bound.
        let s = Scratch::new();
        let err = error_of(sandbox.command("true").current_dir(&s.work).log(&s.log)).await;
        assert!(matches!(err, Error::Invalid(_)), "{err}");
    }
}

#[tokio::test]
async fn a_sandbox_that_fails_to_start_is_an_error_not_a_failure() {
    let s = Scratch::new();
    // Passes the detection probe (`… /bin/true`), then fails as bubblewrap does.
    let fake = s.dir.path().join("bwrap");
    fs::write(
        &fake,
        "#!/bin/sh\nfor a; do last=$a; done\n[ \"$last\" = /bin/true ] && exit 0\n\
         echo 'bwrap: Can'\\''t mount proc on /newroot/proc: Operation not permitted' >&2\nexit 1\n",
    )
    .unwrap();
    fs::set_permissions(&fake, fs::Permissions::from_mode(0o755)).unwrap();
    let sandbox = Sandbox::detect_with(&DetectOptions {
        bubblewrap: Choice::Path(fake),
        cgroup: Choice::Off,
    });
    assert!(sandbox.is_confined(), "{:?}", sandbox.warnings());
    let err = s.sh(&sandbox, "echo hello").run().await.unwrap_err();
    match err {
        Error::Setup { message, .. } => assert!(message.contains("Can't mount proc"), "{message}"),
        other => panic!("{other}"),
    }

    // The same words printed by the command are the command's failure.
    for (name, sandbox) in all() {
        let s = Scratch::new();
        let script = "echo 'bwrap: Can'\\''t mount proc' >&2; exit 1";
        let out = run_within(BOUND, s.sh(&sandbox, script)).await;
        assert_eq!(
            out.termination,
            Termination::Exited(Exit::Code(1)),
            "{name}"
        );
    }
}

#[tokio::test]
async fn an_unusable_bubblewrap_leaves_the_limits_and_a_loud_warning() {
    let s = Scratch::new();
    let broken = s.dir.path().join("bwrap");
    fs::write(
        &broken,
        "#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n",
    )
    .unwrap();
    fs::set_permissions(&broken, fs::Permissions::from_mode(0o755)).unwrap();
    let sandbox = Sandbox::detect_with(&DetectOptions {
        bubblewrap: Choice::Path(broken),
        cgroup: Choice::Auto,
    });
    assert!(!sandbox.is_confined());
    assert!(sandbox.to_string().starts_with("NOT confined"), "{sandbox}");
    let warning = sandbox.warnings()[0].to_string();
    assert!(warning.contains("WITHOUT confinement"), "{warning}");
    assert!(
        warning.contains("No permissions to create new namespace"),
        "{warning}"
    );
    let out = run_within(BOUND, s.sh(&sandbox, "echo still runs")).await;
    assert!(out.success());
    assert_eq!(s.log_text(), "still runs\n");

    let missing = Sandbox::detect_with(&DetectOptions {
        bubblewrap: Choice::Off,
        cgroup: Choice::Off,
    });
    assert!(
        missing
            .warnings()
            .iter()
            .any(|w| w.to_string().contains("WITHOUT confinement"))
    );
}

#[tokio::test]
async fn invalid_utf8_passes_through_untouched() {
    for (name, sandbox) in all() {
        let s = Scratch::new();
        let (tx, mut rx) = mpsc::channel(16);
        let cmd = s
            .sh(&sandbox, r"printf '\377\376 bytes\n\200'")
            .stream_lines(tx);
        let out = run_within(BOUND, cmd).await;
        assert!(out.success(), "{name}: {out:?}");
        assert_eq!(fs::read(&s.log).unwrap(), b"\xff\xfe bytes\n\x80", "{name}");
        let mut lines = Vec::new();
        while let Some(line) = rx.recv().await {
            lines.push(line);
        }
        assert_eq!(
            lines,
            [b"\xff\xfe bytes".to_vec(), b"\x80".to_vec()],
            "{name}"
        );
    }
}

#[tokio::test]
async fn cancelling_kills_the_tree() {
    for (name, sandbox) in all() {
        let s = Scratch::new();
        let m = marker();
        let (tx, rx) = oneshot::channel::<()>();
        let cmd = s
            .sh(&sandbox, &format!("sleep {m} & sleep {m}"))
            .limits(quick())
            .cancel_on(async move {
                let _ = rx.await;
            });
        let run = tokio::spawn(cmd.run());
        tokio::time::sleep(Duration::from_millis(300)).await;
        tx.send(()).unwrap();
        let out = tokio::time::timeout(BOUND, run)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(out.termination, Termination::Cancelled, "{name}: {out:?}");
        assert!(out.wall_time < Duration::from_secs(5), "{name}: {out:?}");
        assert_no_survivors(&m, name);
    }
}

#[tokio::test]
async fn dropping_the_run_kills_the_tree() {
    for (name, sandbox) in all() {
        let s = Scratch::new();
        let m = marker();
        let cmd = s
            .sh(&sandbox, &format!("sleep {m} & sleep {m}"))
            .limits(quick());
        let dropped = tokio::time::timeout(Duration::from_millis(500), cmd.run()).await;
        assert!(dropped.is_err(), "{name}: it ended by itself");
        assert_no_survivors(&m, name);
    }
}

#[test]
fn the_survivor_check_does_see_live_processes() {
    let m = marker();
    let mut child = std::process::Command::new("sleep").arg(&m).spawn().unwrap();
    let found = survivors(&m, Duration::ZERO);
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(found, [child.id() as i32]);
}
