//! A sample course, for `gauntlet demo` and the tests: a small C program in a git repository,
//! a project file with a LAVA test definition, and four students' series mailed the way
//! `git format-patch` writes them — one good, one without Signed-off-by, one that does not
//! build, one that builds but fails a test.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::Error;

/// What [`write`] made.
#[derive(Debug, Clone)]
pub struct Sample {
    /// The course's tree (a git repository, branch `master`).
    pub tree: PathBuf,
    /// The project file.
    pub project: PathBuf,
    /// The four series, as mbox files, in the order: good, no Signed-off-by, does not build,
    /// fails a test.
    pub series: Vec<PathBuf>,
}

const MAKEFILE: &str = "CFLAGS ?= -O2 -Wall\n\nhello: hello.c greet.c greet.h\n\t$(CC) $(CFLAGS) -o hello hello.c greet.c\n\nclean:\n\trm -f hello\n";
const GREET_H: &str =
    "#ifndef GREET_H\n#define GREET_H\n\nvoid greet(const char *name);\n\n#endif\n";
const GREET_C: &str = "#include <stdio.h>\n#include \"greet.h\"\n\nvoid greet(const char *name)\n{\n\t(void)name;\n\tprintf(\"Hello, world!\\n\");\n}\n";
const HELLO_C: &str = "#include \"greet.h\"\n\nint main(int argc, char **argv)\n{\n\t(void)argc;\n\t(void)argv;\n\tgreet(\"world\");\n\treturn 0;\n}\n";

const PROJECT: &str =
    "# The sample course of `gauntlet demo`: students mail patches to the hello program.
name: Hello Course
tree:
  path: ../tree
  branches: [master]
recipe:
  command: make
  artifacts: [hello]
builds:
  - arch: x86_64
    lava: true
tests:
  path: tests/hello.yaml
  timeout: 1m
checks:
  # The course's tree is not a kernel: no checkpatch.pl, no MAINTAINERS.
  checkpatch: off
  maintainers: off
report:
  signature: The Hello Course staff
";

const DEFINITION: &str = r#"metadata:
  format: Lava-Test Test Definition 1.0
  name: hello
  description: "The assignment: greet people by their name"
  version: "1.0"
run:
  steps:
    - lava-test-case builds --shell test -x "$GAUNTLET_SOURCE/hello"
    - lava-test-case greets-the-world --shell ./tests/greets.sh
    - lava-test-case greets-ada --shell ./tests/greets.sh Ada
    - lava-test-case greets-unicode --shell ./tests/greets.sh Zoë
"#;

const GREETS_SH: &str = "#!/bin/sh\n# greets.sh [NAME]: hello must say \"Hello, NAME!\" (\"Hello, world!\" without a name)\nwanted=\"Hello, ${1:-world}!\"\ngot=$(\"$GAUNTLET_SOURCE/hello\" \"$@\")\nif [ \"$got\" = \"$wanted\" ]; then\n\techo \"ok: $got\"\nelse\n\techo \"expected '$wanted', got '$got'\"\n\texit 1\nfi\n";

/// A student's change: the files it writes, its commit message.
struct Change {
    files: &'static [(&'static str, &'static str)],
    subject: &'static str,
    body: &'static str,
}

struct Student {
    name: &'static str,
    email: &'static str,
    /// `-v N`
    version: u32,
    cover: Option<(&'static str, &'static str)>,
    changes: Vec<Change>,
    signed_off: bool,
}

const GREET_NAME_C: &str = "#include <stdio.h>\n#include \"greet.h\"\n\nvoid greet(const char *name)\n{\n\tprintf(\"Hello, %s!\\n\", name);\n}\n";
const HELLO_ARG_C: &str = "#include \"greet.h\"\n\nint main(int argc, char **argv)\n{\n\tgreet(argc > 1 ? argv[1] : \"world\");\n\treturn 0;\n}\n";
const GREET_BROKEN_C: &str = "#include <stdio.h>\n#include \"greet.h\"\n\nvoid greet(const char *name)\n{\n\tprintf(\"Hello, %s!\\n\", name)\n}\n";
const GREET_WRONG_C: &str = "#include <stdio.h>\n#include \"greet.h\"\n\nvoid greet(const char *name)\n{\n\tprintf(\"Hi, %s!\\n\", name);\n}\n";

