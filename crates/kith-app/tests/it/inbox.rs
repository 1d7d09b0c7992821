//! The inbox use cases on both backends: channels keep their secrets,
//! signed webhooks are stored once, processing makes one contact and one
//! conversation per sender (also when two events race), statuses that come
//! early wait for their message, consent keywords hold, and nothing crosses
//! workspaces or reaches a personal contact.

use crate::support::*;
use kith_app::crm::contacts::{self, ContactInput, LabeledValue};
use kith_app::crm::timeline;
use kith_app::inbox::channels::{self, ChannelPatch, NewChannel};
use kith_app::inbox::conversations::{self, ConversationPatch, ConversationQuery, NewNote, Status};
use kith_app::inbox::messages::{self, NewMessage};
use kith_app::inbox::{ingest, process};
use kith_app::worker::{Registry, Worker};
use kith_app::{App, AppError, AppSettings, ErrorCode, ProviderBases};
use kith_domain::crm::RecordType;
use kith_domain::visibility::Visibility;
use kith_domain::{Context, PageRequest, Role};
use kith_testkit::{TestApp, TestDb};
use serde_json::{json, Map, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use uuid::Uuid;

const AUTH_TOKEN: &str = "twilio-auth-token-secret";
const HOOK_URL: &str = "https://kith.example.com/hooks/twilio";

/// A stand-in for Twilio's Messages API: every send is accepted with a new sid.
pub(crate) async fn twilio_stand_in() -> (String, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let router = axum::Router::new().route(
        "/2010-04-01/Accounts/{sid}/Messages.json",
        axum::routing::post(move || {
            let counter = counter.clone();
            async move {
                let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
                (axum::http::StatusCode::CREATED, axum::Json(json!({"sid": format!("SMout{n}"), "status": "queued"})))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (format!("http://{addr}"), calls)
}

/// One app per backend whose Twilio is the stand-in.
async fn apps() -> Vec<(TestApp, Arc<AtomicUsize>)> {
    let mut out = Vec::new();
    for db in TestDb::all().await {
        let (base, calls) = twilio_stand_in().await;
        let settings = AppSettings {
            provider_bases: ProviderBases { twilio: base, ..ProviderBases::default() },
            ..kith_testkit::app::test_settings()
        };
        out.push((TestApp::new(db, settings), calls));
    }
    out
}

pub(crate) fn config(pairs: &[(&str, &str)]) -> Map<String, Value> {
    pairs.iter().map(|(k, v)| (k.to_string(), Value::String(v.to_string()))).collect()
}

pub(crate) async fn twilio_channel(app: &App, ctx: &Context) -> Uuid {
    let input = NewChannel {
        kind: "twilio_sms".into(),
        name: "Front desk".into(),
        config: config(&[("account_sid", "AC123"), ("auth_token", AUTH_TOKEN), ("from", "+15550000000")]),
    };
    channels::create(app, ctx, &input).await.unwrap().id
}

pub(crate) fn form(pairs: &[(&str, &str)]) -> Vec<u8> {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => (b as char).to_string(),
                b' ' => "+".into(),
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    pairs.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&").into_bytes()
}

pub(crate) fn sign(url: &str, body: &[u8]) -> String {
    kith_providers::twilio::compute_signature(AUTH_TOKEN, url, &kith_providers::twilio::form_pairs(body))
}

pub(crate) fn sms(sid: &str, from: &str, text: &str) -> Vec<u8> {
    form(&[
        ("MessageSid", sid),
        ("AccountSid", "AC123"),
        ("From", from),
        ("To", "+15550000000"),
        ("Body", text),
        ("NumMedia", "0"),
        ("SmsStatus", "received"),
    ])
}

/// Post a signed inbound SMS the way the web layer would.
pub(crate) async fn deliver(app: &App, channel: Uuid, body: &[u8]) -> Result<ingest::HookAck, AppError> {
    let url = format!("{HOOK_URL}/{channel}");
    ingest::twilio(app, channel, &url, body, Some(&sign(&url, body))).await
}

/// Run jobs until none is due within 5 s (sends wait for their sender's
/// rate-limit slot: a second reply within a second goes a second later).
pub(crate) async fn drain(app: &App) {
    let w = Worker::new(app.clone(), Registry::standard());
    loop {
        while w.run_once().await.unwrap() > 0 {}
        let now = kith_domain::time::now_ms();
        match kith_store::jobs::next_run_at(app.db()).await.unwrap() {
            Some(at) if at - now < 5_000 => {
                tokio::time::sleep(std::time::Duration::from_millis((at - now).max(1) as u64)).await
            }
            _ => break,
        }
    }
}

async fn count(t: &TestApp, sql: &str) -> i64 {
    kith_testkit::raw_i64(&t.db.raw_url, sql).await
}

#[tokio::test]
async fn channels_hide_their_secrets_and_disconnecting_wipes_them() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user("chan@inbox.test").await;
        let o = owner_ctx(app, &owner).await;
        let member = join(app, &o, "chan-m@inbox.test", Role::Member).await;
        let m = ctx(app, member.org_id, member.user_id).await;

        let input = NewChannel {
            kind: "twilio_sms".into(),
            name: "Desk".into(),
            config: config(&[("account_sid", "AC9"), ("auth_token", AUTH_TOKEN), ("from", "+15550000001")]),
        };
        assert!(matches!(channels::create(app, &m, &input).await, Err(AppError::Forbidden)), "{l}: admins only");
        let missing = NewChannel { config: config(&[("account_sid", "AC9")]), ..input.clone() };
        let fields = invalid_fields(l, "missing token", channels::create(app, &o, &missing).await);
        assert!(
            fields.contains(&"config.auth_token".to_string()) && fields.contains(&"config.from".to_string()),
            "{l}: {fields:?}"
        );
        let unknown = NewChannel { config: config(&[("bot_token", "x")]), kind: "viberr".into(), ..input.clone() };
        assert_eq!(invalid_fields(l, "unknown kind", channels::create(app, &o, &unknown).await), ["kind"], "{l}");
        let extra = NewChannel {
            config: config(&[("account_sid", "AC9"), ("auth_token", "t"), ("from", "+1555"), ("api_base", "http://x")]),
            ..input.clone()
        };
        assert_eq!(
            invalid_fields(l, "operator setting", channels::create(app, &o, &extra).await),
            ["config.api_base"],
            "{l}"
        );

        let c = channels::create(app, &o, &input).await.unwrap();
        assert_eq!(c.secrets_set, ["auth_token"], "{l}");
        assert!(!c.config.contains_key("auth_token"), "{l}: secret never shown");
        assert_eq!(c.config["from"], "+15550000001", "{l}");
        assert!(c.webhook_url.ends_with(&format!("/hooks/twilio/{}", c.id)), "{l}");
        let listed = channels::list(app, &m).await.unwrap();
        assert_eq!(listed.len(), 1, "{l}: members may list");
        assert!(!serde_json::to_string(&listed).unwrap().contains(AUTH_TOKEN), "{l}");
        let raw = kith_testkit::raw_bytes(&t.db.raw_url, "SELECT config FROM channels").await;
        assert!(!String::from_utf8_lossy(&raw[0]).contains(AUTH_TOKEN), "{l}: sealed at rest");

        let patched = channels::update(
            app,
            &o,
            c.id,
            &ChannelPatch {
                name: Some("Desk 2".into()),
                config: Some(config(&[("from", "+15550000002")])),
                ..Default::default()
            },
            Some(c.version),
        )
        .await
        .unwrap();
        assert_eq!((patched.name.as_str(), &patched.config["from"]), ("Desk 2", &json!("+15550000002")), "{l}");
        assert_eq!(patched.secrets_set, ["auth_token"], "{l}: untouched secrets stay");
        assert!(matches!(
            channels::update(app, &o, c.id, &ChannelPatch::default(), Some(c.version)).await,
            Err(AppError::StaleVersion)
        ));

        // A webhook works while connected…
        assert_eq!(deliver(app, c.id, &sms("SMa", "+15551230000", "hi")).await.unwrap().stored, 1, "{l}");
        channels::delete(app, &o, c.id).await.unwrap();
        assert_eq!(
            count(&t, "SELECT COUNT(*) FROM channels WHERE config IS NOT NULL").await,
            0,
            "{l}: credentials deleted at once"
        );
        assert!(channels::list(app, &o).await.unwrap().is_empty(), "{l}");
        // …and is refused once disconnected.
        assert!(matches!(deliver(app, c.id, &sms("SMb", "+15551230000", "hi")).await, Err(AppError::NotFound)), "{l}");
        assert!(matches!(channels::delete(app, &o, c.id).await, Err(AppError::NotFound)), "{l}");
    }
}

#[tokio::test]
async fn inbound_sms_makes_contact_conversation_message_and_timeline_entry() {
    for (t, _) in apps().await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user("in@inbox.test").await;
        let o = owner_ctx(app, &owner).await;
        let ch = twilio_channel(app, &o).await;
        let mut events = app.events().subscribe();

        let bad = sms("SMbad", "+15551110000", "forged");
        let url = format!("{HOOK_URL}/{ch}");
        let r = ingest::twilio(app, ch, &url, &bad, Some("bm90IGl0")).await;
        assert!(matches!(r, Err(AppError::Forbidden)), "{l}: bad signature");
        let r = ingest::twilio(app, ch, &format!("{url}?x=1"), &bad, Some(&sign(&url, &bad))).await;
        assert!(matches!(r, Err(AppError::Forbidden)), "{l}: signature of another URL");
        assert!(matches!(ingest::twilio(app, ch, &url, &bad, None).await, Err(AppError::Forbidden)), "{l}");
        assert_eq!(count(&t, "SELECT COUNT(*) FROM inbound_events").await, 0, "{l}: nothing stored");

        let body = sms("SM100", "+15551110000", "Hello, do you open on Sundays?");
        let ack = deliver(app, ch, &body).await.unwrap();
        assert_eq!((ack.stored, ack.duplicates), (1, 0), "{l}");
        let raw = kith_testkit::raw_bytes(&t.db.raw_url, "SELECT payload FROM inbound_events").await;
        assert!(!String::from_utf8_lossy(&raw[0]).contains("Sundays"), "{l}: raw event sealed");
        drain(app).await;

        let list = conversations::list(app, &o, &ConversationQuery::default(), &PageRequest::default()).await.unwrap();
        assert_eq!(list.items.len(), 1, "{l}");
        let conv = &list.items[0];
        assert_eq!((conv.status, conv.unread, conv.channel.id), (Status::Open, true, ch), "{l}");
        assert_eq!(conv.contact.display_name, "+15551110000", "{l}");
        let contact = contacts::get(app, &o, conv.contact.id).await.unwrap();
        assert_eq!(contact.phones[0].value, "+15551110000", "{l}");
        assert_eq!((contact.visibility, contact.source.as_deref()), (Visibility::Everyone, Some("twilio_sms")), "{l}");

        let msgs = messages::list(app, &o, conv.id, true, &PageRequest::default()).await.unwrap();
        assert_eq!(msgs.items.len(), 1, "{l}");
        assert_eq!(
            (msgs.items[0].direction.as_str(), msgs.items[0].body.as_str()),
            ("in", "Hello, do you open on Sundays?")
        );
        let raw = kith_testkit::raw_bytes(&t.db.raw_url, "SELECT body FROM messages").await;
        assert!(!String::from_utf8_lossy(&raw[0]).contains("Sundays"), "{l}: body sealed");

        let tl = timeline::page(app, &o, RecordType::Contact, contact.id, &PageRequest::default()).await.unwrap();
        let entry = tl.items.iter().find(|i| i.kind == "message").expect("a message entry");
        assert_eq!(entry.message.as_ref().unwrap().preview, "Hello, do you open on Sundays?", "{l}");

        let seen: Vec<&str> = std::iter::from_fn(|| events.try_recv().ok()).map(|e| e.kind).collect();
        assert!(seen.contains(&"message.created") && seen.contains(&"conversation.updated"), "{l}: {seen:?}");

        // Replaying the event changes nothing; the same sender lands in the same conversation.
        let event_id = kith_testkit::raw_ids(&t.db.raw_url, "SELECT id FROM inbound_events").await.remove(0);
        process::process_event(app, event_id).await.unwrap();
        deliver(app, ch, &sms("SM101", "+15551110000", "Anyone?")).await.unwrap();
        drain(app).await;
        assert_eq!(count(&t, "SELECT COUNT(*) FROM contacts").await, 1, "{l}");
        assert_eq!(count(&t, "SELECT COUNT(*) FROM conversations").await, 1, "{l}");
        assert_eq!(count(&t, "SELECT COUNT(*) FROM messages").await, 2, "{l}");
        assert_eq!(count(&t, "SELECT COUNT(*) FROM inbound_events WHERE processed_ms IS NULL").await, 0, "{l}");

        // Read marks are per user.
        let read = conversations::mark_read(app, &o, conv.id).await.unwrap();
        assert!(!read.unread, "{l}");
        let member = join(app, &o, "in-m@inbox.test", Role::Member).await;
        let m = ctx(app, member.org_id, member.user_id).await;
        assert!(conversations::get(app, &m, conv.id).await.unwrap().unread, "{l}: still unread for another member");
    }
}

#[tokio::test]
async fn the_same_event_posted_ten_times_at_once_is_stored_once() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user("dup@inbox.test").await;
        let o = owner_ctx(app, &owner).await;
        let ch = twilio_channel(app, &o).await;
        let body = sms("SMdup", "+15552220000", "once");
        let tasks: Vec<_> = (0..10)
            .map(|_| {
                let (app, body) = (app.clone(), body.clone());
                tokio::spawn(async move { deliver(&app, ch, &body).await.unwrap() })
            })
            .collect();
        let mut stored = 0;
        for task in tasks {
            stored += task.await.unwrap().stored;
        }
        assert_eq!(stored, 1, "{l}: every request answered, one stored");
        assert_eq!(count(&t, "SELECT COUNT(*) FROM inbound_events").await, 1, "{l}");
        assert_eq!(count(&t, "SELECT COUNT(*) FROM jobs WHERE kind = 'inbox.process'").await, 1, "{l}");
    }
}

