//! Reading a kernel's serial console as it streams: milestones, kernel reports, and what the
//! runner should do next.
//!
//! Milestones: `Linux version` (the kernel started), a configurable userspace marker (our init
//! prints `GAUNTLET-BOOT-OK`) and a configurable done marker with its status
//! (`GAUNTLET-DONE rc=N`). Markers are found anywhere in a line (console output interleaves),
//! except in shell trace lines (`+ echo GAUNTLET-DONE…`).
//!
//! Kernel reports are recognised at the start of a message (after the console prefix):
//!
//! | report | line starts with | severity |
//! |---|---|---|
//! | panic | `Kernel panic - not syncing` | fatal |
//! | BUG | `BUG:`, `kernel BUG at`, `Unable to handle kernel` | error |
//! | oops | `Oops:`, `Oops -`, `Internal error: Oops` | error |
//! | general protection fault | `general protection fault`, `Oops: general protection fault` | error |
//! | KASAN, KFENCE, UBSAN | `BUG: KASAN:`, `BUG: KFENCE:`, `UBSAN:` | error |
//! | soft / hard lockup | `watchdog: BUG: soft lockup - CPU#…`, `… Watchdog detected hard LOCKUP …` | error |
//! | RCU stall | `rcu: INFO: rcu_… detected stall(s)…` (also self-detected) | error |
//! | hung task | `INFO: task … blocked for more than …` | error |
//! | WARNING | `WARNING:` (`WARNING: CPU: 0 PID: 1 at …`, lockdep's `WARNING: possible …`) | warning |
//! | call trace | `Call Trace:` outside another report (a `dump_stack()`) | warning |
//!
//! Each report is an event with its line number and an excerpt: the `context_lines` lines before
//! it, the line, and what follows up to the end of the report (`---[ end trace …`, `---[ end
//! Kernel panic …`, or the `=====` line that closes a KASAN/UBSAN report), at most
//! `trailing_lines` lines and `excerpt_bytes` bytes. Inside a report, its own `Call Trace:` and
//! `Oops:` lines are part of it, not new events; a panic always is its own event.
//!
//! Stop rules for the runner ([`Action`]): the done marker → stop (done); a panic → stop
//! (fatal); another report → stop only under [`ReportPolicy::Stop`] (with `oops=panic` or
//! `panic_on_warn=1` on the kernel command line they become panics anyway). Hangs are time, so
//! the runner measures them; [`SilenceWatch`] is the bookkeeping for "no output for N s".

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use gauntlet_verdict::{Severity, Status};
use memchr::memmem;
use serde::{Deserialize, Serialize};

use crate::cap::LogCap;
use crate::model::{Excerpt, Outcome};
use crate::text::{clip, strip_console_prefix};

/// The kinds of kernel reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReportKind {
    Panic,
    Bug,
    Oops,
    GeneralProtectionFault,
    Kasan,
    Kfence,
    Ubsan,
    SoftLockup,
    HardLockup,
    RcuStall,
    HungTask,
    Warning,
    CallTrace,
}

impl ReportKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ReportKind::Panic => "kernel panic",
            ReportKind::Bug => "kernel BUG",
            ReportKind::Oops => "kernel oops",
            ReportKind::GeneralProtectionFault => "general protection fault",
            ReportKind::Kasan => "KASAN report",
            ReportKind::Kfence => "KFENCE report",
            ReportKind::Ubsan => "UBSAN report",
            ReportKind::SoftLockup => "soft lockup",
            ReportKind::HardLockup => "hard lockup",
            ReportKind::RcuStall => "RCU stall",
            ReportKind::HungTask => "hung task",
            ReportKind::Warning => "kernel warning",
            ReportKind::CallTrace => "call trace",
        }
    }

    /// The kernel cannot go on after it.
    pub fn is_fatal(self) -> bool {
        self == ReportKind::Panic
    }

    pub fn severity(self) -> Severity {
        match self {
            ReportKind::Warning | ReportKind::CallTrace => Severity::Warning,
            _ => Severity::Error,
        }
    }
}

