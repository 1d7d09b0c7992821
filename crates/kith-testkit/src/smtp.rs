//! A real SMTP server for tests: aiosmtpd (PyPI), started as a child process
//! on a free port. Its handler stores every accepted message as JSON —
//! envelope, raw bytes, and what Python's `email` parser makes of them — so
//! tests check a message as a mail client would read it.
//!
//! Without python3 + aiosmtpd (or openssl, for certificates) a test skips
//! with a printed reason, or fails under `KITH_TEST_REQUIRE_ALL=1`.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Credentials the stand-in server accepts for AUTH.
pub const USER: &str = "mailer";
pub const PASSWORD: &str = "Sup3r:S3cret/p@ss";
/// The same password as it must be written inside a URL.
pub const PASSWORD_IN_URL: &str = "Sup3r%3AS3cret%2Fp%40ss";
/// Recipients the stand-in server refuses at RCPT TO.
pub const REJECTED_RCPT: &str = "nobody@example.test";
pub const TEMPFAIL_RCPT: &str = "busy@example.test";

pub const SERVER_PY: &str = r#"
import asyncio, base64, email, email.policy, json, os, ssl, sys, threading
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
                body = part.get_content()
                if isinstance(body, bytes):
                    body = {"base64": base64.b64encode(body).decode()}
                parts.append({
                    "content_type": part.get_content_type(),
                    "charset": part.get_content_charset(),
                    "filename": part.get_filename(),
                    "body": body,
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
pub struct SmtpServer {
    child: Child,
    _stdin: ChildStdin,
    pub port: u16,
    dir: PathBuf,
}

#[derive(Clone, Copy, PartialEq)]
pub enum ServerTls {
    None,
    /// Offers STARTTLS with a self-signed certificate, and requires it.
    SelfSignedStartTls,
}

impl SmtpServer {
    /// The server, or None when the test is to be skipped.
    pub fn start(tls: ServerTls) -> Option<SmtpServer> {
        match Command::new("python3").args(["-c", "import aiosmtpd"]).output() {
            Err(e) => {
                crate::skip_or_fail(&format!("python3 cannot be run ({e}); the SMTP tests need python3 with aiosmtpd"));
                return None;
            }
            Ok(out) if !out.status.success() => {
                crate::skip_or_fail("the python3 module aiosmtpd is missing (pip install aiosmtpd)");
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

    pub fn url(&self, scheme: &str) -> String {
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    pub fn url_with_credentials(&self, scheme: &str, password_in_url: &str) -> String {
        format!("{scheme}://{USER}:{password_in_url}@127.0.0.1:{}", self.port)
    }

    /// Every accepted message, in order of arrival.
    pub fn messages(&self) -> Vec<Value> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.join("inbox"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        files.iter().map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()).collect()
    }

    /// The single message the server accepted.
    pub fn only_message(&self) -> Value {
        let mut all = self.messages();
        assert_eq!(all.len(), 1, "expected exactly one message, got {all:#?}");
        let message = all.remove(0);
        assert!(message.get("parse_error").is_none(), "Python could not parse the message: {message:#}");
        message
    }

    /// AUTH mechanisms clients tried, one per attempt.
    pub fn auth_attempts(&self) -> Vec<String> {
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
pub fn self_signed_certificate(dir: &Path) -> Option<(PathBuf, PathBuf)> {
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
            crate::skip_or_fail(&format!("openssl cannot be run ({e}); needed for the certificate test"));
            None
        }
    }
}
