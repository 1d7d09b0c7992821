//! The outbound inbox over HTTP on each backend, against wiremock stand-ins:
//! WhatsApp (text and template, the 24-hour window), Messenger, Instagram
//! and Viber sends through the `inbox.send` job (method, path, auth,
//! fields); a signed Viber webhook; canned responses; failed sends, their
//! retry and the channel's health.

use crate::helpers::{client, code, json};
use kith_app::worker::{Registry, Worker};
use kith_app::{AppSettings, ProviderBases};
use kith_testkit::{spawn_with, TestDb, TestServer};
use reqwest::Method;
use serde_json::{json, Value};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const APP_SECRET: &str = "meta-app-secret";
const VIBER_TOKEN: &str = "44dafb7e0f40021e-61a47a1e6778d187-f2c5a676a07050b3";
const TWILIO_TOKEN: &str = "twilio-auth-token";

/// One server per backend whose providers are one wiremock stand-in.
async fn servers() -> Vec<(TestServer, MockServer)> {
    let mut out = Vec::new();
    for db in TestDb::all().await {
        let mock = MockServer::start().await;
        let settings = AppSettings {
            provider_bases: ProviderBases {
                twilio: mock.uri(),
                meta_graph: format!("{}/v21.0", mock.uri()),
                telegram: mock.uri(),
                viber: format!("{}/pa", mock.uri()),
            },
            ..kith_testkit::app::test_settings()
        };
        let web = kith_web::WebConfig { api_rate_per_second: 0, ..Default::default() };
        out.push((spawn_with(db, settings, web).await, mock));
    }
    out
}

async fn send(s: &TestServer, method: Method, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = client().request(method, s.url(path)).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    json(req.send().await.unwrap()).await
}

/// Run the jobs that are due now.
async fn drain_now(s: &TestServer) {
    let w = Worker::new(s.app.clone(), Registry::standard());
    while w.run_once().await.unwrap() > 0 {}
}

/// Run jobs until none is due within 8 s (sends wait for their rate-limit slot;
/// WhatsApp allows one message to a person every 6 s).
async fn drain(s: &TestServer) {
    loop {
        drain_now(s).await;
        let now = kith_domain::time::now_ms();
        match count(s, "SELECT COALESCE(MIN(run_at_ms), -1) FROM jobs WHERE status = 'queued'").await {
            at if at >= 0 && at - now < 8_000 => {
                tokio::time::sleep(std::time::Duration::from_millis((at - now).max(1) as u64)).await
            }
            _ => break,
        }
    }
}

async fn count(s: &TestServer, sql: &str) -> i64 {
    kith_testkit::raw_i64(&s.raw_url, sql).await
}

async fn channel(s: &TestServer, token: &str, kind: &str, config: Value) -> String {
    let (st, ch) =
        send(s, Method::POST, "/api/v1/channels", token, Some(json!({"kind": kind, "name": kind, "config": config})))
            .await;
    assert_eq!(st, 201, "{kind}: {ch}");
    ch["id"].as_str().unwrap().to_string()
}

async fn post_meta(s: &TestServer, channel: &str, body: &Value) -> u16 {
    let raw = body.to_string();
    let sig = kith_providers::meta::sign(APP_SECRET, raw.as_bytes());
    client()
        .post(s.url(&format!("/hooks/meta/{channel}")))
        .header("content-type", "application/json")
        .header("x-hub-signature-256", sig)
        .body(raw)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The one conversation of a channel.
async fn conversation_of(s: &TestServer, token: &str, channel: &str) -> String {
    let (st, list) = send(s, Method::GET, &format!("/api/v1/conversations?channel={channel}"), token, None).await;
    assert_eq!(st, 200, "{list}");
    let data = list["data"].as_array().unwrap();
    assert_eq!(data.len(), 1, "{list}");
    data[0]["id"].as_str().unwrap().to_string()
}

/// The requests the stand-in received at a path, as JSON bodies with their headers.
async fn received(mock: &MockServer, at: &str) -> Vec<(Value, wiremock::Request)> {
    mock.received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == at)
        .map(|r| (serde_json::from_slice(&r.body).unwrap_or(Value::Null), r))
        .collect()
}