/// The report a console message starts, if any (`message` is the line after its console
/// prefix).
pub fn classify_report(message: &str) -> Option<ReportKind> {
    let m = message.trim_start();
    let first = *m.as_bytes().first()?;
    if !b"BCIKNOUWgikrw".contains(&first) {
        return None;
    }
    if m.starts_with("Kernel panic - not syncing") {
        return Some(ReportKind::Panic);
    }
    if m.contains("soft lockup - CPU#")
        && (m.starts_with("watchdog: BUG:") || m.starts_with("BUG:"))
    {
        return Some(ReportKind::SoftLockup);
    }
    if m.contains("hard LOCKUP")
        && (m.starts_with("Watchdog detected")
            || m.starts_with("NMI watchdog:")
            || m.starts_with("watchdog:"))
    {
        return Some(ReportKind::HardLockup);
    }
    if m.starts_with("BUG: KASAN:") {
        return Some(ReportKind::Kasan);
    }
    if m.starts_with("BUG: KFENCE:") {
        return Some(ReportKind::Kfence);
    }
    if m.starts_with("UBSAN:") {
        return Some(ReportKind::Ubsan);
    }
    if m.starts_with("BUG:")
        || m.starts_with("kernel BUG at")
        || m.starts_with("Unable to handle kernel")
    {
        return Some(ReportKind::Bug);
    }
    if m.starts_with("general protection fault") || m.starts_with("Oops: general protection fault")
    {
        return Some(ReportKind::GeneralProtectionFault);
    }
    if m.starts_with("Oops:") || m.starts_with("Oops -") || m.starts_with("Internal error: Oops") {
        return Some(ReportKind::Oops);
    }
    if m.starts_with("WARNING:") {
        return Some(ReportKind::Warning);
    }
    if m.starts_with("Call Trace:") {
        return Some(ReportKind::CallTrace);
    }
    if (m.starts_with("rcu: INFO: rcu_") || m.starts_with("INFO: rcu_"))
        && m.contains("detected stall")
    {
        return Some(ReportKind::RcuStall);
    }
    if m.starts_with("INFO: task ") && m.contains("blocked for more than") {
        return Some(ReportKind::HungTask);
    }
    None
}

/// Does this line close the report it is part of?
fn ends_report(message: &str) -> bool {
    let m = message.trim();
    m.starts_with("---[ end") || (m.len() >= 20 && m.bytes().all(|b| b == b'='))
}

/// Lines that belong to the report before them rather than start one.
fn continues_report(kind: ReportKind) -> bool {
    matches!(
        kind,
        ReportKind::CallTrace | ReportKind::Oops | ReportKind::GeneralProtectionFault
    )
}

/// What the runner should do with the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "action")]
pub enum Action {
    /// Keep reading.
    Continue,
    /// Stop the machine (the first reason seen sticks).
    Stop(StopReason),
}

impl Action {
    pub fn is_stop(self) -> bool {
        matches!(self, Action::Stop(_))
    }
}

/// Why the machine can be stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "reason")]
pub enum StopReason {
    /// The done marker, with the status it carried.
    Done { line: u64, rc: Option<i32> },
    /// A kernel panic: nothing more will come but its trace.
    Fatal { line: u64 },
    /// A non-fatal report, under [`ReportPolicy::Stop`].
    Report { line: u64, kind: ReportKind },
}

/// What to do about non-fatal kernel reports (BUG, oops, WARNING…).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReportPolicy {
    /// Note it and keep reading (the tests may still finish and say more).
    #[default]
    Continue,
    /// Stop at the first one.
    Stop,
}

/// How the stream ended (said by the runner at the end).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum End {
    /// The stream closed by itself: the process exited, the file ended.
    #[default]
    Eof,
    /// The runner stopped it after an [`Action::Stop`].
    Stopped,
    /// The runner's deadline passed.
    Timeout,
    /// No output for too long ([`SilenceWatch`]).
    Silence,
}

