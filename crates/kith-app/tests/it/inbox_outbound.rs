//! The outbound half of the inbox on both backends: per-sender rate limits
//! across concurrent workers, a provider's 429, quiet hours for automated
//! first messages, and an opt-out learned from Twilio's 21610.

use crate::inbox::drain;
use crate::support::*;
use kith_app::crm::contacts::{self, ContactInput};
use kith_app::inbox::channels::{self, NewChannel};
use kith_app::inbox::conversations::{self, ConversationQuery};
use kith_app::inbox::ingest;
use kith_app::inbox::messages::{self, NewMessage};
use kith_app::inbox::outbound::{self, Origin, OutboundMessage};
use kith_app::worker::{Registry, Worker};
use kith_app::{App, AppSettings, ErrorCode, ProviderBases};
use kith_domain::quiet_hours::{self, Window};
use kith_domain::time::now_ms;
use kith_domain::{Context, PageRequest};
use kith_testkit::{TestApp, TestDb};
use serde_json::{json, Map, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

const AUTH_TOKEN: &str = "twilio-auth-token-secret";
const HOOK_URL: &str = "https://kith.example.com/hooks/twilio";

/// What the Twilio stand-in answers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Answer {
    Accept,
    /// 429 with `Retry-After: 1`, then accept.
    TooManyOnce,
    /// 400 with code 21610 (the recipient replied STOP).
    OptedOut,
    /// 503 once, then accept.
    UnavailableOnce,
}

/// A Twilio Messages API stand-in that records when each call arrived and its form.
#[derive(Clone)]
struct Twilio {
    calls: Arc<Mutex<Vec<(Instant, String)>>>,
    answer: Arc<Mutex<Answer>>,
}

impl Twilio {
    fn calls(&self) -> Vec<(Instant, String)> {
        self.calls.lock().unwrap().clone()
    }
}

