//! What the machine under test boots into: the initramfs and its `/init`.
//!
//! # The image
//!
//! | path | what |
//! |---|---|
//! | `/init` | the script below (run as `busybox sh /init`, so the kernel needs no `BINFMT_SCRIPT`) |
//! | `/bin/busybox` | the guest's static busybox; its applets are linked into `/bin` at boot |
//! | `/dev/console`, `/dev/null` | so that init has a console before devtmpfs is mounted |
//! | `/proc`, `/sys`, `/tmp`, `/root`, `/run` | mount points and scratch |
//! | `/gauntlet/bin/lava-test-case`, `lava-test-set`, `lava-test-raise` | the LAVA helpers, on `PATH` |
//! | `/gauntlet/repo/…` | the copy of the tests' directory (after `tests.prepare`): suites run from here, as LAVA runs a definition's steps from its repository |
//! | `/gauntlet/suites/<i>/run.sh` | suite *i*: a definition's steps, or the runner of an LKP job (`job.sh` beside it) |
//! | `/gauntlet/lkp/…` | gauntlet's LKP program tree (`LKP_SRC`), when a suite is an LKP job |
//! | `/gauntlet/watchdog` | a suite's timeout and heartbeat |
//!
//! # The protocol on the console
//!
//! ```text
//! GAUNTLET-BOOT-OK                          userspace reached (the parser's userspace marker)
//! GAUNTLET-SUITE 0 START                    suite 0 begins
//! <LAVA_SIGNAL_STARTRUN 0_smoke gauntlet-0> as LAVA's runner prints it
//!   … the suite's output: LAVA signals, KTAP, anything …
//! GAUNTLET-ALIVE 0                          every heartbeat while it runs (silent tests are not hangs)
//! GAUNTLET-SUITE 0 TIMEOUT                  it ran past its timeout and was killed (SIGKILL, its whole session)
//! <LAVA_SIGNAL_ENDRUN 0_smoke gauntlet-0>
//! GAUNTLET-SUITE 0 END rc=0                 its exit status (`set -e` stops a definition at a failing step)
//! …                                         the next suite runs whatever the previous one did
//! GAUNTLET-DONE rc=N                        N = suites that ended with a non-zero status
//! ```
//!
//! then `reboot -f` or `poweroff -f` (the runner stops QEMU at the done marker anyway). Each
//! suite runs in a session of its own (`setsid`), with stdin from `/dev/null`, from
//! `/gauntlet/repo`, with `TESTRUN_ID` (`0_smoke`), `GAUNTLET_ARCH` and `GAUNTLET_BUILD` set.

use std::path::Path;

use gauntlet_results::HELPERS;

use super::machine::PowerOff;
use crate::initramfs::Initramfs;

/// The markers of the protocol.
pub const BOOT_MARKER: &str = "GAUNTLET-BOOT-OK";
pub const DONE_MARKER: &str = "GAUNTLET-DONE";
pub const SUITE_MARKER: &str = "GAUNTLET-SUITE ";
pub const ALIVE_MARKER: &str = "GAUNTLET-ALIVE ";

/// One suite as the guest runs it.
#[derive(Debug, Clone)]
pub struct GuestSuite {
    /// Its LAVA run name, `<index>_<name>` (letters, digits, `_`, `-`, `.` only).
    pub run_name: String,
    /// Seconds before it is killed.
    pub timeout_secs: u64,
    /// `run.sh`.
    pub script: String,
    /// Other files of its directory (`job.sh` of an LKP job): name, contents.
    pub files: Vec<(String, Vec<u8>)>,
}

/// Everything the image is made of.
#[derive(Debug, Clone)]
pub struct GuestImage<'a> {
    pub busybox: &'a Path,
    /// The tests' directory (the copy `tests.prepare` ran in), packed at `/gauntlet/repo`.
    pub repo: Option<&'a Path>,
    pub suites: &'a [GuestSuite],
    /// Packs gauntlet's LKP program tree at `/gauntlet/lkp`.
    pub lkp: bool,
    pub power_off: PowerOff,
    /// Seconds between `GAUNTLET-ALIVE` lines while a suite runs.
    pub heartbeat_secs: u64,
    /// Exported to every suite (`GAUNTLET_ARCH`, `GAUNTLET_BUILD`); names must be shell names.
    pub env: Vec<(String, String)>,
    /// Prints the LAVA backend's monitor markers (`GAUNTLET-SUITE-START <name>` …
    /// `GAUNTLET-SUITE-END <name>`, see `lava::monitor_markers`) around each suite, so that a
    /// LAVA lab's monitors action sees where each one starts and ends.
    pub monitors: bool,
}

