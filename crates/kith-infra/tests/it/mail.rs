//! The mailer against a real SMTP server: aiosmtpd (PyPI), started per test
//! as a child process on a free port. Its handler stores every accepted
//! message as JSON — envelope, the raw bytes, and what Python's `email`
//! parser makes of them — so the assertions check the message as a mail
//! client would read it, not as we wrote it.
//!
//! Without python3 + aiosmtpd (or openssl, for the certificate test) these
//! tests skip with a printed reason, or fail under `KITH_TEST_REQUIRE_ALL=1`.

use std::time::{Duration, Instant};

use kith_infra::mail::{MailConfig, MailError, Mailer, OutgoingMail};
use kith_testkit::smtp::{ServerTls, SmtpServer, PASSWORD, PASSWORD_IN_URL, REJECTED_RCPT, TEMPFAIL_RCPT, USER};
use serde_json::Value;

const FROM: &str = "Kith <kith@example.test>";

fn config(url: impl Into<String>) -> MailConfig {
    MailConfig { url: url.into(), from: FROM.into(), timeout: Duration::from_secs(10) }
}

fn mailer(url: impl Into<String>) -> Mailer {
    Mailer::new(&config(url)).expect("valid mail config")
}

fn mail(to: &str, subject: &str) -> OutgoingMail {
    OutgoingMail { to: to.into(), subject: subject.into(), text: "Hallo!".into(), html: None }
}

fn text(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_else(|| panic!("{key} missing in {v:#}")).to_owned()
}

/// Line endings as a reader sees them, without the transport's trailing CRLF.
fn normalized(body: &str) -> String {
    body.replace("\r\n", "\n").trim_end_matches('\n').to_owned()
}

/// A port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// What every failed delivery must satisfy: no secret in any rendering.
fn assert_no_password(err: &MailError) {
    for rendered in [err.to_string(), format!("{err:?}")] {
        assert!(!rendered.contains(PASSWORD), "password leaked: {rendered}");
        assert!(!rendered.contains(PASSWORD_IN_URL), "password leaked: {rendered}");
        assert!(!rendered.contains("S3cret"), "password leaked: {rendered}");
    }
}

#[test]
fn mailer_is_clone_send_sync() {
    fn shareable<T: Clone + Send + Sync + 'static>() {}
    fn sendable<T: std::error::Error + Send + Sync + 'static>() {}
    shareable::<Mailer>();
    sendable::<MailError>();
}