#[tokio::test]
async fn two_messages_from_a_new_number_processed_together_make_one_contact_and_one_conversation() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user("race@inbox.test").await;
        let o = owner_ctx(app, &owner).await;
        let ch = twilio_channel(app, &o).await;
        for round in 0..3 {
            let from = format!("+1555333000{round}");
            deliver(app, ch, &sms(&format!("SMr{round}a"), &from, "first")).await.unwrap();
            deliver(app, ch, &sms(&format!("SMr{round}b"), &from, "second")).await.unwrap();
        }
        // Two workers drain the queue side by side.
        let (a, b) = (Worker::new(app.clone(), Registry::standard()), Worker::new(app.clone(), Registry::standard()));
        let (ra, rb) = tokio::join!(async { while a.run_once().await.unwrap() > 0 {} }, async {
            while b.run_once().await.unwrap() > 0 {}
        });
        let _ = (ra, rb);
        drain(app).await;
        assert_eq!(count(&t, "SELECT COUNT(*) FROM contacts").await, 3, "{l}: one contact per number");
        assert_eq!(count(&t, "SELECT COUNT(*) FROM conversations").await, 3, "{l}: one conversation per number");
        assert_eq!(count(&t, "SELECT COUNT(*) FROM messages").await, 6, "{l}");

        // The same race through the job function directly, for a fresh number.
        deliver(app, ch, &sms("SMx1", "+15553339999", "a")).await.unwrap();
        deliver(app, ch, &sms("SMx2", "+15553339999", "b")).await.unwrap();
        let ids = kith_testkit::raw_ids(
            &t.db.raw_url,
            "SELECT id FROM inbound_events WHERE processed_ms IS NULL ORDER BY provider_event_id",
        )
        .await;
        assert_eq!(ids.len(), 2, "{l}");
        let (x, y) = tokio::join!(process::process_event(app, ids[0]), process::process_event(app, ids[1]));
        x.unwrap();
        y.unwrap();
        assert_eq!(count(&t, "SELECT COUNT(*) FROM contacts").await, 4, "{l}");
        assert_eq!(count(&t, "SELECT COUNT(*) FROM conversations").await, 4, "{l}");
    }
}

