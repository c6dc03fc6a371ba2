//! The QEMU lab's figures (run by `bench/lab.sh`):
//!
//! 1. initramfs generation of a typical image (busybox, the helpers, a tests' directory, the
//!    LKP tree), median of 25;
//! 2. the anchor: QEMU's bare boot of the x86_64 tinyconfig kernel with a trivial initramfs
//!    that powers off, from spawning QEMU to its exit (the same command line gauntlet uses);
//! 3. gauntlet's `boot()` of the same kernel and initramfs, from "image ready" to "all results
//!    parsed" (the sandbox, the console parser, QEMU stopped at the done marker);
//! 4. `QemuLab::run` of a small project (a definition with three cases): tests' directory
//!    copied, image made, boot, results attributed;
//! 5. boots in parallel (2 at once) against one after the other.
//!
//! `boot_bench [--kernel PATH] [--runs N]`; without `--kernel` the test kernel of
//! `tests/qemu/kernels.rs` is used (built once into `$GAUNTLET_TEST_CACHE`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/qemu/kernels.rs"]
mod kernels;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gauntlet_lab::qemu::guest::{self, GuestImage, GuestSuite};
use gauntlet_lab::qemu::{
    Accel, AccelChoice, BootSpec, BusyboxSearch, CommandLine, MACHINES, QemuLab, QemuSettings,
    Request,
};
use gauntlet_sandbox::Sandbox;
use gauntlet_verdict::Status;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

fn spread(v: &[Duration]) -> String {
    let min = v.iter().min().copied().unwrap_or_default();
    let max = v.iter().max().copied().unwrap_or_default();
    format!("[{} … {}]", secs(min), secs(max))
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut kernel: Option<PathBuf> = None;
    let mut runs = 7usize;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--kernel" => kernel = args.next().map(PathBuf::from),
            "--runs" => runs = args.next().and_then(|n| n.parse().ok()).unwrap_or(runs),
            other => {
                eprintln!("usage: boot_bench [--kernel PATH] [--runs N] (not {other})");
                std::process::exit(2);
            }
        }
    }
    let kernel = kernel.unwrap_or_else(|| match kernels::kernel(&kernels::X86_64) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("no test kernel: {e:?}");
            std::process::exit(2);
        }
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(bench(&kernel, runs.max(1)));
}