#[tokio::test]
async fn plain_text_mail_arrives_with_encoded_utf8_headers() {
    let Some(server) = SmtpServer::start(ServerTls::None) else { return };
    let body = "Grüße aus Köln,\nwir laden Sie herzlich ein.\n\n-- \nKith";
    let subject = "Einladung zu Müller & Co";
    let outgoing = OutgoingMail {
        to: "Anna Müller <anna@example.test>".into(),
        subject: subject.into(),
        text: body.into(),
        html: None,
    };
    mailer(server.url("smtp+plain")).send(&outgoing).await.expect("send");

    let m = server.only_message();
    assert_eq!(text(&m, "mail_from"), "kith@example.test");
    assert_eq!(m["rcpt_tos"], serde_json::json!(["anna@example.test"]));
    assert_eq!(text(&m, "from"), FROM);
    assert_eq!(text(&m, "to"), "Anna Müller <anna@example.test>");
    assert_eq!(text(&m, "subject"), subject);
    assert_eq!(m["defects"], serde_json::json!([]), "{m:#}");
    // On the wire everything is 7-bit: non-ASCII words as RFC 2047 encoded-words.
    assert_eq!(m["raw_is_ascii"], Value::Bool(true));
    let raw = text(&m, "raw");
    let subject_line = raw.lines().find(|l| l.starts_with("Subject:")).expect("Subject header");
    assert!(subject_line.to_ascii_lowercase().contains("=?utf-8?"), "{subject_line}");

    assert_eq!(text(&m, "content_type"), "text/plain");
    let parts = m["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 1);
    assert_eq!(text(&parts[0], "charset"), "utf-8");
    assert_eq!(normalized(&text(&parts[0], "body")), body);

    let message_id = text(&m, "message_id");
    assert!(message_id.starts_with('<') && message_id.ends_with("@example.test>"), "{message_id}");
    assert!(!text(&m, "date").is_empty() && text(&m, "date") != "None");
}

#[tokio::test]
async fn html_and_text_arrive_as_multipart_alternative() {
    let Some(server) = SmtpServer::start(ServerTls::None) else { return };
    let mailer = mailer(server.url("smtp+plain"));
    // Long enough that the encoded header must be folded over several lines.
    let subject = "Einladung zu Müller & Co — Quartalsgespräch über die Zusammenarbeit im nächsten Geschäftsjahr ✓";
    let outgoing = OutgoingMail {
        to: "anna@example.test".into(),
        subject: subject.into(),
        text: "Grüße — siehe https://example.test/e/1".into(),
        html: Some("<p>Grüße — <a href=\"https://example.test/e/1\">Einladung</a></p>".into()),
    };
    mailer.send(&outgoing).await.expect("send");
    // A second send over the same (cloned) mailer opens a new connection.
    mailer.clone().send(&mail("anna@example.test", "zweite")).await.expect("second send");

    let all = server.messages();
    assert_eq!(all.len(), 2);
    let m = &all[0];
    assert_eq!(text(m, "subject"), subject);
    assert_eq!(text(m, "content_type"), "multipart/alternative");
    assert_eq!(m["defects"], serde_json::json!([]), "{m:#}");
    assert_eq!(m["raw_is_ascii"], Value::Bool(true));
    let parts = m["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 2, "{m:#}");
    assert_eq!(text(&parts[0], "content_type"), "text/plain");
    assert_eq!(text(&parts[0], "charset"), "utf-8");
    assert_eq!(normalized(&text(&parts[0], "body")), outgoing.text);
    assert_eq!(text(&parts[1], "content_type"), "text/html");
    assert_eq!(text(&parts[1], "charset"), "utf-8");
    assert_eq!(normalized(&text(&parts[1], "body")), outgoing.html.clone().unwrap());

    assert_ne!(text(&all[0], "message_id"), text(&all[1], "message_id"), "Message-IDs must be unique");
}

#[tokio::test]
async fn line_breaks_in_subject_or_recipient_are_rejected_before_any_network() {
    // Nothing listens here: had the mailer connected, this would be a
    // Transport error, not a Message error.
    let mailer = mailer(format!("smtp+plain://127.0.0.1:{}", closed_port()));
    let cases = [
        mail("anna@example.test", "Hallo\r\nBcc: victim@example.test"),
        mail("anna@example.test", "Hallo\nBcc: victim@example.test"),
        mail("anna@example.test", "Hallo\r"),
        mail("anna@example.test\r\nBcc: victim@example.test", "Hallo"),
        mail("anna@example.test\n", "Hallo"),
        mail("Anna\r\n <anna@example.test>", "Hallo"),
        mail("anna@example.test\0", "Hallo"),
        // One recipient per message; a list is not a mailbox.
        mail("anna@example.test, victim@example.test", "Hallo"),
        mail("not an address", "Hallo"),
        mail("", "Hallo"),
    ];
    for outgoing in cases {
        let err = mailer.send(&outgoing).await.expect_err("must be refused");
        assert!(matches!(err, MailError::Message(_)), "{outgoing:?} gave {err:?}");
        assert!(err.is_permanent(), "an invalid message never gets better by retrying");
        assert!(!err.to_string().contains("victim"), "the error should not echo the input: {err}");
    }
}

#[test]
fn bad_configuration_is_a_config_error() {
    let bad_urls = [
        "http://user:Sup3r%3AS3cret%2Fp%40ss@mail.example.test",
        "smtp+tls://mail.example.test",
        "imap://mail.example.test",
        "mail.example.test:587",
        "",
        "smtp://",
        "smtp://user:Sup3r%3AS3cret%2Fp%40ss@mail.example.test:587/inbox",
        "smtp://mail.example.test:587?tls=opportunistic",
        "smtp://:Sup3r%3AS3cret%2Fp%40ss@mail.example.test",
        "smtp://user:Sup3r%3AS3cret%2Fp%40ss@mail.example.test:99999",
    ];
    for url in bad_urls {
        let err = Mailer::new(&config(url)).expect_err(url);
        assert!(matches!(err, MailError::Config(_)), "{url} gave {err:?}");
        assert!(err.is_permanent());
        assert_no_password(&err);
    }

    let bad_senders =
        ["", "not an address", "Kith <kith@example.test>\r\nBcc: victim@example.test", "a@x.test, b@x.test"];
    for from in bad_senders {
        let cfg = MailConfig { from: from.into(), ..config("smtp+plain://127.0.0.1:2525") };
        let err = Mailer::new(&cfg).expect_err(from);
        assert!(matches!(err, MailError::Config(_)), "{from:?} gave {err:?}");
    }

    let cfg = MailConfig { timeout: Duration::ZERO, ..config("smtp+plain://127.0.0.1:2525") };
    assert!(matches!(Mailer::new(&cfg), Err(MailError::Config(_))));
}

#[test]
fn good_configuration_needs_no_network_and_never_shows_the_password() {
    let good_urls = [
        "smtp://mailer:Sup3r%3AS3cret%2Fp%40ss@mail.invalid:587",
        "smtp://mailer:Sup3r%3AS3cret%2Fp%40ss@mail.invalid",
        "smtps://mailer:Sup3r%3AS3cret%2Fp%40ss@mail.invalid:465",
        "SMTPS://mail.invalid",
        "smtp+plain://127.0.0.1:2525",
        "smtp+plain://[::1]:25/",
    ];
    for url in good_urls {
        let cfg = config(url);
        let mailer = Mailer::new(&cfg).unwrap_or_else(|e| panic!("{url}: {e}"));
        for rendered in [format!("{mailer:?}"), format!("{cfg:?}")] {
            assert!(!rendered.contains("S3cret"), "password shown: {rendered}");
        }
    }
    let cfg = config("smtp://mailer:Sup3r%3AS3cret%2Fp%40ss@mail.invalid:587");
    assert!(format!("{cfg:?}").contains("smtp://mailer:***@mail.invalid:587"), "{cfg:?}");
    let shown = format!("{:?}", Mailer::new(&cfg).unwrap());
    assert!(shown.contains("smtp://mail.invalid:587") && shown.contains("***"), "{shown}");
}

#[tokio::test]
async fn unreachable_server_is_a_transient_transport_error_without_the_password() {
    let port = closed_port();
    for scheme in ["smtp+plain", "smtp", "smtps"] {
        let mailer = mailer(format!("{scheme}://{USER}:{PASSWORD_IN_URL}@127.0.0.1:{port}"));
        let err = mailer.send(&mail("anna@example.test", "Hallo")).await.expect_err("nothing listens");
        assert!(matches!(err, MailError::Transport(_)), "{scheme}: {err:?}");
        assert!(!err.is_permanent(), "{scheme}: a refused connection may work later: {err}");
        assert!(err.to_string().contains(&format!("127.0.0.1:{port}")), "should say where: {err}");
        assert_no_password(&err);
    }
}

#[tokio::test]
async fn a_silent_server_times_out_as_a_transient_error() {
    // Accepts the TCP connection and never sends the SMTP greeting.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            let (socket, _) = listener.accept().await.unwrap();
            held.push(socket);
        }
    });
    let cfg = MailConfig { timeout: Duration::from_millis(400), ..config(format!("smtp+plain://127.0.0.1:{port}")) };
    let started = Instant::now();
    let err = Mailer::new(&cfg).unwrap().send(&mail("anna@example.test", "Hallo")).await.expect_err("no greeting");
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    assert!(matches!(err, MailError::Transport(_)), "{err:?}");
    assert!(!err.is_permanent());
    holder.abort();
}