/// Settings of the console reader.
#[derive(Debug, Clone)]
pub struct ConsoleConfig {
    /// The stream is a kernel's console: no `Linux version` line is an error.
    pub expect_kernel: bool,
    /// Look for kernel reports (off for a host program's output, where `WARNING:` is text).
    pub detect_reports: bool,
    /// Printed by init when userspace is reached.
    pub userspace_marker: Option<String>,
    /// Printed by init when the tests are done, optionally followed by ` rc=N`.
    pub done_marker: Option<String>,
    pub on_report: ReportPolicy,
    /// A `WARNING:` (or a stray call trace) fails the boot; off: it is only reported.
    pub warnings_fail: bool,
    /// Lines before a report that go into its excerpt.
    pub context_lines: usize,
    /// Lines after a report that may go into its excerpt.
    pub trailing_lines: usize,
    pub excerpt_bytes: usize,
    /// Reports kept with their excerpts; more are only counted.
    pub max_events: usize,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        ConsoleConfig {
            expect_kernel: true,
            detect_reports: true,
            userspace_marker: Some("GAUNTLET-BOOT-OK".to_owned()),
            done_marker: Some("GAUNTLET-DONE".to_owned()),
            on_report: ReportPolicy::Continue,
            warnings_fail: true,
            context_lines: 20,
            trailing_lines: 120,
            excerpt_bytes: 16 << 10,
            max_events: 64,
        }
    }
}

impl ConsoleConfig {
    /// For the output of a program on the host: no kernel, no markers, no reports.
    pub fn host_process() -> Self {
        ConsoleConfig {
            expect_kernel: false,
            detect_reports: false,
            userspace_marker: None,
            done_marker: None,
            ..ConsoleConfig::default()
        }
    }
}

/// A kernel report seen on the console.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsoleEvent {
    pub kind: ReportKind,
    pub severity: Severity,
    pub line: u64,
    /// The line that started it (without console prefix).
    pub text: String,
    pub excerpt: Excerpt,
}

/// The done marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Done {
    pub line: u64,
    pub rc: Option<i32>,
}

/// What happened on a line, for the caller that reacts to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineEvent {
    KernelStarted,
    Userspace,
    Done(Option<i32>),
    Report(ReportKind),
}

#[derive(Debug)]
struct OpenReport {
    event: usize,
    lines_after: usize,
    cap: LogCap,
}

/// The streaming console reader.
#[derive(Debug)]
pub struct ConsoleClassifier {
    config: ConsoleConfig,
    userspace: Option<memmem::Finder<'static>>,
    done: Option<memmem::Finder<'static>>,
    linux: memmem::Finder<'static>,
    context: VecDeque<(u64, String)>,
    open: Vec<OpenReport>,
    events: Vec<ConsoleEvent>,
    dropped_events: u64,
    kernel_started: Option<u64>,
    userspace_line: Option<u64>,
    done_seen: Option<Done>,
    stop: Option<StopReason>,
    last_line: u64,
}

const CONTEXT_LINE_BYTES: usize = 512;

impl ConsoleClassifier {
    pub fn new(config: ConsoleConfig) -> Self {
        let finder = |s: &Option<String>| {
            s.as_deref()
                .filter(|s| !s.is_empty())
                .map(|s| memmem::Finder::new(s.as_bytes()).into_owned())
        };
        ConsoleClassifier {
            userspace: finder(&config.userspace_marker),
            done: finder(&config.done_marker),
            linux: memmem::Finder::new(b"Linux version ").into_owned(),
            context: VecDeque::with_capacity(config.context_lines + 1),
            open: Vec::new(),
            events: Vec::new(),
            dropped_events: 0,
            kernel_started: None,
            userspace_line: None,
            done_seen: None,
            stop: None,
            last_line: 0,
            config,
        }
    }

