//! Initramfs images for the machine under test: a cpio archive in the `newc` format, optionally
//! gzip-compressed, built in memory and written deterministically.
//!
//! ```no_run
//! # fn make() -> Result<(), gauntlet_lab::initramfs::Error> {
//! use gauntlet_lab::initramfs::Initramfs;
//! Initramfs::new()
//!     .dir("/proc", 0o755)
//!     .console_devices()
//!     .file("/init", b"#!/bin/busybox sh\necho hello\n".to_vec(), 0o755)
//!     .host_file("/bin/busybox", "/bin/busybox", 0o755)
//!     .symlink("/bin/sh", "busybox")
//!     .add_tree("/srv/tests", "/gauntlet/repo")
//!     .write_gz("initramfs.cpio.gz")?;
//! # Ok(()) }
//! ```
//!
//! # What is in the archive
//!
//! * Entries sorted by path (bytewise), so that every directory comes before what it holds; a
//!   path's missing parents are added as directories (mode 0755).
//! * Every entry owned by uid 0 / gid 0, with the same modification time ([`Initramfs::mtime`],
//!   0 unless set), inode numbers 1, 2, 3… in that order, one link per file (two per directory),
//!   device numbers 0 except the `rdev` of device nodes.
//! * Names are relative (`bin/busybox`, as `find . | cpio -o -H newc` minus the `./`), then
//!   the `TRAILER!!!` entry. Headers and data are padded to 4 bytes as `newc` requires.
//! * gzip: one member, no file name, MTIME 0, OS 255 (unknown), deflate by `miniz_oxide`
//!   (level 1 by default: fast, and the guest's decompression is no slower).
//!
//! So the same inputs give the same bytes, on any host and at any time.
//!
//! # Errors
//!
//! The builder methods chain; the first problem (a bad path, a path added twice, a file that
//! cannot be read, a limit exceeded) is kept and returned by the method that produces the
//! archive. Nothing panics on any input.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

/// Why an image could not be made.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("initramfs path `{path}`: {why}")]
    BadPath { path: String, why: &'static str },
    #[error("initramfs: `{path}` is added twice ({first}, then {second})")]
    Duplicate {
        path: String,
        first: &'static str,
        second: &'static str,
    },
    #[error("initramfs: `{path}` needs `{parent}` to be a directory, but it is a {kind}")]
    ParentNotDirectory {
        path: String,
        parent: String,
        kind: &'static str,
    },
    #[error("initramfs: more than {limit} {what}")]
    TooLarge { what: &'static str, limit: u64 },
    #[error("initramfs: {context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
}

fn io_error(context: impl Into<String>) -> impl FnOnce(io::Error) -> Error {
    let context = context.into();
    move |source| Error::Io { context, source }
}

/// Bounds on what an image may hold (a hostile tests' directory cannot make a huge one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of file and symlink data.
    pub bytes: u64,
    /// Entries (files, directories, links, devices).
    pub entries: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            bytes: 256 << 20,
            entries: 100_000,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    Dir { mode: u32 },
    File { mode: u32, data: Vec<u8> },
    Symlink { target: Vec<u8> },
    CharDevice { mode: u32, major: u32, minor: u32 },
}

impl Node {
    fn kind(&self) -> &'static str {
        match self {
            Node::Dir { .. } => "directory",
            Node::File { .. } => "file",
            Node::Symlink { .. } => "symbolic link",
            Node::CharDevice { .. } => "device",
        }
    }

    fn data(&self) -> &[u8] {
        match self {
            Node::File { data, .. } => data,
            Node::Symlink { target } => target,
            _ => &[],
        }
    }

    /// `st_mode`: the type bits and the permissions.
    fn mode(&self) -> u32 {
        match self {
            Node::Dir { mode } => 0o040_000 | (mode & 0o7777),
            Node::File { mode, .. } => 0o100_000 | (mode & 0o7777),
            Node::Symlink { .. } => 0o120_777,
            Node::CharDevice { mode, .. } => 0o020_000 | (mode & 0o7777),
        }
    }
}

/// An image being put together (see the module documentation).
#[derive(Debug, Clone, Default)]
pub struct Initramfs {
    entries: BTreeMap<Vec<u8>, Node>,
    bytes: u64,
    limits: Limits,
    mtime: u32,
    error: Option<Error>,
}

