//! What the checks look at: a series of parsed mails, and the context it will be applied in.

use std::path::PathBuf;
use std::sync::OnceLock;

use gauntlet_mail::Mail;

use crate::diff::{self, Diff};
use crate::text::{self, Segment};
use crate::tree::{self, Scratch, Tree};

/// One patch of a series.
#[derive(Debug, Clone)]
pub struct Patch<'a> {
    /// `x` of `[PATCH x/n]`.
    pub number: Option<u32>,
    pub mail: &'a Mail,
    /// The mail's raw bytes (what `git am` and `checkpatch.pl` read).
    pub raw: &'a [u8],
    /// How findings name the patch: its file name (`0002-foo.patch`), or one made the way
    /// `git format-patch` names files.
    pub label: String,
}

/// A posting: the cover letter and the patches of one version of a piece of work.
#[derive(Debug, Clone)]
pub struct Series<'a> {
    pub name: String,
    pub version: u32,
    /// `n` of `[PATCH x/n]`, when the mails say it.
    pub total: Option<u32>,
    pub cover: Option<&'a Mail>,
    /// In the order they apply (by number; unnumbered ones last, in the order given).
    pub patches: Vec<Patch<'a>>,
}

/// One mail handed to [`Series::assemble`].
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    pub mail: &'a Mail,
    pub raw: &'a [u8],
    /// The file the mail came from, when it was a file of its own (`0002-foo.patch`).
    pub file_name: Option<&'a str>,
}

impl<'a> Series<'a> {
    /// Builds a series from the mails of one posting: a `0/n` mail is the cover letter, replies
    /// are left out, every other mail is a patch (a mail without a diff too: the checks say so).
    pub fn assemble(sources: &[Source<'a>]) -> Series<'a> {
        let mut cover = None;
        let mut patches = Vec::new();
        for source in sources {
            let mail = source.mail;
            if mail.is_reply {
                continue;
            }
            if mail.marker.is_some_and(|(x, _)| x == 0) && cover.is_none() {
                cover = Some(mail);
                continue;
            }
            patches.push((mail, source.raw, source.file_name));
        }
        // Stable: unnumbered patches keep their order, after the numbered ones.
        patches.sort_by_key(|(mail, _, _)| mail.marker.map_or(u32::MAX, |(x, _)| x));
        let patches: Vec<Patch<'a>> = patches
            .into_iter()
            .enumerate()
            .map(|(i, (mail, raw, file_name))| {
                let number = mail.marker.map(|(x, _)| x);
                let label = match file_name {
                    Some(name) => name.to_string(),
                    None => format_patch_name(
                        number.unwrap_or(u32::try_from(i + 1).unwrap_or(u32::MAX)),
                        mail.commit
                            .as_ref()
                            .map_or(mail.name.as_str(), |c| c.subject.as_str()),
                    ),
                };
                Patch {
                    number,
                    mail,
                    raw,
                    label,
                }
            })
            .collect();
        let first = cover.or(patches.first().map(|p| p.mail));
        let name = first
            .map(|m| strip_tags(&m.name).to_string())
            .unwrap_or_default();
        let version = first.map_or(1, |m| m.version);
        let total = first
            .and_then(|m| m.marker.map(|(_, n)| n))
            .or_else(|| patches.iter().find_map(|p| p.mail.marker.map(|(_, n)| n)));
        Series {
            name,
            version,
            total,
            cover,
            patches,
        }
    }
}

/// Patchwork's name keeps other tags as `[a,b] rest`: the series name is the rest.
fn strip_tags(name: &str) -> &str {
    if name.starts_with('[')
        && let Some(end) = name.find(']')
    {
        return name[end + 1..].trim_start();
    }
    name
}

/// The file name `git format-patch` gives patch `number` with this subject:
/// `0002-net-fix-the-thing.patch`.
pub fn format_patch_name(number: u32, subject: &str) -> String {
    let mut slug = String::new();
    let mut dash = false;
    for c in subject.chars() {
        if c.is_ascii_alphanumeric() || c == '.' || c == '_' {
            if dash && !slug.is_empty() {
                slug.push('-');
            }
            dash = false;
            slug.push(c);
        } else {
            dash = true;
        }
        if slug.len() >= 52 {
            break;
        }
    }
    let slug = slug.trim_end_matches(['.', '-']);
    format!("{number:04}-{slug}.patch")
}

/// Where the series will be applied, and how the checks reach the tools.
#[derive(Debug, Clone)]
pub struct Context {
    /// The git tree the series applies to: a working copy or a bare repository. Used by
    /// `fixes-tag` (do the commits exist), `maintainers` and `checkpatch` (their scripts).
    pub tree: Option<PathBuf>,
    /// The revision of the tree whose files and history count (`HEAD` by default).
    pub revision: String,
    pub git: PathBuf,
    pub perl: PathBuf,
}

impl Default for Context {
    fn default() -> Context {
        Context {
            tree: None,
            revision: "HEAD".to_string(),
            git: PathBuf::from("git"),
            perl: PathBuf::from("perl"),
        }
    }
}

impl Context {
    /// No tree: the checks that need one are skipped or report an error.
    pub fn new() -> Context {
        Context::default()
    }

    /// A context with a tree.
    pub fn with_tree(tree: impl Into<PathBuf>) -> Context {
        Context {
            tree: Some(tree.into()),
            ..Context::default()
        }
    }
}

/// A patch with what every check reads of it, computed once.
pub(crate) struct Prepared<'a> {
    pub(crate) patch: &'a Patch<'a>,
    pub(crate) segments: Vec<Segment<'a>>,
    pub(crate) diff: Diff,
}

impl<'a> Prepared<'a> {
    pub(crate) fn new(patch: &'a Patch<'a>) -> Prepared<'a> {
        let segments = text::segments(patch.raw);
        let diff = diff::parse(&segments);
        Prepared {
            patch,
            segments,
            diff,
        }
    }

