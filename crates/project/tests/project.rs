//! Project files and LAVA test definitions, loaded from real files in a scratch directory.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use gauntlet_project::{
    BaseConfig, Candidate, ChecksOn, MailPolicy, Project, Recipe, TestDefinition, TestSuite,
    TreeSource, check_syntax,
};
use gauntlet_verdict::Severity;
use indexmap::IndexMap;

/// A scratch directory with the given files.
fn scratch(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, content) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    dir
}

/// The seed's test definition, verbatim.
const SEED_DEFINITION: &str = r#"metadata:
    format: Lava-Test Test Definition 1.0
    name: smoke-tests-dummy
    description: "Smoke tests everyday"

install:
        deps:
          - gcc
          - gcc-multilib
run:
    steps:
      - ./epita/script_dummy.sh
"#;

/// The seed's project file, verbatim but for the slide's `[...]` elision line.
const SEED_PROJECT: &str = "name: Proctree Syscall
builds:
        - arch: x86_64
          config:
                  - config/proctree_syscall
                  - config/virtio_net
                  - config/gcov
                  - config/overlayfs
          lava: True
        - arch: powerpc64
          config:
                  - config/proctree_syscall
tests:
        path: epita/proctree.yaml
";

fn seed_files() -> Vec<(&'static str, &'static str)> {
    vec![
        ("proctree.yaml", SEED_PROJECT),
        ("config/proctree_syscall", "CONFIG_PROCTREE=y\n"),
        ("config/virtio_net", "CONFIG_VIRTIO_NET=y\n"),
        ("config/gcov", "CONFIG_GCOV_KERNEL=y\n"),
        ("config/overlayfs", "CONFIG_OVERLAY_FS=y\n"),
        ("epita/proctree.yaml", SEED_DEFINITION),
    ]
}

fn message(dir: &Path, name: &str) -> String {
    match Project::load(&dir.join(name)) {
        Ok(_) => panic!("{name} should not load"),
        Err(errors) => errors.to_string(),
    }
}

#[test]
fn the_seed_project_loads_with_its_defaults() {
    let dir = scratch(&seed_files());
    let project = Project::load(&dir.path().join("proctree.yaml")).unwrap();
    assert_eq!(project.name, "Proctree Syscall");
    assert!(project.recipe.is_kbuild());
    let names: Vec<_> = project.builds.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, ["x86_64", "powerpc64"]);
    let x86 = &project.builds[0];
    assert!(x86.test, "`lava: True` means boot and test");
    assert_eq!(x86.arch.map(|a| a.kernel_arch), Some("x86_64"));
    assert_eq!(x86.config.len(), 4);
    assert_eq!(x86.config[1], dir.path().join("config/virtio_net"));
    let ppc = &project.builds[1];
    assert!(!ppc.test);
    assert_eq!(ppc.arch.map(|a| a.kernel_arch), Some("powerpc"));
    assert_eq!(project.tested_builds().count(), 1);

    assert_eq!(project.tests.len(), 1);
    let TestSuite::Lava(definition) = &project.tests[0].suite else {
        panic!("the seed's test file is a LAVA definition");
    };
    assert_eq!(definition.name, "smoke-tests-dummy");
    assert_eq!(definition.deps, ["gcc", "gcc-multilib"]);
    assert_eq!(definition.run_steps[0].command, "./epita/script_dummy.sh");
    assert_eq!(definition.run_steps[0].at.line, 12);
    // LAVA wants a version for definitions that are not in git: a warning, not an error.
    assert!(definition.warnings[0].message.contains("metadata.version"));

    assert_eq!(
        project.report.signature,
        gauntlet_project::DEFAULT_SIGNATURE
    );
    assert_eq!(project.report.mail.policy, MailPolicy::Always);
    assert_eq!(project.limits.test_time, Duration::from_secs(600));
    assert!(project.tree.is_none());
}