    pub fn action(&self) -> Action {
        self.stop.map_or(Action::Continue, Action::Stop)
    }

    pub fn events(&self) -> &[ConsoleEvent] {
        &self.events
    }

    /// Reads one line (its visible text); says what it was, if anything.
    pub fn line(&mut self, number: u64, text: &str) -> Option<LineEvent> {
        self.line_with_message(number, text, strip_console_prefix(text))
    }

    /// [`ConsoleClassifier::line`] when the caller already has the message (the text after
    /// its console prefix, [`strip_console_prefix`]).
    pub fn line_with_message(
        &mut self,
        number: u64,
        text: &str,
        message: &str,
    ) -> Option<LineEvent> {
        self.last_line = number;
        self.feed_open_reports(number, message, text);
        let event = self.milestone(number, message).or_else(|| {
            if !self.config.detect_reports {
                return None;
            }
            let kind = classify_report(message)?;
            let inside = !self.open.is_empty();
            if inside && continues_report(kind) {
                return None;
            }
            if kind == ReportKind::CallTrace && inside {
                return None;
            }
            self.report(number, kind, message, text);
            Some(LineEvent::Report(kind))
        });
        self.remember(number, text);
        event
    }

    fn milestone(&mut self, number: u64, message: &str) -> Option<LineEvent> {
        let bytes = message.as_bytes();
        if self.kernel_started.is_none() && self.linux.find(bytes).is_some() {
            self.kernel_started = Some(number);
            return Some(LineEvent::KernelStarted);
        }
        let traced = message.starts_with("+ ");
        if !traced
            && self.userspace_line.is_none()
            && self
                .userspace
                .as_ref()
                .is_some_and(|f| f.find(bytes).is_some())
        {
            self.userspace_line = Some(number);
            return Some(LineEvent::Userspace);
        }
        if !traced
            && self.done_seen.is_none()
            && let Some(finder) = &self.done
            && let Some(at) = finder.find(bytes)
        {
            let rc = parse_rc(&message[at + finder.needle().len()..]);
            self.done_seen = Some(Done { line: number, rc });
            self.stop_with(StopReason::Done { line: number, rc });
            return Some(LineEvent::Done(rc));
        }
        None
    }

    fn stop_with(&mut self, reason: StopReason) {
        if self.stop.is_none() {
            tracing::debug!(?reason, "console: the runner may stop");
            self.stop = Some(reason);
        }
    }

    fn report(&mut self, number: u64, kind: ReportKind, message: &str, text: &str) {
        tracing::debug!(
            line = number,
            kind = kind.as_str(),
            "console: kernel report"
        );
        if kind.is_fatal() {
            self.stop_with(StopReason::Fatal { line: number });
        } else if self.config.on_report == ReportPolicy::Stop {
            self.stop_with(StopReason::Report { line: number, kind });
        }
        if self.events.len() >= self.config.max_events {
            self.dropped_events += 1;
            return;
        }
        let half = self.config.excerpt_bytes / 2;
        let first = self.context.front().map_or(number, |(n, _)| *n);
        let mut cap = LogCap::starting_at(half, half, first);
        for (_, line) in &self.context {
            cap.push_line(line.as_bytes());
        }
        cap.push_line(text.as_bytes());
        self.events.push(ConsoleEvent {
            kind,
            severity: kind.severity(),
            line: number,
            text: clip(message.trim(), 500),
            excerpt: cap.snapshot().into_excerpt(number),
        });
        if self.open.len() >= 4 {
            self.close_report(0);
        }
        self.open.push(OpenReport {
            event: self.events.len() - 1,
            lines_after: 0,
            cap,
        });
    }

    fn feed_open_reports(&mut self, number: u64, message: &str, text: &str) {
        if self.open.is_empty() {
            return;
        }
        let ends = ends_report(message);
        let mut i = 0;
        while i < self.open.len() {
            let report = &mut self.open[i];
            report.cap.push_line(text.as_bytes());
            report.lines_after += 1;
            self.events[report.event].excerpt.last_line = number;
            if ends || report.lines_after >= self.config.trailing_lines {
                self.close_report(i);
            } else {
                i += 1;
            }
        }
    }

