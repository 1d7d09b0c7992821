//! The raw inbound event log from the command line (issue #4 §8): an
//! operator lists a channel's unprocessed events and queues them again;
//! processing stays exactly once, however often an event is replayed.

use crate::cli::{free_port, kith, run, Server};
use crate::crash::{assert_exactly_once, deliver, setup};
use kith_testkit::TempDir;

fn lines(out: &std::process::Output) -> Vec<serde_json::Value> {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object a line"))
        .collect()
}

#[tokio::test]
async fn unprocessed_events_are_listed_and_replayed_from_the_cli() {
    let dir = TempDir::new();
    let data = dir.path();
    let port = free_port();
    // No workers: the events are stored and acknowledged, not processed.
    let server = Server::spawn(data, &[("KITH_WORKERS", "0")], port).await;
    let (token, channel) = setup(data, &server, &[]).await;
    deliver(&server.base, &channel, 0, 3).await;
    let me: serde_json::Value = reqwest::Client::new()
        .get(format!("{}/api/v1/me", server.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let org = me["workspace"]["id"].as_str().unwrap().to_string();
    let list = |extra: &[&str]| {
        let mut cmd = kith(data);
        cmd.args(["admin", "inbound-events", "--org", &org, "--channel", &channel]).args(extra);
        lines(&run(&mut cmd))
    };

    let waiting = list(&["--unprocessed"]);
    assert_eq!(waiting.len(), 3, "{waiting:?}");
    assert!(waiting.iter().all(|e| e["processed_at_ms"].is_null() && e["kind"] == "message"));
    assert_eq!(list(&["--limit", "2"]).len(), 2);

    // Replaying one event, then every unprocessed one (the first again
    // among them), queues jobs on top of the ones ingest queued.
    let one = waiting[0]["id"].as_str().unwrap().to_string();
    let out = run(kith(data).args(["admin", "replay-events", "--org", &org, "--channel", &channel, "--event", &one]));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = run(kith(data).args(["admin", "replay-events", "--org", &org, "--channel", &channel, "--unprocessed"]));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("3 event(s) queued"), "{out:?}");

    // Neither an event nor --unprocessed: a usage error; another workspace's channel: not found.
    let out = run(kith(data).args(["admin", "replay-events", "--org", &org, "--channel", &channel]));
    assert!(!out.status.success());
    let nil = uuid::Uuid::nil().to_string();
    let out = run(kith(data).args(["admin", "inbound-events", "--org", &nil, "--channel", &channel]));
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("not_found"), "{out:?}");
    assert!(server.stop().success());

    // With workers: every event becomes exactly one message, and none is left unprocessed.
    let server = Server::spawn(data, &[], port).await;
    assert_exactly_once(&server.base, &token, 3, "replayed").await;
    let mut left = list(&["--unprocessed"]);
    for _ in 0..50 {
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        left = list(&["--unprocessed"]);
    }
    assert!(left.is_empty(), "{left:?}");
    assert!(server.stop().success());
}