impl Initramfs {
    pub fn new() -> Initramfs {
        Initramfs::default()
    }

    #[must_use]
    pub fn with_limits(mut self, limits: Limits) -> Initramfs {
        self.limits = limits;
        self
    }

    /// The modification time of every entry (seconds since the epoch).
    #[must_use]
    pub fn mtime(mut self, mtime: u32) -> Initramfs {
        self.mtime = mtime;
        self
    }

    /// A directory (and its missing parents). Adding one that exists only sets its mode.
    #[must_use]
    pub fn dir(mut self, path: impl AsRef<[u8]>, mode: u32) -> Initramfs {
        self.try_add(path.as_ref(), Node::Dir { mode });
        self
    }

    /// A regular file with these bytes and permissions.
    #[must_use]
    pub fn file(
        mut self,
        path: impl AsRef<[u8]>,
        data: impl Into<Vec<u8>>,
        mode: u32,
    ) -> Initramfs {
        let data = data.into();
        self.try_add(path.as_ref(), Node::File { mode, data });
        self
    }

    /// A regular file with the contents of a host file.
    #[must_use]
    pub fn host_file(
        mut self,
        path: impl AsRef<[u8]>,
        host: impl AsRef<Path>,
        mode: u32,
    ) -> Initramfs {
        let host = host.as_ref();
        match read_bounded(host, self.room()) {
            Ok(data) => self.try_add(path.as_ref(), Node::File { mode, data }),
            Err(e) => self.fail(e),
        }
        self
    }

    /// A symbolic link to `target` (kept as given: relative or absolute).
    #[must_use]
    pub fn symlink(mut self, path: impl AsRef<[u8]>, target: impl AsRef<[u8]>) -> Initramfs {
        let target = target.as_ref().to_vec();
        if target.is_empty() || target.contains(&0) {
            let path = String::from_utf8_lossy(path.as_ref()).into_owned();
            self.fail(Error::BadPath {
                path,
                why: "a symbolic link needs a target without NUL bytes",
            });
        } else {
            self.try_add(path.as_ref(), Node::Symlink { target });
        }
        self
    }

    /// A character device node.
    #[must_use]
    pub fn char_device(
        mut self,
        path: impl AsRef<[u8]>,
        mode: u32,
        major: u32,
        minor: u32,
    ) -> Initramfs {
        self.try_add(path.as_ref(), Node::CharDevice { mode, major, minor });
        self
    }

    /// `/dev/console` (5, 1) and `/dev/null` (1, 3): the kernel opens the console for init
    /// before anything can mount devtmpfs.
    #[must_use]
    pub fn console_devices(self) -> Initramfs {
        self.dir("/dev", 0o755)
            .char_device("/dev/console", 0o600, 5, 1)
            .char_device("/dev/null", 0o666, 1, 3)
    }

    /// Everything under the host directory `host`, at `guest` in the image: directories and
    /// files with their permission bits, symbolic links as links; other kinds of files (sockets,
    /// fifos, devices) are left out.
    #[must_use]
    pub fn add_tree(mut self, host: impl AsRef<Path>, guest: impl AsRef<[u8]>) -> Initramfs {
        let host = host.as_ref();
        let guest = guest.as_ref().to_vec();
        if let Err(e) = self.walk(host, &guest) {
            self.fail(e);
        }
        self
    }

    /// The first problem met so far, if any.
    pub fn error(&self) -> Option<&Error> {
        self.error.as_ref()
    }

    /// Entries in the image (without the trailer).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes of file and link data.
    pub fn data_bytes(&self) -> u64 {
        self.bytes
    }

