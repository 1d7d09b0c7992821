//! Group commit of webhook ingest, on both backends: concurrent signed
//! webhooks (redeliveries among them) are each stored once with one job,
//! every request is answered only once its events are visible to another
//! connection, and one unit that cannot be stored does not fail the others
//! in its batch.

use crate::support::*;
use kith_app::inbox::channels::{self, NewChannel};
use kith_app::inbox::group_commit::{GroupCommit, Unit};
use kith_app::inbox::ingest;
use kith_domain::new_id;
use kith_domain::time::now_ms;
use kith_store::inbox::InboundEventRow;
use kith_testkit::TestApp;
use serde_json::{json, Map, Value};
use std::sync::Arc;
use uuid::Uuid;

const AUTH_TOKEN: &str = "group-commit-auth-token";

fn form(pairs: &[(&str, &str)]) -> Vec<u8> {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    pairs.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&").into_bytes()
}

fn sms(sid: &str, from: &str) -> Vec<u8> {
    form(&[
        ("MessageSid", sid),
        ("AccountSid", "AC1"),
        ("From", from),
        ("To", "+15550000000"),
        ("Body", "hello"),
        ("NumMedia", "0"),
        ("SmsStatus", "received"),
    ])
}

async fn twilio_channel(t: &TestApp, email: &str) -> (Uuid, Uuid, String) {
    let owner = t.user(email).await;
    let o = owner_ctx(&t.app, &owner).await;
    let config: Map<String, Value> = [("account_sid", "AC1"), ("auth_token", AUTH_TOKEN), ("from", "+15550000000")]
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    let input = NewChannel { kind: "twilio_sms".into(), name: "Desk".into(), config };
    let c = channels::create(&t.app, &o, &input).await.unwrap();
    (owner.org_id, c.id, c.webhook_url)
}

async fn count(t: &TestApp, sql: &str) -> i64 {
    kith_testkit::raw_i64(&t.db.raw_url, sql).await
}

#[tokio::test]
async fn concurrent_webhooks_are_stored_once_and_answered_after_commit() {
    for t in TestApp::all().await {
        let l = t.label;
        let (_, channel, url) = twilio_channel(&t, "gc-once@inbox.test").await;
        // 60 requests at once: 40 distinct events, 20 redeliveries of them.
        let bodies: Vec<Vec<u8>> = (0..60).map(|i| sms(&format!("SMgc{:03}", i % 40), "+15551110000")).collect();
        let handles: Vec<_> = bodies
            .into_iter()
            .map(|body| {
                let (app, url, raw) = (t.app.clone(), url.clone(), t.db.raw_url.clone());
                tokio::spawn(async move {
                    let pairs = kith_providers::twilio::form_pairs(&body);
                    let sig = kith_providers::twilio::compute_signature(AUTH_TOKEN, &url, &pairs);
                    let ack = ingest::twilio(&app, channel, &url, &body, Some(&sig)).await.unwrap();
                    // Answered: the event is there for any other connection.
                    let sid = &pairs[0].1;
                    let sql = format!("SELECT COUNT(*) FROM inbound_events WHERE provider_event_id = '{sid}'");
                    assert_eq!(kith_testkit::raw_i64(&raw, &sql).await, 1, "{l}: {sid} acknowledged before commit");
                    ack
                })
            })
            .collect();
        let mut acks = Vec::new();
        for h in handles {
            acks.push(h.await.unwrap());
        }
        let stored: usize = acks.iter().map(|a| a.stored).sum();
        let duplicates: usize = acks.iter().map(|a| a.duplicates).sum();
        assert_eq!((stored, duplicates), (40, 20), "{l}");
        assert_eq!(count(&t, "SELECT COUNT(*) FROM inbound_events").await, 40, "{l}");
        assert_eq!(count(&t, "SELECT COUNT(*) FROM jobs WHERE kind = 'inbox.process'").await, 40, "{l}");
    }
}

fn row(org_id: Uuid, channel_id: Uuid, sid: &str) -> InboundEventRow {
    InboundEventRow {
        id: new_id(),
        org_id,
        channel_id,
        provider_event_id: sid.into(),
        kind: "message".into(),
        payload: vec![1, 2, 3],
        received_ms: now_ms(),
        processed_ms: None,
        error: None,
    }
}

#[tokio::test]
async fn a_unit_that_cannot_be_stored_does_not_fail_its_batch() {
    for t in TestApp::all().await {
        let l = t.label;
        let (org_id, channel, _) = twilio_channel(&t, "gc-bad@inbox.test").await;
        let writer = Arc::new(GroupCommit::new());
        // Spawned together on this test's one thread, all are queued before
        // the writer runs: one batch, whose 7th unit names a channel that
        // does not exist.
        let handles: Vec<_> = (0..12)
            .map(|i| {
                let target = if i == 6 { Uuid::now_v7() } else { channel };
                let rows = vec![row(org_id, target, &format!("SMbad{i}a")), row(org_id, target, &format!("SMbad{i}b"))];
                let (writer, db) = (writer.clone(), t.app.db().clone());
                tokio::spawn(async move { writer.store(&db, Unit { org_id, rows, now: now_ms() }).await })
            })
            .collect();
        let mut outcomes = Vec::new();
        for h in handles {
            outcomes.push(h.await.unwrap());
        }
        let stats = writer.stats();
        assert_eq!(
            (stats.largest_batch, stats.retried_alone),
            (12, 12),
            "{l}: one batch, then each unit alone: {stats:?}"
        );
        let db = t.app.db();
        for (i, o) in outcomes.iter().enumerate() {
            if i == 6 {
                assert!(o.is_err(), "{l}: the unit for a missing channel fails: {o:?}");
            } else {
                assert_eq!(o.as_ref().unwrap(), &(2, 0), "{l}: unit {i}");
            }
        }
        assert_eq!(count(&t, "SELECT COUNT(*) FROM inbound_events").await, 22, "{l}");
        assert_eq!(count(&t, "SELECT COUNT(*) FROM jobs WHERE kind = 'inbox.process'").await, 22, "{l}");
        // The same events again: stored once, every unit told so.
        let again = Unit { org_id, rows: vec![row(org_id, channel, "SMbad0a"), row(org_id, channel, "SMnew")], now: 0 };
        assert_eq!(writer.store(db, again).await.unwrap(), (1, 1), "{l}");
        assert_eq!(count(&t, "SELECT COUNT(*) FROM inbound_events").await, 23, "{l}");
    }
}
