//! The service's configuration file (`gauntlet.yaml`): one file says what `gauntlet serve`
//! watches, where it keeps things, which projects it runs, how it reports and where kernels
//! boot. `examples/gauntlet.yaml` is the commented reference.
//!
//! Rules, as for project files: unknown keys are errors, relative paths resolve against the
//! file's directory, and every problem is reported at once with where it is. Secrets are never
//! written in the file: any `${NAME}` in it is replaced by the environment variable `NAME`
//! before the YAML is read (`$$` is a literal `$`), and an unset variable is an error that
//! names it, so that a token cannot silently become empty.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use gauntlet_lab::lava::LavaSettings;
use gauntlet_project::Project;
use gauntlet_report::SmtpSettings;
use serde::{Deserialize, Deserializer};

/// Why a configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: ${{{name}}} is not set in the environment")]
    Unset {
        path: PathBuf,
        line: usize,
        name: String,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    /// Everything else that is wrong, one problem per line.
    #[error("{path}: {}", problems.join("\n  "))]
    Invalid {
        path: PathBuf,
        problems: Vec<String>,
    },
}

/// A source of mail.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    /// Unique among the sources: the key of its cursor in the store.
    pub name: String,
    pub kind: SourceKind,
    /// Time between polls.
    pub poll: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SourceKind {
    /// A Patchwork instance: its `series-completed` events, then each series' mbox.
    Patchwork {
        /// The site (`https://patchwork.kernel.org`) or its API root.
        url: String,
        /// The project's `link_name`.
        project: String,
        token: Option<String>,
        /// How far before the cursor each poll looks again, for events committed late.
        lookback: Duration,
    },
    /// A public-inbox archive (lore): its epoch repositories, fetched and read commit by
    /// commit.
    PublicInbox {
        /// `https://lore.kernel.org/LIST` or a local directory with `git/N.git`.
        url: String,
        /// Where the mirror clones are kept (default: `CACHE_DIR/public-inbox/NAME`).
        mirror: PathBuf,
    },
    /// A maildir an MTA delivers to; read mails move from `new/` to `cur/`.
    Maildir { path: PathBuf },
}

/// How report mails leave.
#[derive(Debug, Clone, PartialEq)]
pub struct Mail {
    /// `From:` of every report (`gauntlet <ci@example.org>`).
    pub from: String,
    pub transport: Transport,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Transport {
    Smtp(SmtpSettings),
    /// A dry run: mails are delivered to this maildir instead.
    Outbox(PathBuf),
}

/// The durable queue's timings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Queue {
    /// A worker holds a job this long without renewing before another may take it.
    #[serde(default = "defaults::lease", deserialize_with = "duration")]
    pub lease: Duration,
    /// Attempts of a job that failed for an infrastructure reason before it is ERROR.
    #[serde(default = "defaults::attempts")]
    pub max_attempts: u32,
    /// Wait before the second attempt; doubled for each further one.
    #[serde(default = "defaults::backoff", deserialize_with = "duration")]
    pub backoff: Duration,
}

impl Default for Queue {
    fn default() -> Queue {
        Queue {
            lease: defaults::lease(),
            max_attempts: defaults::attempts(),
            backoff: defaults::backoff(),
        }
    }
}

/// Pushing each applied submission to a git remote, as a branch.
#[derive(Debug, Clone, PartialEq)]
pub struct Publish {
    pub remote: String,
    /// Branches older than this are deleted (none: kept).
    pub max_age: Option<Duration>,
}

