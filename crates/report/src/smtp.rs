//! Sending report mails: by SMTP, or into the outbox maildir for a dry run.
//!
//! [`Mailer`] is the one interface the service sends through, whatever the transport, so that
//! a dry run exercises the very same path as the real thing. Sending is one attempt: the caller
//! records its intent, sends, and marks the mail sent; when a send fails, [`SendError::class`]
//! says whether trying the same mail again later can help ([`Class::Temporary`]: a 4xx answer,
//! a refused or dropped connection, a timeout) or not ([`Class::Permanent`]: a 5xx answer, an
//! address no server takes, a configuration the server cannot work with), so that only
//! temporary failures are retried and a permanent one is reported once instead of forever.

use std::borrow::Cow;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use lettre::address::{Address, Envelope};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::{Deserialize, Deserializer};

use crate::{Outbox, Reply, compose_reply};

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// Plain text, no TLS: only for a server on the same machine or a test sink.
    None,
    /// STARTTLS (RFC 3207), required: a server that does not offer it is an error rather than
    /// a silent downgrade that would send the password in clear. The default (port 587).
    #[default]
    StartTls,
    /// TLS from the first byte, "implicit TLS" or SMTPS (RFC 8314; port 465).
    Tls,
}

/// A user name and password for SMTP AUTH (PLAIN or LOGIN, whichever the server offers).
///
/// The configuration layer reads the password from an environment variable or a file; here it
/// is the value itself. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpAuth {
    pub user: String,
    pub password: String,
}

impl fmt::Debug for SmtpAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpAuth")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Where and how report mails are sent by SMTP.
///
/// In YAML (unknown keys rejected):
///
/// ```yaml
/// host: smtp.example.org   # required
/// port: 587                # default: 25 with `none`, 587 with `starttls`, 465 with `tls`
/// security: starttls       # none | starttls (default) | tls
/// auth:                    # default: no AUTH
///   user: ci@example.org
///   password: …            # the config layer fills it from an env var or a file
/// timeout: 60s             # the whole exchange, connect to QUIT (or seconds: 60); default 60s
/// hello_name: ci.example.org  # EHLO name; default the host's name
/// ca_file: /etc/gauntlet/smtp-ca.pem  # extra trusted CA (PEM) for a private server's certificate
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    pub host: String,
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub security: Security,
    #[serde(default)]
    pub auth: Option<SmtpAuth>,
    /// How long one send may take in all: lettre bounds only the connect, and a server that
    /// stops answering mid-exchange must not hold a worker forever.
    #[serde(default = "default_timeout", deserialize_with = "duration")]
    pub timeout: Duration,
    #[serde(default)]
    pub hello_name: Option<String>,
    /// A CA certificate (PEM) trusted besides the built-in Mozilla roots, for a relay whose
    /// certificate a private CA signed.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

/// The default of [`SmtpSettings::timeout`].
pub const DEFAULT_SMTP_TIMEOUT: Duration = Duration::from_secs(60);

fn default_timeout() -> Duration {
    DEFAULT_SMTP_TIMEOUT
}

/// `60s`, `2m`, `1m 30s` (humantime) or a number of seconds.
fn duration<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Seconds(u64),
        Text(String),
    }
    match Raw::deserialize(deserializer)? {
        Raw::Seconds(s) => Ok(Duration::from_secs(s)),
        Raw::Text(t) => humantime::parse_duration(t.trim()).map_err(serde::de::Error::custom),
    }
}

impl SmtpSettings {
    /// Settings for `host` with every default.
    pub fn new(host: &str) -> SmtpSettings {
        SmtpSettings {
            host: host.to_owned(),
            port: None,
            security: Security::default(),
            auth: None,
            timeout: DEFAULT_SMTP_TIMEOUT,
            hello_name: None,
            ca_file: None,
        }
    }

    /// The port: the one given, or the usual one for the security chosen.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.security {
            Security::None => 25,
            Security::StartTls => 587,
            Security::Tls => 465,
        })
    }

    /// `host:port`, as errors and logs name the server.
    pub fn server(&self) -> String {
        format!("{}:{}", self.host, self.port())
    }
}