fn auth(r: &wiremock::Request, name: &str) -> String {
    r.headers.get(name).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default()
}

/// WhatsApp's answer to a send, with a new message id each time.
#[derive(Default)]
struct WhatsappIds(std::sync::atomic::AtomicUsize);

impl wiremock::Respond for WhatsappIds {
    fn respond(&self, _: &wiremock::Request) -> ResponseTemplate {
        let n = self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        ResponseTemplate::new(200).set_body_json(json!({"messaging_product": "whatsapp",
            "contacts": [{"input": "16505551234", "wa_id": "16505551234"}], "messages": [{"id": format!("wamid.OUT{n}")}]}))
    }
}

async fn last_message(s: &TestServer, token: &str, conv: &str) -> Value {
    let (st, page) = send(s, Method::GET, &format!("/api/v1/conversations/{conv}/messages"), token, None).await;
    assert_eq!(st, 200);
    page["data"][0].clone()
}

#[tokio::test]
async fn meta_and_viber_replies_reach_their_providers_through_the_send_job() {
    for (s, mock) in servers().await {
        let l = s.label;
        let (_owner, token) = s.user_with_token("meta-out@web.test").await;
        Mock::given(method("POST"))
            .and(path("/v21.0/106540352242922/messages"))
            .and(header("authorization", "Bearer wa-token"))
            .respond_with(WhatsappIds::default())
            .mount(&mock)
            .await;
        Mock::given(method("POST"))
            .and(path("/v21.0/PAGE1/messages"))
            .and(header("authorization", "Bearer page-token"))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(json!({"recipient_id": "PSID1", "message_id": "m_out1"})),
            )
            .mount(&mock)
            .await;
        Mock::given(method("POST"))
            .and(path("/v21.0/IG1/messages"))
            .and(header("authorization", "Bearer ig-token"))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(json!({"recipient_id": "IGSID1", "message_id": "ig_out1"})),
            )
            .mount(&mock)
            .await;
        Mock::given(method("POST"))
            .and(path("/pa/set_webhook"))
            .and(header("x-viber-auth-token", VIBER_TOKEN))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"status": 0, "status_message": "ok"})))
            .mount(&mock)
            .await;
        Mock::given(method("POST"))
            .and(path("/pa/send_message"))
            .and(header("x-viber-auth-token", VIBER_TOKEN))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(
                    json!({"status": 0, "status_message": "ok", "message_token": 5741311803571721087_i64}),
                ),
            )
            .mount(&mock)
            .await;

        let meta = |extra: Value| {
            let mut c = json!({"app_secret": APP_SECRET, "verify_token": "vt"});
            c.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            c
        };
        let wa = channel(
            &s,
            &token,
            "whatsapp",
            meta(json!({"phone_number_id": "106540352242922", "access_token": "wa-token"})),
        )
        .await;
        let fb = channel(&s, &token, "messenger", meta(json!({"page_id": "PAGE1", "page_access_token": "page-token"})))
            .await;
        let ig = channel(
            &s,
            &token,
            "instagram",
            meta(json!({"instagram_account_id": "IG1", "page_access_token": "ig-token"})),
        )
        .await;
        let vb = channel(&s, &token, "viber", json!({"auth_token": VIBER_TOKEN, "sender_name": "Kith Shop"})).await;
        let set = received(&mock, "/pa/set_webhook").await;
        assert_eq!(set.len(), 1, "{l}: Viber told where to deliver");
        assert!(set[0].0["url"].as_str().unwrap().ends_with(&format!("/hooks/viber/{vb}")), "{l}");

        // Inbound on each, signed as each provider signs.
        let now_s = kith_domain::time::now_ms() / 1000;
        let wa_in = json!({"object": "whatsapp_business_account", "entry": [{"id": "WABA", "changes": [{"field": "messages",
            "value": {"messaging_product": "whatsapp",
                      "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
                      "contacts": [{"profile": {"name": "Sheena Nelson"}, "wa_id": "16505551234"}],
                      "messages": [{"from": "16505551234", "id": "wamid.IN1", "timestamp": now_s.to_string(),
                                    "type": "text", "text": {"body": "Does it come in blue?"}}]}}]}]});
        assert_eq!(post_meta(&s, &wa, &wa_in).await, 200, "{l}");
        let now_ms = kith_domain::time::now_ms();
        let fb_in = json!({"object": "page", "entry": [{"id": "PAGE1", "time": now_ms, "messaging": [{"sender": {"id": "PSID1"},
            "recipient": {"id": "PAGE1"}, "timestamp": now_ms, "message": {"mid": "m_in1", "text": "hello"}}]}]});
        assert_eq!(post_meta(&s, &fb, &fb_in).await, 200, "{l}");
        let ig_in = json!({"object": "instagram", "entry": [{"id": "IG1", "time": now_ms, "messaging": [{"sender": {"id": "IGSID1"},
            "recipient": {"id": "IG1"}, "timestamp": now_ms, "message": {"mid": "ig_in1", "text": "hi"}}]}]});
        assert_eq!(post_meta(&s, &ig, &ig_in).await, 200, "{l}");
        // Viber over HTTP: a wrong signature stores nothing; the right one is stored.
        let vb_in = json!({"event": "message", "timestamp": now_ms, "message_token": 4912661846655238145_i64,
            "sender": {"id": "01234567890A=", "name": "Viber User", "api_version": 2},
            "message": {"type": "text", "text": "Привет"}, "silent": false})
        .to_string();
        let hook = s.url(&format!("/hooks/viber/{vb}"));
        let bad = client()
            .post(&hook)
            .header("x-viber-content-signature", kith_providers::viber::sign("wrong", vb_in.as_bytes()))
            .body(vb_in.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), 403, "{l}");
        let before = count(&s, "SELECT COUNT(*) FROM inbound_events").await;
        let good = client()
            .post(&hook)
            .header("content-type", "application/json")
            .header("x-viber-content-signature", kith_providers::viber::sign(VIBER_TOKEN, vb_in.as_bytes()))
            .body(vb_in)
            .send()
            .await
            .unwrap();
        assert_eq!(good.status(), 200, "{l}");
        assert_eq!(count(&s, "SELECT COUNT(*) FROM inbound_events").await, before + 1, "{l}");
        drain(&s).await;

        // A reply on each channel.
        for (ch, text) in
            [(&wa, "Yes, in blue."), (&fb, "Hi from the page"), (&ig, "Hi on Instagram"), (&vb, "Здравствуйте")]
        {
            let conv = conversation_of(&s, &token, ch).await;
            let (st, m) = send(
                &s,
                Method::POST,
                &format!("/api/v1/conversations/{conv}/messages"),
                &token,
                Some(json!({"body": text})),
            )
            .await;
            assert_eq!((st, m["state"].as_str()), (202, Some("queued")), "{l}: {m}");
        }
        drain(&s).await;

        let sent = received(&mock, "/v21.0/106540352242922/messages").await;
        assert_eq!(sent.len(), 1, "{l}");
        let (body, req) = &sent[0];
        assert_eq!(req.method.as_str(), "POST");
        assert_eq!(auth(req, "authorization"), "Bearer wa-token", "{l}");
        assert_eq!(auth(req, "content-type"), "application/json", "{l}");
        assert_eq!(
            body,
            &json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": "16505551234",
                    "type": "text", "text": {"preview_url": false, "body": "Yes, in blue."}}),
            "{l}"
        );
        let sent = received(&mock, "/v21.0/PAGE1/messages").await;
        assert_eq!(sent.len(), 1, "{l}");
        assert_eq!(auth(&sent[0].1, "authorization"), "Bearer page-token", "{l}");
        assert_eq!(
            sent[0].0,
            json!({"recipient": {"id": "PSID1"}, "messaging_type": "RESPONSE", "message": {"text": "Hi from the page"}}),
            "{l}"
        );
        let sent = received(&mock, "/v21.0/IG1/messages").await;
        assert_eq!(sent.len(), 1, "{l}");
        assert_eq!(auth(&sent[0].1, "authorization"), "Bearer ig-token", "{l}");
        assert_eq!(sent[0].0["recipient"]["id"], "IGSID1", "{l}");
        assert_eq!(sent[0].0["message"]["text"], "Hi on Instagram", "{l}");
        let sent = received(&mock, "/pa/send_message").await;
        assert_eq!(sent.len(), 1, "{l}");
        assert_eq!(auth(&sent[0].1, "x-viber-auth-token"), VIBER_TOKEN, "{l}");
        assert_eq!(
            sent[0].0,
            json!({"receiver": "01234567890A=", "min_api_version": 1, "sender": {"name": "Kith Shop"},
                   "type": "text", "text": "Здравствуйте"}),
            "{l}"
        );
        for ch in [&wa, &fb, &ig, &vb] {
            let conv = conversation_of(&s, &token, ch).await;
            assert_eq!(last_message(&s, &token, &conv).await["state"], "sent", "{l}: {ch}");
        }

        // WhatsApp outside the 24-hour window: free text is refused, a template goes.
        let wa_conv = conversation_of(&s, &token, &wa).await;
        kith_testkit::raw_execute(&s.raw_url, "UPDATE conversations SET last_inbound_ms = last_inbound_ms - 90000000")
            .await;
        let path = format!("/api/v1/conversations/{wa_conv}/messages");
        let (st, err) = send(&s, Method::POST, &path, &token, Some(json!({"body": "Still there?"}))).await;
        assert_eq!((st, code(&err)), (422, "whatsapp_window_closed"), "{l}: {err}");
        let template =
            json!({"template": {"name": "order_update", "language": "en_US", "variables": ["#123", "Friday"]}});
        let (st, m) = send(&s, Method::POST, &path, &token, Some(template)).await;
        assert_eq!(st, 202, "{l}: {m}");
        assert_eq!(m["body"], "[template order_update (en_US)] #123 · Friday", "{l}");
        let (st, err) = send(
            &s,
            Method::POST,
            &format!("/api/v1/conversations/{}/messages", conversation_of(&s, &token, &fb).await),
            &token,
            Some(json!({"template": {"name": "x", "language": "en"}})),
        )
        .await;
        assert_eq!((st, code(&err)), (422, "validation_failed"), "{l}: templates are WhatsApp's");
        let (st, err) = send(
            &s,
            Method::POST,
            &path,
            &token,
            Some(json!({"body": "a", "template": {"name": "x", "language": "en"}})),
        )
        .await;
        assert_eq!((st, code(&err)), (422, "validation_failed"), "{l}: one of body, canned response, template");
        // One message to a person every 6 s on WhatsApp: the template waits for its slot.
        drain_now(&s).await;
        assert_eq!(received(&mock, "/v21.0/106540352242922/messages").await.len(), 1, "{l}: not yet");
        drain(&s).await;
        let sent = received(&mock, "/v21.0/106540352242922/messages").await;
        assert_eq!(sent.len(), 2, "{l}: {:?}", sent.iter().map(|x| x.0.to_string()).collect::<Vec<_>>());
        assert_eq!(
            sent[1].0,
            json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": "16505551234", "type": "template",
                   "template": {"name": "order_update", "language": {"code": "en_US"},
                                "components": [{"type": "body", "parameters": [{"type": "text", "text": "#123"},
                                                                              {"type": "text", "text": "Friday"}]}]}}),
            "{l}"
        );
        assert_eq!(last_message(&s, &token, &wa_conv).await["state"], "sent", "{l}");
    }
}