#[tokio::test]
async fn a_personal_contact_with_the_same_phone_is_never_matched() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user("pers@inbox.test").await;
        let o = owner_ctx(app, &owner).await;
        let ch = twilio_channel(app, &o).await;
        let phone = "+15554440000";
        let mine = contacts::create(
            app,
            &o,
            &ContactInput {
                first_name: Some("Private".into()),
                phones: Some(vec![LabeledValue { value: phone.into(), label: None }]),
                visibility: Some(Visibility::Personal),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        deliver(app, ch, &sms("SMp1", phone, "hello")).await.unwrap();
        drain(app).await;
        let list = conversations::list(app, &o, &ConversationQuery::default(), &PageRequest::default()).await.unwrap();
        assert_eq!(list.items.len(), 1, "{l}");
        assert_ne!(list.items[0].contact.id, mine.id, "{l}: a new shared contact, not the personal one");
        let shared = contacts::get(app, &o, list.items[0].contact.id).await.unwrap();
        assert_eq!(shared.visibility, Visibility::Everyone, "{l}");

        // A shared contact with the number is matched.
        let other = "+15554440001";
        let known = contacts::create(
            app,
            &o,
            &ContactInput {
                first_name: Some("Known".into()),
                phones: Some(vec![LabeledValue { value: other.into(), label: None }]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        deliver(app, ch, &sms("SMp2", other, "it's me")).await.unwrap();
        drain(app).await;
        let q = ConversationQuery { contact_id: Some(known.id), ..Default::default() };
        let list = conversations::list(app, &o, &q, &PageRequest::default()).await.unwrap();
        assert_eq!(list.items.len(), 1, "{l}");
        assert_eq!(list.items[0].contact.display_name, "Known", "{l}");
    }
}

#[tokio::test]
async fn stop_opts_out_and_refuses_replies_until_start_and_help_is_answered() {
    for (t, calls) in apps().await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user("stop@inbox.test").await;
        let o = owner_ctx(app, &owner).await;
        let ch = twilio_channel(app, &o).await;
        let from = "+15556660000";
        deliver(app, ch, &sms("SMs1", from, "hi there")).await.unwrap();
        drain(app).await;
        let conv = conversations::list(app, &o, &ConversationQuery::default(), &PageRequest::default())
            .await
            .unwrap()
            .items
            .remove(0);

        let sent = messages::send(app, &o, conv.id, &NewMessage { body: "Hello back".into() }).await.unwrap();
        assert_eq!(sent.state, "queued", "{l}");
        drain(app).await;
        assert_eq!(calls.load(Ordering::SeqCst), 1, "{l}: sent through the provider");

        deliver(app, ch, &sms("SMs2", from, " stop ")).await.unwrap();
        drain(app).await;
        let jobs_before = count(&t, "SELECT COUNT(*) FROM jobs").await;
        let msgs_before = count(&t, "SELECT COUNT(*) FROM messages").await;
        let err = messages::send(app, &o, conv.id, &NewMessage { body: "Are you sure?".into() }).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::ContactOptedOut, "{l}");
        assert_eq!(count(&t, "SELECT COUNT(*) FROM jobs").await, jobs_before, "{l}: nothing queued");
        assert_eq!(count(&t, "SELECT COUNT(*) FROM messages").await, msgs_before, "{l}: nothing stored");

        // HELP is answered even now; START opts back in.
        deliver(app, ch, &sms("SMs3", from, "HELP")).await.unwrap();
        drain(app).await;
        assert_eq!(calls.load(Ordering::SeqCst), 2, "{l}: help reply sent");
        deliver(app, ch, &sms("SMs4", from, "START")).await.unwrap();
        drain(app).await;
        messages::send(app, &o, conv.id, &NewMessage { body: "Welcome back".into() }).await.unwrap();
        drain(app).await;
        assert_eq!(calls.load(Ordering::SeqCst), 3, "{l}");
        assert_eq!(count(&t, "SELECT COUNT(*) FROM consent_events").await, 2, "{l}: opt-out and opt-in recorded");
    }
}

#[tokio::test]
async fn a_status_that_arrives_before_its_message_is_applied_when_the_message_appears() {
    for (t, _) in apps().await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user("status@inbox.test").await;
        let o = owner_ctx(app, &owner).await;
        let ch = twilio_channel(app, &o).await;
        deliver(app, ch, &sms("SMt1", "+15557770000", "hi")).await.unwrap();
        drain(app).await;
        let conv = conversations::list(app, &o, &ConversationQuery::default(), &PageRequest::default())
            .await
            .unwrap()
            .items
            .remove(0);
        // The stand-in will answer the next send with sid SMout1: its callback comes first.
        let status = form(&[("MessageSid", "SMout1"), ("MessageStatus", "delivered"), ("AccountSid", "AC123")]);
        deliver(app, ch, &status).await.unwrap();
        drain(app).await;
        assert_eq!(count(&t, "SELECT COUNT(*) FROM pending_statuses").await, 1, "{l}: kept for later");

        let m = messages::send(app, &o, conv.id, &NewMessage { body: "reply".into() }).await.unwrap();
        drain(app).await;
        let msgs = messages::list(app, &o, conv.id, false, &PageRequest::default()).await.unwrap();
        let out = msgs.items.iter().find(|x| x.id == m.id).unwrap();
        assert_eq!(out.state, "delivered", "{l}: the early status applied");
        assert_eq!(count(&t, "SELECT COUNT(*) FROM pending_statuses").await, 0, "{l}");

        // Later, lower states never move it back; a higher one does.
        let sent = form(&[("MessageSid", "SMout1"), ("MessageStatus", "sent")]);
        deliver(app, ch, &sent).await.unwrap();
        let read = form(&[("MessageSid", "SMout1"), ("MessageStatus", "read")]);
        deliver(app, ch, &read).await.unwrap();
        drain(app).await;
        let msgs = messages::list(app, &o, conv.id, false, &PageRequest::default()).await.unwrap();
        assert_eq!(msgs.items.iter().find(|x| x.id == m.id).unwrap().state, "read", "{l}");
    }
}