/// Whether a failed send is worth trying again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Later, the same mail may well go through (4xx, connection refused, timeout).
    Temporary,
    /// It never will as things are (5xx, bad address, unusable configuration).
    Permanent,
}

/// Why a mail was not sent.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("SMTP settings: {0}")]
    Settings(String),
    #[error("`{address}` cannot be used as an SMTP address: {reason}")]
    Address { address: String, reason: String },
    #[error(transparent)]
    Compose(crate::Error),
    /// The server answered a command with a negative code.
    #[error("{server} answered {code}: {message}")]
    Refused {
        server: String,
        code: u16,
        message: String,
    },
    #[error("{server} did not finish the exchange within {timeout:?}")]
    Timeout { server: String, timeout: Duration },
    /// Everything else on the way: connection, TLS, an answer that makes no sense.
    #[error("{server}: {message}")]
    Transport {
        server: String,
        message: String,
        class: Class,
    },
    #[error(transparent)]
    Outbox(crate::Error),
}

impl SendError {
    /// Whether trying the same mail again later can help.
    pub fn class(&self) -> Class {
        match self {
            SendError::Refused { code, .. } if (400..500).contains(code) => Class::Temporary,
            SendError::Refused { .. } => Class::Permanent,
            SendError::Timeout { .. } => Class::Temporary,
            SendError::Transport { class, .. } => *class,
            // A full disk or a directory another process is moving may clear.
            SendError::Outbox(_) => Class::Temporary,
            SendError::Settings(_) | SendError::Address { .. } | SendError::Compose(_) => {
                Class::Permanent
            }
        }
    }

    pub fn is_temporary(&self) -> bool {
        self.class() == Class::Temporary
    }

    /// The server's reply code, when it answered with one.
    pub fn code(&self) -> Option<u16> {
        match self {
            SendError::Refused { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Sorts lettre's error into ours. lettre tells a 4xx from a 5xx and a timeout from the
    /// rest; of the rest, a TLS failure (a certificate that does not verify) and a client-side
    /// refusal (no STARTTLS offered, no AUTH mechanism in common, 8-bit mail to a server
    /// without 8BITMIME) stay the same on every try, while a refused or broken connection or a
    /// garbled answer may not.
    fn from_smtp(server: &str, error: &lettre::transport::smtp::Error) -> SendError {
        if let Some(code) = error.status() {
            let code =
                code.to_string()
                    .parse()
                    .unwrap_or(if error.is_transient() { 400 } else { 500 });
            let message = std::error::Error::source(error)
                .map(|s| s.to_string())
                .unwrap_or_else(|| error.to_string());
            return SendError::Refused {
                server: server.to_owned(),
                code,
                message,
            };
        }
        let class = if error.is_timeout() {
            Class::Temporary
        } else if error.is_tls() || error.is_client() {
            Class::Permanent
        } else {
            Class::Temporary
        };
        SendError::Transport {
            server: server.to_owned(),
            message: error.to_string(),
            class,
        }
    }
}

/// What became of a sent mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The SMTP server took it, with this answer to the end of DATA (`250 2.0.0 Ok: queued …`).
    Smtp { code: u16, message: String },
    /// The dry run: the maildir file it was written to.
    Outbox(PathBuf),
}

/// An SMTP client for one server.
#[derive(Clone)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    server: String,
    timeout: Duration,
}

impl fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("server", &self.server)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Where report mails go: an SMTP server, or the outbox maildir (the dry run).
#[derive(Debug, Clone)]
pub enum Mailer {
    Smtp(SmtpMailer),
    Outbox(Outbox),
}

fn tls_parameters(settings: &SmtpSettings) -> Result<TlsParameters, SendError> {
    let mut builder = TlsParameters::builder(settings.host.clone());
    if let Some(path) = &settings.ca_file {
        let pem = std::fs::read(path).map_err(|e| {
            SendError::Settings(format!("cannot read ca_file {}: {e}", path.display()))
        })?;
        let certificate = Certificate::from_pem(&pem)
            .map_err(|e| SendError::Settings(format!("ca_file {}: {e}", path.display())))?;
        builder = builder.add_root_certificate(certificate);
    }
    builder
        .build_rustls()
        .map_err(|e| SendError::Settings(format!("TLS for {}: {e}", settings.host)))
}

impl Mailer {
    /// A mailer sending through the SMTP server of `settings`. Nothing is connected yet: each
    /// send opens its own connection (report mails are few, and a connection kept open would
    /// only go stale between them).
    pub fn smtp(settings: &SmtpSettings) -> Result<Mailer, SendError> {
        if settings.host.trim().is_empty() {
            return Err(SendError::Settings("the SMTP host is empty".into()));
        }
        let tls = match settings.security {
            Security::None => Tls::None,
            Security::StartTls => Tls::Required(tls_parameters(settings)?),
            Security::Tls => Tls::Wrapper(tls_parameters(settings)?),
        };
        let mut builder =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(settings.host.clone())
                .port(settings.port())
                .tls(tls)
                .timeout(Some(settings.timeout));
        if let Some(name) = &settings.hello_name {
            builder = builder.hello_name(ClientId::Domain(name.clone()));
        }
        if let Some(auth) = &settings.auth {
            builder =
                builder.credentials(Credentials::new(auth.user.clone(), auth.password.clone()));
        }
        Ok(Mailer::Smtp(SmtpMailer {
            transport: builder.build(),
            server: settings.server(),
            timeout: settings.timeout,
        }))
    }