async fn twilio_stand_in(answer: Answer) -> (String, Twilio) {
    let t = Twilio { calls: Arc::default(), answer: Arc::new(Mutex::new(answer)) };
    let state = t.clone();
    let router = axum::Router::new().route(
        "/2010-04-01/Accounts/{sid}/Messages.json",
        axum::routing::post(move |body: String| {
            let t = state.clone();
            async move {
                use axum::http::StatusCode;
                use axum::response::IntoResponse;
                let n = {
                    let mut calls = t.calls.lock().unwrap();
                    calls.push((Instant::now(), body));
                    calls.len()
                };
                let answer = *t.answer.lock().unwrap();
                match answer {
                    Answer::Accept => {
                        (StatusCode::CREATED, axum::Json(json!({"sid": format!("SMout{n}"), "status": "queued"})))
                            .into_response()
                    }
                    Answer::TooManyOnce => {
                        *t.answer.lock().unwrap() = Answer::Accept;
                        (
                            StatusCode::TOO_MANY_REQUESTS,
                            [("retry-after", "1")],
                            axum::Json(json!({"code": 20429, "message": "Too Many Requests", "status": 429})),
                        )
                            .into_response()
                    }
                    Answer::UnavailableOnce => {
                        *t.answer.lock().unwrap() = Answer::Accept;
                        (StatusCode::SERVICE_UNAVAILABLE, axum::Json(json!({"code": 20503, "status": 503})))
                            .into_response()
                    }
                    Answer::OptedOut => (
                        StatusCode::BAD_REQUEST,
                        axum::Json(json!({
                            "code": 21610,
                            "message": "Attempt to send to unsubscribed recipient",
                            "more_info": "https://www.twilio.com/docs/errors/21610",
                            "status": 400
                        })),
                    )
                        .into_response(),
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (format!("http://{addr}"), t)
}

async fn apps(answer: Answer) -> Vec<(TestApp, Twilio)> {
    let mut out = Vec::new();
    for db in TestDb::all().await {
        let (base, t) = twilio_stand_in(answer).await;
        let settings = AppSettings {
            provider_bases: ProviderBases { twilio: base, ..ProviderBases::default() },
            ..kith_testkit::app::test_settings()
        };
        out.push((TestApp::new(db, settings), t));
    }
    out
}

async fn twilio_channel(app: &App, ctx: &Context, per_second: Option<f64>) -> Uuid {
    let mut config: Map<String, Value> =
        [("account_sid", "AC123"), ("auth_token", AUTH_TOKEN), ("from", "+15550000000")]
            .iter()
            .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
            .collect();
    if let Some(r) = per_second {
        config.insert("rate_limits".into(), json!({"per_second": r}));
    }
    let input = NewChannel { kind: "twilio_sms".into(), name: "Desk".into(), config };
    channels::create(app, ctx, &input).await.unwrap().id
}

fn sms(sid: &str, from: &str, text: &str) -> Vec<u8> {
    let pairs = [("MessageSid", sid), ("AccountSid", "AC123"), ("From", from), ("To", "+15550000000"), ("Body", text)];
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", v.replace('+', "%2B").replace(' ', "+")))
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}

/// An inbound SMS from a new number, processed: returns its (new, so newest) conversation.
async fn inbound(app: &App, ctx: &Context, channel: Uuid, sid: &str, from: &str) -> Uuid {
    let url = format!("{HOOK_URL}/{channel}");
    let body = sms(sid, from, "hello");
    let sig = kith_providers::twilio::compute_signature(AUTH_TOKEN, &url, &kith_providers::twilio::form_pairs(&body));
    ingest::twilio(app, channel, &url, &body, Some(&sig)).await.unwrap();
    drain(app).await;
    let page =
        conversations::list(app, ctx, &ConversationQuery::default(), &PageRequest::new(Some(200), None)).await.unwrap();
    let _ = from;
    page.items.first().map(|c| c.id).expect("the newest conversation is this one")
}

pub(crate) async fn count(t: &TestApp, sql: &str) -> i64 {
    kith_testkit::raw_i64(&t.db.raw_url, sql).await
}

/// The most calls that arrived within any window of `window` starting at a call.
pub(crate) fn max_in_window(times: &[Instant], window: Duration) -> usize {
    let mut sorted = times.to_vec();
    sorted.sort();
    (0..sorted.len()).map(|i| sorted[i..].iter().take_while(|t| **t - sorted[i] < window).count()).max().unwrap_or(0)
}

#[tokio::test]
async fn fifty_replies_on_a_five_per_second_sender_drained_by_two_workers_keep_the_limit() {
    for (t, twilio) in apps(Answer::Accept).await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user("rate@outbound.test").await;
        let o = owner_ctx(app, &owner).await;
        let ch = twilio_channel(app, &o, Some(5.0)).await;
        let mut convs = Vec::new();
        for i in 0..10 {
            convs.push(inbound(app, &o, ch, &format!("SMin{i}"), &format!("+1555444000{i}")).await);
        }
        assert_eq!(twilio.calls().len(), 0, "{l}");
        for n in 0..50 {
            messages::send(app, &o, convs[n % 10], &NewMessage { body: format!("reply {n}") }).await.unwrap();
        }

        let (stop, stopped) = tokio::sync::watch::channel(false);
        let workers: Vec<_> = (0..2)
            .map(|_| {
                let w = Worker::new(app.clone(), Registry::standard()).with_idle_wait(Duration::from_millis(50));
                tokio::spawn(w.run(stopped.clone()))
            })
            .collect();
        let started = Instant::now();
        while count(&t, "SELECT COUNT(*) FROM messages WHERE direction = 'out' AND state = 'sent'").await < 50 {
            assert!(started.elapsed() < Duration::from_secs(60), "{l}: all sent within a minute");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        stop.send(true).unwrap();
        for w in workers {
            w.await.unwrap();
        }

        let calls = twilio.calls();
        assert_eq!(calls.len(), 50, "{l}: every message sent exactly once");
        let mut bodies: Vec<String> = calls.iter().map(|(_, b)| b.clone()).collect();
        bodies.sort();
        bodies.dedup();
        assert_eq!(bodies.len(), 50, "{l}: no message sent twice");
        let times: Vec<Instant> = calls.iter().map(|(at, _)| *at).collect();
        let most = max_in_window(&times, Duration::from_secs(1));
        assert!(most <= 5, "{l}: {most} calls within one second");
        // 50 sends at 5/s take about ten seconds, not much more.
        let span = *times.iter().max().unwrap() - *times.iter().min().unwrap();
        assert!(span >= Duration::from_millis(9_500) && span < Duration::from_secs(20), "{l}: {span:?}");
        assert_eq!(count(&t, "SELECT COUNT(*) FROM jobs").await, 0, "{l}: every job finished");
        assert_eq!(count(&t, "SELECT COUNT(*) FROM messages WHERE state = 'failed'").await, 0, "{l}");
    }
}

#[tokio::test]
async fn a_providers_429_pushes_the_sender_back_without_spending_an_attempt() {
    for (t, twilio) in apps(Answer::TooManyOnce).await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user("429@outbound.test").await;
        let o = owner_ctx(app, &owner).await;
        let ch = twilio_channel(app, &o, Some(50.0)).await;
        let conv = inbound(app, &o, ch, "SMin", "+15554440100").await;
        let m = messages::send(app, &o, conv, &NewMessage { body: "hi".into() }).await.unwrap();
        let before = now_ms();
        let w = Worker::new(app.clone(), Registry::standard());
        while w.run_once().await.unwrap() > 0 {}
        assert_eq!(twilio.calls().len(), 1, "{l}");
        let next = count(&t, "SELECT next_ms FROM send_slots WHERE scope = ''").await;
        assert!(next >= before + 1_000, "{l}: the sender waits for Retry-After");
        assert_eq!(count(&t, "SELECT attempts FROM jobs").await, 0, "{l}: no attempt spent");
        assert_eq!(count(&t, "SELECT throttled FROM outbound_messages").await, 1, "{l}");
        drain(app).await;
        let calls = twilio.calls();
        assert_eq!(calls.len(), 2, "{l}");
        assert!(calls[1].0 - calls[0].0 >= Duration::from_millis(990), "{l}: not before Retry-After");
        let sent = messages::list(app, &o, conv, false, &PageRequest::default()).await.unwrap();
        assert_eq!(sent.items.iter().find(|x| x.id == m.id).unwrap().state, "sent", "{l}");
    }
}

/// A send that waited for its slot and then failed for a passing reason has
/// spent that slot: its retry lines up again instead of presenting the old
/// slot as one it already waited for (which let it go ahead of the line).
#[tokio::test]
async fn a_retry_after_a_failed_call_does_not_keep_the_spent_slot() {
    for (t, twilio) in apps(Answer::Accept).await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user("retry@outbound.test").await;
        let o = owner_ctx(app, &owner).await;
        let ch = twilio_channel(app, &o, Some(2.0)).await;
        let conv = inbound(app, &o, ch, "SMin", "+15554440101").await;
        for body in ["first", "second"] {
            messages::send(app, &o, conv, &NewMessage { body: body.into() }).await.unwrap();
        }
        let w = Worker::new(app.clone(), Registry::standard());
        while w.run_once().await.unwrap() > 0 {}
        assert_eq!(twilio.calls().len(), 1, "{l}: one goes, the other waits for its slot");
        let waiting = "SELECT COUNT(*) FROM outbound_messages WHERE slot_ms IS NOT NULL";
        assert_eq!(count(&t, waiting).await, 1, "{l}: its slot is recorded");
        *twilio.answer.lock().unwrap() = Answer::UnavailableOnce;
        let deadline = Instant::now() + Duration::from_secs(5);
        while twilio.calls().len() < 2 && Instant::now() < deadline {
            w.run_once().await.unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(twilio.calls().len(), 2, "{l}: the other went at its slot and was refused");
        assert_eq!(count(&t, "SELECT attempts FROM jobs").await, 1, "{l}: an attempt spent, a retry queued");
        assert_eq!(count(&t, waiting).await, 0, "{l}: the spent slot is not kept for the retry");
    }
}

#[tokio::test]
async fn twilio_21610_records_an_opt_out_so_nothing_more_is_queued() {
    for (t, twilio) in apps(Answer::OptedOut).await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user("21610@outbound.test").await;
        let o = owner_ctx(app, &owner).await;
        let ch = twilio_channel(app, &o, None).await;
        let conv = inbound(app, &o, ch, "SMin", "+15554440200").await;
        let m = messages::send(app, &o, conv, &NewMessage { body: "hi".into() }).await.unwrap();
        drain(app).await;
        assert_eq!(twilio.calls().len(), 1, "{l}");
        let listed = messages::list(app, &o, conv, false, &PageRequest::default()).await.unwrap();
        let failed = listed.items.iter().find(|x| x.id == m.id).unwrap();
        assert_eq!((failed.state.as_str(), failed.error_code.as_deref()), ("failed", Some("21610")), "{l}");
        assert_eq!(
            count(&t, "SELECT COUNT(*) FROM consent_events WHERE kind = 'opt_out' AND source = 'provider'").await,
            1,
            "{l}: recorded in the ledger"
        );
        let err = messages::send(app, &o, conv, &NewMessage { body: "again".into() }).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::ContactOptedOut, "{l}");
        assert_eq!(twilio.calls().len(), 1, "{l}: nothing more reached Twilio");
    }
}

/// A zone from the table where the default window is closed now, and one where it is open.
fn closed_and_open_zones(now: i64) -> (&'static str, &'static str) {
    let closed = quiet_hours::ZONES.iter().find(|z| !z.allows(Window::DEFAULT, now)).unwrap().name;
    let open = quiet_hours::ZONES.iter().find(|z| z.allows(Window::DEFAULT, now)).unwrap().name;
    (closed, open)
}

#[tokio::test]
async fn quiet_hours_hold_automated_first_messages_but_not_replies_or_agents() {
    for (t, twilio) in apps(Answer::Accept).await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user("quiet@outbound.test").await;
        let o = owner_ctx(app, &owner).await;
        let ch = twilio_channel(app, &o, Some(100.0)).await;
        let conv = inbound(app, &o, ch, "SMin", "+15554440300").await;
        let contact_id = conversations::get(app, &o, conv).await.unwrap().contact.id;
        let now = now_ms();
        let (closed, open) = closed_and_open_zones(now);
        let c = contacts::get(app, &o, contact_id).await.unwrap();
        let patch = ContactInput { time_zone: Some(closed.to_string()), ..Default::default() };
        contacts::update(app, &o, contact_id, &patch, Some(c.version)).await.unwrap();

        // The contact wrote just now: an automated reply is exempt.
        let automated = OutboundMessage { origin: Some(Origin::Automated), ..OutboundMessage::text("Got it") };
        let reply = outbound::send(app, &o, conv, &automated).await.unwrap();
        assert_eq!(reply.hold_until_ms, None, "{l}: a reply within 24 h is exempt");
        drain(app).await;
        assert_eq!(twilio.calls().len(), 1, "{l}");

        // Two days later the same automated message is a first message: held.
        let two_days = 2 * 24 * 3_600_000;
        kith_testkit::raw_execute(
            &t.db.raw_url,
            &format!("UPDATE conversations SET last_inbound_ms = last_inbound_ms - {two_days}"),
        )
        .await;
        let held = outbound::send(app, &o, conv, &automated).await.unwrap();
        let expected = quiet_hours::zone(closed).unwrap().next_open(Window::DEFAULT, now_ms());
        let hold = held.hold_until_ms.expect("held");
        assert!((hold - expected).abs() < 60_000, "{l}: held until the window opens in {closed}");
        assert_eq!(held.state, "queued", "{l}");
        let bulk = OutboundMessage { origin: Some(Origin::Bulk), ..OutboundMessage::text("Sale!") };
        assert!(outbound::send(app, &o, conv, &bulk).await.unwrap().hold_until_ms.is_some(), "{l}: bulk too");
        // An agent's message is never held.
        let agent = outbound::send(app, &o, conv, &OutboundMessage::text("Hi from Ann")).await.unwrap();
        assert_eq!(agent.hold_until_ms, None, "{l}");
        drain(app).await;
        assert_eq!(twilio.calls().len(), 2, "{l}: only the agent's message went");
        assert_eq!(count(&t, "SELECT COUNT(*) FROM messages WHERE state = 'queued'").await, 2, "{l}");

        // When the job runs again the rule is checked again: with the window
        // open where the contact is now, the held messages go.
        let c = contacts::get(app, &o, contact_id).await.unwrap();
        let patch = ContactInput { time_zone: Some(open.to_string()), ..Default::default() };
        contacts::update(app, &o, contact_id, &patch, Some(c.version)).await.unwrap();
        kith_testkit::raw_execute(&t.db.raw_url, "UPDATE jobs SET run_at_ms = 0 WHERE kind = 'inbox.send'").await;
        drain(app).await;
        assert_eq!(twilio.calls().len(), 4, "{l}");
        assert_eq!(count(&t, "SELECT COUNT(*) FROM messages WHERE state = 'queued'").await, 0, "{l}");
    }
}