#[tokio::test]
async fn canned_responses_are_checked_when_saved_and_rendered_when_sent() {
    for (s, mock) in servers().await {
        let l = s.label;
        let (_owner, token) = s.user_with_token("canned@web.test").await;
        Mock::given(method("POST"))
            .and(path("/2010-04-01/Accounts/AC1/Messages.json"))
            .respond_with(ResponseTemplate::new(201).set_body_json(json!({"sid": "SMc1", "status": "queued"})))
            .mount(&mock)
            .await;

        let (st, err) = send(
            &s,
            Method::POST,
            "/api/v1/canned-responses",
            &token,
            Some(json!({"name": "Bad", "body": "Hi {{contact.nickname}}"})),
        )
        .await;
        assert_eq!((st, code(&err)), (422, "validation_failed"), "{l}: {err}");
        assert_eq!(err["error"]["fields"][0]["field"], "body", "{l}");
        let (st, c) = send(
            &s,
            Method::POST,
            "/api/v1/canned-responses",
            &token,
            Some(json!({"name": "Greeting", "body": "Hi {{contact.first_name|there}}, {{agent.first_name}} here."})),
        )
        .await;
        assert_eq!(st, 201, "{l}: {c}");
        assert_eq!(c["variables"], json!(["contact.first_name", "agent.first_name"]), "{l}");
        let id = c["id"].as_str().unwrap().to_string();
        let (st, dup) =
            send(&s, Method::POST, "/api/v1/canned-responses", &token, Some(json!({"name": "greeting", "body": "x"})))
                .await;
        assert_eq!((st, code(&dup)), (409, "already_exists"), "{l}");
        let (st, list) = send(&s, Method::GET, "/api/v1/canned-responses", &token, None).await;
        assert_eq!((st, list["data"].as_array().unwrap().len()), (200, 1), "{l}");
        let (st, patched) = send(
            &s,
            Method::PATCH,
            &format!("/api/v1/canned-responses/{id}"),
            &token,
            Some(json!({"body": "Hello {{contact.first_name|there}}!"})),
        )
        .await;
        assert_eq!((st, patched["version"].as_i64()), (200, Some(2)), "{l}: {patched}");
        let (st, err) =
            send(&s, Method::PATCH, &format!("/api/v1/canned-responses/{id}"), &token, Some(json!({"body": "{{oops"})))
                .await;
        assert_eq!((st, code(&err)), (422, "validation_failed"), "{l}");

        // Sent in a conversation: rendered for its contact.
        let ch = channel(
            &s,
            &token,
            "twilio_sms",
            json!({"account_sid": "AC1", "auth_token": TWILIO_TOKEN, "from": "+15550000000"}),
        )
        .await;
        let url = s.url(&format!("/hooks/twilio/{ch}"));
        let body = "MessageSid=SMin1&AccountSid=AC1&From=%2B15557770000&To=%2B15550000000&Body=hi";
        let sig = kith_providers::twilio::compute_signature(
            TWILIO_TOKEN,
            &url,
            &kith_providers::twilio::form_pairs(body.as_bytes()),
        );
        let resp = client()
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-twilio-signature", sig)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{l}");
        drain(&s).await;
        let conv = conversation_of(&s, &token, &ch).await;
        let (st, m) = send(
            &s,
            Method::POST,
            &format!("/api/v1/conversations/{conv}/messages"),
            &token,
            Some(json!({"canned_response_id": id})),
        )
        .await;
        assert_eq!(st, 202, "{l}: {m}");
        assert_eq!(m["body"], "Hello there!", "{l}: no first name yet, the fallback");
        drain(&s).await;
        let calls = mock.received_requests().await.unwrap();
        let form = String::from_utf8(calls.last().unwrap().body.clone()).unwrap();
        assert!(form.contains("Body=Hello+there%21"), "{l}: {form}");

        assert_eq!(
            send(&s, Method::DELETE, &format!("/api/v1/canned-responses/{id}"), &token, None).await.0,
            204,
            "{l}"
        );
        let (st, err) = send(
            &s,
            Method::POST,
            &format!("/api/v1/conversations/{conv}/messages"),
            &token,
            Some(json!({"canned_response_id": id})),
        )
        .await;
        assert_eq!((st, code(&err)), (422, "validation_failed"), "{l}");
    }
}

