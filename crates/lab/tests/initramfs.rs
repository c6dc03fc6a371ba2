//! The initramfs writer, checked with the real `cpio` and `gzip` (Debian packages `cpio`,
//! `gzip`): what is put in is exactly what comes out, and the same inputs give the same bytes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

use gauntlet_lab::initramfs::Initramfs;
use gauntlet_lab::qemu::PowerOff;
use gauntlet_lab::qemu::guest::{GuestImage, GuestSuite};

fn have(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// Says SKIPPED when `cpio` is missing (fails under `GAUNTLET_REQUIRE_QEMU=1`).
fn cpio_ready(test: &str) -> bool {
    if have("cpio") {
        return true;
    }
    assert!(
        std::env::var_os("GAUNTLET_REQUIRE_QEMU").is_none_or(|v| v != "1"),
        "GAUNTLET_REQUIRE_QEMU=1 but cpio is not installed"
    );
    eprintln!("SKIPPED {test}: cpio is not installed (apt-get install cpio)");
    false
}

/// Runs `program args` with `input` on stdin; its stdout.
fn pipe(program: &str, args: &[&str], dir: &Path, input: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut child = Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A host tree: a nested directory, an executable, a symbolic link.
fn host_tree(root: &Path) {
    std::fs::create_dir_all(root.join("sub/deeper")).unwrap();
    std::fs::write(root.join("readme.txt"), "read me\n").unwrap();
    std::fs::write(root.join("sub/run.sh"), "#!/bin/sh\necho run\n").unwrap();
    chmod(&root.join("sub/run.sh"), 0o755);
    std::fs::write(root.join("sub/deeper/data.bin"), [0u8, 1, 2, 255, 0]).unwrap();
    chmod(&root.join("sub/deeper/data.bin"), 0o600);
    std::os::unix::fs::symlink("../readme.txt", root.join("sub/link")).unwrap();
}

fn image(host: &Path) -> Initramfs {
    Initramfs::new()
        .dir("/proc", 0o555)
        .file("/init", b"#!/bin/busybox sh\necho hello\n".to_vec(), 0o755)
        .file("/etc/empty", Vec::new(), 0o644)
        .symlink("/bin/sh", "busybox")
        .file("/bin/busybox", vec![0x7f; 5000], 0o755)
        .add_tree(host, "/gauntlet/repo")
}

#[test]
fn the_archive_extracts_to_exactly_what_was_put_in() {
    if !cpio_ready("the_archive_extracts_to_exactly_what_was_put_in") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let host = dir.path().join("host");
    host_tree(&host);
    let cpio = image(&host).to_cpio().unwrap();
    let names = String::from_utf8(pipe("cpio", &["-t", "--quiet"], dir.path(), &cpio)).unwrap();
    let names: Vec<&str> = names.lines().collect();
    assert_eq!(
        names,
        [
            "bin",
            "bin/busybox",
            "bin/sh",
            "etc",
            "etc/empty",
            "gauntlet",
            "gauntlet/repo",
            "gauntlet/repo/readme.txt",
            "gauntlet/repo/sub",
            "gauntlet/repo/sub/deeper",
            "gauntlet/repo/sub/deeper/data.bin",
            "gauntlet/repo/sub/link",
            "gauntlet/repo/sub/run.sh",
            "init",
            "proc",
        ]
    );

    // Extracted: the same bytes, modes and links.
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    pipe(
        "cpio",
        &[
            "-i",
            "-d",
            "--quiet",
            "--no-absolute-filenames",
            "--no-preserve-owner",
        ],
        &out,
        &cpio,
    );
    let mode = |p: &str| {
        std::fs::symlink_metadata(out.join(p))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    };
    let read = |p: &str| std::fs::read(out.join(p)).unwrap();
    assert_eq!(read("init"), b"#!/bin/busybox sh\necho hello\n");
    assert_eq!(mode("init"), 0o755);
    assert_eq!(mode("proc"), 0o555);
    assert_eq!(read("etc/empty"), b"");
    assert_eq!(read("bin/busybox"), vec![0x7f; 5000]);
    assert_eq!(
        std::fs::read_link(out.join("bin/sh")).unwrap(),
        Path::new("busybox")
    );
    assert_eq!(read("gauntlet/repo/readme.txt"), b"read me\n");
    assert_eq!(mode("gauntlet/repo/sub/run.sh"), 0o755);
    assert_eq!(
        read("gauntlet/repo/sub/deeper/data.bin"),
        [0u8, 1, 2, 255, 0]
    );
    assert_eq!(mode("gauntlet/repo/sub/deeper/data.bin"), 0o600);
    assert_eq!(
        std::fs::read_link(out.join("gauntlet/repo/sub/link")).unwrap(),
        Path::new("../readme.txt")
    );
    // Every entry: owner 0, the fixed time.
    let listing = String::from_utf8(pipe(
        "cpio",
        &["-t", "-v", "--quiet", "--numeric-uid-gid"],
        dir.path(),
        &cpio,
    ))
    .unwrap();
    for line in listing.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!((words[2], words[3]), ("0", "0"), "{line}");
        assert!(line.contains("1970"), "{line}");
    }

    // gzip: the real gunzip gives the cpio back (header, deflate, CRC and size right).
    let gz = image(&host).to_gz(1).unwrap();
    assert_eq!(pipe("gzip", &["-d", "-c"], dir.path(), &gz), cpio);
    let stored = image(&host).to_gz(0).unwrap();
    assert_eq!(pipe("gzip", &["-d", "-c"], dir.path(), &stored), cpio);
}

#[test]
fn device_nodes_are_character_devices() {
    if !cpio_ready("device_nodes_are_character_devices") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cpio = Initramfs::new().console_devices().to_cpio().unwrap();
    let listing = String::from_utf8(pipe(
        "cpio",
        &["-t", "-v", "--quiet", "--numeric-uid-gid"],
        dir.path(),
        &cpio,
    ))
    .unwrap();
    let lines: Vec<&str> = listing.lines().collect();
    assert_eq!(lines.len(), 3, "{listing}");
    assert!(
        lines[0].starts_with("drwxr-xr-x") && lines[0].ends_with(" dev"),
        "{listing}"
    );
    assert!(
        lines[1].starts_with("crw-------") && lines[1].contains("5,"),
        "{listing}"
    );
    assert!(lines[1].ends_with(" dev/console"), "{listing}");
    assert!(
        lines[2].starts_with("crw-rw-rw-") && lines[2].ends_with(" dev/null"),
        "{listing}"
    );
}

#[test]
fn two_builds_are_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let host = dir.path().join("host");
    host_tree(&host);
    let first = image(&host).to_gz(1).unwrap();
    // Other modification times on the host, entries added in another order: same bytes.
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(host.join("readme.txt"), "read me\n").unwrap();
    let reordered = Initramfs::new()
        .add_tree(&host, "/gauntlet/repo")
        .file("/bin/busybox", vec![0x7f; 5000], 0o755)
        .symlink("/bin/sh", "busybox")
        .file("/etc/empty", Vec::new(), 0o644)
        .file("/init", b"#!/bin/busybox sh\necho hello\n".to_vec(), 0o755)
        .dir("/proc", 0o555)
        .to_gz(1)
        .unwrap();
    assert_eq!(first, reordered);
    // Written to disk: the same bytes again.
    let a = dir.path().join("a.cpio.gz");
    let b = dir.path().join("b.cpio.gz");
    image(&host).write_gz(&a).unwrap();
    image(&host).write_gz(&b).unwrap();
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    assert_eq!(std::fs::read(&a).unwrap(), first);
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let missing = Initramfs::new().add_tree(dir.path().join("nope"), "/x");
    let err = missing.to_cpio().unwrap_err().to_string();
    assert!(err.contains("nope"), "{err}");
    let escape = Initramfs::new().file("/../etc/passwd", b"x".to_vec(), 0o644);
    assert!(escape.write_gz(dir.path().join("x.gz")).is_err());
    assert!(!dir.path().join("x.gz").exists());
    let host_file = Initramfs::new().host_file("/bin/busybox", dir.path().join("none"), 0o755);
    assert!(host_file.error().is_some());
}