    fn close_report(&mut self, i: usize) {
        let report = self.open.remove(i);
        let event = &mut self.events[report.event];
        let last = event.excerpt.last_line;
        event.excerpt = report.cap.finish().into_excerpt(last);
    }

    fn remember(&mut self, number: u64, text: &str) {
        if self.config.context_lines == 0 {
            return;
        }
        let mut slot = if self.context.len() >= self.config.context_lines {
            self.context.pop_front().map(|(_, s)| s).unwrap_or_default()
        } else {
            String::new()
        };
        slot.clear();
        slot.push_str(&clip_str(text, CONTEXT_LINE_BYTES));
        self.context.push_back((number, slot));
    }

    /// The end of the stream.
    pub fn finish(mut self, end: End) -> ConsoleSummary {
        while !self.open.is_empty() {
            self.close_report(0);
        }
        let outcome = self.outcome(end);
        ConsoleSummary {
            kernel_started: self.kernel_started,
            userspace: self.userspace_line,
            done: self.done_seen,
            events: self.events,
            dropped_events: self.dropped_events,
            stop: self.stop,
            end,
            outcome,
        }
    }

    fn outcome(&self, end: End) -> Outcome {
        let first = |pred: &dyn Fn(&ConsoleEvent) -> bool| self.events.iter().find(|e| pred(e));
        let fail_on = |e: &ConsoleEvent| {
            Outcome::new(
                Status::Fail,
                format!("{} at line {}: {}", e.kind.as_str(), e.line, e.text),
                Some(e.line),
            )
        };
        if let Some(e) = first(&|e| e.kind.is_fatal()) {
            return fail_on(e);
        }
        if let Some(e) = first(&|e| e.severity == Severity::Error) {
            return fail_on(e);
        }
        let warnings = self
            .events
            .iter()
            .filter(|e| e.severity == Severity::Warning)
            .count();
        if self.config.warnings_fail
            && let Some(e) = first(&|e| e.severity == Severity::Warning)
        {
            return fail_on(e);
        }
        if let Some(done) = self.done_seen {
            return match done.rc {
                Some(rc) if rc != 0 => Outcome::new(
                    Status::Fail,
                    format!("the tests reported rc={rc} (line {})", done.line),
                    Some(done.line),
                ),
                _ => Outcome::new(
                    Status::Pass,
                    match warnings {
                        0 => format!("done at line {}", done.line),
                        n => format!("done at line {}, with {n} kernel warning(s)", done.line),
                    },
                    Some(done.line),
                ),
            };
        }
        let last = Some(self.last_line);
        if self.config.expect_kernel && self.kernel_started.is_none() {
            return Outcome::new(
                Status::Error,
                "no `Linux version` line: the boot loader, QEMU or the console failed",
                last,
            );
        }
        let stage = match (self.kernel_started, self.userspace_line) {
            (_, Some(line)) => format!("after userspace was reached (line {line})"),
            (Some(line), None) if self.config.userspace_marker.is_some() => {
                format!("before userspace (the kernel started at line {line})")
            }
            _ => "".to_owned(),
        };
        let stage = if stage.is_empty() {
            String::new()
        } else {
            format!(" {stage}")
        };
        match end {
            End::Timeout => {
                return Outcome::new(
                    Status::Error,
                    format!("timed out{stage}, without a kernel report"),
                    last,
                );
            }
            End::Silence => {
                return Outcome::new(
                    Status::Error,
                    format!("no output for too long{stage}, without a kernel report"),
                    last,
                );
            }
            End::Eof | End::Stopped => {}
        }
        if self.config.userspace_marker.is_some() && self.userspace_line.is_none() {
            return Outcome::new(
                Status::Fail,
                format!(
                    "the console ended{stage} without a panic message: the kernel never reached userspace"
                ),
                last,
            );
        }
        if self.config.done_marker.is_some() {
            return Outcome::new(
                Status::Fail,
                format!(
                    "the console ended{stage} without the done marker: init or the tests stopped early"
                ),
                last,
            );
        }
        Outcome::new(Status::Pass, "the output ended normally", last)
    }
}

