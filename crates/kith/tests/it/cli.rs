use kith_testkit::TempDir;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub(crate) fn kith(data: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kith"));
    c.arg("--data").arg(data);
    // The parent's KITH_* test variables are not configuration.
    c.env_remove("KITH_DATABASE_URL").env("KITH_LOG", "warn");
    c
}

pub(crate) fn run(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null()).output().expect("run kith")
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) base: String,
}

impl Server {
    pub(crate) async fn start(data: &Path, extra_env: &[(&str, &str)]) -> Server {
        Self::spawn(data, extra_env, free_port()).await
    }

    /// Start again on the port of an earlier server.
    async fn start_at(data: &Path, base: &str) -> Server {
        let port = base.rsplit(':').next().unwrap().parse().unwrap();
        Self::spawn(data, &[], port).await
    }

    pub(crate) async fn spawn(data: &Path, extra_env: &[(&str, &str)], port: u16) -> Server {
        let mut cmd = kith(data);
        cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}")]).stdout(Stdio::null()).stderr(Stdio::piped());
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("spawn kith serve");
        let base = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        loop {
            if let Ok(r) = reqwest::get(format!("{base}/readyz")).await {
                if r.status() == 200 {
                    break;
                }
            }
            assert!(started.elapsed() < Duration::from_secs(30), "kith serve did not become ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Server { child, base }
    }

    pub(crate) fn stop(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(started.elapsed() < Duration::from_secs(20), "kith did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

#[test]
fn print_default_is_a_valid_config_file() {
    let dir = TempDir::new();
    let out = run(kith(dir.path()).args(["config", "print-default"]));
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("listen = \"127.0.0.1:8080\""));
    let file = dir.path().join("kith.toml");
    std::fs::write(&file, &text).unwrap();
    let out = run(kith(dir.path()).arg("--config").arg(&file).arg("migrate"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn strict_configuration_refuses_mistakes() {
    let dir = TempDir::new();
    let out = run(kith(dir.path()).env("KITH_LISTN", "0.0.0.0:1").arg("migrate"));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("KITH_LISTN"), "names the unknown variable");

    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "lisen = \"127.0.0.1:1\"\n").unwrap();
    let out = run(kith(dir.path()).arg("--config").arg(&file).arg("migrate"));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("lisen"));

    let out = run(kith(dir.path()).args(["--database-url", "mysql://root@localhost/kith", "migrate"]));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unsupported database url"));

    let out = run(kith(dir.path()).env("KITH_SIGNUP", "sometimes").arg("migrate"));
    assert!(!out.status.success());

    let out = run(kith(dir.path()).env("KITH_SMTP_URL", "smtp://mail.example.com").arg("migrate"));
    assert!(!out.status.success(), "an SMTP url without a sender is refused");
    let out = run(kith(dir.path())
        .env("KITH_SMTP_URL", "ftp://x")
        .env("KITH_SMTP_FROM", "Kith <k@example.com>")
        .args(["admin", "verify-audit"]));
    assert!(!out.status.success(), "a malformed SMTP url is refused at start-up");

    if let Ok(base) = std::env::var("KITH_TEST_POSTGRES_URL") {
        let missing = format!("{}/kith_does_not_exist_{}", base.rsplit_once('/').unwrap().0, std::process::id());
        let out = run(kith(dir.path()).args(["--database-url", &missing, "migrate"]));
        assert!(!out.status.success(), "a missing PostgreSQL database is an error, never created silently");
    }
}

#[tokio::test]
async fn operator_flow_against_a_running_server() {
    let dir = TempDir::new();
    let data = dir.path().join("data");
    let server = Server::start(&data, &[]).await;
    let key = data.join("master.key");
    assert!(key.exists(), "a master key is generated into the data folder");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    }

    // Admin commands work while the server runs on the same database.
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "correct horse battery\n").unwrap();
    let out = run(kith(&data)
        .args([
            "admin",
            "create-user",
            "--email",
            "ops@example.com",
            "--name",
            "Ops",
            "--org-name",
            "Ops Inc",
            "--password-file",
        ])
        .arg(&pw));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let created: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is one JSON object");
    let org = created["org_id"].as_str().unwrap().to_string();
    assert!(created["user_id"].is_string());

    let out =
        run(kith(&data).args(["admin", "create-token", "--email", "ops@example.com", "--org", &org, "--name", "ci"]));
    assert!(out.status.success());
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(token.starts_with("kith_pat_") && !token.contains('\n'), "stdout holds only the token");

    let c = reqwest::Client::new();
    let me: serde_json::Value =
        c.get(format!("{}/api/v1/me", server.base)).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    assert_eq!(me["workspace"]["id"], org.as_str());

    // A sealed value (an idempotent response) stays readable across both rotations.
    let base = server.base.clone();
    let post = || {
        c.post(format!("{base}/api/v1/teams"))
            .bearer_auth(&token)
            .header("idempotency-key", "rot-1")
            .json(&serde_json::json!({"name": "Rotation"}))
            .send()
    };
    let first = post().await.unwrap().text().await.unwrap();
    let server_status = server.stop();
    assert!(server_status.success(), "SIGTERM ends kith cleanly: {server_status:?}");

    let out = run(kith(&data).args(["keys", "rotate"]));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let old_key = std::fs::read_to_string(&key).unwrap();
    let out = run(kith(&data).args(["keys", "rotate", "--master"]));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_ne!(std::fs::read_to_string(&key).unwrap(), old_key, "a new master key is in place");

    // Same port is not guaranteed: point the closure's base at the new server.
    let server = Server::start_at(&data, &base).await;
    let replay = post().await.unwrap();
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(replay.text().await.unwrap(), first);

    let out = run(kith(&data).args(["admin", "verify-audit"]));
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("intact"));