#[test]
fn every_extension_is_read() {
    let project = "name: Net
description: netdev-style checks
tree:
  path: linux
  branches: [net-next, main]
accepts:
  list_ids: [netdev.vger.kernel.org]
  subject_tags: [net-next, net]
  paths: ['net/**', 'drivers/net/**']
checks:
  signed-off-by: error
  maintainers: off
  whitespace: false
  checkpatch:
    severity: warning
    ignore: [FILE_PATH_CHANGES]
    types: {LONG_LINE: info, SPACING: off}
    options: {strict: true, path: scripts/checkpatch.pl, max_line_length: 100}
recipe:
  base_config: tinyconfig
  make_args: [W=1]
builds:
  - arch: x86_64
    config: [frag/net]
    test: true
  - arch: arm64
    name: arm64-tiny
    base_config: allnoconfig
tests:
  - path: t/smoke.yaml
    timeout: 2m
    params: {SIZE: '8'}
    prepare: make -C t/prog
  - path: [t/job.yaml]
report:
  signature: NetDev CI
  template: report.j2
  mail: {policy: change, cc: [netdev@vger.kernel.org], cc_list: true}
  patchwork: {checks_on: last-patch, rejected_state: changes-requested, accepted_state: under-review}
limits: {build_time: 30m, memory: 2G, log_size: 16M}
";
    let definition = "metadata:
  format: Lava-Test Test Definition 1.0
  name: smoke
  description: smoke
  version: '1.0'
params:
  SIZE: 4
run:
  steps:
    - echo size=$SIZE
parse:
  pattern: '^(?P<test_case_id>\\S+): (?P<result>PASS|FAIL)$'
  fixupdict: {PASS: pass, FAIL: fail}
";
    let dir = scratch(&[
        ("p.yaml", project),
        ("linux/.keep", ""),
        ("frag/net", "CONFIG_NET=y\n"),
        ("t/smoke.yaml", definition),
        (
            "t/job.yaml",
            "suite: hackbench\ntestcase: hackbench\nhackbench:\n  mode: [process, threads]\n",
        ),
        ("report.j2", "Hi {{ name }}\n"),
    ]);
    let project = Project::load(&dir.path().join("p.yaml")).unwrap();
    let tree = project.tree.as_ref().unwrap();
    assert_eq!(tree.source, TreeSource::Path(dir.path().join("linux")));
    assert_eq!(tree.branches, ["net-next", "main"]);

    let checkpatch = &project.checks["checkpatch"].settings;
    assert_eq!(checkpatch.severity, Some(Severity::Warning));
    assert_eq!(checkpatch.ignore, ["FILE_PATH_CHANGES", "SPACING"]);
    assert_eq!(
        checkpatch.severity_of("LONG_LINE", Severity::Error),
        Some(Severity::Info)
    );
    assert_eq!(checkpatch.options["max_line_length"].as_int(), Some(100));
    assert_eq!(checkpatch.options["strict"].as_bool(), Some(true));
    assert!(!project.checks["maintainers"].settings.enabled);
    assert!(!project.checks["whitespace"].settings.enabled);
    assert_eq!(
        project.checks["signed-off-by"].settings.severity,
        Some(Severity::Error)
    );
    assert_eq!(project.checks["checkpatch"].at.line, 15);

    assert_eq!(
        project.recipe,
        Recipe::Kbuild {
            base_config: Some(BaseConfig::Target("tinyconfig".into())),
            image: None,
            make_args: vec!["W=1".into()],
        }
    );
    assert_eq!(project.builds[1].name, "arm64-tiny");
    assert_eq!(
        project.builds[1].base_config,
        Some(BaseConfig::Target("allnoconfig".into()))
    );
    assert!(project.builds[0].test && !project.builds[1].test);

    assert_eq!(project.tests.len(), 2);
    assert_eq!(project.tests[0].timeout, Duration::from_secs(120));
    assert_eq!(project.tests[0].prepare.as_deref(), Some("make -C t/prog"));
    assert_eq!(project.tests[1].prepare, None);
    assert!(matches!(project.tests[0].suite, TestSuite::Lava(_)));
    assert!(matches!(project.tests[1].suite, TestSuite::LkpJob));
    assert_eq!(project.tests[1].timeout, Duration::from_secs(600));

    assert_eq!(project.report.signature, "NetDev CI");
    assert_eq!(project.report.template, Some(dir.path().join("report.j2")));
    assert_eq!(project.report.mail.policy, MailPolicy::Change);
    assert!(project.report.mail.cc_list);
    assert_eq!(project.report.patchwork.checks_on, ChecksOn::LastPatch);
    assert_eq!(project.limits.build_time, Duration::from_secs(1800));
    assert_eq!(project.limits.memory, 2 << 30);
    assert_eq!(project.limits.log_size, 16 << 20);

    // Which submissions it takes.
    let tags = vec!["PATCH".to_owned(), "net-next".to_owned()];
    let paths = vec!["drivers/net/veth.c".to_owned()];
    let mut candidate = Candidate {
        list_id: Some("<netdev.vger.kernel.org>"),
        patchwork_project: None,
        subject_tags: &tags,
        paths: &paths,
    };
    assert_eq!(project.accepts.rejects(&candidate), None);
    candidate.list_id = Some("linux-mm.kvack.org");
    assert!(
        project
            .accepts
            .rejects(&candidate)
            .unwrap()
            .contains("netdev")
    );
    candidate.list_id = Some("netdev.vger.kernel.org");
    let elsewhere = vec!["mm/slab.c".to_owned()];
    candidate.paths = &elsewhere;
    assert!(
        project
            .accepts
            .rejects(&candidate)
            .unwrap()
            .contains("touches none")
    );
    candidate.paths = &paths;
    let untagged = vec!["PATCH".to_owned()];
    candidate.subject_tags = &untagged;
    assert!(
        project
            .accepts
            .rejects(&candidate)
            .unwrap()
            .contains("[net-next]")
    );
}

