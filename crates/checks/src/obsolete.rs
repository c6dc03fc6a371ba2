//! Which files `MAINTAINERS` marks obsolete, answered once per series instead of once per file.
//!
//! For every file a patch touches, `checkpatch.pl` asks `get_maintainer.pl --status -f FILE`
//! whether it is obsolete: a new Perl process that reads all of `MAINTAINERS`, 0.3–0.5 s each,
//! which is most of checkpatch's time on a series touching many files, and is not shared even
//! by one checkpatch process over the series (each file is asked once). So the scratch directory
//! (see [`crate::tree`]) holds a stand-in `scripts/get_maintainer.pl` that answers exactly that
//! question for the files of the patches being checked, from this module's reading of
//! `MAINTAINERS`, and runs the tree's own script for anything else.
//!
//! The reading follows get_maintainer's rules for the question: a section is a title line and
//! the `X: value` lines after it (blank and `#` lines do not end it); an `F:`/`X:` pattern has
//! `.` literal, `*` as any text and `?` as one character, gets a final `/` when it names a
//! directory of the tree, and matches a path that starts with it — with as many `/` as it has,
//! unless it ends in `/`; `N:` is a regular expression searched in the path; `X:` excludes the
//! section. A file is obsolete when it exists in the tree and a section with an obsolete `S:`
//! matches it. When an obsolete section has `K:` keywords (they match file contents) or a
//! pattern this module cannot compile, there is no stand-in and the tree's script answers.
//! A test compares the answers with the real script's.

use std::collections::BTreeMap;
use std::path::Path;

use regex::Regex;

#[derive(Debug)]
struct Pattern {
    regex: Regex,
    directory: bool,
    slashes: usize,
}

impl Pattern {
    fn new(value: &str, root: &Path) -> Option<Pattern> {
        let mut converted = String::with_capacity(value.len() + 4);
        for c in value.chars() {
            match c {
                '.' => converted.push_str("\\."),
                '*' => converted.push_str(".*"),
                '?' => converted.push('.'),
                _ => converted.push(c),
            }
        }
        // get_maintainer tests the converted text as a path (so only plain names qualify).
        if !converted.ends_with('/') && root.join(&converted).is_dir() {
            converted.push('/');
        }
        let regex = Regex::new(&format!("^(?:{converted})")).ok()?;
        Some(Pattern {
            regex,
            directory: converted.ends_with('/'),
            slashes: converted.matches('/').count(),
        })
    }

    fn matches(&self, file: &str) -> bool {
        self.regex.is_match(file) && (self.directory || file.matches('/').count() == self.slashes)
    }
}

#[derive(Debug, Default)]
struct Section {
    files: Vec<Pattern>,
    excluded: Vec<Pattern>,
    names: Vec<Regex>,
}

/// The obsolete sections of a tree's `MAINTAINERS`.
#[derive(Debug)]
pub(crate) struct Obsolete {
    sections: Vec<Section>,
}

impl Obsolete {
    /// Reads `MAINTAINERS` of the tree at `root`; `None` when the answer would need more than
    /// this module does (keywords, patterns it cannot compile).
    pub(crate) fn read(root: &Path) -> Option<Obsolete> {
        let text = std::fs::read(root.join("MAINTAINERS")).ok()?;
        let text = String::from_utf8_lossy(&text);
        // Sections as lists of (type, value).
        let mut sections: Vec<Vec<(char, &str)>> = Vec::new();
        for line in text.lines() {
            let bytes = line.as_bytes();
            if bytes.len() >= 2 && bytes[0].is_ascii_uppercase() && bytes[1] == b':' {
                if let Some(section) = sections.last_mut() {
                    section.push((char::from(bytes[0]), line[2..].trim_start()));
                }
            } else if !(line.trim().is_empty() || line.trim_start().starts_with('#')) {
                sections.push(Vec::new());
            }
        }
        let mut obsolete = Vec::new();
        for section in sections {
            let is_obsolete = section
                .iter()
                .any(|(t, v)| *t == 'S' && v.to_ascii_lowercase().contains("obsolete"));
            if !is_obsolete {
                continue;
            }
            let mut s = Section::default();
            for (t, v) in section {
                match t {
                    'F' => s.files.push(Pattern::new(v, root)?),
                    'X' => s.excluded.push(Pattern::new(v, root)?),
                    'N' => s.names.push(Regex::new(&format!("(?x){v}")).ok()?),
                    'K' => return None,
                    _ => {}
                }
            }
            obsolete.push(s);
        }
        Some(Obsolete { sections: obsolete })
    }