    let out = run(kith(&data).args(["admin", "dead-jobs"]));
    assert!(out.status.success());
    assert!(out.stdout.is_empty(), "no dead jobs on a healthy instance");
    let out = run(kith(&data).args(["admin", "replay-job", &uuid::Uuid::now_v7().to_string()]));
    assert!(!out.status.success(), "replaying a job that is not dead is an error");

    let out = run(kith(&data).args(["admin", "reset-password", "--email", "ops@example.com"]));
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim().len(), 20, "prints the generated password");
    drop(server);
}

#[tokio::test]
async fn tampering_is_reported_by_verify_audit() {
    let dir = TempDir::new();
    let data = dir.path().join("data");
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "correct horse battery\n").unwrap();
    let out = run(kith(&data)
        .args(["admin", "create-user", "--email", "a@example.com", "--name", "A", "--org-name", "A", "--password-file"])
        .arg(&pw));
    assert!(out.status.success());
    let url = format!("sqlite://{}", data.join("kith.db").display());
    kith_testkit::raw_execute(&url, "UPDATE audit_log SET action = 'workspace.deleted' WHERE seq = 1").await;
    let out = run(kith(&data).args(["admin", "verify-audit"]));
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("BROKEN at entry 1"), "{text}");
}

#[tokio::test]
async fn serves_on_postgresql_by_url() {
    let Some(url) = kith_testkit::postgres_url().await else {
        kith_testkit::skip_or_fail("KITH_TEST_POSTGRES_URL is not set: binary on PostgreSQL");
        return;
    };
    let dir = TempDir::new();
    let server = Server::start(dir.path(), &[("KITH_DATABASE_URL", &url)]).await;
    assert!(!dir.path().join("kith.db").exists(), "no SQLite file when PostgreSQL is configured");
    assert!(dir.path().join("master.key").exists(), "the data folder still holds the master key");
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "correct horse battery\n").unwrap();
    let out = run(kith(dir.path())
        .env("KITH_DATABASE_URL", &url)
        .args(["admin", "create-user", "--email", "p@example.com", "--name", "P", "--org-name", "P", "--password-file"])
        .arg(&pw));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(server.stop().success());
}