/// The words the kernel's command line needs for this image: `rdinit=/bin/busybox -- sh
/// /init`, so that the kernel runs `busybox sh /init` (no `BINFMT_SCRIPT` needed). They must
/// come last (everything after `--` goes to init).
pub fn kernel_args() -> Vec<String> {
    ["rdinit=/bin/busybox", "--", "sh", "/init"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
}

impl GuestImage<'_> {
    /// The image (not yet written: see [`Initramfs::write_gz`]).
    pub fn build(&self) -> Initramfs {
        let mut image = Initramfs::new()
            .console_devices()
            .dir("/proc", 0o555)
            .dir("/sys", 0o555)
            .dir("/tmp", 0o1777)
            .dir("/root", 0o700)
            .dir("/run", 0o755)
            .host_file("/bin/busybox", self.busybox, 0o755)
            .file("/init", self.init_script(), 0o755)
            .file(
                "/gauntlet/watchdog",
                watchdog_script(self.heartbeat_secs),
                0o644,
            );
        for (name, script) in HELPERS {
            image = image.file(format!("/gauntlet/bin/{name}"), script.as_bytes(), 0o755);
        }
        image = match self.repo {
            Some(repo) => image.add_tree(repo, "/gauntlet/repo"),
            None => image.dir("/gauntlet/repo", 0o755),
        };
        for (i, suite) in self.suites.iter().enumerate() {
            let dir = format!("/gauntlet/suites/{i}");
            image = image.file(format!("{dir}/run.sh"), suite.script.as_bytes(), 0o755);
            for (name, data) in &suite.files {
                image = image.file(format!("{dir}/{name}"), data.clone(), 0o755);
            }
        }
        if self.lkp {
            for (path, contents, exec) in gauntlet_job::builtin_files() {
                let mode = if exec { 0o755 } else { 0o644 };
                image = image.file(format!("/gauntlet/lkp/{path}"), contents.as_bytes(), mode);
            }
        }
        image
    }

    /// `/init`.
    pub fn init_script(&self) -> String {
        let mut s = String::from(INIT_HEAD);
        for (key, value) in &self.env {
            if gauntlet_job::is_shell_name(key) {
                s.push_str(&format!(
                    "export {key}={}\n",
                    gauntlet_job::single_quote(value)
                ));
            }
        }
        s.push_str(&format!("echo {BOOT_MARKER}\n"));
        s.push_str(INIT_SUITE);
        for (i, suite) in self.suites.iter().enumerate() {
            // The run name is `<index>_<name>`; the monitors know the suite by its name.
            let name = suite
                .run_name
                .split_once('_')
                .map_or(suite.run_name.as_str(), |(_, name)| name);
            if self.monitors {
                s.push_str(&format!("echo 'GAUNTLET-SUITE-START {name}'\n"));
            }
            s.push_str(&format!(
                "suite {i} {} {}\n",
                suite.run_name,
                suite.timeout_secs.max(1)
            ));
            if self.monitors {
                s.push_str(&format!("echo 'GAUNTLET-SUITE-END {name}'\n"));
            }
        }
        s.push_str(&format!("echo \"{DONE_MARKER} rc=$failed\"\n"));
        s.push_str(&format!(
            "{}\n# If the machine is still there, the runner stops it.\nwhile :; do sleep 3600; done\n",
            self.power_off.command()
        ));
        s
    }
}

/// A run name: `<index>_<name>` with what cannot stand in a LAVA signal replaced by `_`.
pub fn run_name(index: usize, name: &str) -> String {
    let clean: String = name
        .chars()
        .take(100)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let clean = if clean.is_empty() {
        "suite".to_owned()
    } else {
        clean
    };
    format!("{index}_{clean}")
}