async fn bench(kernel: &Path, runs: usize) {
    let x86 = MACHINES.iter().find(|m| m.arch == "x86_64").unwrap();
    let busybox = BusyboxSearch::from_env(|k| std::env::var_os(k))
        .find(x86)
        .unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path();
    println!(
        "kernel: {} ({} bytes)",
        kernel.display(),
        std::fs::metadata(kernel).unwrap().len()
    );
    println!(
        "busybox: {} ({} bytes)",
        busybox.display(),
        std::fs::metadata(&busybox).unwrap().len()
    );
    println!("runs: {runs}\n");

    // 1. initramfs generation: busybox + helpers + a tests' directory + the LKP tree.
    let repo = dir.join("repo");
    for i in 0..40 {
        let path = repo.join(format!("tests/t{i:02}.sh"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, format!("#!/bin/sh\necho test {i}\n").repeat(20)).unwrap();
    }
    std::fs::write(repo.join("tests/data.bin"), vec![7u8; 200_000]).unwrap();
    let suites: Vec<GuestSuite> = (0..3)
        .map(|i| GuestSuite {
            run_name: guest::run_name(i, "suite"),
            timeout_secs: 60,
            script: "#!/bin/sh\nset -e\nlava-test-case a --result pass\n".to_owned(),
            files: Vec::new(),
        })
        .collect();
    let typical = GuestImage {
        busybox: &busybox,
        repo: Some(&repo),
        suites: &suites,
        lkp: true,
        power_off: x86.power_off,
        heartbeat_secs: 10,
        monitors: false,
        env: vec![("GAUNTLET_ARCH".into(), "x86_64".into())],
    };
    let mut times = Vec::new();
    let mut size = 0;
    let mut entries = 0;
    for _ in 0..25 {
        let started = Instant::now();
        let image = typical.build();
        entries = image.len();
        size = image.write_gz(dir.join("typical.cpio.gz")).unwrap();
        times.push(started.elapsed());
    }
    let (fastest, slowest) = (*times.iter().min().unwrap(), *times.iter().max().unwrap());
    println!(
        "initramfs, gzip -1 (busybox + helpers + 41 test files + LKP tree: {entries} entries, {size} bytes): median {} [{} … {}]",
        ms(median(times.clone())),
        ms(fastest),
        ms(slowest)
    );
    let mut raw = Vec::new();
    let mut raw_size = 0;
    for _ in 0..25 {
        let started = Instant::now();
        raw_size = typical
            .build()
            .write_cpio(dir.join("typical.cpio"))
            .unwrap();
        raw.push(started.elapsed());
    }
    println!(
        "  uncompressed (the lab's default): median {} ({raw_size} bytes)",
        ms(median(raw))
    );
    for level in [0u8, 6] {
        let started = Instant::now();
        let bytes = typical.build().to_gz(level).unwrap();
        println!(
            "  gzip level {level}: {} ({} bytes)",
            ms(started.elapsed()),
            bytes.len()
        );
    }

    // The trivial image of the anchor and of boot().
    // Uncompressed, as the lab makes them.
    let smoke = dir.join("smoke.cpio");
    guest::smoke_image(&busybox, x86.power_off)
        .write_cpio(&smoke)
        .unwrap();
    let extra = guest::kernel_args();
    let line = CommandLine {
        machine: x86,
        accel: Accel::Tcg,
        kernel,
        initramfs: &smoke,
        memory_mb: 256,
        cpus: 1,
        cmdline_extra: &extra,
        nvram: None,
    };
    let qemu_args = line.args();

    // 2. The anchor: QEMU alone, to its exit (reboot -f with -no-reboot).
    let bare_once = || {
        let started = Instant::now();
        let out = Command::new(x86.program)
            .args(&qemu_args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .output()
            .unwrap();
        let elapsed = started.elapsed();
        assert!(
            String::from_utf8_lossy(&out.stdout).contains(guest::DONE_MARKER),
            "the bare boot did not finish"
        );
        elapsed
    };
    let _warm = bare_once();
    let bare: Vec<Duration> = (0..runs).map(|_| bare_once()).collect();
    println!(
        "\nbare QEMU boot (spawn → exit): median {} {}",
        secs(median(bare.clone())),
        spread(&bare)
    );

    // 3. gauntlet's boot(): the same kernel and image, to all results parsed.
    let settings = QemuSettings {
        accel: AccelChoice::Tcg,
        ..QemuSettings::from_env(|k| std::env::var_os(k))
    };
    let lab = QemuLab::new(Sandbox::detect(), &dir.join("cache"), settings.clone()).unwrap();
    println!("sandbox: {}", lab.sandbox().confinement().kind());
    let boot_once = |n: usize| {
        let lab = &lab;
        let smoke = &smoke;
        let extra = extra.clone();
        async move {
            let work = dir.join(format!("boot-{n}"));
            let log = dir.join(format!("boot-{n}.log"));
            let mut spec = BootSpec::new(x86, kernel, smoke, &work, &log);
            spec.cmdline_extra = extra;
            let started = Instant::now();
            let outcome = lab.boot(&spec).await.unwrap();
            let elapsed = started.elapsed();
            assert_eq!(outcome.status(), Status::Pass, "{}", outcome.reason());
            (elapsed, outcome.timings)
        }
    };
    let mut ours = Vec::new();
    let mut done_at = Vec::new();
    for n in 0..runs {
        let (elapsed, timings) = boot_once(n).await;
        ours.push(elapsed);
        if let Some(done) = timings.done {
            done_at.push(done);
        }
    }
    let ours_median = median(ours.clone());
    let bare_median = median(bare.clone());
    println!(
        "gauntlet boot() (image ready → all results parsed): median {} {}",
        secs(ours_median),
        spread(&ours)
    );
    println!(
        "  of which QEMU start → done marker: median {}",
        secs(median(done_at))
    );
    let delta = ours_median.as_secs_f64() - bare_median.as_secs_f64();
    println!(
        "  difference to the bare boot: {:+.3} s (budget: +0.500 s)",
        delta
    );

    // 4. QemuLab::run of a small project.
    let project_dir = dir.join("project");
    std::fs::create_dir_all(project_dir.join("tests")).unwrap();
    std::fs::write(
        project_dir.join("p.yaml"),
        "name: Bench\nbuilds:\n  - arch: x86_64\n    lava: true\ntests:\n  path: tests/smoke.yaml\n  timeout: 60s\n",
    )
    .unwrap();
    std::fs::write(
        project_dir.join("tests/smoke.yaml"),
        "metadata:\n  format: Lava-Test Test Definition 1.0\n  name: smoke\n  description: bench\nrun:\n  steps:\n    - lava-test-case uname --shell uname -a\n    - lava-test-case proc --shell test -r /proc/version\n    - lava-test-case measured --result pass --measurement 1 --units s\n",
    )
    .unwrap();
    let project = gauntlet_project::Project::load(&project_dir.join("p.yaml")).unwrap();
    let source = dir.join("src");
    std::fs::create_dir_all(&source).unwrap();
    let mut full = Vec::new();
    let mut image_ms = Vec::new();
    for n in 0..runs {
        let request = Request {
            project: &project,
            build: &project.builds[0],
            kernel,
            source: &source,
            work_dir: &dir.join(format!("run-{n}")),
            log_dir: &dir.join(format!("run-{n}-logs")),
            progress: None,
        };
        let started = Instant::now();
        let run = lab.run_detailed(&request).await.unwrap();
        full.push(started.elapsed());
        image_ms.push(Duration::from_secs_f64(run.details.initramfs_ms / 1000.0));
        let smoke = run.suites.iter().find(|s| s.suite == "smoke").unwrap();
        assert_eq!(smoke.status, Status::Pass, "{}", smoke.reason);
        assert_eq!(smoke.passed_of(), (3, 3));
    }
    println!(
        "QemuLab::run (copy tests, prepare image, boot, attribute; 3 results): median {} {}, image {}",
        secs(median(full.clone())),
        spread(&full),
        ms(median(image_ms))
    );

    // 5. Several boots: one after the other, then two at once.
    let batch = 4;
    let started = Instant::now();
    for n in 0..batch {
        boot_once(100 + n).await;
    }
    let sequential = started.elapsed();
    let started = Instant::now();
    for pair in 0..batch / 2 {
        tokio::join!(boot_once(200 + 2 * pair), boot_once(201 + 2 * pair));
    }
    let parallel = started.elapsed();
    println!(
        "\n{batch} boots one after the other: {}; two at a time: {} ({:.2}x)",
        secs(sequential),
        secs(parallel),
        sequential.as_secs_f64() / parallel.as_secs_f64()
    );
}