#[tokio::test]
async fn failed_sends_are_listed_retried_and_counted_in_the_channels_health() {
    for (s, mock) in servers().await {
        let l = s.label;
        let (_owner, token) = s.user_with_token("dead@web.test").await;
        Mock::given(method("POST"))
            .and(path("/2010-04-01/Accounts/AC1/Messages.json"))
            .respond_with(ResponseTemplate::new(503).set_body_json(json!({"code": 20500, "message": "down"})))
            .mount(&mock)
            .await;
        let ch = channel(
            &s,
            &token,
            "twilio_sms",
            json!({"account_sid": "AC1", "auth_token": TWILIO_TOKEN, "from": "+15550000000"}),
        )
        .await;
        let url = s.url(&format!("/hooks/twilio/{ch}"));
        let body = "MessageSid=SMin1&AccountSid=AC1&From=%2B15557770001&To=%2B15550000000&Body=hi";
        let sig = kith_providers::twilio::compute_signature(
            TWILIO_TOKEN,
            &url,
            &kith_providers::twilio::form_pairs(body.as_bytes()),
        );
        let resp = client()
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-twilio-signature", sig)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{l}");
        drain(&s).await;
        let conv = conversation_of(&s, &token, &ch).await;
        let (st, m) = send(
            &s,
            Method::POST,
            &format!("/api/v1/conversations/{conv}/messages"),
            &token,
            Some(json!({"body": "Are you there?"})),
        )
        .await;
        assert_eq!(st, 202, "{l}");
        let message_id = m["id"].as_str().unwrap().to_string();
        // The provider is down: retried with backoff, then (the last attempt) failed.
        drain_now(&s).await;
        assert_eq!(count(&s, "SELECT attempts FROM jobs WHERE kind = 'inbox.send'").await, 1, "{l}");
        kith_testkit::raw_execute(
            &s.raw_url,
            "UPDATE jobs SET attempts = max_attempts - 1, run_at_ms = 0 WHERE kind = 'inbox.send'",
        )
        .await;
        drain(&s).await;
        let last = last_message(&s, &token, &conv).await;
        assert_eq!((last["state"].as_str(), last["error_code"].as_str()), (Some("failed"), Some("retries_exhausted")));

        let (st, failed) = send(&s, Method::GET, &format!("/api/v1/channels/{ch}/failed-sends"), &token, None).await;
        assert_eq!(st, 200, "{l}: {failed}");
        assert_eq!(failed["data"].as_array().unwrap().len(), 1, "{l}");
        assert_eq!(failed["data"][0]["message_id"], message_id.as_str(), "{l}");
        assert!(failed["data"][0].get("body").is_none(), "{l}: no content");
        let (st, c) = send(&s, Method::GET, &format!("/api/v1/channels/{ch}"), &token, None).await;
        assert_eq!(st, 200, "{l}");
        assert_eq!((c["health"]["sends_24h"].as_i64(), c["health"]["failed_24h"].as_i64()), (Some(1), Some(1)), "{l}");
        assert_eq!(c["health"]["error_rate_24h"].as_f64(), Some(1.0), "{l}");
        assert!(c["health"]["last_event_at_ms"].as_i64().is_some(), "{l}: {c}");

        // The provider is back: retry.
        mock.reset().await;
        Mock::given(method("POST"))
            .and(path("/2010-04-01/Accounts/AC1/Messages.json"))
            .respond_with(ResponseTemplate::new(201).set_body_json(json!({"sid": "SMok", "status": "queued"})))
            .mount(&mock)
            .await;
        let retry = format!("/api/v1/channels/{ch}/failed-sends/{message_id}/retry");
        let (st, r) = send(&s, Method::POST, &retry, &token, None).await;
        assert_eq!((st, r["state"].as_str()), (202, Some("queued")), "{l}: {r}");
        assert_eq!(send(&s, Method::POST, &retry, &token, None).await.0, 409, "{l}: only a failed send");
        drain(&s).await;
        assert_eq!(last_message(&s, &token, &conv).await["state"], "sent", "{l}");
        let (_, failed) = send(&s, Method::GET, &format!("/api/v1/channels/{ch}/failed-sends"), &token, None).await;
        assert!(failed["data"].as_array().unwrap().is_empty(), "{l}");
        let (_, list) = send(&s, Method::GET, "/api/v1/channels", &token, None).await;
        assert_eq!(list["data"][0]["health"]["error_rate_24h"].as_f64(), Some(0.0), "{l}");

        // Admins only.
        let (_, member_token) = s.user_with_token("dead-other@web.test").await;
        let (st, _) = send(&s, Method::GET, &format!("/api/v1/channels/{ch}/failed-sends"), &member_token, None).await;
        assert_eq!(st, 404, "{l}: another workspace's channel is not found");
    }
}
