//! Durable before acknowledged (issue #4 §2, DESIGN.md Data): inbound
//! webhooks that were answered 2xx survive `kill -9` of the server — those
//! not yet processed, and those being processed at the moment of the kill —
//! and each becomes exactly one message after the restart.

use crate::cli::{free_port, kith, run, Server};
use kith_testkit::TempDir;
use std::path::Path;
use std::time::{Duration, Instant};

const AUTH_TOKEN: &str = "crash-test-auth-token";
const SENDER: &str = "+15557770123";

/// A workspace, an API token and a Twilio SMS channel on a running server.
pub(crate) async fn setup(data: &Path, server: &Server, db_env: &[(&str, &str)]) -> (String, String) {
    let pw = data.join("pw");
    std::fs::write(&pw, "correct horse battery\n").unwrap();
    let mut cmd = kith(data);
    for (k, v) in db_env {
        cmd.env(k, v);
    }
    let out = run(cmd
        .args(["admin", "create-user", "--email", "c@example.com", "--name", "C", "--org-name", "C", "--password-file"])
        .arg(&pw));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let org = serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["org_id"].as_str().unwrap().to_string();
    let mut cmd = kith(data);
    for (k, v) in db_env {
        cmd.env(k, v);
    }
    let out = run(cmd.args(["admin", "create-token", "--email", "c@example.com", "--org", &org, "--name", "t"]));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let channel: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/api/v1/channels", server.base))
        .bearer_auth(&token)
        .json(&serde_json::json!({"kind": "twilio_sms", "name": "SMS",
            "config": {"account_sid": "AC00000000000000000000000000000000", "auth_token": AUTH_TOKEN, "from": "+15550001111"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = channel["id"].as_str().unwrap_or_else(|| panic!("channel: {channel}")).to_string();
    (token, id)
}

/// Post `n` signed inbound SMS numbered from `first`, 16 at a time; every
/// one must be acknowledged 2xx.
pub(crate) async fn deliver(base: &str, channel: &str, first: usize, n: usize) {
    let url = format!("{base}/hooks/twilio/{channel}");
    let client = reqwest::Client::new();
    let mut pending = Vec::new();
    for i in first..first + n {
        let params: Vec<(String, String)> = [
            ("MessageSid", format!("SMcrash{i:05}")),
            ("AccountSid", "AC00000000000000000000000000000000".to_string()),
            ("From", SENDER.to_string()),
            ("To", "+15550001111".to_string()),
            ("Body", format!("message {i}")),
            ("NumMedia", "0".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let signature = kith_providers::twilio::compute_signature(AUTH_TOKEN, &url, &params);
        let req = client.post(&url).header("x-twilio-signature", signature).form(&params).send();
        pending.push(tokio::spawn(req));
        if pending.len() == 16 {
            for p in pending.drain(..) {
                let r = p.await.unwrap().unwrap();
                assert!(r.status().is_success(), "webhook answered {}", r.status());
            }
        }
    }
    for p in pending {
        let r = p.await.unwrap().unwrap();
        assert!(r.status().is_success(), "webhook answered {}", r.status());
    }
}

/// The bodies of every message in the workspace's conversations.
async fn bodies(base: &str, token: &str) -> Vec<String> {
    let c = reqwest::Client::new();
    let list: serde_json::Value = c
        .get(format!("{base}/api/v1/conversations?limit=200"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut out = Vec::new();
    for conv in list["data"].as_array().cloned().unwrap_or_default() {
        let mut cursor: Option<String> = None;
        loop {
            let mut url = format!("{base}/api/v1/conversations/{}/messages?limit=200", conv["id"].as_str().unwrap());
            if let Some(c) = &cursor {
                url.push_str(&format!("&cursor={c}"));
            }
            let page: serde_json::Value = c.get(url).bearer_auth(token).send().await.unwrap().json().await.unwrap();
            for m in page["data"].as_array().unwrap() {
                out.push(m["body"].as_str().unwrap_or_default().to_string());
            }
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => break,
            }
        }
    }
    out
}

/// Wait until `expected` messages are there (or 60 s), then check each
/// numbered message is there exactly once.
pub(crate) async fn assert_exactly_once(base: &str, token: &str, expected: usize, label: &str) {
    let started = Instant::now();
    let mut got = bodies(base, token).await;
    while got.len() < expected && started.elapsed() < Duration::from_secs(90) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        got = bodies(base, token).await;
    }
    got.sort();
    let mut want: Vec<String> = (0..expected).map(|i| format!("message {i}")).collect();
    want.sort();
    assert_eq!(got.len(), expected, "{label}: messages after the restart");
    assert_eq!(got, want, "{label}: every acknowledged message once");
}

async fn killed_between_ack_and_processing(data: &Path, db_env: &[(&str, &str)], label: &str) {
    let port = free_port();
    // 1. No workers: every event is acknowledged and stored, none processed.
    let mut env: Vec<(&str, &str)> = db_env.to_vec();
    env.push(("KITH_WORKERS", "0"));
    let server = Server::spawn(data, &env, port).await;
    let (token, channel) = setup(data, &server, db_env).await;
    deliver(&server.base, &channel, 0, 120).await;
    let mut server = server;
    server.child.kill().unwrap(); // SIGKILL: no shutdown path runs
    server.child.wait().unwrap();
    drop(server);

    // 2. Workers on: acknowledged events are being processed when it is killed again.
    let server = Server::spawn(data, db_env, port).await;
    deliver(&server.base, &channel, 120, 120).await;
    let mut server = server;
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    drop(server);

    // 3. After a restart every acknowledged message is there exactly once.
    let server = Server::spawn(data, db_env, port).await;
    assert_exactly_once(&server.base, &token, 240, label).await;
    assert!(server.stop().success());
}

#[tokio::test]
async fn acknowledged_webhooks_survive_kill_9_on_sqlite() {
    let dir = TempDir::new();
    killed_between_ack_and_processing(dir.path(), &[], "sqlite").await;
}

#[tokio::test]
async fn acknowledged_webhooks_survive_kill_9_on_postgresql() {
    let Some(url) = kith_testkit::postgres_url().await else {
        kith_testkit::skip_or_fail("KITH_TEST_POSTGRES_URL is not set: kill -9 on PostgreSQL");
        return;
    };
    let dir = TempDir::new();
    killed_between_ack_and_processing(dir.path(), &[("KITH_DATABASE_URL", &url)], "postgresql").await;
}