fn students() -> Vec<Student> {
    let greet = |content: &'static str, subject: &'static str| Change {
        files: if content == GREET_NAME_C {
            &[("greet.c", GREET_NAME_C)]
        } else if content == GREET_BROKEN_C {
            &[("greet.c", GREET_BROKEN_C)]
        } else {
            &[("greet.c", GREET_WRONG_C)]
        },
        subject,
        body: "greet() ignored the name it was given: print it instead of\n\"world\".",
    };
    let hello = Change {
        files: &[("hello.c", HELLO_ARG_C)],
        subject: "hello: greet the person named on the command line",
        body: "Take the name to greet from the first argument, and keep greeting\nthe world when there is none.",
    };
    vec![
        Student {
            name: "Zoë Ångström",
            email: "zoe.angstrom@student.example.org",
            version: 2,
            cover: Some((
                "hello: greet people by their name",
                "This series makes hello greet the person named on its command line.\n\n\
                 Changes since v1: the name comes from argv[1], not from $USER.",
            )),
            changes: vec![greet(GREET_NAME_C, "greet: print the name given"), hello],
            signed_off: true,
        },
        Student {
            name: "Jan Novák",
            email: "jan.novak@student.example.org",
            version: 1,
            cover: None,
            changes: vec![greet(GREET_NAME_C, "greet: print the name given")],
            signed_off: false,
        },
        Student {
            name: "李雷",
            email: "li.lei@student.example.org",
            version: 1,
            cover: None,
            changes: vec![greet(GREET_BROKEN_C, "greet: print the name given")],
            signed_off: true,
        },
        Student {
            name: "Amara Okafor",
            email: "amara.okafor@student.example.org",
            version: 1,
            cover: Some((
                "hello: greet people by their name",
                "greet() now uses the name it is given, and hello passes it argv[1].",
            )),
            changes: vec![
                greet(GREET_WRONG_C, "greet: say hi to the name given"),
                Change {
                    files: &[("hello.c", HELLO_ARG_C)],
                    subject: "hello: greet the person named on the command line",
                    body: "Take the name to greet from the first argument.",
                },
            ],
            signed_off: true,
        },
    ]
}

