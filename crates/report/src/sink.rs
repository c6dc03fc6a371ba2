//! An SMTP server for tests (feature `sink`): real SMTP on 127.0.0.1, every message kept.
//!
//! Tests of mail sending should go through a real SMTP exchange — the client's framing,
//! dot-stuffing, 8BITMIME, AUTH and error codes are where mail goes wrong — without a mail
//! server on the machine. [`Sink::start`] listens on an ephemeral port of 127.0.0.1 and speaks
//! RFC 5321 (greeting, EHLO/HELO advertising 8BITMIME, ENHANCEDSTATUSCODES, SIZE and, when
//! credentials are set, AUTH PLAIN LOGIN; MAIL, RCPT, DATA with dot-unstuffing, RSET, NOOP,
//! VRFY, HELP, QUIT). Each message accepted is recorded with its envelope ([`Received`]); a
//! test reads them with [`Sink::received`] or waits for them with [`Sink::wait_for`].
//!
//! Faults on demand: [`Sink::reject_next`] answers the next transactions with a chosen code at
//! a chosen stage (451 for a retry, 550 for a permanent refusal, 421 at the greeting), and
//! [`Sink::stall_next`] accepts connections and never answers, for timeouts.
//!
//! The sink has no TLS: STARTTLS is neither advertised nor accepted, so a client that
//! requires it fails (which is itself worth a test); test encryption against a real server.
//! It is for tests only: it trusts its client, keeps everything in memory, bounds each line,
//! each message ([`SinkOptions::max_size`]) and each idle wait, and stops with the `Sink`.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use crate::{Security, SmtpAuth, SmtpSettings};

/// The longest command line taken (RFC 5321 §4.5.3.1.4 says 512; some slack for parameters).
const MAX_COMMAND: usize = 2048;
/// The longest line of message data taken (RFC 5321 says 1000; lettre's are shorter).
const MAX_DATA_LINE: usize = 64 * 1024;
/// Recipients per transaction (RFC 5321 §4.5.3.1.8 asks for at least 100).
const MAX_RECIPIENTS: usize = 100;
/// Commands in error before the sink hangs up, as real servers do.
const MAX_ERRORS: usize = 20;

/// How the sink behaves.
#[derive(Debug, Clone)]
pub struct SinkOptions {
    /// The name in the greeting and the EHLO answer.
    pub name: String,
    /// When set, AUTH PLAIN LOGIN is advertised and a client must authenticate with exactly
    /// these credentials before MAIL (530 otherwise).
    pub auth: Option<SmtpAuth>,
    /// The SIZE advertised and enforced (552 beyond it). Default 10 MiB.
    pub max_size: usize,
    /// How long the sink waits for a client's next line before 421 and hanging up; also how
    /// long a stalled connection is held. Default 60 s.
    pub idle_timeout: Duration,
}

impl Default for SinkOptions {
    fn default() -> Self {
        SinkOptions {
            name: "sink.test".into(),
            auth: None,
            max_size: 10 << 20,
            idle_timeout: Duration::from_secs(60),
        }
    }
}

impl SinkOptions {
    /// Requires AUTH with `user` and `password`.
    pub fn with_auth(mut self, user: &str, password: &str) -> SinkOptions {
        self.auth = Some(SmtpAuth {
            user: user.into(),
            password: password.into(),
        });
        self
    }
}

/// Where in an exchange a [`Rejection`] is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Instead of the greeting, then the sink hangs up (421 "busy", 554 "go away").
    Greeting,
    /// To MAIL FROM.
    Mail,
    /// To every RCPT TO of the transaction.
    Rcpt,
    /// After the data's final dot: the message is read whole, then refused and not recorded.
    Data,
}

/// An answer the sink gives instead of accepting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub stage: Stage,
    pub code: u16,
    /// The text after the code, usually with an enhanced status code (`4.3.0 …`).
    pub text: String,
}

impl Rejection {
    pub fn new(stage: Stage, code: u16, text: &str) -> Rejection {
        Rejection {
            stage,
            code,
            text: text.into(),
        }
    }

    /// 451, "try again later" (421 at the greeting, where 451 is not an answer).
    pub fn temporary(stage: Stage) -> Rejection {
        match stage {
            Stage::Greeting => Rejection::new(stage, 421, "4.3.2 Service not available (sink)"),
            _ => Rejection::new(stage, 451, "4.3.0 Try again later (sink)"),
        }
    }

