//! Report mails through real SMTP: lettre → the sink, with the composed reply, AUTH, the
//! classification of failures, the outbox dry run and the mail policy.

use std::time::{Duration, SystemTime};

use gauntlet_report::sink::{Rejection, Sink, SinkOptions, Stage};
use gauntlet_report::{
    Addressee, Class, Delivery, MailConfig, MailPolicy, Mailer, Outbox, Reply, Security, SendError,
    SmtpAuth, SmtpSettings, Verdict, compose_reply, envelope, should_mail, stable_message_id,
};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const WAIT: Duration = Duration::from_secs(10);

fn reply() -> Reply {
    Reply {
        from: Addressee::new(Some("Gauntlet CI"), "ci@lse.example.org"),
        to: vec![Addressee::new(Some("Иван Петров"), "ivan@example.org")],
        cc: ["course@lists.example.org", "IVAN@example.org"]
            .map(|a| Addressee::new(None, a))
            .to_vec(),
        subject: "[PATCH v9 0/3] syscall: добавить системный вызов".into(),
        in_reply_to: "cover.1700000000.git.ivan@example.org".into(),
        references: vec!["<v8-cover@example.org>".into()],
        message_id: stable_message_id("run-42/series-7", "lse.example.org"),
        date: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        body: "Hi Иван Петров,\n\nYou have passed 7 tests on 7.\n.config is fine, and\n..so is this line.\n\nPerfect! Your work will be examined.\n".into(),
        headers: vec![("X-Gauntlet-Run".into(), "42".into())],
    }
}

fn mailer(settings: &SmtpSettings) -> Mailer {
    Mailer::smtp(settings).unwrap_or_else(|e| panic!("{e}"))
}