/// The whole configuration, resolved.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from.
    pub file: PathBuf,
    /// `sqlite:PATH` or `postgres://…`.
    pub database: String,
    /// Logs, reports and artifacts: every worker and the server must reach it (a shared
    /// mount when workers run on other hosts).
    pub data_dir: PathBuf,
    /// Mirrors, working copies, build directories, ccache: local to each host.
    pub cache_dir: PathBuf,
    /// The start of the links in checks and mails (`https://ci.example.org`).
    pub public_url: Option<String>,
    /// Where `/metrics` (and the web pages) are served.
    pub listen: SocketAddr,
    /// Workers `gauntlet serve` runs itself (0: only `gauntlet worker` processes work).
    pub workers: usize,
    pub queue: Queue,
    pub sources: Vec<Source>,
    /// The project files, loaded and valid.
    pub projects: Vec<Project>,
    pub mail: Option<Mail>,
    /// The LAVA lab for `lava: true` builds (none: the local QEMU lab).
    pub lava: Option<LavaSettings>,
    pub publish: Option<Publish>,
    pub web: Web,
}

/// The web pages and API.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Web {
    /// Every page and API read needs a token too (`gauntlet token create`); the write
    /// actions always do.
    #[serde(default)]
    pub private_reads: bool,
}

mod defaults {
    use std::time::Duration;

    pub(super) fn lease() -> Duration {
        Duration::from_secs(60)
    }
    pub(super) fn attempts() -> u32 {
        3
    }
    pub(super) fn backoff() -> Duration {
        Duration::from_secs(30)
    }
    pub(super) fn poll() -> Duration {
        Duration::from_secs(60)
    }
    pub(super) fn lookback() -> Duration {
        Duration::from_secs(65 * 60)
    }
    pub(super) fn listen() -> String {
        "127.0.0.1:8080".to_owned()
    }
    pub(super) fn workers() -> usize {
        1
    }
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    humantime::parse_duration(&text).map_err(|e| serde::de::Error::custom(format!("{text:?}: {e}")))
}