    /// 550, "rejected" (554 at the greeting).
    pub fn permanent(stage: Stage) -> Rejection {
        match stage {
            Stage::Greeting => Rejection::new(stage, 554, "5.3.2 No service here (sink)"),
            _ => Rejection::new(stage, 550, "5.7.1 Rejected (sink)"),
        }
    }
}

/// A message the sink accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The EHLO or HELO name the client gave.
    pub helo: String,
    /// The user the client authenticated as.
    pub user: Option<String>,
    /// The reverse path without its brackets (empty for the null sender `<>`).
    pub from: String,
    /// The MAIL parameters as sent (`BODY=8BITMIME`, `SIZE=…`).
    pub params: Vec<String>,
    /// The forward paths, without brackets, in order.
    pub to: Vec<String>,
    /// The message exactly as the client meant it: dot-unstuffed, up to and including the
    /// CRLF before the final dot.
    pub data: Vec<u8>,
}

impl Received {
    /// The message as text (lossy for invalid UTF-8).
    pub fn text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.data)
    }

    /// The first header `name` (any case), unfolded, not decoded.
    pub fn header(&self, name: &str) -> Option<String> {
        let text = self.text();
        let mut lines = text.split("\r\n");
        while let Some(line) = lines.next() {
            if line.is_empty() {
                return None;
            }
            let Some((field, value)) = line.split_once(':') else {
                continue;
            };
            if !field.eq_ignore_ascii_case(name) {
                continue;
            }
            let mut value = value.trim().to_owned();
            for next in lines.by_ref() {
                if next.starts_with([' ', '\t']) {
                    value.push(' ');
                    value.push_str(next.trim());
                } else {
                    break;
                }
            }
            return Some(value);
        }
        None
    }
}

/// [`Sink::wait_for`] gave up.
#[derive(Debug, thiserror::Error)]
#[error("the sink received {received} of the {wanted} messages awaited within {timeout:?}")]
pub struct WaitTimeout {
    pub received: usize,
    pub wanted: usize,
    pub timeout: Duration,
}

#[derive(Default)]
struct State {
    received: Vec<Received>,
    rejections: VecDeque<Rejection>,
    stalls: usize,
    connections: usize,
    rejected: usize,
}

struct Shared {
    options: SinkOptions,
    state: Mutex<State>,
    count: watch::Sender<usize>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        // A test that panicked while holding the lock leaves the state readable all the same.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running SMTP sink; it stops (and drops its connections) when dropped.
pub struct Sink {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl Sink {
    /// A sink with the default options on 127.0.0.1, an ephemeral port.
    pub async fn start() -> io::Result<Sink> {
        Sink::start_with(SinkOptions::default()).await
    }