/// An image whose init only says it booted and is done, then ends the machine: the
/// benchmark's bare boot and the lab's smoke test.
pub fn smoke_image(busybox: &Path, power_off: PowerOff) -> Initramfs {
    let image = GuestImage {
        busybox,
        repo: None,
        suites: &[],
        lkp: false,
        power_off,
        heartbeat_secs: 10,
        monitors: false,
        env: Vec::new(),
    };
    image.build()
}

const INIT_HEAD: &str = r#"#!/bin/busybox sh
# gauntlet's init for the machine under test (generated by gauntlet-lab, qemu::guest).
/bin/busybox mkdir -p /proc /sys /dev /tmp /root /run
/bin/busybox --install -s /bin
export PATH=/gauntlet/bin:/bin HOME=/root TMPDIR=/tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
cd /
"#;

/// `suite INDEX RUN_NAME TIMEOUT`: runs `/gauntlet/suites/INDEX/run.sh` in a session of its own
/// with a watchdog, and prints the protocol's lines around it.
const INIT_SUITE: &str = r#"failed=0
suite() {
    echo "GAUNTLET-SUITE $1 START"
    echo "<LAVA_SIGNAL_STARTRUN $2 gauntlet-$1>"
    TESTRUN_ID=$2 setsid sh -c 'cd /gauntlet/repo && exec sh "$1"' sh "/gauntlet/suites/$1/run.sh" </dev/null &
    pid=$!
    setsid sh /gauntlet/watchdog "$1" "$pid" "$3" </dev/null &
    dog=$!
    wait "$pid"
    status=$?
    kill -KILL -"$dog" 2>/dev/null || kill -KILL "$dog" 2>/dev/null
    [ "$status" -eq 0 ] || failed=$((failed + 1))
    echo "<LAVA_SIGNAL_ENDRUN $2 gauntlet-$1>"
    echo "GAUNTLET-SUITE $1 END rc=$status"
}
"#;

/// `watchdog INDEX PID SECONDS`: a heartbeat every few seconds, then, at the timeout, the
/// suite's whole session killed.
fn watchdog_script(heartbeat_secs: u64) -> String {
    format!(
        r#"# gauntlet's watchdog of one suite: watchdog INDEX PID SECONDS
left=$3
while [ "$left" -gt 0 ]; do
    step={beat}
    [ "$step" -gt "$left" ] && step=$left
    sleep "$step"
    left=$((left - step))
    [ "$left" -gt 0 ] && echo "GAUNTLET-ALIVE $1"
done
echo "GAUNTLET-SUITE $1 TIMEOUT"
kill -KILL -"$2" 2>/dev/null || kill -KILL "$2" 2>/dev/null
"#,
        beat = heartbeat_secs.max(1)
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn run_names_are_signal_words() {
        assert_eq!(run_name(0, "smoke"), "0_smoke");
        assert_eq!(run_name(3, "my tests <x>"), "3_my_tests__x_");
        assert_eq!(run_name(1, ""), "1_suite");
    }

    #[test]
    fn the_init_runs_every_suite_then_ends() {
        let suites = vec![
            GuestSuite {
                run_name: "0_a".into(),
                timeout_secs: 30,
                script: "true\n".into(),
                files: vec![],
            },
            GuestSuite {
                run_name: "1_b".into(),
                timeout_secs: 0,
                script: "false\n".into(),
                files: vec![("job.sh".into(), b"x".to_vec())],
            },
        ];
        let image = GuestImage {
            busybox: Path::new("/bin/busybox"),
            repo: None,
            suites: &suites,
            lkp: true,
            power_off: PowerOff::Reboot,
            heartbeat_secs: 10,
            monitors: false,
            env: vec![
                ("GAUNTLET_ARCH".into(), "x86_64".into()),
                ("bad name".into(), "x".into()),
            ],
        };
        let init = image.init_script();
        assert!(init.contains("suite 0 0_a 30\nsuite 1 1_b 1\n"), "{init}");
        assert!(init.contains("export GAUNTLET_ARCH='x86_64'\n"), "{init}");
        assert!(!init.contains("bad name"));
        let boot = init.find(BOOT_MARKER).unwrap();
        let done = init.find("GAUNTLET-DONE rc=$failed").unwrap();
        assert!(boot < done && init[done..].contains("reboot -f"));
    }
}