fn clip_str(s: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if s.len() <= max {
        std::borrow::Cow::Borrowed(s)
    } else {
        std::borrow::Cow::Owned(clip(s, max))
    }
}

/// ` rc=N` after the done marker (spaces allowed; the sign too).
fn parse_rc(rest: &str) -> Option<i32> {
    let value = rest.trim_start().strip_prefix("rc=")?;
    let n = value
        .bytes()
        .enumerate()
        .take_while(|&(i, b)| b.is_ascii_digit() || (i == 0 && b == b'-'))
        .count();
    value[..n].parse().ok()
}

/// What the console said, at the end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsoleSummary {
    pub kernel_started: Option<u64>,
    pub userspace: Option<u64>,
    pub done: Option<Done>,
    pub events: Vec<ConsoleEvent>,
    /// Reports beyond [`ConsoleConfig::max_events`].
    pub dropped_events: u64,
    /// The first reason to stop that was seen.
    pub stop: Option<StopReason>,
    pub end: End,
    /// The boot's verdict: a panic or an error report → FAIL; a WARNING → FAIL unless
    /// `warnings_fail` is off; the done marker → PASS (FAIL when `rc` is not 0); no kernel → ERROR;
    /// a timeout or silence without a report → ERROR (nothing proves the patch did it); the end
    /// of the console before the userspace or done marker → FAIL.
    pub outcome: Outcome,
}

/// Bookkeeping for "no output for N seconds", with times given by the caller (no threads, no
/// clock of its own).
#[derive(Debug, Clone, Copy)]
pub struct SilenceWatch {
    limit: Duration,
    last: Instant,
}

impl SilenceWatch {
    pub fn new(limit: Duration, now: Instant) -> Self {
        SilenceWatch { limit, last: now }
    }

    /// Output arrived at `now`.
    pub fn output(&mut self, now: Instant) {
        self.last = self.last.max(now);
    }