/// The messages of `sink` once there are `n`.
async fn received(sink: &Sink, n: usize) -> Vec<gauntlet_report::sink::Received> {
    sink.wait_for(n, WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

async fn sink(options: SinkOptions) -> Sink {
    Sink::start_with(options)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn the_composed_reply_arrives_threaded_and_intact() {
    let sink = sink(SinkOptions::default()).await;
    let reply = reply();
    let delivery = mailer(&sink.settings())
        .send_reply(&reply)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        matches!(&delivery, Delivery::Smtp { code: 250, message } if message.contains("queued")),
        "{delivery:?}"
    );
    let received = received(&sink, 1).await;
    let mail = &received[0];
    // Exactly the bytes composed: no line lost or added, the dots unstuffed.
    assert_eq!(
        mail.data,
        compose_reply(&reply).unwrap_or_default(),
        "{}",
        mail.text()
    );
    assert_eq!(mail.helo, "client.test");
    assert_eq!(mail.from, "ci@lse.example.org");
    // The submitter once, whatever the case of the Cc.
    assert_eq!(
        mail.to,
        vec!["ivan@example.org", "course@lists.example.org"]
    );
    assert_eq!(
        mail.header("In-Reply-To").as_deref(),
        Some("<cover.1700000000.git.ivan@example.org>")
    );
    assert_eq!(
        mail.header("References").as_deref(),
        Some("<v8-cover@example.org> <cover.1700000000.git.ivan@example.org>")
    );
    assert_eq!(
        mail.header("Message-ID"),
        Some(format!("<{}>", reply.message_id))
    );
    assert_eq!(mail.header("X-Gauntlet-Run").as_deref(), Some("42"));
    // A reader decodes the UTF-8 subject, names and body as they were written.
    let parsed = mail_parser::MessageParser::default()
        .parse(&mail.data)
        .unwrap_or_else(|| panic!("unparsable: {}", mail.text()));
    assert_eq!(
        parsed.subject(),
        Some("Re: [PATCH v9 0/3] syscall: добавить системный вызов")
    );
    let to = parsed
        .to()
        .and_then(|a| a.first())
        .and_then(|a| a.name())
        .map(str::to_owned);
    assert_eq!(to.as_deref(), Some("Иван Петров"));
    assert_eq!(
        parsed
            .body_text(0)
            .map(|b| b.replace("\r\n", "\n"))
            .as_deref(),
        Some(reply.body.as_str())
    );
}

#[tokio::test]
async fn eight_bit_mail_goes_as_8bitmime_byte_for_byte() {
    let sink = sink(SinkOptions::default()).await;
    let raw = "From: ci@lse.example.org\nTo: ivan@example.org\nSubject: =?utf-8?q?r=C3=A9sultat?=\n\
        Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n\
        Résultat : 7 tests sur 7 réussis.\n.\n..\n.leading dot\n";
    let envelope = envelope(Some("bounces@lse.example.org"), ["ivan@example.org"])
        .unwrap_or_else(|e| panic!("{e}"));
    mailer(&sink.settings())
        .send_raw(&envelope, raw.as_bytes())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let received = received(&sink, 1).await;
    assert_eq!(received[0].from, "bounces@lse.example.org");
    assert!(received[0].params.iter().any(|p| p == "BODY=8BITMIME"));
    // Bare LFs went as CRLF; the lone dots came back as they were.
    assert_eq!(received[0].data, raw.replace('\n', "\r\n").into_bytes());
}

#[tokio::test]
async fn auth_is_checked() {
    let sink = sink(SinkOptions::default().with_auth("ci", "s3cret")).await;
    let settings = sink.settings();
    mailer(&settings)
        .send_reply(&reply())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let received = received(&sink, 1).await;
    assert_eq!(received[0].user.as_deref(), Some("ci"));

    let wrong = SmtpSettings {
        auth: Some(SmtpAuth {
            user: "ci".into(),
            password: "guess".into(),
        }),
        ..settings.clone()
    };
    let error = mailer(&wrong).send_reply(&reply()).await.err();
    assert!(
        matches!(&error, Some(e) if e.code() == Some(535) && e.class() == Class::Permanent),
        "{error:?}"
    );
    let none = SmtpSettings {
        auth: None,
        ..settings
    };
    let error = mailer(&none).send_reply(&reply()).await.err();
    assert!(
        matches!(&error, Some(e) if e.code() == Some(530) && !e.is_temporary()),
        "{error:?}"
    );
    assert_eq!(sink.received().len(), 1);
    // The password never shows in the settings' Debug.
    assert!(!format!("{wrong:?}").contains("guess"));
}

#[tokio::test]
async fn temporary_refusals_are_retried_until_the_mail_goes() {
    let sink = sink(SinkOptions::default()).await;
    sink.reject_next(1, Rejection::temporary(Stage::Greeting));
    sink.reject_next(1, Rejection::temporary(Stage::Rcpt));
    sink.reject_next(1, Rejection::temporary(Stage::Data));
    let mailer = mailer(&sink.settings());
    let mut codes = Vec::new();
    let mut delivered = None;
    for _ in 0..5 {
        match mailer.send_reply(&reply()).await {
            Ok(d) => {
                delivered = Some(d);
                break;
            }
            Err(e) => {
                assert_eq!(e.class(), Class::Temporary, "{e}");
                codes.push(e.code());
            }
        }
    }
    assert_eq!(codes, vec![Some(421), Some(451), Some(451)]);
    assert!(delivered.is_some());
    assert_eq!(sink.rejected(), 3);
    let received = received(&sink, 1).await;
    // The mail refused after its data was not kept: one copy, with the one Message-ID.
    assert_eq!(received.len(), 1);
    assert_eq!(
        received[0].header("Message-ID"),
        Some(format!("<{}>", reply().message_id))
    );
}

#[tokio::test]
async fn permanent_failures_are_not_worth_a_retry() {
    let sink = sink(SinkOptions::default()).await;
    let mailer = mailer(&sink.settings());
    for stage in [Stage::Greeting, Stage::Mail, Stage::Rcpt, Stage::Data] {
        sink.reject_next(1, Rejection::permanent(stage));
        let error = mailer.send_reply(&reply()).await.err();
        assert!(
            matches!(&error, Some(e @ SendError::Refused { code: 550 | 554, .. }) if e.class() == Class::Permanent),
            "{stage:?}: {error:?}"
        );
    }
    assert!(sink.received().is_empty());
    // A recipient no server takes never reaches one.
    let mut bad = reply();
    bad.cc.push(Addressee::new(None, "not an address"));
    let error = mailer.send_reply(&bad).await.err();
    assert!(
        matches!(&error, Some(e) if e.class() == Class::Permanent),
        "{error:?}"
    );
    // STARTTLS required of a server that has none: no downgrade, and no point retrying.
    let starttls = SmtpSettings {
        security: Security::StartTls,
        ..sink.settings()
    };
    let error = self::mailer(&starttls).send_reply(&reply()).await.err();
    assert!(
        matches!(&error, Some(e @ SendError::Transport { message, .. })
            if message.contains("STARTTLS") && e.class() == Class::Permanent),
        "{error:?}"
    );
    assert!(sink.received().is_empty());
}

#[tokio::test]
async fn refused_connections_and_silent_servers_are_temporary() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        listener.local_addr().map(|a| a.port()).unwrap_or(1)
    };
    let refused = SmtpSettings {
        port: Some(port),
        security: Security::None,
        timeout: Duration::from_secs(5),
        ..SmtpSettings::new("127.0.0.1")
    };
    let error = mailer(&refused).send_reply(&reply()).await.err();
    assert!(
        matches!(&error, Some(e @ SendError::Transport { .. }) if e.is_temporary()),
        "{error:?}"
    );

    let sink = sink(SinkOptions::default()).await;
    sink.stall_next(1);
    let impatient = SmtpSettings {
        timeout: Duration::from_millis(300),
        ..sink.settings()
    };
    let error = mailer(&impatient).send_reply(&reply()).await.err();
    assert!(
        matches!(&error, Some(e @ SendError::Timeout { .. }) if e.is_temporary()),
        "{error:?}"
    );
    // The next connection is answered.
    mailer(&impatient)
        .send_reply(&reply())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(sink.connections(), 2);
    let waited = sink.wait_for(2, Duration::from_millis(100)).await;
    assert!(matches!(waited, Err(e) if e.received == 1 && e.wanted == 2));
}

