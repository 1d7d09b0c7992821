//! Rate limits of messages sent as several provider calls (Messenger,
//! Instagram and Viber carry one file per message: each file, then the
//! text, is a call of its own), on both backends: every call takes a slot of
//! the sender's limit, so a Messenger stand-in never sees more calls in a
//! second than the limit; a send deferred between two of its calls resumes
//! where it stopped, sending nothing twice; a per-recipient interval spaces
//! a message's calls to one person; and a contact who opts out while a call
//! waits for its slot gets nothing more.

use crate::inbox_outbound::{count, max_in_window};
use crate::support::*;
use kith_app::inbox::attachments;
use kith_app::inbox::channels::{self, NewChannel};
use kith_app::inbox::conversations::{self, ConversationQuery};
use kith_app::inbox::ingest;
use kith_app::inbox::outbound::{self, OutboundMessage};
use kith_app::worker::{Registry, Worker};
use kith_app::{App, AppSettings, ProviderBases};
use kith_domain::time::now_ms;
use kith_domain::{Context, PageRequest};
use kith_testkit::{TestApp, TestDb};
use serde_json::{json, Map, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

const SECRET: &str = "meta-pacing-secret";

/// The Graph API calls the stand-in received: when, and the body.
type Calls = Arc<Mutex<Vec<(Instant, Value)>>>;

/// A Graph API stand-in (`/graph/{page}/messages`) that records each send
/// and answers with a new message id.
async fn graph_stand_in() -> (String, Calls) {
    let calls: Calls = Arc::default();
    let state = calls.clone();
    let router = axum::Router::new().route(
        "/graph/{node}/messages",
        axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
            let calls = state.clone();
            async move {
                let n = {
                    let mut calls = calls.lock().unwrap();
                    calls.push((Instant::now(), body.clone()));
                    calls.len()
                };
                axum::Json(json!({"recipient_id": body["recipient"]["id"], "message_id": format!("m_out{n}")}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (base, calls)
}

async fn apps() -> Vec<(TestApp, Calls)> {
    let mut out = Vec::new();
    for db in TestDb::all().await {
        let (base, calls) = graph_stand_in().await;
        let settings = AppSettings {
            provider_bases: ProviderBases { meta_graph: format!("{base}/graph"), ..ProviderBases::default() },
            ..kith_testkit::app::test_settings()
        };
        out.push((TestApp::new(db, settings), calls));
    }
    out
}

/// A Messenger channel with these `rate_limits`.
async fn messenger(app: &App, ctx: &Context, limits: Value) -> Uuid {
    let mut config: Map<String, Value> =
        [("page_id", "PAGE1"), ("page_access_token", "page-token"), ("app_secret", SECRET), ("verify_token", "v")]
            .iter()
            .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
            .collect();
    config.insert("rate_limits".into(), limits);
    let input = NewChannel { kind: "messenger".into(), name: "Page".into(), config };
    channels::create(app, ctx, &input).await.unwrap().id
}

/// A Messenger message in from a new `psid`, processed: its (new, so newest) conversation.
async fn inbound(app: &App, ctx: &Context, channel: Uuid, psid: &str) -> Uuid {
    let now = now_ms();
    let body = json!({"object": "page", "entry": [{"id": "PAGE1", "time": now, "messaging": [{
        "sender": {"id": psid}, "recipient": {"id": "PAGE1"}, "timestamp": now,
        "message": {"mid": format!("in-{psid}"), "text": "hello"}}]}]})
    .to_string()
    .into_bytes();
    let sig = kith_providers::meta::sign(SECRET, &body);
    ingest::meta(app, channel, &body, Some(&sig)).await.unwrap();
    crate::inbox::drain(app).await;
    let q = ConversationQuery { channel_id: Some(channel), ..Default::default() };
    let page = conversations::list(app, ctx, &q, &PageRequest::new(Some(200), None)).await.unwrap();
    page.items.first().map(|c| c.id).expect("the newest conversation is this one")
}

/// Queue a reply of `files` uploads (named after `tag`) and `body`: the
/// attachments' ids, in order.
async fn reply(app: &App, ctx: &Context, conv: Uuid, tag: &str, files: usize, body: &str) -> Vec<Uuid> {
    let mut ids = Vec::new();
    for i in 0..files {
        let data = kith_app::objects::once(format!("{tag} file {i}").into_bytes().into());
        let name = format!("{tag}-{i}.pdf");
        ids.push(attachments::upload(app, ctx, conv, &name, Some("application/pdf"), data).await.unwrap().id);
    }
    let msg = OutboundMessage { attachment_ids: ids.clone(), ..OutboundMessage::text(body) };
    outbound::send(app, ctx, conv, &msg).await.unwrap();
    ids
}

/// What a call carried: `file:<attachment id>` or `text:<body>`.
fn what(body: &Value, files: &[Uuid]) -> String {
    if let Some(text) = body["message"]["text"].as_str() {
        return format!("text:{text}");
    }
    let url = body["message"]["attachment"]["payload"]["url"].as_str().unwrap_or_default();
    match files.iter().find(|id| url.contains(&id.to_string())) {
        Some(id) => format!("file:{id}"),
        None => format!("unknown:{url}"),
    }
}

const SENT: &str = "SELECT COUNT(*) FROM messages WHERE direction = 'out' AND state = 'sent'";

#[tokio::test]
async fn every_call_of_a_message_with_files_takes_a_slot_of_the_senders_limit() {
    for (t, calls) in apps().await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user("pacing@files.test").await;
        let o = owner_ctx(app, &owner).await;
        let ch = messenger(app, &o, json!({"per_second": 2})).await;
        let (a, b) = (inbound(app, &o, ch, "PSID_A").await, inbound(app, &o, ch, "PSID_B").await);
        // 13 calls: 3 files + text, 2 files + text, 3 files alone, 2 files + text.
        let messages = [(a, 3, "first"), (b, 2, "second"), (a, 3, ""), (b, 2, "fourth")];
        let mut expected: Vec<Vec<String>> = Vec::new();
        let mut files = Vec::new();
        for (n, (conv, k, body)) in messages.iter().enumerate() {
            let ids = reply(app, &o, *conv, &format!("m{n}"), *k, body).await;
            let mut calls: Vec<String> = ids.iter().map(|id| format!("file:{id}")).collect();
            if !body.is_empty() {
                calls.push(format!("text:{body}"));
            }
            expected.push(calls);
            files.extend(ids);
        }
        assert!(calls.lock().unwrap().is_empty(), "{l}");

        let (stop, stopped) = tokio::sync::watch::channel(false);
        let workers: Vec<_> = (0..2)
            .map(|_| {
                let w = Worker::new(app.clone(), Registry::standard()).with_idle_wait(Duration::from_millis(50));
                tokio::spawn(w.run(stopped.clone()))
            })
            .collect();
        let started = Instant::now();
        while count(&t, SENT).await < 4 {
            assert!(started.elapsed() < Duration::from_secs(60), "{l}: all sent within a minute");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        stop.send(true).unwrap();
        for w in workers {
            w.await.unwrap();
        }

        let calls = calls.lock().unwrap().clone();
        let seen: Vec<String> = calls.iter().map(|(_, body)| what(body, &files)).collect();
        let mut all: Vec<String> = expected.concat();
        assert_eq!(seen.len(), all.len(), "{l}: {seen:?}");
        let mut sorted = seen.clone();
        sorted.sort();
        all.sort();
        assert_eq!(sorted, all, "{l}: every file and text sent exactly once");
        for m in &expected {
            let order: Vec<&String> = seen.iter().filter(|s| m.contains(*s)).collect();
            assert_eq!(order, m.iter().collect::<Vec<_>>(), "{l}: a message's calls keep their order");
        }
        let times: Vec<Instant> = calls.iter().map(|(at, _)| *at).collect();
        let most = max_in_window(&times, Duration::from_secs(1));
        assert!(most <= 2, "{l}: {most} calls within one second");
        // 13 calls at 2/s take about six seconds, not much more.
        let span = *times.iter().max().unwrap() - *times.iter().min().unwrap();
        assert!(span >= Duration::from_millis(6_000) && span < Duration::from_secs(20), "{l}: {span:?}");
        let marked = "SELECT COUNT(*) FROM attachments WHERE provider_message_id IS NOT NULL";
        assert_eq!(count(&t, marked).await, files.len() as i64, "{l}");
        assert_eq!(count(&t, "SELECT COUNT(*) FROM jobs").await, 0, "{l}: every job finished");
        assert_eq!(count(&t, "SELECT COUNT(*) FROM messages WHERE state = 'failed'").await, 0, "{l}");
    }
}

/// Outside a running worker nothing waits in memory: each call whose slot
/// is not free yet defers the job to it, and the job resumes with the next
/// call, in the slot recorded on the message.
#[tokio::test]
async fn a_send_deferred_between_two_calls_resumes_without_sending_anything_twice() {
    for (t, calls) in apps().await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user("resume@files.test").await;
        let o = owner_ctx(app, &owner).await;
        let ch = messenger(app, &o, json!({"per_second": 2})).await;
        let conv = inbound(app, &o, ch, "PSID_R").await;
        let files = reply(app, &o, conv, "r", 2, "and the text").await;
        let w = Worker::new(app.clone(), Registry::standard());
        let slot = "SELECT COALESCE(MAX(slot_ms), -1) FROM outbound_messages";
        let run_at = "SELECT COALESCE(MAX(run_at_ms), -1) FROM jobs WHERE kind = 'inbox.send' AND status = 'queued'";
        let marked = "SELECT COUNT(*) FROM attachments WHERE provider_message_id IS NOT NULL";

        // Each run makes one call, then defers to the next call's slot.
        for made in 1..=2 {
            assert_eq!(w.run_once().await.unwrap(), 1, "{l}");
            assert_eq!(calls.lock().unwrap().len(), made, "{l}: one call in this run");
            assert_eq!(count(&t, marked).await, made as i64, "{l}: the sent file is marked");
            assert_eq!(count(&t, SENT).await, 0, "{l}: the message is not sent yet");
            let (at, slot_ms) = (count(&t, run_at).await, count(&t, slot).await);
            assert!(at > now_ms() - 1_000, "{l}: deferred ({at})");
            // To the slot recorded on the message, less the sender's
            // tolerance (a send may go that much early; 4 ms at 2/s) and
            // the claim's lead (it claims that much before it goes).
            let early = 4 + kith_app::inbox::ratelimit::CLAIM_LEAD_MS;
            assert!(at <= slot_ms && slot_ms - at <= early, "{l}: deferred to {at}, the slot is {slot_ms}");
            assert_eq!(count(&t, "SELECT attempts FROM jobs").await, 0, "{l}: no attempt spent");
            assert_eq!(w.run_once().await.unwrap(), 0, "{l}: not due yet");
            tokio::time::sleep(Duration::from_millis((at - now_ms()).max(0) as u64 + 5)).await;
        }
        assert_eq!(w.run_once().await.unwrap(), 1, "{l}");
        assert_eq!(count(&t, SENT).await, 1, "{l}");
        assert_eq!(count(&t, "SELECT COUNT(*) FROM jobs").await, 0, "{l}");

        let calls = calls.lock().unwrap().clone();
        let seen: Vec<String> = calls.iter().map(|(_, body)| what(body, &files)).collect();
        let expected = vec![format!("file:{}", files[0]), format!("file:{}", files[1]), "text:and the text".into()];
        assert_eq!(seen, expected, "{l}: each call once, in order");
        for pair in calls.windows(2) {
            let gap = pair[1].0 - pair[0].0;
            assert!(gap >= Duration::from_millis(480), "{l}: calls {gap:?} apart on a 2/s sender");
        }
        // The message keeps the text's id; each file keeps its own.
        let text_id = "SELECT COUNT(*) FROM messages WHERE direction = 'out' AND provider_message_id = 'm_out3'";
        assert_eq!(count(&t, text_id).await, 1, "{l}");
    }
}

/// A call waiting in memory for its slot checks consent again when it
/// wakes: a contact who opted out meanwhile gets nothing more, and the
/// message fails with `contact_opted_out`.
#[tokio::test]
async fn an_opt_out_while_a_call_waits_for_its_slot_stops_the_rest_of_the_message() {
    for (t, calls) in apps().await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user("optout@files.test").await;
        let o = owner_ctx(app, &owner).await;
        let ch = messenger(app, &o, json!({"per_second": 1})).await;
        let conv = inbound(app, &o, ch, "PSID_O").await;
        let contact_id = conversations::get(app, &o, conv).await.unwrap().contact.id;
        reply(app, &o, conv, "o", 2, "more").await;

        let (stop, stopped) = tokio::sync::watch::channel(false);
        let w = Worker::new(app.clone(), Registry::standard()).with_idle_wait(Duration::from_millis(20));
        let worker = tokio::spawn(w.run(stopped));
        let started = Instant::now();
        while calls.lock().unwrap().is_empty() {
            assert!(started.elapsed() < Duration::from_secs(10), "{l}: the first file goes");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // The second file waits ~1 s for its slot; the contact opts out now.
        let entry = kith_store::inbox::ConsentRow {
            id: kith_domain::new_id(),
            org_id: o.org_id,
            contact_id,
            channel_kind: "messenger".into(),
            channel_id: Some(ch),
            kind: "opt_out".into(),
            source: "keyword".into(),
            message_id: None,
            actor_id: None,
            at_ms: now_ms(),
        };
        let mut tx = app.db().begin().await.unwrap();
        kith_store::inbox::insert_consent(&mut tx, &entry).await.unwrap();
        tx.commit().await.unwrap();
        let failed = "SELECT COUNT(*) FROM messages WHERE state = 'failed' AND error_code = 'contact_opted_out'";
        while count(&t, failed).await < 1 {
            assert!(started.elapsed() < Duration::from_secs(10), "{l}: the message fails");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(1_200)).await;
        stop.send(true).unwrap();
        worker.await.unwrap();
        assert_eq!(calls.lock().unwrap().len(), 1, "{l}: nothing after the opt-out");
        let marked = "SELECT COUNT(*) FROM attachments WHERE provider_message_id IS NOT NULL";
        assert_eq!(count(&t, marked).await, 1, "{l}");
        assert_eq!(count(&t, "SELECT COUNT(*) FROM jobs WHERE kind = 'inbox.send'").await, 0, "{l}");
    }
}

/// Where the channel limits sends to one person, a message's calls to that
/// person are spaced by the interval; a send to someone else goes meanwhile.
#[tokio::test]
async fn a_recipient_interval_spaces_the_calls_of_a_message_to_one_person() {
    for (t, calls) in apps().await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user("recipient@files.test").await;
        let o = owner_ctx(app, &owner).await;
        let ch = messenger(app, &o, json!({"per_second": 50, "recipient_interval_seconds": 0.5})).await;
        let a = inbound(app, &o, ch, "PSID_P").await;
        let b = inbound(app, &o, ch, "PSID_Q").await;
        let files = reply(app, &o, a, "p", 2, "to P").await;
        reply(app, &o, b, "q", 0, "to Q").await;

        let (stop, stopped) = tokio::sync::watch::channel(false);
        let w = Worker::new(app.clone(), Registry::standard()).with_idle_wait(Duration::from_millis(20));
        let worker = tokio::spawn(w.run(stopped));
        let started = Instant::now();
        while count(&t, SENT).await < 2 {
            assert!(started.elapsed() < Duration::from_secs(20), "{l}: both sent");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        stop.send(true).unwrap();
        worker.await.unwrap();

        let calls = calls.lock().unwrap().clone();
        let to = |c: &(Instant, Value)| c.1["recipient"]["id"].as_str().unwrap_or_default().to_string();
        let to_p: Vec<&(Instant, Value)> = calls.iter().filter(|c| to(c) == "PSID_P").collect();
        let seen: Vec<String> = to_p.iter().map(|(_, body)| what(body, &files)).collect();
        let expected = vec![format!("file:{}", files[0]), format!("file:{}", files[1]), "text:to P".into()];
        assert_eq!(seen, expected, "{l}");
        for pair in to_p.windows(2) {
            let gap = pair[1].0 - pair[0].0;
            // 510 ms apart when claimed; a little less may show between claim and call.
            assert!(gap >= Duration::from_millis(480), "{l}: calls to one person {gap:?} apart");
        }
        let q = calls.iter().find(|c| to(c) == "PSID_Q").expect("the other send went");
        assert!(q.0 < to_p[2].0, "{l}: the other recipient's send did not wait for this message");
    }
}

/// Quiet hours hold an automated first message before it starts, not
/// halfway: a message deferred between two of its calls, when the window
/// closes meanwhile where the contact is, sends the rest when its job runs.
#[tokio::test]
async fn a_message_whose_files_started_going_is_not_held_halfway_by_quiet_hours() {
    use kith_app::crm::contacts::{self, ContactInput};
    use kith_app::inbox::outbound::Origin;
    use kith_domain::quiet_hours::{self, Window};
    for (t, calls) in apps().await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user("quiet@files.test").await;
        let o = owner_ctx(app, &owner).await;
        let ch = messenger(app, &o, json!({"per_second": 2})).await;
        let conv = inbound(app, &o, ch, "PSID_Q").await;
        let contact_id = conversations::get(app, &o, conv).await.unwrap().contact.id;
        let now = now_ms();
        let zone =
            |open: bool| quiet_hours::ZONES.iter().find(|z| z.allows(Window::DEFAULT, now) == open).unwrap().name;
        let o = &o;
        let set_zone = |name: &'static str| async move {
            let c = contacts::get(app, o, contact_id).await.unwrap();
            let patch = ContactInput { time_zone: Some(name.to_string()), ..Default::default() };
            contacts::update(app, o, contact_id, &patch, Some(c.version)).await.unwrap();
        };
        set_zone(zone(true)).await;
        // The customer last wrote two days ago: an automated message is a first message.
        let two_days = 2 * 24 * 3_600_000;
        let older = format!("UPDATE conversations SET last_inbound_ms = last_inbound_ms - {two_days}");
        kith_testkit::raw_execute(&t.db.raw_url, &older).await;
        let mut ids = Vec::new();
        for i in 0..2 {
            let data = kith_app::objects::once(format!("quiet file {i}").into_bytes().into());
            let name = format!("quiet-{i}.pdf");
            ids.push(attachments::upload(app, o, conv, &name, Some("application/pdf"), data).await.unwrap().id);
        }
        let msg = OutboundMessage {
            attachment_ids: ids,
            origin: Some(Origin::Automated),
            ..OutboundMessage::text("Your documents")
        };
        let queued = outbound::send(app, o, conv, &msg).await.unwrap();
        assert_eq!(queued.hold_until_ms, None, "{l}: the window is open where the contact is");
        let w = Worker::new(app.clone(), Registry::standard());
        assert_eq!(w.run_once().await.unwrap(), 1, "{l}");
        assert_eq!(calls.lock().unwrap().len(), 1, "{l}: the first file went, the job waits for the next slot");

        // The window closes where the contact is: the rest still goes.
        set_zone(zone(false)).await;
        for _ in 0..2 {
            let at = count(&t, "SELECT MIN(run_at_ms) FROM jobs WHERE kind = 'inbox.send'").await;
            assert!(at - now_ms() < 2_000, "{l}: the job waits for its next slot, not for the window to open");
            tokio::time::sleep(Duration::from_millis((at - now_ms()).max(0) as u64 + 5)).await;
            assert_eq!(w.run_once().await.unwrap(), 1, "{l}");
        }
        assert_eq!(calls.lock().unwrap().len(), 3, "{l}: the second file and the text followed");
        assert_eq!(count(&t, SENT).await, 1, "{l}");
        assert_eq!(count(&t, "SELECT COUNT(*) FROM jobs").await, 0, "{l}");

        // A new automated message now is held before it starts.
        let held = outbound::send(
            app,
            o,
            conv,
            &OutboundMessage { origin: Some(Origin::Automated), ..OutboundMessage::text("Later") },
        )
        .await
        .unwrap();
        assert!(held.hold_until_ms.is_some(), "{l}: held");
    }
}