#[test]
fn a_command_recipe_for_projects_that_are_not_kernels() {
    let dir = scratch(&[(
        "p.yaml",
        "name: hello\nrecipe:\n  command: make all\n  artifacts: [hello]\n  env: {CFLAGS: -O2}\nbuilds:\n  - arch: host\n",
    )]);
    let project = Project::load(&dir.path().join("p.yaml")).unwrap();
    assert_eq!(
        project.recipe,
        Recipe::Command {
            command: "make all".into(),
            artifacts: vec!["hello".into()],
            env: [("CFLAGS".to_owned(), "-O2".to_owned())]
                .into_iter()
                .collect(),
        }
    );
    // With a command recipe the architecture is only a label.
    assert_eq!(project.builds[0].name, "host");
    assert!(project.builds[0].arch.is_none());
}

#[test]
fn errors_name_the_place_and_what_was_expected() {
    let mut files = seed_files();
    files.push((
        "typo.yaml",
        "name: x\nbuilds:\n  - arch: x86_64\n    confg: [config/gcov]\n",
    ));
    files.push(("arch.yaml", "name: x\nbuilds:\n  - arch: vax\n"));
    files.push((
        "missing.yaml",
        "name: x\nbuilds:\n  - arch: arm64\n    config: [config/gcov, config/nope]\n",
    ));
    files.push((
        "type.yaml",
        "name: x\nbuilds:\n  - arch: x86_64\n    lava: sometimes\n",
    ));
    files.push(("dup.yaml", "name: x\nname: y\n"));
    files.push(("top.yaml", "name: x\nbuild:\n  - arch: x86_64\n"));
    files.push((
        "notests.yaml",
        "name: x\nbuilds:\n  - arch: x86_64\n    lava: true\n",
    ));
    files.push((
        "twice.yaml",
        "name: x\nbuilds:\n  - arch: x86_64\n  - arch: amd64\n",
    ));
    files.push(("check.yaml", "name: x\nchecks:\n  subject: loud\n"));
    files.push(("limits.yaml", "name: x\nlimits: {build_time: soon}\n"));
    files.push(("badyaml.yaml", "name: x\nbuilds: [\n"));
    files.push(("utf8.yaml", "name: \u{e9}\n"));
    let dir = scratch(&files);
    std::fs::write(
        dir.path().join("utf8.yaml"),
        b"name: x\ndescription: caf\xe9\n",
    )
    .unwrap();

    let file = |name: &str| dir.path().join(name).display().to_string();
    let typo = message(dir.path(), "typo.yaml");
    assert!(
        typo.starts_with(&format!("{}:4:5: unknown field `confg`", file("typo.yaml"))),
        "{typo}"
    );
    assert!(typo.contains("expected one of"), "{typo}");
    let arch = message(dir.path(), "arch.yaml");
    assert!(
        arch.starts_with(&format!(
            "{}:3:11: unknown architecture `vax`",
            file("arch.yaml")
        )),
        "{arch}"
    );
    assert!(arch.contains("x86_64, i386, arm64"), "{arch}");
    let missing = message(dir.path(), "missing.yaml");
    assert!(
        missing.starts_with(&format!(
            "{}:4:27: config fragment `config/nope` does not exist",
            file("missing.yaml")
        )),
        "{missing}"
    );
    let kind = message(dir.path(), "type.yaml");
    assert!(
        kind.starts_with(&format!("{}:4:11:", file("type.yaml"))) && kind.contains("boolean"),
        "{kind}"
    );
    let dup = message(dir.path(), "dup.yaml");
    assert!(
        dup.starts_with(&format!("{}:2:1: duplicate", file("dup.yaml"))),
        "{dup}"
    );
    let top = message(dir.path(), "top.yaml");
    assert!(
        top.contains("unknown field `build`") && top.contains("builds"),
        "{top}"
    );
    assert!(message(dir.path(), "notests.yaml").contains("has no `tests`"));
    assert!(message(dir.path(), "twice.yaml").contains("two builds are called `x86_64`"));
    let check = message(dir.path(), "check.yaml");
    assert!(
        check.contains(":3:12:") && check.contains("`loud` is not a check setting"),
        "{check}"
    );
    assert!(message(dir.path(), "limits.yaml").contains("`soon` is not a duration"));
    assert!(message(dir.path(), "badyaml.yaml").contains(":2:"));
    let utf8 = message(dir.path(), "utf8.yaml");
    assert!(utf8.contains(":2:17: invalid UTF-8"), "{utf8}");
    let absent = Project::load(&dir.path().join("absent.yaml"))
        .unwrap_err()
        .to_string();
    assert!(absent.contains("absent.yaml: cannot read"), "{absent}");
}