#[tokio::test]
async fn the_outbox_is_the_dry_run() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let outbox = Outbox::open(&dir.path().join("outbox")).unwrap_or_else(|e| panic!("{e}"));
    let mailer = Mailer::outbox(outbox.clone());
    let reply = reply();
    let delivery = mailer
        .send_reply(&reply)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let Delivery::Outbox(path) = delivery else {
        panic!("{delivery:?}")
    };
    assert_eq!(outbox.pending().unwrap_or_default(), vec![path.clone()]);
    let mut expected = b"Return-Path: <ci@lse.example.org>\r\n\
        Envelope-To: ivan@example.org, course@lists.example.org\r\n"
        .to_vec();
    expected.extend(compose_reply(&reply).unwrap_or_default());
    assert_eq!(std::fs::read(&path).unwrap_or_default(), expected);
}

#[test]
fn the_policy_table() {
    use MailPolicy::{Change, Every, Failure};
    use Verdict::{Accepted, Error, Rejected};
    let table = [
        // policy, verdict, previous revision's, mailed
        (Every, Accepted, None, true),
        (Every, Accepted, Some(Accepted), true),
        (Every, Rejected, Some(Rejected), true),
        (Every, Error, None, true),
        (Failure, Accepted, None, false),
        (Failure, Accepted, Some(Rejected), false),
        (Failure, Rejected, None, true),
        (Failure, Rejected, Some(Rejected), true),
        (Failure, Error, Some(Accepted), true),
        (Change, Accepted, None, true),
        (Change, Rejected, None, true),
        (Change, Accepted, Some(Accepted), false),
        (Change, Rejected, Some(Rejected), false),
        (Change, Accepted, Some(Rejected), true),
        (Change, Rejected, Some(Accepted), true),
        (Change, Error, Some(Accepted), true),
        (Change, Error, Some(Error), false),
    ];
    for (policy, verdict, previous, mailed) in table {
        assert_eq!(
            should_mail(policy, verdict, previous),
            mailed,
            "{policy:?} {verdict:?} after {previous:?}"
        );
    }
}

#[test]
fn configuration_is_strict_with_documented_defaults() {
    let settings: SmtpSettings =
        serde_saphyr::from_str("host: smtp.example.org\n").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(settings, SmtpSettings::new("smtp.example.org"));
    assert_eq!(settings.security, Security::StartTls);
    assert_eq!(settings.port(), 587);
    assert_eq!(settings.timeout, Duration::from_secs(60));
    let settings: SmtpSettings = serde_saphyr::from_str(
        "host: smtp.example.org\nsecurity: tls\ntimeout: 1m 30s\nauth: {user: ci, password: pw}\nhello_name: ci.example.org\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(settings.port(), 465);
    assert_eq!(settings.timeout, Duration::from_secs(90));
    assert_eq!(settings.auth.map(|a| a.user).as_deref(), Some("ci"));
    let settings: SmtpSettings =
        serde_saphyr::from_str("host: localhost\nsecurity: none\ntimeout: 5\n")
            .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (settings.port(), settings.timeout),
        (25, Duration::from_secs(5))
    );
    assert!(serde_saphyr::from_str::<SmtpSettings>("host: h\nsecurty: tls\n").is_err());
    assert!(serde_saphyr::from_str::<SmtpSettings>("host: h\nauth: {user: u}\n").is_err());

    let mail: MailConfig = serde_saphyr::from_str("policy: change\ncc: [ta@example.org]\n")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(mail.policy, MailPolicy::Change);
    assert!(mail.to_submitter && !mail.cc_list);
    let always: MailConfig =
        serde_saphyr::from_str("policy: always\n").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(always.policy, MailPolicy::Every);
    assert!(serde_saphyr::from_str::<MailConfig>("policy: sometimes\n").is_err());
    assert!(serde_saphyr::from_str::<MailConfig>("bcc: [x@example.org]\n").is_err());
}