    /// The uncompressed cpio archive.
    pub fn to_cpio(&self) -> Result<Vec<u8>, Error> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        let estimate = self.bytes as usize + self.entries.len() * 160 + 512;
        let mut out = Vec::with_capacity(estimate);
        for (ino, (name, node)) in (1u32..).zip(&self.entries) {
            let (major, minor) = match node {
                Node::CharDevice { major, minor, .. } => (*major, *minor),
                _ => (0, 0),
            };
            let nlink = if matches!(node, Node::Dir { .. }) {
                2
            } else {
                1
            };
            let header = Header {
                ino,
                mode: node.mode(),
                nlink,
                mtime: self.mtime,
                rdev: (major, minor),
            };
            push_entry(&mut out, &header, name, node.data())?;
        }
        let trailer = Header {
            ino: 0,
            mode: 0,
            nlink: 1,
            mtime: 0,
            rdev: (0, 0),
        };
        push_entry(&mut out, &trailer, b"TRAILER!!!", &[])?;
        Ok(out)
    }

    /// The gzip-compressed archive (`level` 0 = stored … 9 = smallest; 1 is a good default).
    pub fn to_gz(&self, level: u8) -> Result<Vec<u8>, Error> {
        Ok(gzip(&self.to_cpio()?, level))
    }

    /// Writes the gzip-compressed archive (level 1) to `path`, replacing it atomically.
    pub fn write_gz(&self, path: impl AsRef<Path>) -> Result<u64, Error> {
        let bytes = self.to_gz(DEFAULT_LEVEL)?;
        write_atomically(path.as_ref(), &bytes)?;
        Ok(bytes.len() as u64)
    }

    /// Writes the uncompressed archive to `path`, replacing it atomically.
    pub fn write_cpio(&self, path: impl AsRef<Path>) -> Result<u64, Error> {
        let bytes = self.to_cpio()?;
        write_atomically(path.as_ref(), &bytes)?;
        Ok(bytes.len() as u64)
    }

    fn fail(&mut self, error: Error) {
        if self.error.is_none() {
            self.error = Some(error);
        }
    }

    fn room(&self) -> u64 {
        self.limits.bytes.saturating_sub(self.bytes)
    }

    fn try_add(&mut self, path: &[u8], node: Node) {
        if let Err(e) = self.add(path, node) {
            self.fail(e);
        }
    }

    fn add(&mut self, raw: &[u8], node: Node) -> Result<(), Error> {
        if self.error.is_some() {
            return Ok(());
        }
        let path = normalize(raw)?;
        if path.is_empty() {
            // The root: it always exists.
            return match node {
                Node::Dir { .. } => Ok(()),
                other => Err(Error::BadPath {
                    path: "/".to_owned(),
                    why: match other {
                        Node::File { .. } => "the root cannot be a file",
                        _ => "the root must be a directory",
                    },
                }),
            };
        }
        self.parents(&path)?;
        let size = node.data().len() as u64;
        match self.entries.get(&path) {
            Some(Node::Dir { .. }) if matches!(node, Node::Dir { .. }) => {
                self.entries.insert(path, node);
                return Ok(());
            }
            Some(existing) => {
                return Err(Error::Duplicate {
                    path: display(&path),
                    first: existing.kind(),
                    second: node.kind(),
                });
            }
            None => {}
        }
        if size > self.room() {
            return Err(Error::TooLarge {
                what: "bytes of data",
                limit: self.limits.bytes,
            });
        }
        self.check_entries()?;
        self.bytes += size;
        self.entries.insert(path, node);
        Ok(())
    }

    fn check_entries(&self) -> Result<(), Error> {
        if self.entries.len() >= self.limits.entries {
            return Err(Error::TooLarge {
                what: "entries",
                limit: self.limits.entries as u64,
            });
        }
        Ok(())
    }

    /// Adds the missing parents of `path` as directories; every existing one must be one.
    fn parents(&mut self, path: &[u8]) -> Result<(), Error> {
        let mut at = 0;
        while let Some(i) = path[at..].iter().position(|&b| b == b'/') {
            let parent = &path[..at + i];
            match self.entries.get(parent) {
                Some(Node::Dir { .. }) => {}
                Some(other) => {
                    return Err(Error::ParentNotDirectory {
                        path: display(path),
                        parent: display(parent),
                        kind: other.kind(),
                    });
                }
                None => {
                    self.check_entries()?;
                    self.entries
                        .insert(parent.to_vec(), Node::Dir { mode: 0o755 });
                }
            }
            at += i + 1;
        }
        Ok(())
    }

    fn walk(&mut self, host: &Path, guest: &[u8]) -> Result<(), Error> {
        use std::os::unix::ffi::OsStrExt;
        use std::os::unix::fs::PermissionsExt;

        let meta =
            std::fs::metadata(host).map_err(io_error(format!("reading {}", host.display())))?;
        self.add(
            guest,
            Node::Dir {
                mode: meta.permissions().mode() & 0o7777,
            },
        )?;
        // An explicit stack rather than recursion: depth is bounded by the entry limit only.
        let mut stack: Vec<(PathBuf, Vec<u8>)> = vec![(host.to_path_buf(), guest.to_vec())];
        while let Some((dir, inside)) = stack.pop() {
            let entries =
                std::fs::read_dir(&dir).map_err(io_error(format!("reading {}", dir.display())))?;
            for entry in entries {
                let entry = entry.map_err(io_error(format!("reading {}", dir.display())))?;
                let source = entry.path();
                let mut target = inside.clone();
                target.push(b'/');
                target.extend_from_slice(entry.file_name().as_bytes());
                let kind = entry
                    .file_type()
                    .map_err(io_error(format!("reading {}", source.display())))?;
                if kind.is_symlink() {
                    let link = std::fs::read_link(&source)
                        .map_err(io_error(format!("reading {}", source.display())))?;
                    self.add(
                        &target,
                        Node::Symlink {
                            target: link.as_os_str().as_bytes().to_vec(),
                        },
                    )?;
                } else if kind.is_dir() {
                    let meta = entry
                        .metadata()
                        .map_err(io_error(format!("reading {}", source.display())))?;
                    self.add(
                        &target,
                        Node::Dir {
                            mode: meta.permissions().mode() & 0o7777,
                        },
                    )?;
                    stack.push((source, target));
                } else if kind.is_file() {
                    let meta = entry
                        .metadata()
                        .map_err(io_error(format!("reading {}", source.display())))?;
                    let data = read_bounded(&source, self.room())?;
                    self.add(
                        &target,
                        Node::File {
                            mode: meta.permissions().mode() & 0o7777,
                            data,
                        },
                    )?;
                } else {
                    tracing::debug!(path = %source.display(), "initramfs: not a file, directory or link: left out");
                }
            }
        }
        Ok(())
    }
}

