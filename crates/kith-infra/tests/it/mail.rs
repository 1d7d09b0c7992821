//! The mailer against a real SMTP server: aiosmtpd (PyPI), started per test
//! as a child process on a free port. Its handler stores every accepted
//! message as JSON — envelope, the raw bytes, and what Python's `email`
//! parser makes of them — so the assertions check the message as a mail
//! client would read it, not as we wrote it.
//!
//! Without python3 + aiosmtpd (or openssl, for the certificate test) these
//! tests skip with a printed reason, or fail under `KITH_TEST_REQUIRE_ALL=1`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use kith_infra::mail::{MailConfig, MailError, Mailer, OutgoingMail};
use serde_json::Value;

const FROM: &str = "Kith <kith@example.test>";
/// Credentials the stand-in server accepts for AUTH.
const USER: &str = "mailer";
const PASSWORD: &str = "Sup3r:S3cret/p@ss";
/// The same password as it must be written inside a URL.
const PASSWORD_IN_URL: &str = "Sup3r%3AS3cret%2Fp%40ss";
/// Recipients the stand-in server refuses at RCPT TO.
const REJECTED_RCPT: &str = "nobody@example.test";
const TEMPFAIL_RCPT: &str = "busy@example.test";

/// Skip (print why, return true) or, under `KITH_TEST_REQUIRE_ALL`, panic —
/// the same rule as `kith_testkit::skip_or_fail`, kept here so that
/// kith-infra's tests do not depend on the whole application stack.
fn skip_or_fail(reason: &str) -> bool {
    if std::env::var("KITH_TEST_REQUIRE_ALL").is_ok_and(|v| v == "1" || v == "true") {
        panic!("required by KITH_TEST_REQUIRE_ALL but unavailable: {reason}");
    }
    eprintln!("skipped: {reason}");
    true
}

const SERVER_PY: &str = r#"
import asyncio, email, email.policy, json, os, ssl, sys, threading
from aiosmtpd.smtp import SMTP, AuthResult

out, user, password, rejected, tempfail = sys.argv[1:6]
cert = sys.argv[6] if len(sys.argv) > 6 else ""

def write_atomically(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.rename(path + ".tmp", path)

class Handler:
    def __init__(self):
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address == rejected:
            return "550 no such user"
        if address == tempfail:
            return "451 mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        raw = envelope.original_content
        summary = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "raw": raw.decode("utf-8", "replace"),
            "raw_is_ascii": all(b < 128 for b in raw),
        }
        try:
            msg = email.message_from_bytes(raw, policy=email.policy.default)
            parts = []
            for part in msg.walk():
                if part.is_multipart():
                    continue
                parts.append({
                    "content_type": part.get_content_type(),
                    "charset": part.get_content_charset(),
                    "body": part.get_content(),
                })
            summary.update({
                "from": str(msg["from"]),
                "to": str(msg["to"]),
                "subject": str(msg["subject"]),
                "message_id": str(msg["message-id"]),
                "date": str(msg["date"]),
                "content_type": msg.get_content_type(),
                "parts": parts,
                "defects": [repr(d) for p in msg.walk() for d in p.defects],
            })
        except Exception as e:
            summary["parse_error"] = repr(e)
        write_atomically(os.path.join(out, "msg-%04d.json" % self.count), json.dumps(summary))
        return "250 OK: queued"

def authenticator(server, session, envelope, mechanism, auth_data):
    with open(os.path.join(out, "auth.log"), "a") as f:
        f.write(mechanism + "\n")
    ok = auth_data.login == user.encode() and auth_data.password == password.encode()
    return AuthResult(success=ok, handled=False)

handler = Handler()
tls_context = None
if cert:
    cert_file, key_file = cert.split(":")
    tls_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls_context.load_cert_chain(cert_file, key_file)

def factory():
    options = dict(hostname="kith-test", authenticator=authenticator, auth_require_tls=False)
    if tls_context is not None:
        options.update(tls_context=tls_context, require_starttls=True)
    return SMTP(handler, **options)

def exit_when_stdin_closes():
    sys.stdin.read()
    os._exit(0)