#[test]
fn all_problems_are_reported_at_once() {
    let dir = scratch(&[(
        "p.yaml",
        "name: x\nbuilds:\n  - arch: vax\n  - arch: x86_64\n    config: [a, b]\n",
    )]);
    let errors = Project::load(&dir.path().join("p.yaml")).unwrap_err();
    assert_eq!(errors.0.len(), 3, "{errors}");
}

#[test]
fn hostile_files_fail_fast() {
    // A billion laughs.
    let mut bomb = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for (i, name) in ["b", "c", "d", "e", "f", "g", "h", "i"].iter().enumerate() {
        let prev = ["a", "b", "c", "d", "e", "f", "g", "h"][i];
        bomb.push_str(&format!("{name}: &{name} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"));
    }
    bomb.push_str("name: x\n");
    let deep = format!(
        "name: x\ndescription: {}{}\n",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let dir = scratch(&[("bomb.yaml", &bomb), ("deep.yaml", &deep)]);
    let start = std::time::Instant::now();
    assert!(Project::load(&dir.path().join("bomb.yaml")).is_err());
    assert!(Project::load(&dir.path().join("deep.yaml")).is_err());
    assert!(start.elapsed() < Duration::from_secs(2));
    let huge = dir.path().join("huge.yaml");
    std::fs::write(&huge, "name: x\n".repeat(1 << 20)).unwrap();
    assert!(
        Project::load(&huge)
            .unwrap_err()
            .to_string()
            .contains("at most")
    );
}

fn definition(text: &str) -> Result<TestDefinition, String> {
    TestDefinition::parse(Path::new("t.yaml"), text).map_err(|e| e.to_string())
}

const HEAD: &str = "metadata:\n  format: Lava-Test Test Definition 1.0\n  name: t\n  description: d\n  version: '1'\n";

#[test]
fn test_definitions_are_validated_as_lava_would() {
    let wrong_format = definition("metadata:\n  format: Lava-Test Test Definition 2.0\n  name: t\n  description: d\nrun:\n  steps: [true]\n").unwrap_err();
    assert!(
        wrong_format.starts_with("t.yaml:2:11: metadata.format is `Lava-Test Test Definition 2.0`"),
        "{wrong_format}"
    );
    let bad_name = definition("metadata:\n  format: Lava-Test Test Definition 1.0\n  name: my tests\n  description: d\nrun:\n  steps: [true]\n").unwrap_err();
    assert!(
        bad_name.contains("t.yaml:3:9: metadata.name `my tests`"),
        "{bad_name}"
    );
    let mapping =
        definition(&format!("{HEAD}run:\n  steps:\n    - echo result: ok\n")).unwrap_err();
    assert!(
        mapping.contains("t.yaml:8:") && mapping.contains("quote the whole step"),
        "{mapping}"
    );
    let empty = definition(&format!("{HEAD}run:\n  steps: []\n")).unwrap_err();
    assert!(empty.contains("run.steps is empty"));
    let regex = definition(&format!(
        "{HEAD}run:\n  steps: [true]\nparse:\n  pattern: '(?P<test_case_id>\\S+'\n"
    ))
    .unwrap_err();
    assert!(
        regex.contains("t.yaml:9:12: parse.pattern is not a valid regular expression"),
        "{regex}"
    );
    let groups = definition(&format!(
        "{HEAD}run:\n  steps: [true]\nparse:\n  pattern: '(?P<name>\\S+)'\n"
    ))
    .unwrap_err();
    assert!(
        groups.contains("no `(?P<test_case_id>…)` group")
            && groups.contains("no `(?P<result>…)` group"),
        "{groups}"
    );
    let fixup = definition(&format!("{HEAD}run:\n  steps: [true]\nparse:\n  pattern: '(?P<test_case_id>\\S+) (?P<result>\\S+)'\n  fixupdict: {{OK: passed}}\n")).unwrap_err();
    assert!(fixup.contains("maps `OK` to `passed`"), "{fixup}");
    let unknown = definition(&format!("{HEAD}run:\n  steps: [true]\n  timeout: 5\n")).unwrap_err();
    assert!(unknown.contains("unknown field `timeout`"), "{unknown}");
}

#[test]
fn a_comment_swallowed_by_yaml_is_a_warning() {
    let text = format!(
        "{HEAD}run:\n  steps:\n    - echo \"ok 3 x # SKIP no hw\"\n    - echo ok 4 y # SKIP no hw\n    - \"echo ok 5 # fine\"\n"
    );
    let definition = definition(&text).unwrap();
    // LAVA's own gotcha: the first step is `echo "ok 3 x` for YAML, and `sh` then fails on the
    // unterminated quote. The quoted third step is fine.
    assert_eq!(definition.warnings.len(), 2, "{:?}", definition.warnings);
    let first = definition.warnings[0].to_string();
    assert!(
        first.starts_with("t.yaml:8:7: warning: YAML reads `# SKIP no hw\"`"),
        "{first}"
    );
    assert_eq!(definition.run_steps[0].command, "echo \"ok 3 x");
    let second = definition.warnings[1].to_string();
    assert!(
        second.starts_with("t.yaml:9:7: warning: YAML reads `# SKIP no hw`"),
        "{second}"
    );
    assert_eq!(definition.run_steps[1].command, "echo ok 4 y");
    assert_eq!(definition.run_steps[2].command, "echo ok 5 # fine");
    assert!(check_syntax(&definition).is_err());
}

#[test]
fn the_script_runs_the_steps_with_their_parameters() {
    let text = format!(
        "{HEAD}params:\n  GREETING: \"it's $HOME\"\n  COUNT: 3\ninstall:\n  steps: ['echo installing']\nrun:\n  steps:\n    - echo \"$GREETING\" $COUNT\n    - |\n      for i in 1 2; do\n        echo loop $i\n      done\n    - 'false'\n    - echo never\n"
    );
    let definition = definition(&text).unwrap();
    let mut overrides = IndexMap::new();
    overrides.insert("COUNT".to_owned(), "4".to_owned());
    let script = definition.script(&overrides);
    let output = std::process::Command::new("sh")
        .arg("-c")
        .arg(&script)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(stdout, "installing\nit's $HOME 4\nloop 1\nloop 2\n");
    // `set -e`, as LAVA runs run.sh: a failing plain step ends the run.
    assert!(!output.status.success());
    assert!(check_syntax(&definition).is_ok());

    let broken = format!(
        "{HEAD}run:\n  steps:\n    - echo start\n    - 'if true; then echo unterminated'\n    - echo end\n"
    );
    let broken = TestDefinition::parse(Path::new("t.yaml"), &broken).unwrap();
    let error = check_syntax(&broken).unwrap_err().to_string();
    assert!(error.contains("the steps are not valid shell"), "{error}");
    assert!(error.starts_with("t.yaml:"), "{error}");
}

#[test]
fn a_test_file_that_is_not_lava_is_an_lkp_job() {
    let dir = scratch(&[
        (
            "job.yaml",
            "suite: ebizzy\ntestcase: ebizzy\n<% if true %>x: 1<% end %>\n",
        ),
        ("lava.yaml", SEED_DEFINITION),
    ]);
    let job = gauntlet_project::load_suite(&dir.path().join("job.yaml")).unwrap();
    assert!(matches!(job, TestSuite::LkpJob));
    let lava = gauntlet_project::load_suite(&dir.path().join("lava.yaml")).unwrap();
    assert_eq!(lava.kind(), "LAVA test definition");
    let _unused: PathBuf = dir.path().to_path_buf();
}