/// The default gzip level: fast, and a smaller image is not faster to boot.
pub const DEFAULT_LEVEL: u8 = 1;

/// `io::Error` is not `Clone`: a copy keeps its kind and message.
impl Clone for Error {
    fn clone(&self) -> Self {
        copy_error(self)
    }
}

fn copy_error(e: &Error) -> Error {
    match e {
        Error::BadPath { path, why } => Error::BadPath {
            path: path.clone(),
            why,
        },
        Error::Duplicate {
            path,
            first,
            second,
        } => Error::Duplicate {
            path: path.clone(),
            first,
            second,
        },
        Error::ParentNotDirectory { path, parent, kind } => Error::ParentNotDirectory {
            path: path.clone(),
            parent: parent.clone(),
            kind,
        },
        Error::TooLarge { what, limit } => Error::TooLarge {
            what,
            limit: *limit,
        },
        Error::Io { context, source } => Error::Io {
            context: context.clone(),
            source: io::Error::new(source.kind(), source.to_string()),
        },
    }
}

fn display(path: &[u8]) -> String {
    format!("/{}", String::from_utf8_lossy(path))
}

/// `path` without its leading `/` or `./`; refuses what cannot be a name in the archive.
fn normalize(raw: &[u8]) -> Result<Vec<u8>, Error> {
    let bad = |why| Error::BadPath {
        path: String::from_utf8_lossy(raw).into_owned(),
        why,
    };
    if raw.contains(&0) {
        return Err(bad("contains a NUL byte"));
    }
    if raw.len() > 4096 {
        return Err(bad("longer than 4096 bytes"));
    }
    let mut out: Vec<u8> = Vec::with_capacity(raw.len());
    for part in raw.split(|&b| b == b'/') {
        match part {
            b"" | b"." => continue,
            b".." => return Err(bad("contains `..`")),
            _ => {
                if !out.is_empty() {
                    out.push(b'/');
                }
                out.extend_from_slice(part);
            }
        }
    }
    Ok(out)
}

fn read_bounded(path: &Path, room: u64) -> Result<Vec<u8>, Error> {
    use std::io::Read;
    let file =
        std::fs::File::open(path).map_err(io_error(format!("reading {}", path.display())))?;
    let mut data = Vec::new();
    file.take(room.saturating_add(1))
        .read_to_end(&mut data)
        .map_err(io_error(format!("reading {}", path.display())))?;
    if data.len() as u64 > room {
        return Err(Error::TooLarge {
            what: "bytes of data (reading a file)",
            limit: room,
        });
    }
    Ok(data)
}