fn meta_body(entries: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"object": "whatsapp_business_account", "entry": entries})).unwrap()
}

fn wa_entry(phone_number_id: &str, wamid: &str, from: &str, name: &str, text: &str) -> Value {
    json!({"id": "WABA", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001111", "phone_number_id": phone_number_id},
        "contacts": [{"profile": {"name": name}, "wa_id": from}],
        "messages": [{"from": from, "id": wamid, "timestamp": "1749416383", "type": "text", "text": {"body": text}}]
    }}]})
}

async fn whatsapp_channel(app: &App, ctx: &Context, phone_number_id: &str, secret: &str) -> Uuid {
    let input = NewChannel {
        kind: "whatsapp".into(),
        name: format!("WA {phone_number_id}"),
        config: config(&[
            ("phone_number_id", phone_number_id),
            ("access_token", "EAAG-token"),
            ("app_secret", secret),
            ("verify_token", "verify-me"),
        ]),
    };
    channels::create(app, ctx, &input).await.unwrap().id
}

#[tokio::test]
async fn a_meta_batch_is_routed_to_the_workspace_channels_by_phone_number_id() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user("meta@inbox.test").await;
        let o = owner_ctx(app, &owner).await;
        let other = t.user("meta-other@inbox.test").await;
        let x = owner_ctx(app, &other).await;
        let a = whatsapp_channel(app, &o, "111", "app-secret").await;
        let b = whatsapp_channel(app, &o, "222", "app-secret").await;
        // Another workspace's number: never reachable through this workspace's URL.
        let foreign = whatsapp_channel(app, &x, "333", "app-secret").await;
        let dup = NewChannel {
            kind: "whatsapp".into(),
            name: "again".into(),
            config: config(&[
                ("phone_number_id", "111"),
                ("access_token", "t"),
                ("app_secret", "s"),
                ("verify_token", "v"),
            ]),
        };
        assert_eq!(channels::create(app, &o, &dup).await.unwrap_err().code(), ErrorCode::AlreadyExists, "{l}");

        let body = meta_body(json!([
            wa_entry("111", "wamid.A", "4915111111111", "Ana Alves", "Olá"),
            wa_entry("222", "wamid.B", "4915222222222", "Ben Bauer", "Hallo"),
            wa_entry("333", "wamid.C", "4915333333333", "Cy", "not yours"),
        ]));
        let sig = kith_providers::meta::sign("app-secret", &body);
        assert!(matches!(ingest::meta(app, a, &body, Some("sha256=00")).await, Err(AppError::Forbidden)), "{l}");
        let ack = ingest::meta(app, a, &body, Some(&sig)).await.unwrap();
        assert_eq!((ack.stored, ack.unrouted), (2, 1), "{l}");
        drain(app).await;
        let list = conversations::list(app, &o, &ConversationQuery::default(), &PageRequest::default()).await.unwrap();
        let mut seen: Vec<(Uuid, String)> =
            list.items.iter().map(|c| (c.channel.id, c.contact.display_name.clone())).collect();
        seen.sort();
        let mut want = vec![(a, "Ana Alves".to_string()), (b, "Ben Bauer".to_string())];
        want.sort();
        assert_eq!(seen, want, "{l}");
        let theirs =
            conversations::list(app, &x, &ConversationQuery::default(), &PageRequest::default()).await.unwrap();
        assert!(theirs.items.is_empty(), "{l}: nothing leaked to the other workspace");
        let _ = foreign;

        // The GET handshake.
        assert_eq!(ingest::meta_handshake(app, a, "subscribe", "verify-me", "12345").await.unwrap(), "12345", "{l}");
        assert!(matches!(
            ingest::meta_handshake(app, a, "subscribe", "wrong", "12345").await,
            Err(AppError::Forbidden)
        ));
        assert!(matches!(
            ingest::meta_handshake(app, Uuid::now_v7(), "subscribe", "verify-me", "1").await,
            Err(AppError::NotFound)
        ));
    }
}

