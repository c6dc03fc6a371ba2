//! Output capture: the command's stdout and stderr share one pipe, which one thread drains as
//! fast as it fills, into a capped log and, when asked, to a live stream.
//!
//! The log keeps the first three quarters of its size limit as the bytes arrive (so that
//! `tail -f` shows progress and a crash of gauntlet leaves the beginning behind) and the last
//! quarter in a ring in memory, written at the end after a marker line that says how many bytes
//! were dropped between them. Memory use is bounded by the ring, whatever the command prints.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec, poll};
use tokio::sync::{mpsc, oneshot};

/// How the caller receives the output while it arrives.
#[derive(Debug)]
pub(crate) enum Stream {
    /// Chunks as read from the pipe.
    Chunks(mpsc::Sender<Vec<u8>>),
    /// Complete lines without their `\n` (a line longer than [`MAX_LINE`] comes in pieces; the
    /// last line comes without a newline when the output ends without one).
    Lines(mpsc::Sender<Vec<u8>>),
}

/// The longest line sent whole; longer lines are cut into pieces of this size.
pub const MAX_LINE: usize = 64 * 1024;

/// What the log kept of the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogStats {
    /// Bytes the command wrote to stdout and stderr together.
    pub total_bytes: u64,
    /// Bytes of its output in the log (the marker line excluded).
    pub kept_bytes: u64,
    /// Bytes of its output dropped from the middle of the log.
    pub dropped_bytes: u64,
}

/// Keeps the head and the tail of a byte stream in a file.
pub(crate) struct Capper {
    file: File,
    head_limit: u64,
    head_written: u64,
    last_head_byte: Option<u8>,
    tail: VecDeque<u8>,
    tail_limit: usize,
    total: u64,
}

impl Capper {
    pub(crate) fn new(file: File, limit: u64) -> Capper {
        let tail_limit = usize::try_from(limit / 4).unwrap_or(usize::MAX);
        Capper {
            file,
            head_limit: limit - limit / 4,
            head_written: 0,
            last_head_byte: None,
            tail: VecDeque::new(),
            tail_limit,
            total: 0,
        }
    }

    pub(crate) fn total(&self) -> u64 {
        self.total
    }

    pub(crate) fn push(&mut self, mut data: &[u8]) -> io::Result<()> {
        self.total += data.len() as u64;
        if self.head_written < self.head_limit {
            let room = usize::try_from(self.head_limit - self.head_written).unwrap_or(usize::MAX);
            let (head, rest) = data.split_at(room.min(data.len()));
            self.file.write_all(head)?;
            self.head_written += head.len() as u64;
            if let Some(&b) = head.last() {
                self.last_head_byte = Some(b);
            }
            data = rest;
        }
        if data.is_empty() || self.tail_limit == 0 {
            return Ok(());
        }
        if data.len() >= self.tail_limit {
            self.tail.clear();
            self.tail.extend(&data[data.len() - self.tail_limit..]);
        } else {
            let overflow = (self.tail.len() + data.len()).saturating_sub(self.tail_limit);
            self.tail.drain(..overflow);
            self.tail.extend(data);
        }
        Ok(())
    }

    /// Writes the marker and the tail; says what was kept.
    pub(crate) fn finish(mut self) -> io::Result<LogStats> {
        let mut dropped = self.total - self.head_written - self.tail.len() as u64;
        if dropped > 0 {
            // The tail starts on a line of its own, when it has more than one.
            if let Some(nl) = self.tail.iter().position(|&b| b == b'\n')
                && nl + 1 < self.tail.len()
            {
                self.tail.drain(..=nl);
                dropped += nl as u64 + 1;
            }
            let newline = if self.last_head_byte == Some(b'\n') {
                ""
            } else {
                "\n"
            };
            writeln!(
                self.file,
                "{newline}[gauntlet-sandbox: {dropped} bytes of output dropped here: the log keeps \
                 its first {} and last {} bytes]",
                self.head_written,
                self.tail.len()
            )?;
        }
        let (a, b) = self.tail.as_slices();
        self.file.write_all(a)?;
        self.file.write_all(b)?;
        self.file.flush()?;
        Ok(LogStats {
            total_bytes: self.total,
            kept_bytes: self.head_written + self.tail.len() as u64,
            dropped_bytes: dropped,
        })
    }
}

/// Cuts chunks into lines of at most [`MAX_LINE`] bytes.
#[derive(Default)]
pub(crate) struct LineSplitter {
    partial: Vec<u8>,
}