    /// A mailer writing into `outbox` instead of sending.
    pub fn outbox(outbox: Outbox) -> Mailer {
        Mailer::Outbox(outbox)
    }

    /// Sends the raw RFC 5322 `mail` to the envelope's recipients, from its sender.
    ///
    /// Bare LF line ends are sent as CRLF (SMTP allows nothing else, and strict servers refuse
    /// bare LFs since "SMTP smuggling"), and the data is framed so that the server receives
    /// exactly these bytes. The outbox copy starts with `Return-Path:` and `Envelope-To:`
    /// headers, as a local delivery writes them, so that a dry run shows who would have got it.
    pub async fn send_raw(&self, envelope: &Envelope, mail: &[u8]) -> Result<Delivery, SendError> {
        match self {
            Mailer::Smtp(smtp) => smtp.send(envelope, mail).await,
            Mailer::Outbox(outbox) => {
                let mut bytes = envelope_headers(envelope).into_bytes();
                bytes.extend_from_slice(mail);
                let outbox = outbox.clone();
                let path = tokio::task::spawn_blocking(move || outbox.deliver(&bytes))
                    .await
                    .map_err(|e| SendError::Outbox(crate::Error::Mail(e.to_string())))?
                    .map_err(SendError::Outbox)?;
                tracing::info!(path = %path.display(), "report mail written to the outbox");
                Ok(Delivery::Outbox(path))
            }
        }
    }

    /// Sends a lettre message to the envelope its headers give (From, To, Cc, Bcc).
    pub async fn send(&self, message: &Message) -> Result<Delivery, SendError> {
        self.send_raw(message.envelope(), &message.formatted())
            .await
    }