fn git(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<String, Error> {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("LC_ALL", "C")
        .envs(env.iter().copied())
        .output()
        .map_err(|source| Error::Io {
            context: format!("running git {}", args.join(" ")),
            source,
        })?;
    if !output.status.success() {
        return Err(Error::Io {
            context: format!("git {}", args.join(" ")),
            source: std::io::Error::other(String::from_utf8_lossy(&output.stderr).into_owned()),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn write_file(path: &Path, text: &str) -> Result<(), Error> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| Error::Io {
            context: format!("creating {}", parent.display()),
            source,
        })?;
    }
    std::fs::write(path, text).map_err(|source| Error::Io {
        context: format!("writing {}", path.display()),
        source,
    })
}

/// Writes the sample course under `root` (which should be empty).
pub fn write(root: &Path) -> Result<Sample, Error> {
    let tree = root.join("tree");
    for (name, text) in [
        ("Makefile", MAKEFILE),
        ("greet.h", GREET_H),
        ("greet.c", GREET_C),
        ("hello.c", HELLO_C),
        (
            "README",
            "hello: the assignment is to greet people by their name.\n",
        ),
    ] {
        write_file(&tree.join(name), text)?;
    }
    let staff = [
        ("GIT_AUTHOR_NAME", "Course Staff"),
        ("GIT_AUTHOR_EMAIL", "staff@course.example.org"),
        ("GIT_COMMITTER_NAME", "Course Staff"),
        ("GIT_COMMITTER_EMAIL", "staff@course.example.org"),
        ("GIT_AUTHOR_DATE", "2026-09-01T09:00:00Z"),
        ("GIT_COMMITTER_DATE", "2026-09-01T09:00:00Z"),
    ];
    git(&tree, &["init", "-q", "-b", "master"], &[])?;
    git(&tree, &["add", "-A"], &[])?;
    git(
        &tree,
        &[
            "commit",
            "-q",
            "-m",
            "hello: the starting point of the assignment",
        ],
        &staff,
    )?;

    let project_dir = root.join("project");
    let project = project_dir.join("hello.yaml");
    write_file(&project, PROJECT)?;
    write_file(&project_dir.join("tests/hello.yaml"), DEFINITION)?;
    let expect = project_dir.join("tests/greets.sh");
    write_file(&expect, GREETS_SH)?;
    set_executable(&expect)?;

    let mut series = Vec::new();
    for (i, student) in students().into_iter().enumerate() {
        let work = root.join(format!("work/student{i}"));
        let source = tree.display().to_string();
        let work_arg = work.display().to_string();
        git(root, &["clone", "-q", &source, &work_arg], &[])?;
        let date = format!("2026-10-0{}T1{i}:00:00Z", i + 1);
        let identity = [
            ("GIT_AUTHOR_NAME", student.name),
            ("GIT_AUTHOR_EMAIL", student.email),
            ("GIT_COMMITTER_NAME", student.name),
            ("GIT_COMMITTER_EMAIL", student.email),
            ("GIT_AUTHOR_DATE", date.as_str()),
            ("GIT_COMMITTER_DATE", date.as_str()),
        ];
        git(&work, &["checkout", "-q", "-b", "work"], &[])?;
        for change in &student.changes {
            for (file, text) in change.files {
                write_file(&work.join(file), text)?;
            }
            let mut message = format!("{}\n\n{}\n", change.subject, change.body);
            if student.signed_off {
                message.push_str(&format!(
                    "\nSigned-off-by: {} <{}>\n",
                    student.name, student.email
                ));
            }
            git(&work, &["commit", "-q", "-a", "-m", &message], &identity)?;
        }
        let out = root.join(format!("series/{}", i + 1));
        let out_arg = out.display().to_string();
        let version = format!("-v{}", student.version);
        let mut args = vec!["format-patch", "-q", "--thread=shallow", "--base=master"];
        if student.version > 1 {
            args.push(version.as_str());
        }
        args.extend(["-o", out_arg.as_str(), "master..work"]);
        if let Some((subject, body)) = student.cover {
            let description = format!("{subject}\n\n{body}\n");
            git(
                &work,
                &["config", "branch.work.description", &description],
                &[],
            )?;
            args.push("--cover-letter");
            args.push("--cover-from-description=subject");
        }
        git(&work, &args, &identity)?;
        // One mbox per series, the way a list archive holds it.
        let mut files: Vec<PathBuf> = std::fs::read_dir(&out)
            .map_err(|source| Error::Io {
                context: format!("reading {}", out.display()),
                source,
            })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "patch"))
            .collect();
        files.sort();
        let mut mbox = Vec::new();
        for file in files {
            let bytes = std::fs::read(&file).map_err(|source| Error::Io {
                context: format!("reading {}", file.display()),
                source,
            })?;
            mbox.extend_from_slice(&bytes);
            if !mbox.ends_with(b"\n") {
                mbox.push(b'\n');
            }
        }
        let path = root.join(format!("series/{}.mbox", i + 1));
        std::fs::write(&path, mbox).map_err(|source| Error::Io {
            context: format!("writing {}", path.display()),
            source,
        })?;
        series.push(path);
    }
    Ok(Sample {
        tree,
        project,
        series,
    })
}

fn set_executable(path: &Path) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).map_err(|source| {
        Error::Io {
            context: format!("chmod {}", path.display()),
            source,
        }
    })
}