impl LineSplitter {
    /// Calls `emit` with every line completed by `data`; stops early when `emit` says false.
    pub(crate) fn push(&mut self, data: &[u8], mut emit: impl FnMut(Vec<u8>) -> bool) -> bool {
        let mut rest = data;
        while !rest.is_empty() {
            let room = MAX_LINE - self.partial.len();
            let window = &rest[..room.min(rest.len())];
            match memchr_newline(window) {
                Some(nl) => {
                    self.partial.extend_from_slice(&window[..nl]);
                    rest = &rest[nl + 1..];
                    if !emit(std::mem::take(&mut self.partial)) {
                        return false;
                    }
                }
                None => {
                    self.partial.extend_from_slice(window);
                    rest = &rest[window.len()..];
                    if self.partial.len() == MAX_LINE && !emit(std::mem::take(&mut self.partial)) {
                        return false;
                    }
                }
            }
        }
        true
    }

    pub(crate) fn finish(&mut self) -> Option<Vec<u8>> {
        (!self.partial.is_empty()).then(|| std::mem::take(&mut self.partial))
    }
}

fn memchr_newline(data: &[u8]) -> Option<usize> {
    data.iter().position(|&b| b == b'\n')
}

/// The line the sandbox prints just before it executes the command: everything before it comes
/// from the sandbox itself (bubblewrap's or the wrapper's complaints), everything after it from
/// the command.
pub(crate) fn start_marker() -> String {
    use std::sync::atomic::AtomicU64;
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "gauntlet-sandbox:{}:{}:started",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// How much of what the sandbox prints before the marker is kept to explain a failed start.
const PREAMBLE_LIMIT: usize = 64 * 1024;
/// How long the reader drains a pipe that some escaped process still holds after the run.
const DRAIN_AFTER_STOP: Duration = Duration::from_millis(250);

/// What the reader saw.
pub(crate) struct Captured {
    /// Whether the start marker came: the command was executed.
    pub(crate) started: bool,
    /// What came before the marker (or everything, when it never came), cut to a few KiB.
    pub(crate) preamble: Vec<u8>,
    pub(crate) stats: LogStats,
    pub(crate) error: Option<(PathBuf, io::Error)>,
}

pub(crate) struct Reader {
    pub(crate) pipe: io::PipeReader,
    pub(crate) marker: String,
    pub(crate) capper: Capper,
    pub(crate) log_path: PathBuf,
    pub(crate) stream: Option<Stream>,
    pub(crate) kill_at: Option<u64>,
    pub(crate) over_limit: Option<oneshot::Sender<()>>,
    pub(crate) stop: Arc<AtomicBool>,
}

impl Reader {
    /// Drains the pipe until every writer closed it, or until told to stop.
    pub(crate) fn run(mut self) -> Captured {
        let _ = rustix::pipe::fcntl_setpipe_size(&self.pipe, 1 << 20);
        let mut buf = vec![0u8; 256 * 1024];
        let mut marker = self.marker.clone().into_bytes();
        marker.push(b'\n');
        let mut preamble: Vec<u8> = Vec::new();
        let mut started = false;
        let mut lines = LineSplitter::default();
        let mut error: Option<io::Error> = None;
        let mut stop_deadline: Option<Instant> = None;
        loop {
            if stop_deadline.is_none() && self.stop.load(Ordering::Acquire) {
                stop_deadline = Some(Instant::now() + DRAIN_AFTER_STOP);
            }
            if stop_deadline.is_some_and(|d| Instant::now() >= d) {
                break;
            }
            let ready = {
                let mut fds = [PollFd::new(&self.pipe, PollFlags::IN)];
                let timeout = Timespec {
                    tv_sec: 0,
                    tv_nsec: 50_000_000,
                };
                match poll(&mut fds, Some(&timeout)) {
                    Ok(ready) => ready,
                    Err(rustix::io::Errno::INTR) => continue,
                    Err(_) => 1,
                }
            };
            if ready == 0 {
                if stop_deadline.is_some() {
                    break;
                }
                continue;
            }
            let n = match self.pipe.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    error = Some(e);
                    break;
                }
            };
            let data = &buf[..n];
            if started {
                if let Err(e) = self.deliver(data, &mut lines) {
                    error = Some(e);
                    break;
                }
                continue;
            }
            preamble.extend_from_slice(data);
            if let Some(at) = find(&preamble, &marker) {
                started = true;
                let rest = preamble.split_off(at + marker.len());
                preamble.truncate(at);
                let result = self
                    .capper
                    .push(&preamble)
                    .and_then(|()| self.deliver(&rest, &mut lines));
                if let Err(e) = result {
                    error = Some(e);
                    break;
                }
            } else if preamble.len() > PREAMBLE_LIMIT {
                // No marker in this much output: the sandbox is talking, not the command.
                if let Err(e) = self.capper.push(&preamble) {
                    error = Some(e);
                    break;
                }
                preamble.truncate(PREAMBLE_LIMIT);
                marker.clear();
            }
        }
        if !started && !marker.is_empty() {
            let _ = self.capper.push(&preamble);
        }
        if started
            && let Some(line) = lines.finish()
            && let Some(Stream::Lines(tx)) = &self.stream
        {
            let _ = tx.blocking_send(line);
        }
        preamble.truncate(4096);
        let stats = match self.capper.finish() {
            Ok(stats) => stats,
            Err(e) => {
                error.get_or_insert(e);
                LogStats::default()
            }
        };
        Captured {
            started,
            preamble,
            stats,
            error: error.map(|e| (self.log_path, e)),
        }
    }

    fn deliver(&mut self, data: &[u8], lines: &mut LineSplitter) -> io::Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        self.capper.push(data)?;
        if let Some(limit) = self.kill_at
            && self.capper.total() > limit
            && let Some(tx) = self.over_limit.take()
        {
            let _ = tx.send(());
        }
        let open = match &self.stream {
            None => true,
            Some(Stream::Chunks(tx)) => tx.blocking_send(data.to_vec()).is_ok(),
            Some(Stream::Lines(tx)) => lines.push(data, |line| tx.blocking_send(line).is_ok()),
        };
        if !open {
            tracing::debug!("the output stream's receiver is gone; the log goes on");
            self.stream = None;
        }
        Ok(())
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn capped(limit: u64, chunks: &[&[u8]]) -> (Vec<u8>, LogStats) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let mut capper = Capper::new(File::create(&path).unwrap(), limit);
        for chunk in chunks {
            capper.push(chunk).unwrap();
        }
        let stats = capper.finish().unwrap();
        (std::fs::read(&path).unwrap(), stats)
    }

    #[test]
    fn small_output_is_kept_whole() {
        let (log, stats) = capped(1000, &[b"hello\n", b"world\n"]);
        assert_eq!(log, b"hello\nworld\n");
        assert_eq!(stats.total_bytes, 12);
        assert_eq!(stats.kept_bytes, 12);
        assert_eq!(stats.dropped_bytes, 0);
    }

    #[test]
    fn output_at_the_limit_is_kept_whole() {
        let data = b"0123456789".repeat(10);
        let (log, stats) = capped(100, &[&data[..33], &data[33..]]);
        assert_eq!(log, data);
        assert_eq!(stats.dropped_bytes, 0);
    }

    #[test]
    fn long_output_keeps_head_and_tail_with_a_marker() {
        let lines: Vec<String> = (0..1000).map(|i| format!("line {i:04}\n")).collect();
        let chunks: Vec<&[u8]> = lines.iter().map(|l| l.as_bytes()).collect();
        let (log, stats) = capped(400, &chunks);
        let text = String::from_utf8(log).unwrap();
        assert!(text.starts_with("line 0000\nline 0001\n"), "{text}");
        assert!(text.ends_with("line 0998\nline 0999\n"), "{text}");
        assert_eq!(stats.total_bytes, 10_000);
        assert_eq!(stats.kept_bytes + stats.dropped_bytes, 10_000);
        assert!(stats.kept_bytes <= 400);
        let marker = format!(
            "[gauntlet-sandbox: {} bytes of output dropped here",
            stats.dropped_bytes
        );
        assert!(text.contains(&marker), "{text}");
        // Every line of the tail is whole.
        let after = text.split_once("bytes]\n").unwrap().1;
        assert!(after.starts_with("line "), "{after}");
    }

    #[test]
    fn one_huge_chunk_and_no_newlines() {
        let data = vec![b'y'; 1 << 20];
        let (log, stats) = capped(1000, &[&data]);
        assert_eq!(stats.total_bytes, 1 << 20);
        assert_eq!(stats.kept_bytes, 1000);
        assert!(log.len() < 1200);
        assert!(log.starts_with(&[b'y'; 750]));
        assert!(log.ends_with(&[b'y'; 250]));
    }

    #[test]
    fn lines_are_split_across_chunks_and_bounded() {
        let mut splitter = LineSplitter::default();
        let mut got: Vec<Vec<u8>> = Vec::new();
        assert!(splitter.push(b"ab", |l| {
            got.push(l);
            true
        }));
        assert!(splitter.push(b"c\n\xff\xfe\nde", |l| {
            got.push(l);
            true
        }));
        assert_eq!(got, [b"abc".to_vec(), b"\xff\xfe".to_vec()]);
        assert_eq!(splitter.finish(), Some(b"de".to_vec()));
        assert_eq!(splitter.finish(), None);

        let long = vec![b'x'; MAX_LINE * 2 + 10];
        let mut sizes = Vec::new();
        splitter.push(&long, |l| {
            sizes.push(l.len());
            true
        });
        splitter.push(b"\n", |l| {
            sizes.push(l.len());
            true
        });
        assert_eq!(sizes, [MAX_LINE, MAX_LINE, 10]);
    }

    #[test]
    fn find_bytes() {
        assert_eq!(find(b"abcdef", b"cd"), Some(2));
        assert_eq!(find(b"ab", b"abc"), None);
        assert_eq!(find(b"abc", b""), None);
    }
}
