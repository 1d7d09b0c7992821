//! A real IMAP server for tests: pymap (PyPI) with its in-memory `dict`
//! backend and one user, started as a child process on a free loopback
//! port. It speaks IMAP4rev1 with IDLE, UIDPLUS and LITERAL+, and starts in
//! well under a second. Messages are put in with APPEND through Python's
//! own `imaplib` — an independent client.
//!
//! Without python3 + pymap a test skips with a printed reason, or fails
//! under `KITH_TEST_REQUIRE_ALL=1`.

use std::io::Write;
use std::net::TcpStream;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

/// Runs pymap and exits when our end of its stdin closes (so a test
/// process that dies leaves no server behind).
const SERVER_PY: &str = r#"
import os, sys, threading
def exit_when_stdin_closes():
    sys.stdin.read()
    os._exit(0)
threading.Thread(target=exit_when_stdin_closes, daemon=True).start()
from pymap.main import main
port, user, password = sys.argv[1:4]
sys.argv = ["pymap", "--host", "127.0.0.1", "--port", port, "--no-tls", "dict",
            "--demo-user", user, "--demo-password", password]
sys.exit(main())
"#;

const APPEND_PY: &str = r#"
import imaplib, sys
port, user, password = sys.argv[1:4]
raw = sys.stdin.buffer.read()
c = imaplib.IMAP4("127.0.0.1", int(port))
c.login(user, password)
typ, data = c.append("INBOX", None, None, raw)
c.logout()
print(typ, data)
sys.exit(0 if typ == "OK" else 1)
"#;

/// One pymap process; killed on drop.
pub struct ImapServer {
    child: Child,
    _stdin: ChildStdin,
    pub port: u16,
    pub user: String,
    pub password: String,
    log: std::path::PathBuf,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl ImapServer {
    /// A server whose one user is `user` / `password`; None when the test is
    /// to be skipped.
    pub fn start(user: &str, password: &str) -> Option<ImapServer> {
        match Command::new("python3").args(["-c", "import pymap"]).output() {
            Err(e) => {
                crate::skip_or_fail(&format!("python3 cannot be run ({e}); the IMAP tests need python3 with pymap"));
                return None;
            }
            Ok(out) if !out.status.success() => {
                crate::skip_or_fail("the python3 module pymap is missing (pip install pymap)");
                return None;
            }
            Ok(_) => {}
        }
        for _attempt in 0..3 {
            let port = free_port();
            let log = std::env::temp_dir().join(format!("kith-pymap-{}-{port}.log", std::process::id()));
            let mut child = Command::new("python3")
                .args(["-c", SERVER_PY, &port.to_string(), user, password])
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).expect("create the pymap log"))
                .spawn()
                .expect("spawn python3");
            let stdin = child.stdin.take().unwrap();
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(20) {
                if let Ok(Some(_)) = child.try_wait() {
                    break; // exited: the port was taken meanwhile, most likely
                }
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Some(ImapServer {
                        child,
                        _stdin: stdin,
                        port,
                        user: user.into(),
                        password: password.into(),
                        log,
                    });
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
            let stderr = std::fs::read_to_string(&log).unwrap_or_default();
            let _ = std::fs::remove_file(&log);
            eprintln!("pymap did not start on port {port}: {stderr}");
        }
        panic!("pymap did not start");
    }

    /// APPEND one message (the full RFC 5322 bytes) to INBOX.
    pub fn append(&self, raw: &[u8]) {
        let mut child = Command::new("python3")
            .args(["-c", APPEND_PY, &self.port.to_string(), &self.user, &self.password])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn python3");
        child.stdin.take().unwrap().write_all(raw).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "APPEND failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for ImapServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}
