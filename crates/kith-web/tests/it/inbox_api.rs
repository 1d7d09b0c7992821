//! The inbox over HTTP on each backend: channels never show their secrets,
//! provider webhooks are verified against the public URL and answered only
//! after the event is stored (TwiML for Twilio), body limits, the Meta
//! handshake, Telegram registration on connect, and the conversations API
//! (filters, patch, notes, read marks, replies, STOP, other workspaces).

use crate::helpers::{client, code, json};
use kith_app::worker::{Registry, Worker};
use kith_app::{AppSettings, ProviderBases};
use kith_testkit::{spawn_with, TestDb, TestServer};
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

const AUTH_TOKEN: &str = "twilio-auth-token-secret";

/// Stand-ins for Twilio's Messages API and Telegram's Bot API, recording what they were sent.
#[derive(Clone, Default)]
struct StandIn {
    calls: Arc<Mutex<Vec<(String, String)>>>,
}

async fn stand_in() -> (StandIn, String) {
    let s = StandIn::default();
    let (a, b) = (s.clone(), s.clone());
    let router = axum::Router::new()
        .route(
            "/2010-04-01/Accounts/{sid}/Messages.json",
            axum::routing::post(move |body: String| {
                let s = a.clone();
                async move {
                    let n = {
                        let mut calls = s.calls.lock().unwrap();
                        calls.push(("twilio".into(), body));
                        calls.len()
                    };
                    (
                        axum::http::StatusCode::CREATED,
                        axum::Json(json!({"sid": format!("SMout{n}"), "status": "queued"})),
                    )
                }
            }),
        )
        .route(
            "/{bot}/{method}",
            axum::routing::post(
                move |axum::extract::Path((_bot, method)): axum::extract::Path<(String, String)>, body: String| {
                    let s = b.clone();
                    async move {
                        s.calls.lock().unwrap().push((method.clone(), body));
                        let result = if method == "sendMessage" {
                            json!({"message_id": 9, "chat": {"id": 42}})
                        } else {
                            json!(true)
                        };
                        axum::Json(json!({"ok": true, "result": result}))
                    }
                },
            ),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (s, format!("http://{addr}"))
}

async fn servers() -> Vec<(TestServer, StandIn)> {
    let mut out = Vec::new();
    for db in TestDb::all().await {
        let (s, base) = stand_in().await;
        let settings = AppSettings {
            provider_bases: ProviderBases { twilio: base.clone(), telegram: base, ..ProviderBases::default() },
            ..kith_testkit::app::test_settings()
        };
        let web = kith_web::WebConfig { api_rate_per_second: 0, ..Default::default() };
        out.push((spawn_with(db, settings, web).await, s));
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

fn form(pairs: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => (b as char).to_string(),
                b' ' => "+".into(),
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    pairs.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&")
}

fn sms(sid: &str, from: &str, text: &str) -> String {
    form(&[("MessageSid", sid), ("AccountSid", "AC1"), ("From", from), ("To", "+15550000000"), ("Body", text)])
}

/// POST a form to a Twilio hook, signed over the URL as Twilio would call it.
async fn post_twilio(s: &TestServer, path: &str, body: &str, token: &str) -> reqwest::Response {
    let url = s.url(path);
    let params = kith_providers::twilio::form_pairs(body.as_bytes());
    let sig = kith_providers::twilio::compute_signature(token, &url, &params);
    client()
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-twilio-signature", sig)
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

async fn drain(s: &TestServer) {
    let w = Worker::new(s.app.clone(), Registry::standard());
    while w.run_once().await.unwrap() > 0 {}
}

async fn count(s: &TestServer, sql: &str) -> i64 {
    kith_testkit::raw_i64(&s.raw_url, sql).await
}

#[tokio::test]
async fn inbox_over_http() {
    for (s, stand_in) in servers().await {
        let l = s.label;
        let (owner, token) = s.user_with_token("inbox-api@web.test").await;
        let (_, other_token) = s.user_with_token("inbox-other@web.test").await;

        // Channels: secrets go in, never come out.
        let (st, ch) = send(
            &s,
            Method::POST,
            "/api/v1/channels",
            &token,
            Some(json!({"kind": "twilio_sms", "name": "Desk",
                        "config": {"account_sid": "AC1", "auth_token": AUTH_TOKEN, "from": "+15550000000"}})),
        )
        .await;
        assert_eq!(st, 201, "{l}: {ch}");
        assert_eq!(ch["secrets_set"], json!(["auth_token"]), "{l}");
        assert!(!ch.to_string().contains(AUTH_TOKEN), "{l}");
        let id = ch["id"].as_str().unwrap().to_string();
        let (st, list) = send(&s, Method::GET, "/api/v1/channels", &token, None).await;
        assert_eq!((st, list["data"].as_array().unwrap().len()), (200, 1), "{l}");
        assert!(!list.to_string().contains(AUTH_TOKEN), "{l}");
        let (st, body) = send(
            &s,
            Method::POST,
            "/api/v1/channels",
            &token,
            Some(json!({"kind": "twilio_sms", "name": "x", "config": {}})),
        )
        .await;
        assert_eq!((st, code(&body)), (422, "validation_failed"), "{l}");
        assert_eq!(send(&s, Method::GET, &format!("/api/v1/channels/{id}"), &other_token, None).await.0, 404, "{l}");

        // Twilio webhooks: bad signature, unknown channel, too large, then a good one.
        let hook = format!("/hooks/twilio/{id}");
        let body = sms("SM1", "+15551234567", "Hello there");
        let resp = post_twilio(&s, &hook, &body, "wrong-token").await;
        assert_eq!(resp.status(), 403, "{l}");
        assert_eq!(count(&s, "SELECT COUNT(*) FROM inbound_events").await, 0, "{l}: nothing stored");
        let unknown = format!("/hooks/twilio/{}", uuid::Uuid::now_v7());
        assert_eq!(post_twilio(&s, &unknown, &body, AUTH_TOKEN).await.status(), 404, "{l}");
        assert_eq!(post_twilio(&s, "/hooks/twilio/not-an-id", &body, AUTH_TOKEN).await.status(), 404, "{l}");
        let huge = sms("SM2", "+15551234567", &"x".repeat(70 * 1024));
        assert_eq!(post_twilio(&s, &hook, &huge, AUTH_TOKEN).await.status(), 413, "{l}");
        // Signed over the URL with a query string too.
        let resp = post_twilio(&s, &format!("{hook}?src=console"), &body, AUTH_TOKEN).await;
        assert_eq!(resp.status(), 200, "{l}");
        assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/xml"), "{l}");
        assert!(resp.text().await.unwrap().ends_with("<Response/>"), "{l}");
        assert_eq!(count(&s, "SELECT COUNT(*) FROM inbound_events").await, 1, "{l}: stored before the answer");

        // The same event ten times at once: ten 200s, one row.
        let again = sms("SM3", "+15551234567", "Are you there?");
        let tasks: Vec<_> = (0..10)
            .map(|_| {
                let (url, body) = (s.url(&hook), again.clone());
                let sig = kith_providers::twilio::compute_signature(
                    AUTH_TOKEN,
                    &url,
                    &kith_providers::twilio::form_pairs(body.as_bytes()),
                );
                tokio::spawn(async move {
                    client()
                        .post(url)
                        .header("content-type", "application/x-www-form-urlencoded")
                        .header("x-twilio-signature", sig)
                        .body(body)
                        .send()
                        .await
                        .unwrap()
                        .status()
                        .as_u16()
                })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.unwrap(), 200, "{l}");
        }
        assert_eq!(count(&s, "SELECT COUNT(*) FROM inbound_events").await, 2, "{l}: stored once");
        drain(&s).await;

        // The raw event log (no content) and a replay that changes nothing once processed.
        let (st, evs) = send(&s, Method::GET, &format!("/api/v1/channels/{id}/events?limit=1"), &token, None).await;
        assert_eq!((st, evs["data"].as_array().unwrap().len()), (200, 1), "{l}: {evs}");
        assert!(evs["data"][0]["processed_at_ms"].is_i64() && evs["next_cursor"].is_string(), "{l}: {evs}");
        assert!(!evs.to_string().contains("Are you there"), "{l}: no message text in the log");
        let eid = evs["data"][0]["id"].as_str().unwrap().to_string();
        let replay = format!("/api/v1/channels/{id}/events/{eid}/replay");
        assert_eq!(send(&s, Method::POST, &replay, &token, None).await.0, 202, "{l}");
        assert_eq!(send(&s, Method::POST, &replay, &other_token, None).await.0, 404, "{l}");
        assert_eq!(send(&s, Method::GET, &format!("/api/v1/channels/{id}/events"), &other_token, None).await.0, 404);
        drain(&s).await;
        assert_eq!(count(&s, "SELECT COUNT(*) FROM messages").await, 2, "{l}: replay is idempotent");

        // Conversations.
        let (st, list) =
            send(&s, Method::GET, "/api/v1/conversations?status=open&assignee=unassigned", &token, None).await;
        assert_eq!(st, 200, "{l}: {list}");
        let conv = list["data"][0].clone();
        assert_eq!(list["data"].as_array().unwrap().len(), 1, "{l}");
        assert_eq!(
            (conv["unread"].as_bool(), conv["channel"]["kind"].as_str()),
            (Some(true), Some("twilio_sms")),
            "{l}"
        );
        let cid = conv["id"].as_str().unwrap().to_string();
        let (st, msgs) =
            send(&s, Method::GET, &format!("/api/v1/conversations/{cid}/messages?order=asc&limit=1"), &token, None)
                .await;
        assert_eq!(st, 200, "{l}");
        assert_eq!(msgs["data"][0]["body"], "Hello there", "{l}");
        let cursor = msgs["next_cursor"].as_str().expect("a second page").to_string();
        let (_, page2) = send(
            &s,
            Method::GET,
            &format!("/api/v1/conversations/{cid}/messages?order=asc&cursor={cursor}"),
            &token,
            None,
        )
        .await;
        assert_eq!(page2["data"][0]["body"], "Are you there?", "{l}");
        assert!(page2["next_cursor"].is_null(), "{l}");

        for path in [format!("/api/v1/conversations/{cid}"), format!("/api/v1/conversations/{cid}/messages")] {
            assert_eq!(send(&s, Method::GET, &path, &other_token, None).await.0, 404, "{l}: {path}");
        }
        let (st, _) = send(
            &s,
            Method::PATCH,
            &format!("/api/v1/conversations/{cid}"),
            &other_token,
            Some(json!({"status": "resolved"})),
        )
        .await;
        assert_eq!(st, 404, "{l}");

        let (st, c) = send(
            &s,
            Method::PATCH,
            &format!("/api/v1/conversations/{cid}"),
            &token,
            Some(json!({"status": "pending", "assignee_user_id": owner.user_id, "labels": ["Urgent"]})),
        )
        .await;
        assert_eq!(st, 200, "{l}: {c}");
        assert_eq!((c["status"].as_str(), c["labels"].clone()), (Some("pending"), json!(["urgent"])), "{l}");
        let (_, mine) = send(&s, Method::GET, "/api/v1/conversations?assignee=me&label=urgent", &token, None).await;
        assert_eq!(mine["data"].as_array().unwrap().len(), 1, "{l}");
        let (st, body) = send(&s, Method::GET, "/api/v1/conversations?status=lost", &token, None).await;
        assert_eq!((st, code(&body)), (422, "validation_failed"), "{l}");

        let (st, note) = send(
            &s,
            Method::POST,
            &format!("/api/v1/conversations/{cid}/notes"),
            &token,
            Some(json!({"body": "@inbox-api@web.test take this one"})),
        )
        .await;
        assert_eq!((st, note["kind"].as_str()), (201, Some("note")), "{l}: {note}");
        assert_eq!(note["mentions"], json!([owner.user_id]), "{l}");
        let (st, read) = send(&s, Method::POST, &format!("/api/v1/conversations/{cid}/read"), &token, None).await;
        assert_eq!((st, read["unread"].as_bool()), (200, Some(false)), "{l}");

        // A reply, sent once even when the request is retried with the same key.
        let reply = |key: &'static str| {
            client()
                .post(s.url(&format!("/api/v1/conversations/{cid}/messages")))
                .bearer_auth(&token)
                .header("idempotency-key", key)
                .json(&json!({"body": "We open at nine"}))
                .send()
        };
        let (st, first) = json(reply("reply-1").await.unwrap()).await;
        assert_eq!((st, first["state"].as_str()), (202, Some("queued")), "{l}: {first}");
        let (st, replay) = json(reply("reply-1").await.unwrap()).await;
        assert_eq!((st, &replay["id"]), (202, &first["id"]), "{l}: the replay is the first answer");
        drain(&s).await;
        let twilio_sends = stand_in.calls.lock().unwrap().iter().filter(|(k, _)| k == "twilio").count();
        assert_eq!(twilio_sends, 1, "{l}: sent once");
        let sent_body = stand_in.calls.lock().unwrap()[0].1.clone();
        assert!(sent_body.contains("To=%2B15551234567") && sent_body.contains("StatusCallback="), "{l}: {sent_body}");

        // A delivery callback, then STOP: later replies are refused and nothing is queued.
        let status = form(&[("MessageSid", "SMout1"), ("MessageStatus", "delivered")]);
        assert_eq!(post_twilio(&s, &hook, &status, AUTH_TOKEN).await.status(), 200, "{l}");
        assert_eq!(post_twilio(&s, &hook, &sms("SM4", "+15551234567", "STOP"), AUTH_TOKEN).await.status(), 200);
        drain(&s).await;
        let (_, msgs) = send(&s, Method::GET, &format!("/api/v1/conversations/{cid}/messages"), &token, None).await;
        let out = msgs["data"].as_array().unwrap().iter().find(|m| m["id"] == first["id"]).unwrap().clone();
        assert_eq!(out["state"], "delivered", "{l}");
        let jobs = count(&s, "SELECT COUNT(*) FROM jobs").await;
        let (st, body) = send(
            &s,
            Method::POST,
            &format!("/api/v1/conversations/{cid}/messages"),
            &token,
            Some(json!({"body": "?"})),
        )
        .await;
        assert_eq!((st, code(&body)), (409, "contact_opted_out"), "{l}");
        assert_eq!(count(&s, "SELECT COUNT(*) FROM jobs").await, jobs, "{l}: nothing queued");

        // Disconnecting deletes the credentials and closes the webhook.
        assert_eq!(send(&s, Method::DELETE, &format!("/api/v1/channels/{id}"), &token, None).await.0, 204, "{l}");
        assert_eq!(count(&s, "SELECT COUNT(*) FROM channels WHERE config IS NOT NULL").await, 0, "{l}");
        assert_eq!(post_twilio(&s, &hook, &sms("SM5", "+15551234567", "hi"), AUTH_TOKEN).await.status(), 404, "{l}");
    }
}

#[tokio::test]
async fn meta_handshake_and_telegram_registration() {
    for (s, stand_in) in servers().await {
        let l = s.label;
        let (_, token) = s.user_with_token("inbox-meta@web.test").await;
        let (st, ch) = send(
            &s,
            Method::POST,
            "/api/v1/channels",
            &token,
            Some(json!({"kind": "whatsapp", "name": "WA", "config": {"phone_number_id": "1065",
                "access_token": "EAAG", "app_secret": "app-secret", "verify_token": "verify-me"}})),
        )
        .await;
        assert_eq!(st, 201, "{l}: {ch}");
        let hook = format!("/hooks/meta/{}", ch["id"].as_str().unwrap());
        let resp = client()
            .get(s.url(&format!("{hook}?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=1158201444")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{l}");
        assert_eq!(resp.text().await.unwrap(), "1158201444", "{l}");
        let resp = client()
            .get(s.url(&format!("{hook}?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403, "{l}");

        let body = json!({"object": "whatsapp_business_account", "entry": [{"id": "W", "changes": [{"field": "messages",
            "value": {"messaging_product": "whatsapp", "metadata": {"display_phone_number": "1555", "phone_number_id": "1065"},
            "contacts": [{"profile": {"name": "Sheena Nelson"}, "wa_id": "16505551234"}],
            "messages": [{"from": "16505551234", "id": "wamid.X", "timestamp": "1749416383", "type": "text",
                          "text": {"body": "Another colour?"}}]}}]}]})
        .to_string();
        let post =
            |sig: String| client().post(s.url(&hook)).header("x-hub-signature-256", sig).body(body.clone()).send();
        assert_eq!(post("sha256=00".into()).await.unwrap().status(), 403, "{l}");
        assert_eq!(post(kith_providers::meta::sign("app-secret", body.as_bytes())).await.unwrap().status(), 200, "{l}");
        drain(&s).await;
        let (_, list) = send(&s, Method::GET, "/api/v1/conversations", &token, None).await;
        assert_eq!(list["data"][0]["contact"]["display_name"], "Sheena Nelson", "{l}");

        // Telegram: connecting registers the webhook with a secret the provider echoes back.
        let (st, tg) = send(
            &s,
            Method::POST,
            "/api/v1/channels",
            &token,
            Some(json!({"kind": "telegram", "name": "Bot", "config": {"bot_token": "123456:ABC-secret"}})),
        )
        .await;
        assert_eq!(st, 201, "{l}: {tg}");
        assert_eq!(tg["secrets_set"], json!(["bot_token", "webhook_secret"]), "{l}");
        let registered = stand_in.calls.lock().unwrap().iter().find(|(m, _)| m == "setWebhook").unwrap().1.clone();
        let registered: Value = serde_json::from_str(&registered).unwrap();
        let tg_hook = format!("/hooks/telegram/{}", tg["id"].as_str().unwrap());
        assert_eq!(registered["url"], s.url(&tg_hook), "{l}");
        let secret = registered["secret_token"].as_str().unwrap().to_string();
        let update = json!({"update_id": 1, "message": {"message_id": 5, "date": 1749416383,
            "chat": {"id": 42, "type": "private"}, "from": {"id": 42, "is_bot": false, "first_name": "Tom"}, "text": "hi bot"}});
        let post = |secret: &str| {
            client().post(s.url(&tg_hook)).header("x-telegram-bot-api-secret-token", secret).json(&update).send()
        };
        assert_eq!(post("wrong").await.unwrap().status(), 403, "{l}");
        assert_eq!(post(&secret).await.unwrap().status(), 200, "{l}");
        drain(&s).await;
        let (_, list) = send(
            &s,
            Method::GET,
            &format!("/api/v1/conversations?channel={}", tg["id"].as_str().unwrap()),
            &token,
            None,
        )
        .await;
        assert_eq!(list["data"][0]["contact"]["display_name"], "Tom", "{l}");
        let cid = list["data"][0]["id"].as_str().unwrap().to_string();
        let (st, _) = send(
            &s,
            Method::POST,
            &format!("/api/v1/conversations/{cid}/messages"),
            &token,
            Some(json!({"body": "Hello Tom"})),
        )
        .await;
        assert_eq!(st, 202, "{l}");
        drain(&s).await;
        let sent = stand_in.calls.lock().unwrap().iter().find(|(m, _)| m == "sendMessage").unwrap().1.clone();
        assert_eq!(serde_json::from_str::<Value>(&sent).unwrap()["chat_id"], 42, "{l}: replied to the chat");

        let (_, doc) = json(client().get(s.url("/api/v1/openapi.json")).send().await.unwrap()).await;
        for path in [
            "/api/v1/channels",
            "/api/v1/conversations",
            "/api/v1/conversations/{id}/messages",
            "/api/v1/conversations/{id}/notes",
            "/api/v1/conversations/{id}/read",
        ] {
            assert!(doc["paths"].get(path).is_some(), "{l}: {path} documented");
        }
    }
}