    pub fn silent_for(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.last)
    }

    pub fn expired(&self, now: Instant) -> bool {
        self.silent_for(now) >= self.limit
    }

    /// When the silence limit will be reached if nothing arrives (for a poll timeout).
    pub fn deadline(&self) -> Instant {
        self.last + self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(config: ConsoleConfig, text: &str, end: End) -> ConsoleSummary {
        let mut c = ConsoleClassifier::new(config);
        for (i, line) in text.lines().enumerate() {
            c.line(i as u64 + 1, line);
        }
        c.finish(end)
    }

    #[test]
    fn reports_are_recognised_at_the_start_of_a_message() {
        use ReportKind::*;
        let cases = [
            (
                "Kernel panic - not syncing: Attempted to kill init!",
                Some(Panic),
            ),
            (
                "BUG: kernel NULL pointer dereference, address: 0000000000000000",
                Some(Bug),
            ),
            ("kernel BUG at mm/slub.c:432!", Some(Bug)),
            (
                "Unable to handle kernel paging request at virtual address 0",
                Some(Bug),
            ),
            ("Oops: 0000 [#1] PREEMPT SMP NOPTI", Some(Oops)),
            ("Internal error: Oops: 96000005 [#1] SMP", Some(Oops)),
            (
                "general protection fault, probably for non-canonical address 0xdead: 0000 [#1]",
                Some(GeneralProtectionFault),
            ),
            (
                "Oops: general protection fault, probably for non-canonical address",
                Some(GeneralProtectionFault),
            ),
            (
                "WARNING: CPU: 0 PID: 1 at kernel/fork.c:12 f+0x1/0x2",
                Some(Warning),
            ),
            (
                "WARNING: possible circular locking dependency detected",
                Some(Warning),
            ),
            ("Call Trace:", Some(CallTrace)),
            (
                "watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [swapper/0:1]",
                Some(SoftLockup),
            ),
            (
                "NMI watchdog: Watchdog detected hard LOCKUP on cpu 1",
                Some(HardLockup),
            ),
            (
                "rcu: INFO: rcu_preempt self-detected stall on CPU",
                Some(RcuStall),
            ),
            (
                "rcu: INFO: rcu_sched detected stalls on CPUs/tasks:",
                Some(RcuStall),
            ),
            (
                "INFO: task kworker/0:1:12 blocked for more than 120 seconds.",
                Some(HungTask),
            ),
            (
                "BUG: KASAN: slab-out-of-bounds in foo+0x12/0x34",
                Some(Kasan),
            ),
            ("BUG: KFENCE: use-after-free read in bar", Some(Kfence)),
            ("UBSAN: shift-out-of-bounds in lib/x.c:3:4", Some(Ubsan)),
            ("echo BUG: not at the start", None),
            ("Booting the kernel.", None),
            ("rcu: Hierarchical RCU implementation.", None),
        ];
        for (line, kind) in cases {
            assert_eq!(classify_report(line), kind, "{line}");
        }
    }

    const PANIC: &str = "\
Linux version 6.1.0 (gcc)
line a
line b
BUG: kernel NULL pointer dereference, address: 0000000000000000
#PF: supervisor read access in kernel mode
Oops: 0000 [#1] PREEMPT SMP NOPTI
CPU: 0 PID: 1 Comm: swapper/0 Not tainted 6.1.0 #1
Call Trace:
 <TASK>
 do_one_initcall+0x1/0x2
 </TASK>
---[ end trace 0000000000000000 ]---
Kernel panic - not syncing: Fatal exception
---[ end Kernel panic - not syncing: Fatal exception ]---
";

    #[test]
    fn a_panic_stops_the_runner_and_keeps_its_trace() {
        let mut c = ConsoleClassifier::new(ConsoleConfig::default());
        let mut stopped_at = None;
        for (i, line) in PANIC.lines().enumerate() {
            c.line(i as u64 + 1, line);
            if stopped_at.is_none() && c.action().is_stop() {
                stopped_at = Some(i + 1);
            }
        }
        assert_eq!(stopped_at, Some(13));
        assert_eq!(c.action(), Action::Stop(StopReason::Fatal { line: 13 }));
        let summary = c.finish(End::Eof);
        let kinds: Vec<_> = summary.events.iter().map(|e| (e.kind, e.line)).collect();
        assert_eq!(kinds, vec![(ReportKind::Bug, 4), (ReportKind::Panic, 13)]);
        let bug = &summary.events[0].excerpt;
        assert_eq!((bug.first_line, bug.last_line), (1, 12));
        assert!(bug.text.contains("Call Trace:") && bug.text.contains("line a"));
        let panic = &summary.events[1].excerpt;
        assert_eq!((panic.first_line, panic.last_line), (1, 14));
        assert_eq!(summary.outcome.status, Status::Fail);
        assert!(
            summary
                .outcome
                .reason
                .starts_with("kernel panic at line 13"),
            "{}",
            summary.outcome.reason
        );
    }

    #[test]
    fn boot_outcomes() {
        let config = ConsoleConfig::default;
        let ok = feed(
            config(),
            "Linux version 6.1\nGAUNTLET-BOOT-OK\nGAUNTLET-DONE rc=0\n",
            End::Stopped,
        );
        assert_eq!(ok.outcome.status, Status::Pass);
        assert_eq!(
            ok.done,
            Some(Done {
                line: 3,
                rc: Some(0)
            })
        );
        assert_eq!(
            ok.stop,
            Some(StopReason::Done {
                line: 3,
                rc: Some(0)
            })
        );
        let rc = feed(
            config(),
            "Linux version 6.1\nGAUNTLET-BOOT-OK\n[ 1.0] GAUNTLET-DONE rc=3\n",
            End::Eof,
        );
        assert_eq!(rc.outcome.status, Status::Fail);
        let traced = feed(
            config(),
            "Linux version 6.1\n+ echo GAUNTLET-DONE rc=0\n",
            End::Eof,
        );
        assert_eq!(traced.done, None);
        let hang = feed(
            config(),
            "Linux version 6.1\nGAUNTLET-BOOT-OK\n",
            End::Timeout,
        );
        assert_eq!(hang.outcome.status, Status::Error);
        assert!(
            hang.outcome.reason.contains("after userspace"),
            "{}",
            hang.outcome.reason
        );
        let early = feed(config(), "Linux version 6.1\nsomething\n", End::Eof);
        assert_eq!(early.outcome.status, Status::Fail);
        let nothing = feed(config(), "SeaBIOS\n", End::Eof);
        assert_eq!(nothing.outcome.status, Status::Error);
        let warned = feed(
            ConsoleConfig {
                warnings_fail: false,
                ..config()
            },
            "Linux version 6.1\nGAUNTLET-BOOT-OK\nWARNING: CPU: 0 PID: 1 at x.c:1\nGAUNTLET-DONE\n",
            End::Eof,
        );
        assert_eq!(warned.outcome.status, Status::Pass);
        assert!(warned.outcome.reason.contains("1 kernel warning"));
        let host = feed(
            ConsoleConfig::host_process(),
            "WARNING: this is text\n",
            End::Eof,
        );
        assert_eq!((host.outcome.status, host.events.len()), (Status::Pass, 0));
    }

    #[test]
    fn the_report_policy_decides_on_non_fatal_reports() {
        let mut c = ConsoleClassifier::new(ConsoleConfig {
            on_report: ReportPolicy::Stop,
            ..ConsoleConfig::default()
        });
        c.line(1, "[    1.5] WARNING: CPU: 0 PID: 1 at kernel/x.c:1 f");
        assert_eq!(
            c.action(),
            Action::Stop(StopReason::Report {
                line: 1,
                kind: ReportKind::Warning
            })
        );
        let mut relaxed = ConsoleClassifier::new(ConsoleConfig::default());
        relaxed.line(1, "WARNING: CPU: 0 PID: 1 at kernel/x.c:1 f");
        assert_eq!(relaxed.action(), Action::Continue);
    }

    #[test]
    fn a_flood_of_reports_is_bounded() {
        let mut c = ConsoleClassifier::new(ConsoleConfig::default());
        for i in 1..=10_000 {
            c.line(i, "WARNING: CPU: 0 PID: 1 at kernel/x.c:1 f");
        }
        let summary = c.finish(End::Eof);
        assert_eq!(summary.events.len(), 64);
        assert_eq!(summary.dropped_events, 10_000 - 64);
    }

    #[test]
    fn silence_is_bookkeeping_on_given_times() {
        let t0 = Instant::now();
        let mut watch = SilenceWatch::new(Duration::from_secs(10), t0);
        assert!(!watch.expired(t0 + Duration::from_secs(9)));
        watch.output(t0 + Duration::from_secs(5));
        assert!(!watch.expired(t0 + Duration::from_secs(14)));
        assert!(watch.expired(t0 + Duration::from_secs(15)));
        assert_eq!(watch.deadline(), t0 + Duration::from_secs(15));
        assert_eq!(watch.silent_for(t0), Duration::ZERO);
    }

    #[test]
    fn rc_parsing() {
        assert_eq!(parse_rc(" rc=0"), Some(0));
        assert_eq!(parse_rc(" rc=-1 x"), Some(-1));
        assert_eq!(parse_rc(""), None);
        assert_eq!(parse_rc(" rc=x"), None);
    }
}