#[test]
fn the_guest_image_holds_init_busybox_the_helpers_the_tests_and_the_lkp_tree() {
    if !cpio_ready("the_guest_image_holds_init_busybox_the_helpers_the_tests_and_the_lkp_tree") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let host = dir.path().join("repo");
    host_tree(&host);
    let busybox = dir.path().join("busybox");
    std::fs::write(&busybox, b"\x7fELF pretend").unwrap();
    let suites = [GuestSuite {
        run_name: "0_smoke".into(),
        timeout_secs: 60,
        script: "#!/bin/sh\nlava-test-case x --result pass\n".into(),
        files: vec![("job.sh".into(), b"#!/bin/sh\n".to_vec())],
    }];
    let guest = GuestImage {
        busybox: &busybox,
        repo: Some(&host),
        suites: &suites,
        lkp: true,
        power_off: PowerOff::Reboot,
        heartbeat_secs: 10,
        monitors: false,
        env: vec![("GAUNTLET_ARCH".into(), "x86_64".into())],
    };
    let cpio = guest.build().to_cpio().unwrap();
    let names = String::from_utf8(pipe("cpio", &["-t", "--quiet"], dir.path(), &cpio)).unwrap();
    for want in [
        "init",
        "bin/busybox",
        "dev/console",
        "dev/null",
        "tmp",
        "gauntlet/bin/lava-test-case",
        "gauntlet/bin/lava-test-set",
        "gauntlet/bin/lava-test-raise",
        "gauntlet/watchdog",
        "gauntlet/repo/sub/run.sh",
        "gauntlet/suites/0/run.sh",
        "gauntlet/suites/0/job.sh",
        "gauntlet/lkp/bin/run-local",
        "gauntlet/lkp/lib/job.sh",
    ] {
        assert!(names.lines().any(|l| l == want), "{want} not in\n{names}");
    }
    // The init is valid shell (checked by the host's sh).
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    pipe(
        "cpio",
        &[
            "-i",
            "-d",
            "--quiet",
            "--no-absolute-filenames",
            "--no-preserve-owner",
            "init",
            "gauntlet/watchdog",
        ],
        &out,
        &cpio,
    );
    for script in ["init", "gauntlet/watchdog"] {
        let status = Command::new("sh")
            .arg("-n")
            .arg(out.join(script))
            .status()
            .unwrap();
        assert!(status.success(), "{script} is not valid shell");
    }
}