    pub(crate) fn mail(&self) -> &'a Mail {
        self.patch.mail
    }

    /// Finds the commit message's lines in the mail (those before the diff).
    pub(crate) fn message_lines(&self) -> crate::text::MessageLines<'_> {
        let end = match self.diff.start {
            Some((0, line)) => line,
            _ => usize::MAX,
        };
        crate::text::MessageLines::new(&self.segments, end)
    }

    /// The text given to `checkpatch.pl` and `get_maintainer.pl`: the raw mail when its text is
    /// its own bytes (then their line numbers are the mail's), otherwise the mail rebuilt from
    /// its decoded headers and text (and `None` says the lines are not the mail's).
    pub(crate) fn script_input(&self) -> (Vec<u8>, bool) {
        let verbatim = !self.segments.is_empty()
            && self.segments.iter().all(|s| s.first_line.is_some())
            && self.segments.len() == 1;
        if verbatim {
            return (self.patch.raw.to_vec(), true);
        }
        let mail = self.mail();
        let mut out = Vec::new();
        if let Ok(from) = &mail.submitter {
            let line = match &from.name {
                Some(name) => format!("From: {name} <{}>\n", from.email),
                None => format!("From: {}\n", from.email),
            };
            out.extend_from_slice(line.as_bytes());
        }
        if let Some(subject) = &mail.subject {
            out.extend_from_slice(format!("Subject: {subject}\n").as_bytes());
        }
        out.extend_from_slice(b"Content-Type: text/plain; charset=utf-8\n\n");
        for segment in &self.segments {
            out.extend_from_slice(&segment.bytes);
            if !segment.bytes.ends_with(b"\n") {
                out.push(b'\n');
            }
        }
        (out, false)
    }
}

/// The series and everything shared by the checks of one run.
pub(crate) struct Input<'a> {
    pub(crate) series: &'a Series<'a>,
    pub(crate) context: &'a Context,
    pub(crate) patches: Vec<Prepared<'a>>,
    tree: OnceLock<Result<Tree, String>>,
    scratch: OnceLock<Result<Scratch, String>>,
    files: OnceLock<Result<PatchFiles, String>>,
}

/// The patches written to files, for the scripts.
pub(crate) struct PatchFiles {
    /// Keeps the files until the run ends.
    pub(crate) _dir: tempfile::TempDir,
    /// Per patch: the file, and whether its lines are the mail's.
    pub(crate) files: Vec<(PathBuf, bool)>,
}

impl<'a> Input<'a> {
    pub(crate) fn new(series: &'a Series<'a>, context: &'a Context) -> Input<'a> {
        let patches = series.patches.iter().map(Prepared::new).collect();
        Input {
            series,
            context,
            patches,
            tree: OnceLock::new(),
            scratch: OnceLock::new(),
            files: OnceLock::new(),
        }
    }

    /// The tree, when the context has one: `None` when there is none, an error when it cannot
    /// be used.
    pub(crate) fn tree(&self) -> Option<Result<&Tree, &str>> {
        let path = self.context.tree.as_ref()?;
        Some(
            self.tree
                .get_or_init(|| Tree::open(path, &self.context.revision, &self.context.git))
                .as_ref()
                .map_err(String::as_str),
        )
    }

    /// The scratch directory for the tree's scripts, made once per run.
    pub(crate) fn scratch(&self, timeout: std::time::Duration) -> Option<Result<&Scratch, String>> {
        let tree = match self.tree()? {
            Ok(tree) => tree,
            Err(e) => return Some(Err(e.to_string())),
        };
        Some(
            self.scratch
                .get_or_init(|| tree::scratch(tree, timeout))
                .as_ref()
                .map_err(String::clone),
        )
    }

    /// The patches as files (`0001.patch`, …) in a temporary directory, written once per run.
    pub(crate) fn patch_files(&self) -> Result<&PatchFiles, String> {
        self.files
            .get_or_init(|| {
                let dir = tempfile::Builder::new()
                    .prefix("gauntlet-patches-")
                    .tempdir()
                    .map_err(|e| format!("cannot make a temporary directory: {e}"))?;
                let mut files = Vec::new();
                for (i, p) in self.patches.iter().enumerate() {
                    let path = dir.path().join(format!("{:04}.patch", i + 1));
                    let (bytes, verbatim) = p.script_input();
                    std::fs::write(&path, bytes)
                        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                    files.push((path, verbatim));
                }
                Ok(PatchFiles { _dir: dir, files })
            })
            .as_ref()
            .map_err(String::clone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_patch_names() {
        assert_eq!(
            format_patch_name(2, "net: stmmac: fix the thing."),
            "0002-net-stmmac-fix-the-thing.patch"
        );
        assert_eq!(
            format_patch_name(1, "io_uring/net: a.b"),
            "0001-io_uring-net-a.b.patch"
        );
        assert_eq!(format_patch_name(3, "Иван"), "0003-.patch");
    }
}