async def main():
    server = await asyncio.get_running_loop().create_server(factory, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    threading.Thread(target=exit_when_stdin_closes, daemon=True).start()
    await server.serve_forever()

asyncio.run(main())
"#;

/// A fresh folder under the system temp dir, removed with the server.
fn temp_dir() -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    let dir = std::env::temp_dir().join(format!(
        "kith-mail-test-{}-{}-{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// One aiosmtpd process; killed (and its folder removed) on drop. It also
/// exits by itself when our end of its stdin closes, so a test process that
/// dies does not leave it behind.
struct SmtpServer {
    child: Child,
    _stdin: ChildStdin,
    port: u16,
    dir: PathBuf,
}

#[derive(Clone, Copy, PartialEq)]
enum ServerTls {
    None,
    /// Offers STARTTLS with a self-signed certificate, and requires it.
    SelfSignedStartTls,
}

impl SmtpServer {
    /// The server, or None when the test is to be skipped.
    fn start(tls: ServerTls) -> Option<SmtpServer> {
        match Command::new("python3").args(["-c", "import aiosmtpd"]).output() {
            Err(e) => {
                skip_or_fail(&format!("python3 cannot be run ({e}); the SMTP tests need python3 with aiosmtpd"));
                return None;
            }
            Ok(out) if !out.status.success() => {
                skip_or_fail("the python3 module aiosmtpd is missing (pip install aiosmtpd)");
                return None;
            }
            Ok(_) => {}
        }
        let dir = temp_dir();
        let inbox = dir.join("inbox");
        std::fs::create_dir(&inbox).unwrap();
        let script = dir.join("smtp_server.py");
        std::fs::write(&script, SERVER_PY).unwrap();

        let mut args: Vec<String> = vec![
            script.display().to_string(),
            inbox.display().to_string(),
            USER.into(),
            PASSWORD.into(),
            REJECTED_RCPT.into(),
            TEMPFAIL_RCPT.into(),
        ];
        if tls == ServerTls::SelfSignedStartTls {
            let Some((cert, key)) = self_signed_certificate(&dir) else {
                let _ = std::fs::remove_dir_all(&dir);
                return None;
            };
            args.push(format!("{}:{}", cert.display(), key.display()));
        }

        let stderr_path = dir.join("server.stderr");
        let mut child = Command::new("python3")
            .arg("-u")
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr_path).unwrap())
            .spawn()
            .expect("spawn python3");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(20)).unwrap_or_default();
        let Ok(port) = line.trim().parse::<u16>() else {
            let _ = child.kill();
            let _ = child.wait();
            let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
            let _ = std::fs::remove_dir_all(&dir);
            panic!("the aiosmtpd stand-in did not start (stdout {line:?}):\n{stderr}");
        };
        Some(SmtpServer { child, _stdin: stdin, port, dir })
    }

    fn url(&self, scheme: &str) -> String {
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    fn url_with_credentials(&self, scheme: &str, password_in_url: &str) -> String {
        format!("{scheme}://{USER}:{password_in_url}@127.0.0.1:{}", self.port)
    }

    /// Every accepted message, in order of arrival.
    fn messages(&self) -> Vec<Value> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.join("inbox"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        files.iter().map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()).collect()
    }

    /// The single message the server accepted.
    fn only_message(&self) -> Value {
        let mut all = self.messages();
        assert_eq!(all.len(), 1, "expected exactly one message, got {all:#?}");
        let message = all.remove(0);
        assert!(message.get("parse_error").is_none(), "Python could not parse the message: {message:#}");
        message
    }

    /// AUTH mechanisms clients tried, one per attempt.
    fn auth_attempts(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.join("inbox").join("auth.log"))
            .map(|s| s.lines().map(str::to_owned).collect())
            .unwrap_or_default()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A self-signed certificate for 127.0.0.1 made with openssl, or None (after
/// skip_or_fail) when openssl is missing.
fn self_signed_certificate(dir: &Path) -> Option<(PathBuf, PathBuf)> {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let out = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"])
        .args(["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output();
    match out {
        Ok(out) if out.status.success() => Some((cert, key)),
        Ok(out) => panic!("openssl failed: {}", String::from_utf8_lossy(&out.stderr)),
        Err(e) => {
            skip_or_fail(&format!("openssl cannot be run ({e}); needed for the certificate test"));
            None
        }
    }
}

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