fn optional_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(text) => humantime::parse_duration(&text)
            .map(Some)
            .map_err(|e| serde::de::Error::custom(format!("{text:?}: {e}"))),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    database: String,
    data_dir: PathBuf,
    #[serde(default)]
    cache_dir: Option<PathBuf>,
    #[serde(default)]
    public_url: Option<String>,
    #[serde(default = "defaults::listen")]
    listen: String,
    #[serde(default = "defaults::workers")]
    workers: usize,
    #[serde(default)]
    queue: Queue,
    #[serde(default)]
    sources: Vec<RawSource>,
    projects: Vec<PathBuf>,
    #[serde(default)]
    mail: Option<RawMail>,
    #[serde(default)]
    lava: Option<LavaSettings>,
    #[serde(default)]
    publish: Option<RawPublish>,
    #[serde(default)]
    web: Web,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    name: String,
    #[serde(default = "defaults::poll", deserialize_with = "duration")]
    poll: Duration,
    #[serde(default)]
    patchwork: Option<RawPatchwork>,
    #[serde(default)]
    public_inbox: Option<RawPublicInbox>,
    #[serde(default)]
    maildir: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPatchwork {
    url: String,
    project: String,
    #[serde(default)]
    token: Option<String>,
    #[serde(default = "defaults::lookback", deserialize_with = "duration")]
    lookback: Duration,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPublicInbox {
    url: String,
    #[serde(default)]
    mirror: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMail {
    from: String,
    #[serde(default)]
    smtp: Option<SmtpSettings>,
    #[serde(default)]
    outbox: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPublish {
    remote: String,
    #[serde(default, deserialize_with = "optional_duration")]
    max_age: Option<Duration>,
}

/// Replaces `${NAME}` by `lookup(NAME)` and `$$` by `$`.
fn interpolate(
    text: &str,
    path: &Path,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, ConfigError> {
    let mut out = String::with_capacity(text.len());
    for (index, whole) in text.split_inclusive('\n').enumerate() {
        // Comments are left alone: they may well mention `${NAME}`.
        let (line, comment) = whole.split_at(comment_start(whole));
        let mut rest = line;
        while let Some(at) = rest.find('$') {
            out.push_str(&rest[..at]);
            let after = &rest[at + 1..];
            if let Some(tail) = after.strip_prefix('$') {
                out.push('$');
                rest = tail;
            } else if let Some(open) = after.strip_prefix('{')
                && let Some(close) = open.find('}')
            {
                let name = &open[..close];
                let value = lookup(name).ok_or_else(|| ConfigError::Unset {
                    path: path.to_path_buf(),
                    line: index + 1,
                    name: name.to_owned(),
                })?;
                out.push_str(&value);
                rest = &open[close + 1..];
            } else {
                out.push('$');
                rest = after;
            }
        }
        out.push_str(rest);
        out.push_str(comment);
    }
    Ok(out)
}

/// Where a YAML comment starts in `line` (its length when there is none): a `#` at the start or
/// after a blank, outside quotes.
fn comment_start(line: &str) -> usize {
    let mut quote: Option<char> = None;
    let mut previous = ' ';
    for (i, c) in line.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == '#' && previous.is_whitespace() => return i,
            None => {}
        }
        previous = c;
    }
    line.len()
}

impl Config {
    /// Reads `path`, with `${NAME}` taken from the process' environment.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Config::load_with(path, &|name| std::env::var(name).ok())
    }

    /// Reads `path`, with `${NAME}` taken from `lookup`.
    pub fn load_with(
        path: &Path,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let text = interpolate(&text, path, lookup)?;
        let raw: Raw = serde_saphyr::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        resolve(raw, path)
    }
}

fn resolve(raw: Raw, path: &Path) -> Result<Config, ConfigError> {
    let base = path.parent().unwrap_or(Path::new("."));
    let at = |p: &Path| -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            base.join(p)
        }
    };
    let mut problems = Vec::new();

    let database = if let Some(file) = raw.database.strip_prefix("sqlite:") {
        // A relative SQLite file is relative to the configuration, like every other path.
        let file = file.trim_start_matches("//");
        if file.is_empty() {
            problems.push("database: `sqlite:` names no file".to_owned());
        }
        format!("sqlite:{}", at(Path::new(file)).display())
    } else if raw.database.starts_with("postgres://") || raw.database.starts_with("postgresql://") {
        raw.database.clone()
    } else {
        problems.push(format!(
            "database: {:?} is neither `sqlite:PATH` nor `postgres://…`",
            raw.database
        ));
        raw.database.clone()
    };
    let data_dir = at(&raw.data_dir);
    let cache_dir = raw
        .cache_dir
        .as_deref()
        .map_or_else(|| data_dir.join("cache"), at);
    let listen = match raw.listen.parse::<SocketAddr>() {
        Ok(addr) => addr,
        Err(e) => {
            problems.push(format!(
                "listen: {:?} is not an address and port ({e})",
                raw.listen
            ));
            SocketAddr::from(([127, 0, 0, 1], 8080))
        }
    };
    if let Some(url) = &raw.public_url
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        problems.push(format!("public_url: {url:?} is not an http(s) URL"));
    }
    if raw.queue.max_attempts == 0 {
        problems.push("queue.max_attempts: must be at least 1".to_owned());
    }
    if raw.queue.lease < Duration::from_secs(5) {
        problems.push("queue.lease: under 5 s, a busy worker would lose its jobs".to_owned());
    }

    let mut sources = Vec::new();
    for (i, s) in raw.sources.into_iter().enumerate() {
        let here = format!("sources[{i}] ({})", s.name);
        if s.name.is_empty()
            || !s
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            problems.push(format!(
                "{here}: name must be letters, digits, `-`, `_` or `.`"
            ));
        }
        if sources.iter().any(|o: &Source| o.name == s.name) {
            problems.push(format!("{here}: another source has this name"));
        }
        let kinds = [
            s.patchwork.is_some(),
            s.public_inbox.is_some(),
            s.maildir.is_some(),
        ]
        .iter()
        .filter(|k| **k)
        .count();
        if kinds != 1 {
            problems.push(format!(
                "{here}: exactly one of `patchwork`, `public_inbox`, `maildir` (found {kinds})"
            ));
            continue;
        }
        let kind = if let Some(pw) = s.patchwork {
            if !(pw.url.starts_with("http://") || pw.url.starts_with("https://")) {
                problems.push(format!(
                    "{here}: patchwork.url {:?} is not an http(s) URL",
                    pw.url
                ));
            }
            SourceKind::Patchwork {
                url: pw.url,
                project: pw.project,
                token: pw.token.filter(|t| !t.is_empty()),
                lookback: pw.lookback,
            }
        } else if let Some(pi) = s.public_inbox {
            let url = if pi.url.contains("://") {
                pi.url
            } else {
                at(Path::new(&pi.url)).display().to_string()
            };
            SourceKind::PublicInbox {
                url,
                mirror: pi
                    .mirror
                    .as_deref()
                    .map_or_else(|| cache_dir.join("public-inbox").join(&s.name), &at),
            }
        } else if let Some(dir) = s.maildir {
            SourceKind::Maildir { path: at(&dir) }
        } else {
            continue;
        };
        sources.push(Source {
            name: s.name,
            kind,
            poll: s.poll,
        });
    }

    let mut projects: Vec<Project> = Vec::new();
    if raw.projects.is_empty() {
        problems.push("projects: at least one project file".to_owned());
    }
    for file in &raw.projects {
        match Project::load(&at(file)) {
            Ok(project) => {
                if projects.iter().any(|p| p.name == project.name) {
                    problems.push(format!(
                        "projects: two project files are named {:?}",
                        project.name
                    ));
                }
                projects.push(project);
            }
            Err(errors) => problems.push(format!("projects: {errors}")),
        }
    }

    let mail = match raw.mail {
        None => None,
        Some(m) => {
            if !m.from.contains('@') {
                problems.push(format!("mail.from: {:?} is not an address", m.from));
            }
            match (m.smtp, m.outbox) {
                (Some(smtp), None) => Some(Mail {
                    from: m.from,
                    transport: Transport::Smtp(smtp),
                }),
                (None, Some(outbox)) => Some(Mail {
                    from: m.from,
                    transport: Transport::Outbox(at(&outbox)),
                }),
                _ => {
                    problems.push("mail: exactly one of `smtp` and `outbox`".to_owned());
                    None
                }
            }
        }
    };
    let publish = raw.publish.map(|p| Publish {
        remote: if p.remote.contains("://") || p.remote.contains('@') {
            p.remote
        } else {
            at(Path::new(&p.remote)).display().to_string()
        },
        max_age: p.max_age,
    });

    if !problems.is_empty() {
        return Err(ConfigError::Invalid {
            path: path.to_path_buf(),
            problems,
        });
    }
    Ok(Config {
        file: path.to_path_buf(),
        database,
        data_dir,
        cache_dir,
        public_url: raw.public_url,
        listen,
        workers: raw.workers,
        queue: raw.queue,
        sources,
        projects,
        mail,
        lava: raw.lava,
        publish,
        web: raw.web,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn variables_are_replaced_and_an_unset_one_is_named() {
        let lookup = |name: &str| (name == "TOKEN").then(|| "s3cret".to_owned());
        let path = Path::new("g.yaml");
        let text = "a: ${TOKEN}\nb: $$HOME and $5 # ${UNSET} in a comment\nc: \"#${TOKEN}\"\n";
        assert_eq!(
            interpolate(text, path, &lookup).unwrap(),
            "a: s3cret\nb: $HOME and $5 # ${UNSET} in a comment\nc: \"#s3cret\"\n"
        );
        let err = interpolate("a: 1\nb: ${NOPE}\n", path, &lookup).unwrap_err();
        assert_eq!(
            err.to_string(),
            "g.yaml:2: ${NOPE} is not set in the environment"
        );
    }
}