    pub async fn start_with(options: SinkOptions) -> io::Result<Sink> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let (count, _) = watch::channel(0);
        let shared = Arc::new(Shared {
            options,
            state: Mutex::new(State::default()),
            count,
        });
        let accept = tokio::spawn(accept_loop(listener, Arc::clone(&shared)));
        tracing::debug!(%addr, "SMTP sink listening");
        Ok(Sink {
            addr,
            shared,
            accept,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Settings that reach this sink: plain text, its credentials if any, a short timeout.
    pub fn settings(&self) -> SmtpSettings {
        SmtpSettings {
            port: Some(self.addr.port()),
            security: Security::None,
            auth: self.shared.options.auth.clone(),
            timeout: Duration::from_secs(10),
            hello_name: Some("client.test".into()),
            ..SmtpSettings::new(&self.addr.ip().to_string())
        }
    }

    /// Answers the next `n` transactions (or connections, for [`Stage::Greeting`]) with
    /// `rejection`. Queued after any rejections still pending; a transaction takes the first
    /// pending one at its MAIL command, a connection takes it when it is a greeting's.
    pub fn reject_next(&self, n: usize, rejection: Rejection) {
        let mut state = self.shared.state();
        state.rejections.extend(std::iter::repeat_n(rejection, n));
    }

    /// Accepts the next `n` connections and never says a word on them (until the idle
    /// timeout or the sink's end), so that clients time out.
    pub fn stall_next(&self, n: usize) {
        self.shared.state().stalls += n;
    }

    /// The messages accepted so far, oldest first.
    pub fn received(&self) -> Vec<Received> {
        self.shared.state().received.clone()
    }

    /// Waits until `n` messages in all have been accepted, and returns them all.
    pub async fn wait_for(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<Received>, WaitTimeout> {
        let mut count = self.shared.count.subscribe();
        let reached = tokio::time::timeout(timeout, count.wait_for(|c| *c >= n)).await;
        match reached {
            Ok(Ok(_)) => Ok(self.received()),
            _ => Err(WaitTimeout {
                received: self.shared.state().received.len(),
                wanted: n,
                timeout,
            }),
        }
    }

    /// Connections accepted so far (stalled ones included).
    pub fn connections(&self) -> usize {
        self.shared.state().connections
    }

    /// Rejections answered so far.
    pub fn rejected(&self) -> usize {
        self.shared.state().rejected
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    // Owned here, so that aborting this task (dropping the sink) ends every session too.
    let mut sessions = JoinSet::new();
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                while sessions.try_join_next().is_some() {}
                sessions.spawn(serve(Arc::clone(&shared), stream, peer));
            }
            Err(e) => {
                tracing::warn!("SMTP sink: accept: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

async fn serve(shared: Arc<Shared>, stream: TcpStream, peer: SocketAddr) {
    let (stall, greeting) = {
        let mut state = shared.state();
        state.connections += 1;
        if state.stalls > 0 {
            state.stalls -= 1;
            (true, None)
        } else if state
            .rejections
            .front()
            .is_some_and(|r| r.stage == Stage::Greeting)
        {
            state.rejected += 1;
            (false, state.rejections.pop_front())
        } else {
            (false, None)
        }
    };
    if stall {
        tracing::debug!(%peer, "SMTP sink: stalling");
        tokio::time::sleep(shared.options.idle_timeout).await;
        return;
    }
    let (read, write) = stream.into_split();
    let mut session = Session {
        shared,
        reader: BufReader::new(read),
        writer: write,
        helo: None,
        user: None,
        transaction: None,
        errors: 0,
    };
    let outcome = match greeting {
        Some(r) => session.reply(r.code, &r.text).await,
        None => session.run().await,
    };
    if let Err(e) = outcome {
        tracing::debug!(%peer, "SMTP sink: session ended: {e}");
    }
}

struct Transaction {
    from: String,
    params: Vec<String>,
    to: Vec<String>,
    rejection: Option<Rejection>,
}

struct Session {
    shared: Arc<Shared>,
    reader: BufReader<tokio::net::tcp::OwnedReadHalf>,
    writer: OwnedWriteHalf,
    helo: Option<String>,
    user: Option<String>,
    transaction: Option<Transaction>,
    errors: usize,
}

/// A line read, or too long to keep.
enum Line {
    Whole(Vec<u8>),
    TooLong,
}

/// Reads one line (through its LF) of at most `max` bytes; a longer one is consumed and
/// reported. `None` at the end of the stream (a partial last line included).
async fn read_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    max: usize,
) -> io::Result<Option<Line>> {
    let mut line = Vec::new();
    let mut too_long = false;
    loop {
        let buf = reader.fill_buf().await?;
        if buf.is_empty() {
            return Ok(None);
        }
        let (take, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        if !too_long {
            if line.len() + take > max {
                too_long = true;
                line = Vec::new();
            } else {
                line.extend_from_slice(&buf[..take]);
            }
        }
        reader.consume(take);
        if done {
            return Ok(Some(if too_long {
                Line::TooLong
            } else {
                Line::Whole(line)
            }));
        }
    }
}

/// The path inside `<…>` and the parameters after it, from `FROM:<a@b> BODY=8BITMIME`.
fn path_and_params<'a>(arg: &'a str, keyword: &str) -> Option<(&'a str, Vec<&'a str>)> {
    let head = arg.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let rest = arg[keyword.len()..].trim_start();
    let rest = rest.strip_prefix('<')?;
    let end = rest.find('>')?;
    let params = rest[end + 1..].split_ascii_whitespace().collect();
    Some((&rest[..end], params))
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits, mut padding) = (0u32, 0u32, false);
    for c in text.trim().bytes() {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => {
                padding = true;
                continue;
            }
            _ => return None,
        };
        if padding {
            return None;
        }
        acc = (acc << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

impl Session {
    async fn reply(&mut self, code: u16, text: &str) -> io::Result<()> {
        let mut out = String::new();
        let lines: Vec<&str> = text.split('\n').collect();
        for (i, line) in lines.iter().enumerate() {
            let sep = if i + 1 == lines.len() { ' ' } else { '-' };
            out.push_str(&format!("{code}{sep}{}\r\n", line.trim_end()));
        }
        self.writer.write_all(out.as_bytes()).await?;
        self.writer.flush().await
    }

    /// A negative answer to a bad command; hangs up after too many.
    async fn error(&mut self, code: u16, text: &str) -> io::Result<bool> {
        self.errors += 1;
        if self.errors >= MAX_ERRORS {
            self.reply(421, "4.7.0 Too many errors, closing (sink)")
                .await?;
            return Ok(false);
        }
        self.reply(code, text).await?;
        Ok(true)
    }

    async fn next_line(&mut self, max: usize) -> io::Result<Option<Line>> {
        let idle = self.shared.options.idle_timeout;
        match tokio::time::timeout(idle, read_line(&mut self.reader, max)).await {
            Ok(line) => line,
            Err(_) => {
                self.reply(421, "4.4.2 Idle too long, closing (sink)")
                    .await?;
                Ok(None)
            }
        }
    }

    async fn run(&mut self) -> io::Result<()> {
        let greeting = format!("{} ESMTP gauntlet test sink", self.shared.options.name);
        self.reply(220, &greeting).await?;
        loop {
            let line = match self.next_line(MAX_COMMAND).await? {
                None => return Ok(()),
                Some(Line::TooLong) => {
                    if !self.error(500, "5.5.6 Line too long").await? {
                        return Ok(());
                    }
                    continue;
                }
                Some(Line::Whole(line)) => line,
            };
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\r', '\n']);
            let (verb, arg) = line.split_once(' ').unwrap_or((line, ""));
            let verb = verb.to_ascii_uppercase();
            let arg = arg.trim();
            let go_on = match verb.as_str() {
                "EHLO" | "HELO" => self.hello(&verb, arg).await?,
                "AUTH" => self.auth(arg).await?,
                "MAIL" => self.mail(arg).await?,
                "RCPT" => self.rcpt(arg).await?,
                "DATA" => self.data().await?,
                "RSET" => {
                    self.transaction = None;
                    self.reply(250, "2.0.0 Ok").await?;
                    true
                }
                "NOOP" => {
                    self.reply(250, "2.0.0 Ok").await?;
                    true
                }
                "VRFY" => {
                    self.reply(252, "2.5.0 Cannot verify, but will accept")
                        .await?;
                    true
                }
                "HELP" => {
                    self.reply(
                        214,
                        "2.0.0 EHLO HELO AUTH MAIL RCPT DATA RSET NOOP VRFY HELP QUIT",
                    )
                    .await?;
                    true
                }
                "QUIT" => {
                    self.reply(221, "2.0.0 Bye").await?;
                    return Ok(());
                }
                "STARTTLS" => self.error(502, "5.5.1 No TLS in the test sink").await?,
                _ => self.error(500, "5.5.2 Command not recognized").await?,
            };
            if !go_on {
                return Ok(());
            }
        }
    }

    async fn hello(&mut self, verb: &str, arg: &str) -> io::Result<bool> {
        if arg.is_empty() {
            return self.error(501, "5.5.4 A domain or address is needed").await;
        }
        self.helo = Some(arg.to_owned());
        self.transaction = None;
        let name = self.shared.options.name.clone();
        if verb == "HELO" {
            self.reply(250, &name).await?;
            return Ok(true);
        }
        let mut lines = vec![
            format!("{name} greets {arg}"),
            "8BITMIME".to_owned(),
            "ENHANCEDSTATUSCODES".to_owned(),
            format!("SIZE {}", self.shared.options.max_size),
        ];
        if self.shared.options.auth.is_some() {
            lines.push("AUTH PLAIN LOGIN".to_owned());
        }
        self.reply(250, &lines.join("\n")).await?;
        Ok(true)
    }

    /// Reads a client's answer to a 334 challenge; `None` when it cancelled or hung up.
    async fn challenge(&mut self, prompt: &str) -> io::Result<Option<String>> {
        self.reply(334, prompt).await?;
        match self.next_line(MAX_COMMAND).await? {
            Some(Line::Whole(line)) => {
                let line = String::from_utf8_lossy(&line).trim().to_owned();
                Ok((line != "*").then_some(line))
            }
            Some(Line::TooLong) | None => Ok(None),
        }
    }

    async fn auth(&mut self, arg: &str) -> io::Result<bool> {
        let Some(expected) = self.shared.options.auth.clone() else {
            return self.error(502, "5.5.1 AUTH not offered").await;
        };
        if self.user.is_some() {
            return self.error(503, "5.5.1 Already authenticated").await;
        }
        if self.transaction.is_some() {
            return self.error(503, "5.5.1 AUTH inside a transaction").await;
        }
        let (mechanism, initial) = arg.split_once(' ').unwrap_or((arg, ""));
        let login = match mechanism.to_ascii_uppercase().as_str() {
            "PLAIN" => false,
            "LOGIN" => true,
            _ => {
                return self
                    .error(504, "5.5.4 Unrecognized authentication type")
                    .await;
            }
        };
        // PLAIN's one response, or LOGIN's user name: given with the command or asked for.
        let first = match initial.trim() {
            "" => {
                self.challenge(if login { "VXNlcm5hbWU6" } else { "" })
                    .await?
            }
            given => Some(given.to_owned()),
        };
        let Some(first) = first else {
            return self.error(501, "5.0.0 Authentication cancelled").await;
        };
        let text = |s: &str| base64_decode(s).and_then(|b| String::from_utf8(b).ok());
        let given = if login {
            let Some(password) = self.challenge("UGFzc3dvcmQ6").await? else {
                return self.error(501, "5.0.0 Authentication cancelled").await;
            };
            text(&first).zip(text(&password))
        } else {
            // authzid NUL user NUL password (RFC 4616).
            text(&first).and_then(|plain| {
                let mut parts = plain.split('\0');
                let (_authzid, user, password) = (parts.next()?, parts.next()?, parts.next()?);
                parts
                    .next()
                    .is_none()
                    .then(|| (user.to_owned(), password.to_owned()))
            })
        };
        match given {
            Some((user, password)) if user == expected.user && password == expected.password => {
                self.user = Some(user);
                self.reply(235, "2.7.0 Authentication successful").await?;
                Ok(true)
            }
            Some(_) => {
                self.error(535, "5.7.8 Authentication credentials invalid")
                    .await
            }
            None => self.error(501, "5.5.2 Cannot decode the response").await,
        }
    }

    async fn mail(&mut self, arg: &str) -> io::Result<bool> {
        if self.helo.is_none() {
            return self.error(503, "5.5.1 EHLO first").await;
        }
        if self.shared.options.auth.is_some() && self.user.is_none() {
            return self.error(530, "5.7.0 Authentication required").await;
        }
        if self.transaction.is_some() {
            return self.error(503, "5.5.1 MAIL already given").await;
        }
        let Some((from, params)) = path_and_params(arg, "FROM:") else {
            return self.error(501, "5.5.4 Syntax: MAIL FROM:<address>").await;
        };
        for param in &params {
            let (key, value) = param.split_once('=').unwrap_or((param, ""));
            let ok = match key.to_ascii_uppercase().as_str() {
                "BODY" => ["7BIT", "8BITMIME"]
                    .iter()
                    .any(|v| v.eq_ignore_ascii_case(value)),
                "SIZE" => match value.parse::<usize>() {
                    Ok(size) if size > self.shared.options.max_size => {
                        return self
                            .error(552, "5.3.4 Message size exceeds fixed limit")
                            .await;
                    }
                    Ok(_) => true,
                    Err(_) => false,
                },
                _ => false,
            };
            if !ok {
                return self.error(555, "5.5.4 Unsupported parameter").await;
            }
        }
        let rejection = {
            let mut state = self.shared.state();
            if state
                .rejections
                .front()
                .is_some_and(|r| r.stage != Stage::Greeting)
            {
                state.rejections.pop_front()
            } else {
                None
            }
        };
        if let Some(r) = rejection.as_ref().filter(|r| r.stage == Stage::Mail) {
            self.shared.state().rejected += 1;
            let (code, text) = (r.code, r.text.clone());
            self.reply(code, &text).await?;
            return Ok(true);
        }
        self.transaction = Some(Transaction {
            from: from.to_owned(),
            params: params.iter().map(|p| (*p).to_owned()).collect(),
            to: Vec::new(),
            rejection,
        });
        self.reply(250, "2.1.0 Ok").await?;
        Ok(true)
    }

    async fn rcpt(&mut self, arg: &str) -> io::Result<bool> {
        let (rejection, recipients) = match &self.transaction {
            None => return self.error(503, "5.5.1 MAIL first").await,
            Some(t) => (
                t.rejection.clone().filter(|r| r.stage == Stage::Rcpt),
                t.to.len(),
            ),
        };
        let Some((to, params)) = path_and_params(arg, "TO:") else {
            return self.error(501, "5.5.4 Syntax: RCPT TO:<address>").await;
        };
        if to.is_empty() {
            return self.error(501, "5.1.3 An empty forward path").await;
        }
        if !params.is_empty() {
            return self.error(555, "5.5.4 Unsupported parameter").await;
        }
        if let Some(r) = rejection {
            self.shared.state().rejected += 1;
            self.reply(r.code, &r.text).await?;
            return Ok(true);
        }
        if recipients >= MAX_RECIPIENTS {
            self.reply(452, "4.5.3 Too many recipients").await?;
            return Ok(true);
        }
        let to = to.to_owned();
        if let Some(t) = self.transaction.as_mut() {
            t.to.push(to);
        }
        self.reply(250, "2.1.5 Ok").await?;
        Ok(true)
    }

    async fn data(&mut self) -> io::Result<bool> {
        match &self.transaction {
            None => return self.error(503, "5.5.1 MAIL first").await,
            Some(t) if t.to.is_empty() => {
                return self.error(554, "5.5.1 No valid recipients").await;
            }
            Some(_) => {}
        }
        self.reply(354, "End data with <CR><LF>.<CR><LF>").await?;
        let max_size = self.shared.options.max_size;
        let mut data = Vec::new();
        let mut too_big = false;
        loop {
            let line = match self.next_line(MAX_DATA_LINE).await? {
                None => return Ok(false),
                Some(Line::TooLong) => {
                    too_big = true;
                    continue;
                }
                Some(Line::Whole(line)) => line,
            };
            // Only CRLF . CRLF ends the data: a bare-LF dot is data (RFC 5321 §4.1.1.4, and
            // the "SMTP smuggling" lesson).
            if line == b".\r\n" {
                break;
            }
            // Dot-unstuffing (§4.5.2): a leading dot was doubled by the client.
            let content = line.strip_prefix(b".").unwrap_or(&line);
            if data.len() + content.len() > max_size {
                too_big = true;
            } else if !too_big {
                data.extend_from_slice(content);
            }
        }
        let Some(transaction) = self.transaction.take() else {
            return Ok(true);
        };
        if too_big {
            self.reply(552, "5.3.4 Message too big or line too long")
                .await?;
            return Ok(true);
        }
        if let Some(r) = transaction.rejection.filter(|r| r.stage == Stage::Data) {
            self.shared.state().rejected += 1;
            self.reply(r.code, &r.text).await?;
            return Ok(true);
        }
        let received = Received {
            helo: self.helo.clone().unwrap_or_default(),
            user: self.user.clone(),
            from: transaction.from,
            params: transaction.params,
            to: transaction.to,
            data,
        };
        let number = {
            let mut state = self.shared.state();
            state.received.push(received);
            state.received.len()
        };
        self.shared.count.send_replace(number);
        tracing::debug!(number, "SMTP sink: message accepted");
        self.reply(250, &format!("2.0.0 Ok: queued as {number}"))
            .await?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_as_auth_sends_it() {
        assert_eq!(
            base64_decode("AHVzZXIAcGFzcw==").as_deref(),
            Some(&b"\0user\0pass"[..])
        );
        assert_eq!(
            base64_decode("VXNlcm5hbWU6").as_deref(),
            Some(&b"Username:"[..])
        );
        assert_eq!(base64_decode("a=b"), None);
        assert_eq!(base64_decode("!"), None);
    }

    #[test]
    fn paths_and_parameters() {
        assert_eq!(
            path_and_params("FROM:<a@b> BODY=8BITMIME", "FROM:"),
            Some(("a@b", vec!["BODY=8BITMIME"]))
        );
        assert_eq!(path_and_params("from: <>", "FROM:"), Some(("", vec![])));
        assert_eq!(path_and_params("TO:a@b", "TO:"), None);
    }
}