#[tokio::test]
async fn conversations_are_patched_labelled_noted_and_kept_inside_their_workspace() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user("conv@inbox.test").await;
        let o = owner_ctx(app, &owner).await;
        let member = join(app, &o, "conv-m@inbox.test", Role::Member).await;
        let m = ctx(app, member.org_id, member.user_id).await;
        let viewer = join(app, &o, "conv-v@inbox.test", Role::Viewer).await;
        let v = ctx(app, viewer.org_id, viewer.user_id).await;
        let stranger = t.user("conv-x@inbox.test").await;
        let x = owner_ctx(app, &stranger).await;
        let ch = twilio_channel(app, &o).await;
        deliver(app, ch, &sms("SMc1", "+15558880000", "hi")).await.unwrap();
        drain(app).await;
        let conv = conversations::list(app, &m, &ConversationQuery::default(), &PageRequest::default())
            .await
            .unwrap()
            .items
            .remove(0);

        assert!(matches!(conversations::get(app, &x, conv.id).await, Err(AppError::NotFound)), "{l}: other workspace");
        assert!(matches!(
            messages::list(app, &x, conv.id, false, &PageRequest::default()).await,
            Err(AppError::NotFound)
        ));
        let patch = ConversationPatch { status: Some(Status::Resolved), ..Default::default() };
        assert!(matches!(conversations::update(app, &x, conv.id, &patch, None).await, Err(AppError::NotFound)), "{l}");
        assert!(matches!(conversations::update(app, &v, conv.id, &patch, None).await, Err(AppError::Forbidden)), "{l}");

        let patch = ConversationPatch {
            assignee_user_id: Some(Some(member.user_id)),
            labels: Some(vec!["VIP".into(), "billing".into(), "vip".into()]),
            ..Default::default()
        };
        let c = conversations::update(app, &m, conv.id, &patch, Some(conv.version)).await.unwrap();
        assert_eq!(c.assignee_user_id, Some(member.user_id), "{l}");
        assert_eq!(c.labels, ["billing", "vip"], "{l}");
        let bad = ConversationPatch { assignee_user_id: Some(Some(stranger.user_id)), ..Default::default() };
        assert_eq!(
            invalid_fields(l, "stranger", conversations::update(app, &m, conv.id, &bad, None).await),
            ["assignee_user_id"]
        );
        let snooze = ConversationPatch { status: Some(Status::Snoozed), ..Default::default() };
        assert_eq!(
            invalid_fields(l, "snooze", conversations::update(app, &m, conv.id, &snooze, None).await),
            ["snoozed_until_ms"]
        );
        assert!(matches!(
            conversations::update(app, &m, conv.id, &ConversationPatch::default(), Some(conv.version)).await,
            Err(AppError::StaleVersion)
        ));

        let mine = ConversationQuery { assignee: Some("me".into()), ..Default::default() };
        assert_eq!(conversations::list(app, &m, &mine, &PageRequest::default()).await.unwrap().items.len(), 1, "{l}");
        assert_eq!(conversations::list(app, &o, &mine, &PageRequest::default()).await.unwrap().items.len(), 0, "{l}");
        let unassigned = ConversationQuery { assignee: Some("unassigned".into()), ..Default::default() };
        assert!(conversations::list(app, &o, &unassigned, &PageRequest::default()).await.unwrap().items.is_empty());
        let labelled = ConversationQuery { label: Some("VIP".into()), ..Default::default() };
        assert_eq!(conversations::list(app, &v, &labelled, &PageRequest::default()).await.unwrap().items.len(), 1);

        // Snoozed, then woken by the contact's next message.
        let until = kith_domain::time::now_ms() + 3_600_000;
        let snooze =
            ConversationPatch { status: Some(Status::Snoozed), snoozed_until_ms: Some(until), ..Default::default() };
        let c = conversations::update(app, &m, conv.id, &snooze, None).await.unwrap();
        assert_eq!((c.status, c.snoozed_until_ms), (Status::Snoozed, Some(until)), "{l}");
        deliver(app, ch, &sms("SMc2", "+15558880000", "still there?")).await.unwrap();
        drain(app).await;
        let c = conversations::get(app, &m, conv.id).await.unwrap();
        assert_eq!((c.status, c.snoozed_until_ms), (Status::Open, None), "{l}: woken up");

        // Snoozed briefly: the wake-up job opens it when the time comes; a
        // snooze replaced by a later one is not cut short by the first job.
        let soon = kith_domain::time::now_ms() + 300;
        let snooze =
            ConversationPatch { status: Some(Status::Snoozed), snoozed_until_ms: Some(soon), ..Default::default() };
        conversations::update(app, &m, conv.id, &snooze, None).await.unwrap();
        drain(app).await;
        let c = conversations::get(app, &m, conv.id).await.unwrap();
        assert_eq!((c.status, c.snoozed_until_ms), (Status::Open, None), "{l}: woken by the job");
        let soon = kith_domain::time::now_ms() + 200;
        let later = soon + 3_600_000;
        for until in [soon, later] {
            let p = ConversationPatch {
                status: Some(Status::Snoozed),
                snoozed_until_ms: Some(until),
                ..Default::default()
            };
            conversations::update(app, &m, conv.id, &p, None).await.unwrap();
        }
        drain(app).await;
        let c = conversations::get(app, &m, conv.id).await.unwrap();
        assert_eq!((c.status, c.snoozed_until_ms), (Status::Snoozed, Some(later)), "{l}: the later snooze holds");
        let open = ConversationPatch { status: Some(Status::Open), ..Default::default() };
        conversations::update(app, &m, conv.id, &open, None).await.unwrap();

        // A private note with @mentions.
        let note = conversations::add_note(
            app,
            &m,
            conv.id,
            &NewNote { body: "@conv@inbox.test can you call them?".into(), mentions: vec![] },
        )
        .await
        .unwrap();
        assert_eq!((note.kind.as_str(), note.mentions.clone()), ("note", vec![owner.user_id]), "{l}");
        let bad = NewNote { body: "hey".into(), mentions: vec![stranger.user_id] };
        assert_eq!(invalid_fields(l, "mention", conversations::add_note(app, &m, conv.id, &bad).await), ["mentions"]);
        assert!(matches!(conversations::add_note(app, &x, conv.id, &bad).await, Err(AppError::NotFound)));

        // Resolved: the next message opens a new conversation.
        let done = ConversationPatch { status: Some(Status::Resolved), ..Default::default() };
        conversations::update(app, &m, conv.id, &done, None).await.unwrap();
        deliver(app, ch, &sms("SMc3", "+15558880000", "one more thing")).await.unwrap();
        drain(app).await;
        let all = conversations::list(app, &m, &ConversationQuery::default(), &PageRequest::default()).await.unwrap();
        assert_eq!(all.items.len(), 2, "{l}");
        let open = ConversationQuery { status: Some("open".into()), ..Default::default() };
        assert_eq!(conversations::list(app, &m, &open, &PageRequest::default()).await.unwrap().items.len(), 1, "{l}");
        let reopen = ConversationPatch { status: Some(Status::Open), ..Default::default() };
        assert_eq!(
            conversations::update(app, &m, conv.id, &reopen, None).await.unwrap_err().code(),
            ErrorCode::AlreadyExists,
            "{l}: one open conversation per contact and channel"
        );
    }
}