#[tokio::test]
async fn recipient_refused_with_550_is_permanent_and_451_is_not() {
    let Some(server) = SmtpServer::start(ServerTls::None) else { return };
    let mailer = mailer(server.url("smtp+plain"));

    let err = mailer.send(&mail(REJECTED_RCPT, "Hallo")).await.expect_err("550");
    match &err {
        MailError::Rejected { code, message } => {
            assert_eq!(*code, 550);
            assert!(message.contains("no such user"), "{message}");
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
    assert!(err.is_permanent());

    let err = mailer.send(&mail(TEMPFAIL_RCPT, "Hallo")).await.expect_err("451");
    assert!(matches!(err, MailError::Rejected { code: 451, .. }), "{err:?}");
    assert!(!err.is_permanent(), "4xx means try again later");

    assert!(server.messages().is_empty(), "nothing may have been accepted");
}

#[tokio::test]
async fn credentials_from_the_url_are_decoded_and_a_wrong_password_is_permanent() {
    let Some(server) = SmtpServer::start(ServerTls::None) else { return };

    mailer(server.url_with_credentials("smtp+plain", PASSWORD_IN_URL))
        .send(&mail("anna@example.test", "Mit Anmeldung"))
        .await
        .expect("authenticated send");
    assert_eq!(server.auth_attempts().len(), 1, "AUTH must have been used");
    assert_eq!(text(&server.only_message(), "subject"), "Mit Anmeldung");

    let wrong = "Wr0ng%3AS3cret";
    let err = mailer(server.url_with_credentials("smtp+plain", wrong))
        .send(&mail("anna@example.test", "Hallo"))
        .await
        .expect_err("bad password");
    assert!(matches!(err, MailError::Rejected { code: 535, .. }), "{err:?}");
    assert!(err.is_permanent());
    assert!(!err.to_string().contains("Wr0ng"), "{err}");
    assert_eq!(server.messages().len(), 1, "no second message");
}

#[tokio::test]
async fn starttls_required_never_falls_back_to_plain_text() {
    let Some(server) = SmtpServer::start(ServerTls::None) else { return };

    // The server offers no STARTTLS: smtp:// must refuse to go on, and
    // must not have sent the credentials or the message in the clear.
    let err = mailer(server.url_with_credentials("smtp", PASSWORD_IN_URL))
        .send(&mail("anna@example.test", "Geheim"))
        .await
        .expect_err("no STARTTLS on offer");
    assert!(matches!(err, MailError::Transport(_)), "{err:?}");
    assert!(err.to_string().contains("STARTTLS"), "should say why: {err}");
    assert!(!err.is_permanent());
    assert_no_password(&err);

    // Implicit TLS against a plain-text server fails in the handshake.
    let err = mailer(server.url_with_credentials("smtps", PASSWORD_IN_URL))
        .send(&mail("anna@example.test", "Geheim"))
        .await
        .expect_err("no TLS on this port");
    assert!(matches!(err, MailError::Transport(_)), "{err:?}");
    assert_no_password(&err);

    assert!(server.messages().is_empty(), "a message went out without TLS");
    assert!(server.auth_attempts().is_empty(), "credentials went out without TLS");
}

#[tokio::test]
async fn starttls_with_an_untrusted_certificate_fails() {
    let Some(server) = SmtpServer::start(ServerTls::SelfSignedStartTls) else { return };
    let err = mailer(server.url_with_credentials("smtp", PASSWORD_IN_URL))
        .send(&mail("anna@example.test", "Geheim"))
        .await
        .expect_err("self-signed certificate");
    assert!(matches!(err, MailError::Transport(_)), "{err:?}");
    assert!(err.to_string().to_ascii_lowercase().contains("certificate"), "should say why: {err}");
    assert!(!err.is_permanent());
    assert_no_password(&err);
    assert!(server.messages().is_empty());
    assert!(server.auth_attempts().is_empty());
}