/// A client that writes lines and reads whole replies, to speak to the sink by hand.
struct Client {
    reader: BufReader<tokio::net::tcp::OwnedReadHalf>,
    writer: tokio::net::tcp::OwnedWriteHalf,
}

impl Client {
    async fn connect(sink: &Sink) -> (Client, String) {
        let stream = TcpStream::connect(sink.addr())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let (read, writer) = stream.into_split();
        let mut client = Client {
            reader: BufReader::new(read),
            writer,
        };
        let greeting = client.read().await;
        (client, greeting)
    }

    async fn read(&mut self) -> String {
        let mut reply = String::new();
        loop {
            let mut line = String::new();
            let n = self
                .reader
                .read_line(&mut line)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            assert!(n > 0, "closed after {reply:?}");
            reply.push_str(&line);
            if line.as_bytes().get(3) != Some(&b'-') {
                return reply;
            }
        }
    }

    async fn say(&mut self, text: &str) -> String {
        self.writer
            .write_all(text.as_bytes())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        self.read().await
    }
}

#[tokio::test]
async fn the_sink_speaks_smtp() {
    let sink = sink(SinkOptions::default().with_auth("ci", "pw")).await;
    let (mut c, greeting) = Client::connect(&sink).await;
    assert!(greeting.starts_with("220 sink.test "), "{greeting}");
    assert!(
        c.say("MAIL FROM:<a@example.org>\r\n")
            .await
            .starts_with("503 ")
    );
    let ehlo = c.say("EHLO client.example.org\r\n").await;
    for line in [
        "250-8BITMIME\r\n",
        "250-SIZE 10485760\r\n",
        "250 AUTH PLAIN LOGIN\r\n",
    ] {
        assert!(ehlo.contains(line), "{ehlo}");
    }
    // Each line said, and how the sink's answer starts.
    let exchange = [
        ("MAIL FROM:<a@example.org>\r\n", "530 "),
        // AUTH LOGIN by hand: "ci" and "pw" in base64.
        ("AUTH LOGIN\r\n", "334 VXNlcm5hbWU6"),
        ("Y2k=\r\n", "334 UGFzc3dvcmQ6"),
        ("cHc=\r\n", "235 "),
        ("NOOP\r\n", "250 "),
        ("DATA\r\n", "503 "),
        ("MAIL FROM:<a@example.org> SIZE=99999999\r\n", "552 "),
        ("MAIL FROM:<a@example.org> SMTPUTF8\r\n", "555 "),
        ("MAIL FROM:<a@example.org>\r\n", "250 "),
        ("RCPT TO:<dropped@example.org>\r\n", "250 "),
        ("RSET\r\n", "250 "),
        ("RCPT TO:<b@example.org>\r\n", "503 "),
        ("MAIL FROM:<>\r\n", "250 "),
        ("RCPT TO:<b@example.org>\r\n", "250 "),
        ("DATA\r\n", "354 "),
        (
            "Subject: dots\r\n\r\n..one\r\n...two\r\n.\n\r\n.\r\n",
            "250 2.0.0 Ok: queued as 1",
        ),
        ("STARTTLS\r\n", "502 "),
        ("FROB\r\n", "500 "),
        ("QUIT\r\n", "221 "),
    ];
    for (said, answer) in exchange {
        let got = c.say(said).await;
        assert!(got.starts_with(answer), "{said:?}: {got:?}");
    }
    let received = received(&sink, 1).await;
    assert_eq!(received[0].from, "");
    assert_eq!(received[0].to, vec!["b@example.org"]);
    assert_eq!(received[0].helo, "client.example.org");
    assert_eq!(received[0].user.as_deref(), Some("ci"));
    // Unstuffed; a bare-LF dot line is data, not the end.
    assert_eq!(
        received[0].text(),
        "Subject: dots\r\n\r\n.one\r\n..two\r\n\n\r\n"
    );
}