#[tokio::test]
async fn merging_contacts_keeps_their_conversations() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user("merge@inbox.test").await;
        let o = owner_ctx(app, &owner).await;
        let ch = twilio_channel(app, &o).await;
        deliver(app, ch, &sms("SMm1", "+15559990001", "from my work phone")).await.unwrap();
        deliver(app, ch, &sms("SMm2", "+15559990002", "from my own phone")).await.unwrap();
        drain(app).await;
        let all = conversations::list(app, &o, &ConversationQuery::default(), &PageRequest::default()).await.unwrap();
        assert_eq!(all.items.len(), 2, "{l}");
        let (keep, other) = (all.items[0].contact.id, all.items[1].contact.id);
        kith_app::crm::duplicates::merge(app, &o, keep, other, None, &nowhere()).await.unwrap();

        let q = ConversationQuery { contact_id: Some(keep), ..Default::default() };
        let mine = conversations::list(app, &o, &q, &PageRequest::default()).await.unwrap();
        assert_eq!(mine.items.len(), 2, "{l}: both conversations kept");
        let open = mine.items.iter().filter(|c| c.status != Status::Resolved).count();
        assert_eq!(open, 1, "{l}: one current conversation per channel");
        assert_eq!(count(&t, "SELECT COUNT(*) FROM messages").await, 2, "{l}");

        // The merged-away number now reaches the kept contact.
        deliver(app, ch, &sms("SMm3", "+15559990002", "again")).await.unwrap();
        drain(app).await;
        assert_eq!(count(&t, "SELECT COUNT(*) FROM contacts").await, 1, "{l}");
        assert_eq!(count(&t, "SELECT COUNT(*) FROM conversations").await, 2, "{l}");
    }
}