    /// Whether `get_maintainer.pl --status -f file` says obsolete, for a file of the tree.
    pub(crate) fn is_obsolete(&self, root: &Path, file: &str) -> bool {
        let path = root.join(file);
        let file = if path.is_dir() && !file.ends_with('/') {
            format!("{file}/")
        } else if path.is_file() {
            file.to_string()
        } else {
            // get_maintainer stops: "file not found".
            return false;
        };
        self.sections.iter().any(|s| {
            !s.excluded.iter().any(|p| p.matches(&file))
                && (s.files.iter().any(|p| p.matches(&file))
                    || s.names.iter().any(|n| n.is_match(&file)))
        })
    }
}

/// The stand-in `get_maintainer.pl`: answers `--status … -f FILE` for the files in `answers`,
/// runs `real` for everything else.
pub(crate) fn stand_in(real: &Path, answers: &BTreeMap<String, bool>) -> String {
    let quote = |s: &str| format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"));
    let mut table = String::new();
    for (file, obsolete) in answers {
        table.push_str(&format!(
            "    {} => {},\n",
            quote(file),
            u8::from(*obsolete)
        ));
    }
    format!(
        "#!/usr/bin/env perl\n\
# Written by gauntlet: answers checkpatch.pl's `--status -f FILE` questions about the files of\n\
# the patches being checked, from MAINTAINERS; anything else runs the tree's own script.\n\
use strict;\n\
use warnings;\n\
my %obsolete = (\n{table});\n\
my @question = ('--status', '--nom', '--nol', '--nogit', '--nogit-fallback', '-f');\n\
if (@ARGV == 7 && join(\"\\0\", @ARGV[0 .. 5]) eq join(\"\\0\", @question)\n\
    && exists $obsolete{{$ARGV[6]}}) {{\n\
    print $obsolete{{$ARGV[6]}} ? \"Obsolete\\n\" : \"Maintained\\n\";\n\
    exit 0;\n\
}}\n\
exec($^X, {}, @ARGV) or die \"cannot run the tree's get_maintainer.pl: $!\\n\";\n",
        quote(&real.to_string_lossy())
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sections_patterns_and_existence() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        std::fs::create_dir_all(r.join("drivers/old/sub")).unwrap();
        std::fs::create_dir_all(r.join("drivers/new")).unwrap();
        for f in [
            "drivers/old/a.c",
            "drivers/old/sub/b.c",
            "drivers/old/keep.c",
            "drivers/new/c.c",
            "include/x_old.h",
        ] {
            std::fs::create_dir_all(r.join(f).parent().unwrap()).unwrap();
            std::fs::write(r.join(f), b"").unwrap();
        }
        std::fs::write(
            r.join("MAINTAINERS"),
            "List of maintainers\n\nOLD DRIVER\nM:\tA <a@x.org>\nS:\tObsolete\nF:\tdrivers/old\n\n# a comment\nX:\tdrivers/old/keep.c\nF:\tinclude/*_old.h\n\nNEW DRIVER\nS:\tMaintained\nF:\tdrivers/new/\n",
        )
        .unwrap();
        let o = Obsolete::read(r).unwrap();
        assert!(o.is_obsolete(r, "drivers/old/a.c"));
        assert!(
            o.is_obsolete(r, "drivers/old/sub/b.c"),
            "a directory pattern gets its /"
        );
        assert!(o.is_obsolete(r, "include/x_old.h"));
        assert!(!o.is_obsolete(r, "drivers/old/keep.c"), "excluded");
        assert!(!o.is_obsolete(r, "drivers/new/c.c"));
        assert!(
            !o.is_obsolete(r, "drivers/old/missing.c"),
            "not in the tree"
        );
        let script = stand_in(
            Path::new("/t/scripts/get_maintainer.pl"),
            &[("it's.c".to_string(), true)].into(),
        );
        assert!(script.contains("'it\\'s.c' => 1,"), "{script}");
    }
}
