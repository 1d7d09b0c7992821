//! A real S3-compatible server for tests: moto (PyPI `moto[server]`),
//! started as a child process on a free port with one empty bucket. It
//! stops when the value is dropped (its stdin closes).
//!
//! Without python3 + moto a test skips with a printed reason, or fails
//! under `KITH_TEST_REQUIRE_ALL=1`.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Command, Stdio};

pub const ACCESS_KEY_ID: &str = "kith-test-key";
pub const SECRET_ACCESS_KEY: &str = "kith/test+secret";

const SERVER_PY: &str = r#"
import socket, sys, boto3
from moto.server import ThreadedMotoServer
bucket = sys.argv[1]
sock = socket.socket()
sock.bind(("127.0.0.1", 0))
port = sock.getsockname()[1]
sock.close()
server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
server.start()
boto3.client("s3", endpoint_url="http://127.0.0.1:%d" % port, region_name="us-east-1",
             aws_access_key_id="x", aws_secret_access_key="y").create_bucket(Bucket=bucket)
print(port, flush=True)
sys.stdin.read()
server.stop()
"#;

pub struct S3Server {
    pub endpoint: String,
    pub bucket: String,
    child: Child,
    stdin: Option<ChildStdin>,
}

impl S3Server {
    /// The server with an empty bucket, or None when the test is to be skipped.
    pub fn start() -> Option<S3Server> {
        let bucket = format!("kith-test-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let spawned = Command::new("python3")
            .arg("-c")
            .arg(SERVER_PY)
            .arg(&bucket)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn();
        let mut child = match spawned {
            Ok(c) => c,
            Err(e) => {
                crate::skip_or_fail(&format!("python3 cannot be run ({e}); the S3 tests need moto[server]"));
                return None;
            }
        };
        let stdin = child.stdin.take();
        let mut line = String::new();
        let read = BufReader::new(child.stdout.take().expect("piped stdout")).read_line(&mut line);
        let port: Option<u16> = read.ok().and_then(|_| line.trim().parse().ok());
        let Some(port) = port else {
            let _ = child.kill();
            let _ = child.wait();
            crate::skip_or_fail("moto did not start (pip install 'moto[server]')");
            return None;
        };
        Some(S3Server { endpoint: format!("http://127.0.0.1:{port}"), bucket, child, stdin })
    }

    /// The object-store URL for this server (`s3://bucket?endpoint=…`).
    pub fn url(&self) -> String {
        format!("s3://{}?endpoint={}&region=us-east-1", self.bucket, self.endpoint)
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        drop(self.stdin.take());
        for _ in 0..50 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