struct Header {
    ino: u32,
    mode: u32,
    nlink: u32,
    mtime: u32,
    rdev: (u32, u32),
}

/// One `newc` entry: the 110-byte header, the name and its NUL padded to 4, the data padded
/// to 4.
fn push_entry(out: &mut Vec<u8>, h: &Header, name: &[u8], data: &[u8]) -> Result<(), Error> {
    let size = u32::try_from(data.len()).map_err(|_| Error::TooLarge {
        what: "bytes in one file (cpio newc)",
        limit: u64::from(u32::MAX),
    })?;
    // The name length includes its NUL; bounded by `normalize`.
    let namesize = name.len() as u32 + 1;
    out.extend_from_slice(b"070701");
    for field in [
        h.ino, h.mode, 0, 0, h.nlink, h.mtime, size, 0, 0, h.rdev.0, h.rdev.1, namesize, 0,
    ] {
        push_hex8(out, field);
    }
    out.extend_from_slice(name);
    out.push(0);
    pad4(out);
    out.extend_from_slice(data);
    pad4(out);
    Ok(())
}

fn push_hex8(out: &mut Vec<u8>, value: u32) {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    for shift in (0..8).rev() {
        out.push(DIGITS[((value >> (shift * 4)) & 0xf) as usize]);
    }
}

fn pad4(out: &mut Vec<u8>) {
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

/// A gzip member (RFC 1952) holding `data`: fixed header (no name, MTIME 0, OS unknown),
/// deflate, CRC-32 and size.
pub fn gzip(data: &[u8], level: u8) -> Vec<u8> {
    let level = level.min(10);
    let deflated = miniz_oxide::deflate::compress_to_vec(data, level);
    let xfl = match level {
        1 => 4,
        9 | 10 => 2,
        _ => 0,
    };
    let mut out = Vec::with_capacity(deflated.len() + 18);
    out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 255]);
    out.extend_from_slice(&deflated);
    out.extend_from_slice(&crc32(data).to_le_bytes());
    // ISIZE is the length modulo 2^32 by definition.
    out.extend_from_slice(&((data.len() & 0xffff_ffff) as u32).to_le_bytes());
    out
}

const CRC_TABLES: [[u32; 256]; 8] = crc_tables();

const fn crc_tables() -> [[u32; 256]; 8] {
    let mut tables = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        tables[0][i] = c;
        i += 1;
    }
    let mut i = 0;
    while i < 256 {
        let mut t = 1;
        while t < 8 {
            let previous = tables[t - 1][i];
            tables[t][i] = (previous >> 8) ^ tables[0][(previous & 0xff) as usize];
            t += 1;
        }
        i += 1;
    }
    tables
}