    /// Composes `reply` ([`compose_reply`]) and sends it from its sender to every `To:` and
    /// `Cc:` address.
    pub async fn send_reply(&self, reply: &Reply) -> Result<Delivery, SendError> {
        let bytes = compose_reply(reply).map_err(SendError::Compose)?;
        self.send_raw(&reply_envelope(reply)?, &bytes).await
    }
}

impl SmtpMailer {
    async fn send(&self, envelope: &Envelope, mail: &[u8]) -> Result<Delivery, SendError> {
        let data = smtp_data(mail);
        let recipients = envelope.to().len();
        let attempt = self.transport.send_raw(envelope, &data);
        let outcome = match tokio::time::timeout(self.timeout, attempt).await {
            Ok(Ok(response)) => {
                let code = response.code().to_string().parse().unwrap_or(250);
                let message = response.message().collect::<Vec<_>>().join(" ");
                tracing::info!(server = %self.server, recipients, code, %message, "report mail sent");
                return Ok(Delivery::Smtp { code, message });
            }
            Ok(Err(e)) => SendError::from_smtp(&self.server, &e),
            Err(_) => SendError::Timeout {
                server: self.server.clone(),
                timeout: self.timeout,
            },
        };
        tracing::warn!(server = %self.server, class = ?outcome.class(), "report mail not sent: {outcome}");
        Err(outcome)
    }
}

/// The mail as SMTP data: CRLF line ends, and no final CRLF, because lettre ends the data with
/// `CRLF . CRLF` whatever it sends (a mail ending in CRLF would otherwise gain an empty line).
fn smtp_data(mail: &[u8]) -> Cow<'_, [u8]> {
    let bare_lf = mail
        .iter()
        .enumerate()
        .any(|(i, &b)| b == b'\n' && (i == 0 || mail[i - 1] != b'\r'));
    let mut data: Cow<'_, [u8]> = if bare_lf {
        let mut out = Vec::with_capacity(mail.len() + mail.len() / 32);
        for (i, &b) in mail.iter().enumerate() {
            if b == b'\n' && (i == 0 || mail[i - 1] != b'\r') {
                out.push(b'\r');
            }
            out.push(b);
        }
        Cow::Owned(out)
    } else {
        Cow::Borrowed(mail)
    };
    if data.ends_with(b"\r\n") {
        data = match data {
            Cow::Borrowed(b) => Cow::Borrowed(&b[..b.len() - 2]),
            Cow::Owned(mut v) => {
                v.truncate(v.len() - 2);
                Cow::Owned(v)
            }
        };
    }
    data
}

fn envelope_headers(envelope: &Envelope) -> String {
    let from = envelope.from().map(Address::to_string).unwrap_or_default();
    let to: Vec<String> = envelope.to().iter().map(Address::to_string).collect();
    format!(
        "Return-Path: <{from}>\r\nEnvelope-To: {}\r\n",
        to.join(", ")
    )
}

fn address(text: &str) -> Result<Address, SendError> {
    let text = text.trim().trim_start_matches('<').trim_end_matches('>');
    text.parse().map_err(|e| SendError::Address {
        address: text.to_owned(),
        reason: format!("{e}"),
    })
}

/// An SMTP envelope: the bounce address (`None` for the null sender `<>`) and the recipients,
/// each once whatever its case.
pub fn envelope<'a>(
    from: Option<&str>,
    to: impl IntoIterator<Item = &'a str>,
) -> Result<Envelope, SendError> {
    let from = from.map(address).transpose()?;
    let mut recipients: Vec<Address> = Vec::new();
    for text in to {
        let a = address(text)?;
        if !recipients
            .iter()
            .any(|r| AsRef::<str>::as_ref(r).eq_ignore_ascii_case(a.as_ref()))
        {
            recipients.push(a);
        }
    }
    Envelope::new(from, recipients).map_err(|e| SendError::Address {
        address: String::new(),
        reason: e.to_string(),
    })
}

/// The envelope of a reply: from its sender to every `To:` and `Cc:` address.
pub fn reply_envelope(reply: &Reply) -> Result<Envelope, SendError> {
    envelope(
        Some(&reply.from.email),
        reply.to.iter().chain(&reply.cc).map(|a| a.email.as_str()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_is_crlf_without_the_final_line_end() {
        assert_eq!(&*smtp_data(b"a\r\nb\r\n"), b"a\r\nb");
        assert_eq!(&*smtp_data(b"a\nb\n"), b"a\r\nb");
        assert_eq!(&*smtp_data(b"a\r\nb"), b"a\r\nb");
        assert_eq!(&*smtp_data(b"\n.\n"), b"\r\n.");
    }

    #[test]
    fn refusals_are_classified_by_their_code() {
        let refused = |code| SendError::Refused {
            server: "s:25".into(),
            code,
            message: String::new(),
        };
        assert_eq!(refused(451).class(), Class::Temporary);
        assert_eq!(refused(421).class(), Class::Temporary);
        assert_eq!(refused(550).class(), Class::Permanent);
        assert_eq!(refused(554).class(), Class::Permanent);
        assert!(
            envelope(Some("ci@example.org"), ["not an address"])
                .is_err_and(|e| e.class() == Class::Permanent)
        );
        assert!(envelope(Some("ci@example.org"), []).is_err());
    }
}