/// CRC-32 (IEEE 802.3, as gzip uses it), eight bytes at a time.
pub fn crc32(data: &[u8]) -> u32 {
    let t = &CRC_TABLES;
    let mut crc = !0u32;
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let lo = u32::from_le_bytes([c[0], c[1], c[2], c[3]]) ^ crc;
        let hi = u32::from_le_bytes([c[4], c[5], c[6], c[7]]);
        crc = t[7][(lo & 0xff) as usize]
            ^ t[6][((lo >> 8) & 0xff) as usize]
            ^ t[5][((lo >> 16) & 0xff) as usize]
            ^ t[4][(lo >> 24) as usize]
            ^ t[3][(hi & 0xff) as usize]
            ^ t[2][((hi >> 8) & 0xff) as usize]
            ^ t[1][((hi >> 16) & 0xff) as usize]
            ^ t[0][(hi >> 24) as usize];
    }
    for &b in chunks.remainder() {
        crc = t[0][((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let name = path.file_name().ok_or_else(|| Error::BadPath {
        path: path.display().to_string(),
        why: "the image needs a file name to be written to",
    })?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    // Unique per process and call: two writers of one path never share a temporary file.
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    tmp_name.push(format!(".{}-{n}.tmp", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    std::fs::write(&tmp, bytes).map_err(io_error(format!("writing {}", tmp.display())))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::Io {
            context: format!("renaming {} to {}", tmp.display(), path.display()),
            source: e,
        }
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn crc32_matches_the_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
        let long: Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
        // Byte at a time, the plain definition.
        let mut slow = !0u32;
        for &b in &long {
            slow ^= u32::from(b);
            for _ in 0..8 {
                slow = if slow & 1 != 0 {
                    0xEDB8_8320 ^ (slow >> 1)
                } else {
                    slow >> 1
                };
            }
        }
        assert_eq!(crc32(&long), !slow);
    }

    #[test]
    fn gzip_round_trips_through_miniz() {
        let data = b"hello hello hello hello initramfs".repeat(100);
        for level in [0, 1, 6, 9] {
            let gz = gzip(&data, level);
            assert_eq!(&gz[..3], &[0x1f, 0x8b, 8]);
            let body = &gz[10..gz.len() - 8];
            let back = miniz_oxide::inflate::decompress_to_vec(body).unwrap();
            assert_eq!(back, data, "level {level}");
            let crc = u32::from_le_bytes(gz[gz.len() - 8..gz.len() - 4].try_into().unwrap());
            assert_eq!(crc, crc32(&data));
        }
    }

    #[test]
    fn paths_are_normalized_and_checked() {
        assert_eq!(normalize(b"/a/b").unwrap(), b"a/b");
        assert_eq!(normalize(b"./a//b/").unwrap(), b"a/b");
        assert_eq!(normalize(b"/").unwrap(), b"");
        assert!(normalize(b"a/../b").is_err());
        assert!(normalize(b"a\0b").is_err());
    }

    #[test]
    fn parents_are_implied_and_conflicts_refused() {
        let image = Initramfs::new().file("/a/b/c", b"x".to_vec(), 0o644);
        assert!(image.error().is_none());
        assert_eq!(image.len(), 3);
        let twice =
            Initramfs::new()
                .file("/a", b"x".to_vec(), 0o644)
                .file("/a", b"y".to_vec(), 0o644);
        assert!(matches!(twice.error(), Some(Error::Duplicate { .. })));
        let under_file =
            Initramfs::new()
                .file("/a", b"x".to_vec(), 0o644)
                .file("/a/b", b"y".to_vec(), 0o644);
        assert!(matches!(
            under_file.error(),
            Some(Error::ParentNotDirectory { .. })
        ));
        assert!(under_file.to_cpio().is_err());
        let dirs = Initramfs::new()
            .dir("/d", 0o700)
            .dir("/d", 0o755)
            .dir("/", 0o755);
        assert!(dirs.error().is_none());
        assert!(
            Initramfs::new()
                .file("/", b"".to_vec(), 0o644)
                .error()
                .is_some()
        );
        assert!(Initramfs::new().symlink("/l", "").error().is_some());
    }

    #[test]
    fn limits_hold() {
        let small = Initramfs::new()
            .with_limits(Limits {
                bytes: 10,
                entries: 100,
            })
            .file("/a", vec![0u8; 11], 0o644);
        assert!(matches!(small.error(), Some(Error::TooLarge { .. })));
        let few = Initramfs::new()
            .with_limits(Limits {
                bytes: 100,
                entries: 2,
            })
            .file("/a/b/c", b"".to_vec(), 0o644);
        assert!(matches!(few.error(), Some(Error::TooLarge { .. })));
    }

    #[test]
    fn the_format_is_newc() {
        let cpio = Initramfs::new()
            .file("/init", b"abc".to_vec(), 0o755)
            .to_cpio()
            .unwrap();
        // Entry 1: init.
        assert_eq!(&cpio[..6], b"070701");
        let field = |entry: &[u8], i: usize| {
            u32::from_str_radix(
                std::str::from_utf8(&entry[6 + 8 * i..14 + 8 * i]).unwrap(),
                16,
            )
            .unwrap()
        };
        assert_eq!(field(&cpio, 0), 1); // ino
        assert_eq!(field(&cpio, 1), 0o100_755); // mode
        assert_eq!(field(&cpio, 6), 3); // filesize
        assert_eq!(field(&cpio, 11), 5); // namesize "init\0"
        assert_eq!(&cpio[110..115], b"init\0");
        // 110 + 5 = 115 → 116, data 3 → 119 → 120.
        assert_eq!(&cpio[116..119], b"abc");
        assert_eq!(&cpio[120..126], b"070701");
        assert_eq!(&cpio[120 + 110..120 + 120], b"TRAILER!!!");
        assert_eq!(cpio.len() % 4, 0);
    }
}
