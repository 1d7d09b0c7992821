//! Attachments over HTTP on each backend: inbound Twilio media fetched by the
//! `inbox.media` job (basic auth, through the SSRF-guarded client) and
//! listed on the message; downloads scoped to the workspace with `nosniff`
//! and the right disposition; uploads (cleaned names, empty → 422, over
//! 25 MB → 413, other workspaces → 404); a reply with `attachment_ids`
//! hands Twilio a signed link that serves the file and nothing else; and
//! deleting the contact removes the objects. Telegram: a photo fetched
//! through getFile and the bot's file URL; a reply's file sent with
//! sendPhoto (caption = text), one file per message. Messenger, Instagram
//! and Viber: each file a provider message of its own (exact bodies, links
//! that serve the file), then the text; refusals before queueing; a retry
//! after a failed text does not send the files again; a file's status
//! callbacks reach its message.

use crate::helpers::{client, code, json};
use kith_app::worker::{Registry, Worker};
use kith_app::{AppSettings, ProviderBases};
use kith_testkit::{spawn_with, TestDb, TestServer};
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

const AUTH_TOKEN: &str = "twilio-media-auth-token";
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n-not-really-an-image-but-bytes";

#[derive(Clone, Default)]
struct StandIn {
    sent: Arc<Mutex<Vec<String>>>,
    media_auth: Arc<Mutex<Vec<String>>>,
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
                    s.sent.lock().unwrap().push(body);
                    (axum::http::StatusCode::CREATED, axum::Json(json!({"sid": "SMmedia1", "status": "queued"})))
                }
            }),
        )
        .route(
            "/media/{n}",
            axum::routing::get(move |headers: axum::http::HeaderMap| {
                let s = b.clone();
                async move {
                    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
                    s.media_auth.lock().unwrap().push(auth);
                    ([("content-type", "image/png")], PNG)
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (s, format!("http://{addr}"))
}

async fn send(s: &TestServer, method: Method, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = client().request(method, s.url(path)).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    json(req.send().await.unwrap()).await
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn post_twilio(s: &TestServer, path: &str, pairs: &[(&str, &str)]) -> u16 {
    let body = pairs.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&");
    let url = s.url(path);
    let params = kith_providers::twilio::form_pairs(body.as_bytes());
    let sig = kith_providers::twilio::compute_signature(AUTH_TOKEN, &url, &params);
    let resp = client()
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-twilio-signature", sig)
        .body(body)
        .send()
        .await
        .unwrap();
    resp.status().as_u16()
}

/// A multipart body with `conversation_id` and one `file`.
fn multipart(conversation_id: &str, name: &str, content_type: &str, data: &[u8]) -> (String, Vec<u8>) {
    let boundary = "kith-test-boundary-7f3a";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"conversation_id\"\r\n\r\n{conversation_id}\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
             Content-Type: {content_type}\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(data);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn upload(s: &TestServer, token: &str, conv: &str, name: &str, ct: &str, data: &[u8]) -> (u16, Value) {
    let (content_type, body) = multipart(conv, name, ct, data);
    let req =
        client().post(s.url("/api/v1/attachments")).bearer_auth(token).header("content-type", content_type).body(body);
    json(req.send().await.unwrap()).await
}

async fn drain(s: &TestServer) {
    let w = Worker::new(s.app.clone(), Registry::standard());
    while w.run_once().await.unwrap() > 0 {}
}

#[tokio::test]
async fn attachments_in_and_out() {
    for db in TestDb::all().await {
        let (stand, base) = stand_in().await;
        let settings = AppSettings {
            provider_bases: ProviderBases { twilio: base.clone(), ..ProviderBases::default() },
            ..kith_testkit::app::test_settings()
        };
        let web = kith_web::WebConfig { api_rate_per_second: 0, ..Default::default() };
        let s = spawn_with(db, settings, web).await;
        let l = s.label;
        let (owner, token) = s.user_with_token("files@web.test").await;
        let (_, other) = s.user_with_token("files-other@web.test").await;
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
        let hook = format!("/hooks/twilio/{}", ch["id"].as_str().unwrap());

        // Inbound MMS: the media is fetched after ingest, with the account's basic auth.
        let media_url = format!("{base}/media/1");
        let pairs = [
            ("MessageSid", "MMin1"),
            ("AccountSid", "AC1"),
            ("From", "+15551230001"),
            ("To", "+15550000000"),
            ("Body", "photo"),
            ("NumMedia", "1"),
            ("MediaUrl0", media_url.as_str()),
            ("MediaContentType0", "image/png"),
        ];
        assert_eq!(post_twilio(&s, &hook, &pairs).await, 200, "{l}");
        drain(&s).await;
        let auth = stand.media_auth.lock().unwrap().clone();
        assert_eq!(auth.len(), 1, "{l}");
        assert!(auth[0].starts_with("Basic "), "{l}: {auth:?}");

        let (_, convs) = send(&s, Method::GET, "/api/v1/conversations", &token, None).await;
        let conv = convs["data"][0]["id"].as_str().unwrap().to_string();
        let (st, msgs) = send(&s, Method::GET, &format!("/api/v1/conversations/{conv}/messages"), &token, None).await;
        assert_eq!(st, 200, "{l}: {msgs}");
        let files = &msgs["data"][0]["attachments"];
        assert_eq!(files.as_array().unwrap().len(), 1, "{l}: {msgs}");
        assert_eq!(files[0]["content_type"], "image/png", "{l}");
        assert_eq!(files[0]["size"], PNG.len(), "{l}");
        assert_eq!(files[0]["name"], "twilio_sms-1.png", "{l}");
        let file_id = files[0]["id"].as_str().unwrap().to_string();

        // Download: the bytes, nosniff, inline for a safe image; another workspace sees nothing.
        let resp =
            client().get(s.url(&format!("/api/v1/attachments/{file_id}"))).bearer_auth(&token).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{l}");
        assert_eq!(resp.headers()["x-content-type-options"], "nosniff", "{l}");
        assert_eq!(resp.headers()["content-type"], "image/png", "{l}");
        assert!(resp.headers()["content-disposition"].to_str().unwrap().starts_with("inline;"), "{l}");
        assert_eq!(resp.bytes().await.unwrap().as_ref(), PNG, "{l}");
        let (st, body) = send(&s, Method::GET, &format!("/api/v1/attachments/{file_id}"), &other, None).await;
        assert_eq!((st, code(&body)), (404, "not_found"), "{l}");
        let (st, _) =
            send(&s, Method::GET, &format!("/api/v1/attachments/{}", uuid::Uuid::now_v7()), &token, None).await;
        assert_eq!(st, 404, "{l}");

        // Uploads: hostile names cleaned, empty and oversized refused, other workspaces not found.
        let pdf = b"%PDF-1.4 a small document";
        let (st, up) = upload(&s, &token, &conv, "..\\..\\../evil name.pdf", "application/pdf", pdf).await;
        assert_eq!(st, 201, "{l}: {up}");
        assert_eq!(up["name"], "evil name.pdf", "{l}");
        assert_eq!(up["message_id"], Value::Null, "{l}");
        let up_id = up["id"].as_str().unwrap().to_string();
        let resp =
            client().get(s.url(&format!("/api/v1/attachments/{up_id}"))).bearer_auth(&token).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{l}");
        let disposition = resp.headers()["content-disposition"].to_str().unwrap().to_string();
        assert!(
            disposition.starts_with("attachment;") && disposition.contains("filename*=UTF-8''evil%20name.pdf"),
            "{l}"
        );
        assert_eq!(resp.headers()["x-content-type-options"], "nosniff", "{l}");
        let (st, body) = upload(&s, &token, &conv, "empty.txt", "text/plain", b"").await;
        assert_eq!((st, code(&body)), (422, "validation_failed"), "{l}: {body}");
        let big = vec![7u8; 25 * 1024 * 1024 + 1];
        let (st, body) = upload(&s, &token, &conv, "big.bin", "application/octet-stream", &big).await;
        assert_eq!((st, code(&body)), (413, "payload_too_large"), "{l}: {body}");
        let (st, _) = upload(&s, &other, &conv, "x.txt", "text/plain", b"x").await;
        assert_eq!(st, 404, "{l}");
        let (st, _) = upload(&s, &token, &uuid::Uuid::now_v7().to_string(), "x.txt", "text/plain", b"x").await;
        assert_eq!(st, 404, "{l}");
        let svg = b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>";
        let (st, svg_up) = upload(&s, &token, &conv, "logo.svg", "image/svg+xml", svg).await;
        assert_eq!(st, 201, "{l}");
        let resp = client()
            .get(s.url(&format!("/api/v1/attachments/{}", svg_up["id"].as_str().unwrap())))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert!(resp.headers()["content-disposition"].to_str().unwrap().starts_with("attachment;"), "{l}: svg");

        // A reply with the upload: Twilio gets a signed link that serves the file.
        let path = format!("/api/v1/conversations/{conv}/messages");
        let (st, m) =
            send(&s, Method::POST, &path, &token, Some(json!({"body": "here it is", "attachment_ids": [up_id]}))).await;
        assert_eq!(st, 202, "{l}: {m}");
        assert_eq!(m["attachments"][0]["id"], up_id.as_str(), "{l}: {m}");
        let (st, body) =
            send(&s, Method::POST, &path, &token, Some(json!({"body": "again", "attachment_ids": [up_id]}))).await;
        assert_eq!((st, code(&body)), (422, "validation_failed"), "{l}: an attachment is sent once");
        drain(&s).await;
        let sent = stand.sent.lock().unwrap().clone();
        assert_eq!(sent.len(), 1, "{l}: {sent:?}");
        let pairs = kith_providers::twilio::form_pairs(sent[0].as_bytes());
        let link = pairs.iter().find(|(k, _)| k == "MediaUrl").map(|(_, v)| v.clone()).expect("a MediaUrl");
        assert!(link.starts_with(&s.base), "{l}: {link}");
        let resp = client().get(&link).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{l}");
        assert_eq!(resp.headers()["x-content-type-options"], "nosniff", "{l}");
        assert_eq!(resp.bytes().await.unwrap().as_ref(), pdf, "{l}");
        let forged = format!("{}0", &link[..link.len() - 1]);
        let forged = if forged == link { format!("{}1", &link[..link.len() - 1]) } else { forged };
        assert_eq!(client().get(&forged).send().await.unwrap().status(), 404, "{l}: a forged link");

        // Deleting the contact deletes its objects.
        let contact = convs["data"][0]["contact"]["id"].as_str().unwrap().to_string();
        let (st, _) = send(&s, Method::DELETE, &format!("/api/v1/contacts/{contact}"), &token, None).await;
        assert!(st == 204 || st == 200, "{l}: {st}");
        drain(&s).await;
        assert_eq!(kith_testkit::raw_i64(&s.raw_url, "SELECT COUNT(*) FROM attachments").await, 0, "{l}");
        for id in [file_id, up_id] {
            let key = format!("org/{}/att/{id}", owner.org_id);
            assert!(s.app.objects().get(&key).await.unwrap().is_none(), "{l}: {key} is still stored");
        }
        // The SVG upload never sent is in the same conversation: gone too.
        let key = format!("org/{}/att/{}", owner.org_id, svg_up["id"].as_str().unwrap());
        assert!(s.app.objects().get(&key).await.unwrap().is_none(), "{l}: unsent upload still stored");
    }
}

/// A Bot API stand-in: `setWebhook`, `getFile`, `sendPhoto` and the file download.
async fn telegram_stand_in() -> (Arc<Mutex<Vec<(String, Value)>>>, String) {
    let calls: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
    let c = calls.clone();
    let router = axum::Router::new()
        .route(
            "/{bot}/{method}",
            axum::routing::post(
                move |axum::extract::Path((_bot, method)): axum::extract::Path<(String, String)>,
                      axum::Json(body): axum::Json<Value>| {
                    let c = c.clone();
                    async move {
                        c.lock().unwrap().push((method.clone(), body));
                        let result = match method.as_str() {
                            "getFile" => json!({"file_id": "F1", "file_path": "photos/file_1.jpg"}),
                            "sendPhoto" | "sendDocument" => json!({"message_id": 77, "chat": {"id": 42}}),
                            _ => json!(true),
                        };
                        axum::Json(json!({"ok": true, "result": result}))
                    }
                },
            ),
        )
        .route(
            "/file/{bot}/photos/file_1.jpg",
            axum::routing::get(|axum::extract::Path(bot): axum::extract::Path<String>| async move {
                if bot != "bot123456:ABC-secret" {
                    return (axum::http::StatusCode::NOT_FOUND, [("content-type", "text/plain")], &b"no"[..]);
                }
                (axum::http::StatusCode::OK, [("content-type", "image/jpeg")], &b"\xff\xd8\xff jpeg bytes"[..])
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (calls, format!("http://{addr}"))
}

#[tokio::test]
async fn telegram_media_in_and_out() {
    for db in TestDb::all().await {
        let (calls, base) = telegram_stand_in().await;
        let settings = AppSettings {
            provider_bases: ProviderBases { telegram: base.clone(), meta_graph: base, ..ProviderBases::default() },
            ..kith_testkit::app::test_settings()
        };
        let web = kith_web::WebConfig { api_rate_per_second: 0, ..Default::default() };
        let s = spawn_with(db, settings, web).await;
        let l = s.label;
        let (_, token) = s.user_with_token("tg-files@web.test").await;
        let (st, tg) = send(
            &s,
            Method::POST,
            "/api/v1/channels",
            &token,
            Some(json!({"kind": "telegram", "name": "Bot", "config": {"bot_token": "123456:ABC-secret"}})),
        )
        .await;
        assert_eq!(st, 201, "{l}: {tg}");
        let secret = calls.lock().unwrap().iter().find(|(m, _)| m == "setWebhook").unwrap().1["secret_token"]
            .as_str()
            .unwrap()
            .to_string();
        let update = json!({"update_id": 1, "message": {"message_id": 5, "date": 1749416383,
            "chat": {"id": 42, "type": "private"}, "from": {"id": 42, "is_bot": false, "first_name": "Tom"},
            "caption": "look", "photo": [{"file_id": "F1", "file_unique_id": "U1", "width": 90, "height": 90}]}});
        let hook = format!("/hooks/telegram/{}", tg["id"].as_str().unwrap());
        let resp = client()
            .post(s.url(&hook))
            .header("x-telegram-bot-api-secret-token", &secret)
            .json(&update)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{l}");
        drain(&s).await;
        let get_file = calls.lock().unwrap().iter().find(|(m, _)| m == "getFile").map(|(_, b)| b.clone());
        assert_eq!(get_file.unwrap()["file_id"], "F1", "{l}");

        let (_, convs) = send(&s, Method::GET, "/api/v1/conversations", &token, None).await;
        let conv = convs["data"][0]["id"].as_str().unwrap().to_string();
        let (_, msgs) = send(&s, Method::GET, &format!("/api/v1/conversations/{conv}/messages"), &token, None).await;
        let file = &msgs["data"][0]["attachments"][0];
        assert_eq!(
            (file["name"].as_str(), file["content_type"].as_str()),
            (Some("telegram-1.jpg"), Some("image/jpeg"))
        );
        let resp = client()
            .get(s.url(&format!("/api/v1/attachments/{}", file["id"].as_str().unwrap())))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.bytes().await.unwrap().as_ref(), b"\xff\xd8\xff jpeg bytes", "{l}");

        // Out: one file per message on Telegram, sent with sendPhoto and the text as caption.
        let (_, a) = upload(&s, &token, &conv, "map.png", "image/png", b"png bytes").await;
        let (_, b) = upload(&s, &token, &conv, "b.pdf", "application/pdf", b"pdf bytes").await;
        let path = format!("/api/v1/conversations/{conv}/messages");
        let two = json!({"body": "two", "attachment_ids": [a["id"], b["id"]]});
        let (st, body) = send(&s, Method::POST, &path, &token, Some(two)).await;
        assert_eq!((st, code(&body)), (422, "validation_failed"), "{l}: {body}");
        let (st, m) =
            send(&s, Method::POST, &path, &token, Some(json!({"body": "the map", "attachment_ids": [a["id"]]}))).await;
        assert_eq!(st, 202, "{l}: {m}");
        drain(&s).await;
        let sent = calls.lock().unwrap().iter().find(|(m, _)| m == "sendPhoto").map(|(_, b)| b.clone()).unwrap();
        assert_eq!((sent["chat_id"].as_i64(), sent["caption"].as_str()), (Some(42), Some("the map")), "{l}");
        let link = sent["photo"].as_str().unwrap();
        assert_eq!(client().get(link).send().await.unwrap().bytes().await.unwrap().as_ref(), b"png bytes", "{l}");
        let (_, after) = send(&s, Method::GET, &format!("/api/v1/conversations/{conv}/messages"), &token, None).await;
        assert_eq!(after["data"][0]["state"], "sent", "{l}: {after}");
    }
}

/// A Graph API stand-in: the media lookup (`GET /{media-id}`), the media
/// download, and `POST /{phone_number_id}/messages`; it records bearer tokens.
async fn graph_stand_in() -> (Arc<Mutex<Vec<(String, String, Value)>>>, String) {
    let calls: Arc<Mutex<Vec<(String, String, Value)>>> = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (c1, c2, c3) = (calls.clone(), calls.clone(), calls.clone());
    let download = format!("{base}/download/m1.jpg");
    let bearer =
        |h: &axum::http::HeaderMap| h.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let router = axum::Router::new()
        .route(
            "/{node}",
            axum::routing::get(
                move |axum::extract::Path(node): axum::extract::Path<String>, h: axum::http::HeaderMap| {
                    let (c, download) = (c1.clone(), download.clone());
                    async move {
                        c.lock().unwrap().push(("lookup".into(), bearer(&h), json!(node)));
                        axum::Json(json!({"url": download, "mime_type": "image/jpeg", "id": node}))
                    }
                },
            ),
        )
        .route(
            "/download/m1.jpg",
            axum::routing::get(move |h: axum::http::HeaderMap| {
                let c = c2.clone();
                async move {
                    c.lock().unwrap().push(("download".into(), bearer(&h), Value::Null));
                    ([("content-type", "image/jpeg")], &b"wa jpeg"[..])
                }
            }),
        )
        .route(
            "/{node}/messages",
            axum::routing::post(move |h: axum::http::HeaderMap, axum::Json(body): axum::Json<Value>| {
                let c = c3.clone();
                async move {
                    c.lock().unwrap().push(("send".into(), bearer(&h), body));
                    axum::Json(json!({"messages": [{"id": "wamid.OUT1"}]}))
                }
            }),
        );
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (calls, base)
}

#[tokio::test]
async fn whatsapp_media_in_and_out() {
    for db in TestDb::all().await {
        let (calls, base) = graph_stand_in().await;
        let settings = AppSettings {
            provider_bases: ProviderBases { meta_graph: base, ..ProviderBases::default() },
            ..kith_testkit::app::test_settings()
        };
        let web = kith_web::WebConfig { api_rate_per_second: 0, ..Default::default() };
        let s = spawn_with(db, settings, web).await;
        let l = s.label;
        let (_, token) = s.user_with_token("wa-files@web.test").await;
        let (st, ch) = send(
            &s,
            Method::POST,
            "/api/v1/channels",
            &token,
            Some(json!({"kind": "whatsapp", "name": "WA", "config": {"phone_number_id": "1065",
                "access_token": "EAAG-token", "app_secret": "app-secret", "verify_token": "verify-me"}})),
        )
        .await;
        assert_eq!(st, 201, "{l}: {ch}");
        let hook = format!("/hooks/meta/{}", ch["id"].as_str().unwrap());
        let body = json!({"object": "whatsapp_business_account", "entry": [{"id": "W", "changes": [{"field": "messages",
            "value": {"messaging_product": "whatsapp", "metadata": {"display_phone_number": "1555", "phone_number_id": "1065"},
            "contacts": [{"profile": {"name": "Sheena"}, "wa_id": "16505551234"}],
            "messages": [{"from": "16505551234", "id": "wamid.IN1", "timestamp": "1749416383", "type": "image",
                          "image": {"id": "MEDIA1", "mime_type": "image/jpeg", "caption": "this one"}}]}}]}]})
        .to_string();
        let resp = client()
            .post(s.url(&hook))
            .header("x-hub-signature-256", kith_providers::meta::sign("app-secret", body.as_bytes()))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{l}");
        drain(&s).await;
        {
            let seen = calls.lock().unwrap();
            let lookup = seen.iter().find(|(k, _, _)| k == "lookup").expect("a media lookup");
            assert_eq!((lookup.1.as_str(), &lookup.2), ("Bearer EAAG-token", &json!("MEDIA1")), "{l}");
            let download = seen.iter().find(|(k, _, _)| k == "download").expect("a download");
            assert_eq!(download.1, "Bearer EAAG-token", "{l}");
        }
        let (_, convs) = send(&s, Method::GET, "/api/v1/conversations", &token, None).await;
        let conv = convs["data"][0]["id"].as_str().unwrap().to_string();
        let (_, msgs) = send(&s, Method::GET, &format!("/api/v1/conversations/{conv}/messages"), &token, None).await;
        assert_eq!(msgs["data"][0]["attachments"][0]["size"], 7, "{l}: {msgs}");

        // Out: a document by signed link with the text as caption and the file name.
        let (_, up) = upload(&s, &token, &conv, "quote.pdf", "application/pdf", b"%PDF quote").await;
        let path = format!("/api/v1/conversations/{conv}/messages");
        let (st, m) =
            send(&s, Method::POST, &path, &token, Some(json!({"body": "our quote", "attachment_ids": [up["id"]]})))
                .await;
        assert_eq!(st, 202, "{l}: {m}");
        drain(&s).await;
        let sent = calls.lock().unwrap().iter().find(|(k, _, _)| k == "send").map(|c| c.2.clone()).unwrap();
        assert_eq!(sent["type"], "document", "{l}: {sent}");
        assert_eq!(sent["document"]["caption"], "our quote", "{l}");
        assert_eq!(sent["document"]["filename"], "quote.pdf", "{l}");
        let link = sent["document"]["link"].as_str().unwrap();
        assert_eq!(client().get(link).send().await.unwrap().bytes().await.unwrap().as_ref(), b"%PDF quote", "{l}");
    }
}

/// Without `allow_private_networks`, a media URL from a payload that points at
/// a loopback address is never fetched: the part is skipped, the job ends.
#[tokio::test]
async fn payload_media_urls_go_through_the_ssrf_guard() {
    for db in TestDb::all().await {
        let (stand, base) = stand_in().await;
        let settings = AppSettings {
            provider_bases: ProviderBases { twilio: base.clone(), ..ProviderBases::default() },
            allow_private_networks: false,
            ..kith_testkit::app::test_settings()
        };
        let web = kith_web::WebConfig { api_rate_per_second: 0, ..Default::default() };
        let s = spawn_with(db, settings, web).await;
        let l = s.label;
        let (_, token) = s.user_with_token("ssrf-files@web.test").await;
        let config = json!({"account_sid": "AC1", "auth_token": AUTH_TOKEN, "from": "+15550000000"});
        let (st, ch) = send(
            &s,
            Method::POST,
            "/api/v1/channels",
            &token,
            Some(json!({"kind": "twilio_sms", "name": "Desk", "config": config})),
        )
        .await;
        assert_eq!(st, 201, "{l}: {ch}");
        let hook = format!("/hooks/twilio/{}", ch["id"].as_str().unwrap());
        let media_url = format!("{base}/media/1");
        let pairs = [
            ("MessageSid", "MMssrf"),
            ("AccountSid", "AC1"),
            ("From", "+15551230009"),
            ("To", "+15550000000"),
            ("Body", ""),
            ("NumMedia", "1"),
            ("MediaUrl0", media_url.as_str()),
        ];
        assert_eq!(post_twilio(&s, &hook, &pairs).await, 200, "{l}");
        drain(&s).await;
        assert!(stand.media_auth.lock().unwrap().is_empty(), "{l}: the loopback URL was fetched");
        assert_eq!(kith_testkit::raw_i64(&s.raw_url, "SELECT COUNT(*) FROM attachments").await, 0, "{l}");
        let dead = "SELECT COUNT(*) FROM jobs WHERE kind = 'inbox.media'";
        assert_eq!(kith_testkit::raw_i64(&s.raw_url, dead).await, 0, "{l}: the job ended");
    }
}

/// What the Messenger / Instagram / Viber stand-in received: (path, body).
type Calls = Arc<Mutex<Vec<(String, Value)>>>;

/// One stand-in for the Graph API (under `/graph`) and Viber (under `/pa`):
/// it records each send, answers with a new id each time, and fails the
/// next `fail_texts` Messenger text sends with a transient Graph error.
async fn one_file_stand_in() -> (Calls, Arc<std::sync::atomic::AtomicUsize>, String) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let calls: Calls = Arc::default();
    let fail_texts = Arc::new(AtomicUsize::new(0));
    let n = Arc::new(AtomicUsize::new(0));
    let (c1, c2, f1, n1, n2) = (calls.clone(), calls.clone(), fail_texts.clone(), n, Arc::new(AtomicUsize::new(0)));
    let router = axum::Router::new()
        .route(
            "/graph/{node}/messages",
            axum::routing::post(
                move |axum::extract::Path(node): axum::extract::Path<String>, axum::Json(body): axum::Json<Value>| {
                    let (c, f, n) = (c1.clone(), f1.clone(), n1.clone());
                    async move {
                        c.lock().unwrap().push((format!("/graph/{node}/messages"), body.clone()));
                        let is_text = body["message"].get("text").is_some();
                        if is_text && f.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |k| k.checked_sub(1)).is_ok() {
                            let err = json!({"error": {"message": "try later", "code": 2, "is_transient": true}});
                            return (axum::http::StatusCode::SERVICE_UNAVAILABLE, axum::Json(err));
                        }
                        let id = format!("m_out{}", n.fetch_add(1, Ordering::SeqCst) + 1);
                        let recipient = body["recipient"]["id"].clone();
                        (axum::http::StatusCode::OK, axum::Json(json!({"recipient_id": recipient, "message_id": id})))
                    }
                },
            ),
        )
        .route(
            "/pa/{method}",
            axum::routing::post(
                move |axum::extract::Path(m): axum::extract::Path<String>, axum::Json(body): axum::Json<Value>| {
                    let (c, n) = (c2.clone(), n2.clone());
                    async move {
                        c.lock().unwrap().push((format!("/pa/{m}"), body));
                        let token = 5_741_311_803_571_721_000_i64 + n.fetch_add(1, Ordering::SeqCst) as i64;
                        axum::Json(json!({"status": 0, "status_message": "ok", "message_token": token}))
                    }
                },
            ),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (calls, fail_texts, base)
}

/// Post a Viber callback to channel `channel`'s hook, signed with the
/// bot token the tests connect with; the answer's status.
async fn post_viber(s: &TestServer, channel: &impl std::fmt::Display, callback: &Value) -> u16 {
    let body = callback.to_string();
    let signature = kith_providers::viber::sign("viber-token", body.as_bytes());
    let resp = client()
        .post(s.url(&format!("/hooks/viber/{channel}")))
        .header("x-viber-content-signature", signature)
        .body(body)
        .send()
        .await
        .unwrap();
    resp.status().as_u16()
}

/// Run jobs until none is due within 8 s (sends wait for their rate-limit slot).
async fn drain_waiting(s: &TestServer) {
    loop {
        drain(s).await;
        let now = kith_domain::time::now_ms();
        let next = "SELECT COALESCE(MIN(run_at_ms), -1) FROM jobs WHERE status = 'queued'";
        match kith_testkit::raw_i64(&s.raw_url, next).await {
            at if at >= 0 && at - now < 8_000 => {
                tokio::time::sleep(std::time::Duration::from_millis((at - now).max(1) as u64)).await
            }
            _ => break,
        }
    }
}

/// The sends a stand-in received at a path since `from`, as bodies.
fn sends_at(calls: &Calls, path: &str, from: usize) -> Vec<Value> {
    calls.lock().unwrap().iter().skip(from).filter(|(p, _)| p == path).map(|(_, b)| b.clone()).collect()
}

async fn fetch(link: &str) -> Vec<u8> {
    let resp = client().get(link).send().await.unwrap();
    assert_eq!(resp.status(), 200, "{link}");
    resp.bytes().await.unwrap().to_vec()
}

/// Messenger, Instagram and Viber carry one file per message: each file
/// goes as a provider message of its own (by signed link, which serves the
/// file), then the text; a Viber picture takes a short text as its `text`.
/// Instagram refuses documents and Viber executables before anything is
/// queued; a send retried after the text failed does not send the files again.
#[tokio::test]
async fn messenger_instagram_and_viber_media_out() {
    const SECRET: &str = "meta-files-secret";
    for db in TestDb::all().await {
        let (calls, fail_texts, base) = one_file_stand_in().await;
        let settings = AppSettings {
            provider_bases: ProviderBases {
                meta_graph: format!("{base}/graph"),
                viber: format!("{base}/pa"),
                ..ProviderBases::default()
            },
            ..kith_testkit::app::test_settings()
        };
        let web = kith_web::WebConfig { api_rate_per_second: 0, ..Default::default() };
        let s = spawn_with(db, settings, web).await;
        let l = s.label;
        let (_, token) = s.user_with_token("one-file@web.test").await;
        let channel = |kind: &'static str, config: Value| {
            let (s, token) = (&s, token.clone());
            async move {
                let body = json!({"kind": kind, "name": kind, "config": config});
                let (st, ch) = send(s, Method::POST, "/api/v1/channels", &token, Some(body)).await;
                assert_eq!(st, 201, "{kind}: {ch}");
                ch["id"].as_str().unwrap().to_string()
            }
        };
        let fb = channel(
            "messenger",
            json!({"page_id": "PAGE1", "page_access_token": "page-token", "app_secret": SECRET, "verify_token": "v"}),
        )
        .await;
        let ig = channel(
            "instagram",
            json!({"instagram_account_id": "IG1", "page_access_token": "ig-token", "app_secret": SECRET,
                   "verify_token": "v"}),
        )
        .await;
        let vb = channel("viber", json!({"auth_token": "viber-token", "sender_name": "Kith Shop"})).await;

        // A message in from each, so that each has a conversation.
        let now = kith_domain::time::now_ms();
        for (ch, object, page, user) in [(&fb, "page", "PAGE1", "PSID1"), (&ig, "instagram", "IG1", "IGSID1")] {
            let body = json!({"object": object, "entry": [{"id": page, "time": now, "messaging": [{
                "sender": {"id": user}, "recipient": {"id": page}, "timestamp": now,
                "message": {"mid": format!("in-{user}"), "text": "hello"}}]}]})
            .to_string();
            let resp = client()
                .post(s.url(&format!("/hooks/meta/{ch}")))
                .header("x-hub-signature-256", kith_providers::meta::sign(SECRET, body.as_bytes()))
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200, "{l}");
        }
        let vb_in = json!({"event": "message", "timestamp": now, "message_token": 4912661846655238145_i64,
            "sender": {"id": "01234567890A=", "name": "Viber User", "api_version": 2},
            "message": {"type": "text", "text": "hi"}, "silent": false});
        assert_eq!(post_viber(&s, &vb, &vb_in).await, 200, "{l}");
        drain(&s).await;
        let conv_of = |ch: String| {
            let (s, token) = (&s, token.clone());
            async move {
                let (_, list) =
                    send(s, Method::GET, &format!("/api/v1/conversations?channel={ch}"), &token, None).await;
                list["data"][0]["id"].as_str().unwrap().to_string()
            }
        };
        let (fb_conv, ig_conv, vb_conv) =
            (conv_of(fb.clone()).await, conv_of(ig.clone()).await, conv_of(vb.clone()).await);

        // Messenger: two files, each a message of its own, then the text; the
        // text fails once (transient) and the retry sends only the text.
        let (_, photo) = upload(&s, &token, &fb_conv, "photo.png", "image/png", b"png photo").await;
        let (_, quote) = upload(&s, &token, &fb_conv, "quote.pdf", "application/pdf", b"%PDF the quote").await;
        fail_texts.store(1, std::sync::atomic::Ordering::SeqCst);
        let path = format!("/api/v1/conversations/{fb_conv}/messages");
        let reply = json!({"body": "Here you go", "attachment_ids": [photo["id"], quote["id"]]});
        let (st, m) = send(&s, Method::POST, &path, &token, Some(reply)).await;
        assert_eq!(st, 202, "{l}: {m}");
        // Each call takes its own rate-limit slot: outside a running worker
        // the job defers to the next call's slot (~100 ms at Messenger's 10/s).
        let started = std::time::Instant::now();
        while sends_at(&calls, "/graph/PAGE1/messages", 0).len() < 3 && started.elapsed().as_secs() < 5 {
            drain(&s).await;
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let sent = sends_at(&calls, "/graph/PAGE1/messages", 0);
        assert_eq!(sent.len(), 3, "{l}: two files and the failed text: {sent:?}");
        let link = |v: &Value| v["message"]["attachment"]["payload"]["url"].as_str().unwrap().to_string();
        let (photo_link, quote_link) = (link(&sent[0]), link(&sent[1]));
        assert_eq!(
            sent[0],
            json!({"recipient": {"id": "PSID1"}, "messaging_type": "RESPONSE", "message": {"attachment": {
                "type": "image", "payload": {"url": photo_link, "is_reusable": false}}}}),
            "{l}"
        );
        assert_eq!(
            sent[1],
            json!({"recipient": {"id": "PSID1"}, "messaging_type": "RESPONSE", "message": {"attachment": {
                "type": "file", "payload": {"url": quote_link, "is_reusable": false}}}}),
            "{l}"
        );
        assert_eq!(fetch(&photo_link).await, b"png photo", "{l}");
        assert_eq!(fetch(&quote_link).await, b"%PDF the quote", "{l}");
        let recorded = "SELECT COUNT(*) FROM attachments WHERE provider_message_id IS NOT NULL";
        assert_eq!(kith_testkit::raw_i64(&s.raw_url, recorded).await, 2, "{l}: each file's id kept");
        // The retry (made due now) sends the text alone.
        kith_testkit::raw_execute(&s.raw_url, "UPDATE jobs SET run_at_ms = 0 WHERE status = 'queued'").await;
        drain_waiting(&s).await;
        let sent = sends_at(&calls, "/graph/PAGE1/messages", 0);
        assert_eq!(sent.len(), 4, "{l}: {sent:?}");
        assert_eq!(
            sent[3],
            json!({"recipient": {"id": "PSID1"}, "messaging_type": "RESPONSE", "message": {"text": "Here you go"}}),
            "{l}"
        );
        let (_, msgs) = send(&s, Method::GET, &path, &token, None).await;
        assert_eq!(msgs["data"][0]["state"], "sent", "{l}: {msgs}");
        assert_eq!(msgs["data"][0]["attachments"].as_array().unwrap().len(), 2, "{l}");
        // The message keeps the text's id (what status callbacks name); the files keep theirs.
        let text_id = "SELECT COUNT(*) FROM messages WHERE direction = 'out' AND provider_message_id = 'm_out3'";
        assert_eq!(kith_testkit::raw_i64(&s.raw_url, text_id).await, 1, "{l}");

        // Instagram: a document is refused before anything is queued; an image goes, then the text.
        let ig_path = format!("/api/v1/conversations/{ig_conv}/messages");
        let (_, doc) = upload(&s, &token, &ig_conv, "terms.pdf", "application/pdf", b"%PDF terms").await;
        let (_, pic) = upload(&s, &token, &ig_conv, "look.jpg", "image/jpeg", b"jpeg look").await;
        let queued = "SELECT COUNT(*) FROM messages WHERE direction = 'out'";
        let before = kith_testkit::raw_i64(&s.raw_url, queued).await;
        let (st, err) = send(
            &s,
            Method::POST,
            &ig_path,
            &token,
            Some(json!({"body": "terms", "attachment_ids": [pic["id"], doc["id"]]})),
        )
        .await;
        assert_eq!((st, code(&err)), (422, "validation_failed"), "{l}: {err}");
        assert_eq!(err["error"]["fields"][0]["field"], "attachment_ids.1", "{l}: {err}");
        assert_eq!(kith_testkit::raw_i64(&s.raw_url, queued).await, before, "{l}: nothing queued");
        let (st, m) =
            send(&s, Method::POST, &ig_path, &token, Some(json!({"body": "Look", "attachment_ids": [pic["id"]]})))
                .await;
        assert_eq!(st, 202, "{l}: {m}");
        drain_waiting(&s).await;
        let sent = sends_at(&calls, "/graph/IG1/messages", 0);
        assert_eq!(sent.len(), 2, "{l}: {sent:?}");
        assert_eq!(sent[0]["message"]["attachment"]["type"], "image", "{l}");
        assert_eq!(sent[0]["message"]["attachment"]["payload"]["is_reusable"], false, "{l}");
        assert_eq!(fetch(&link(&sent[0])).await, b"jpeg look", "{l}");
        assert_eq!(sent[1]["message"], json!({"text": "Look"}), "{l}");

        // Viber: a picture carries a short text; a file goes with its size and
        // name, its text apart; a long text goes apart from a picture; an
        // executable is refused up front.
        let vb_path = format!("/api/v1/conversations/{vb_conv}/messages");
        let (_, exe) = upload(&s, &token, &vb_conv, "setup.exe", "application/octet-stream", b"MZ").await;
        let (st, err) =
            send(&s, Method::POST, &vb_path, &token, Some(json!({"body": "run it", "attachment_ids": [exe["id"]]})))
                .await;
        assert_eq!((st, code(&err)), (422, "validation_failed"), "{l}: {err}");
        assert_eq!(err["error"]["fields"][0]["field"], "attachment_ids.0", "{l}: {err}");
        let (_, jpg) = upload(&s, &token, &vb_conv, "shop.jpg", "image/jpeg", b"jpeg shop").await;
        let (_, manual) = upload(&s, &token, &vb_conv, "manual.pdf", "application/pdf", b"%PDF manual").await;
        let (_, big_text_pic) = upload(&s, &token, &vb_conv, "map.png", "image/png", b"png map").await;
        let long = "L".repeat(121);
        let from = calls.lock().unwrap().len();
        for (body, id) in
            [("Our shop", &jpg["id"]), ("The manual", &manual["id"]), (long.as_str(), &big_text_pic["id"])]
        {
            let (st, m) =
                send(&s, Method::POST, &vb_path, &token, Some(json!({"body": body, "attachment_ids": [id]}))).await;
            assert_eq!(st, 202, "{l}: {m}");
            drain_waiting(&s).await;
        }
        let sent = sends_at(&calls, "/pa/send_message", from);
        assert_eq!(sent.len(), 5, "{l}: {sent:?}");
        let media = |v: &Value| v["media"].as_str().unwrap().to_string();
        let head = json!({"receiver": "01234567890A=", "min_api_version": 1, "sender": {"name": "Kith Shop"}});
        let with = |extra: Value| {
            let mut v = head.clone();
            v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            v
        };
        assert_eq!(sent[0], with(json!({"type": "picture", "media": media(&sent[0]), "text": "Our shop"})), "{l}");
        assert!(
            reqwest::Url::parse(&media(&sent[0])).unwrap().path().ends_with(".jpg"),
            "{l}: Viber wants the extension"
        );
        assert_eq!(fetch(&media(&sent[0])).await, b"jpeg shop", "{l}");
        assert_eq!(
            sent[1],
            with(json!({"type": "file", "media": media(&sent[1]), "size": 11, "file_name": "manual.pdf"})),
            "{l}"
        );
        assert_eq!(fetch(&media(&sent[1])).await, b"%PDF manual", "{l}");
        assert_eq!(sent[2], with(json!({"type": "text", "text": "The manual"})), "{l}");
        assert_eq!(sent[3], with(json!({"type": "picture", "media": media(&sent[3])})), "{l}: no text over 120");
        assert_eq!(sent[4], with(json!({"type": "text", "text": long})), "{l}");
        let (_, msgs) = send(&s, Method::GET, &vb_path, &token, None).await;
        for m in msgs["data"].as_array().unwrap().iter().filter(|m| m["direction"] == "out") {
            assert_eq!(m["state"], "sent", "{l}: {m}");
        }

        // Status callbacks naming a file sent on its own (the manual's token:
        // the stand-in's third Viber call): `delivered` is known, not kept
        // waiting for a message; `failed` fails the file's message.
        let manual_token = 5_741_311_803_571_721_002_i64;
        for (event, extra) in [("delivered", json!({})), ("failed", json!({"desc": "file refused"}))] {
            let mut cb = json!({"event": event, "timestamp": now, "message_token": manual_token,
                                "user_id": "01234567890A="});
            cb.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            assert_eq!(post_viber(&s, &vb, &cb).await, 200, "{l}");
            drain(&s).await;
            let pending = "SELECT COUNT(*) FROM pending_statuses";
            assert_eq!(kith_testkit::raw_i64(&s.raw_url, pending).await, 0, "{l}: {event} of a file kept waiting");
        }
        let (_, msgs) = send(&s, Method::GET, &vb_path, &token, None).await;
        let states: Vec<(&str, &str)> = msgs["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["direction"] == "out")
            .map(|m| (m["body"].as_str().unwrap(), m["state"].as_str().unwrap()))
            .collect();
        assert_eq!(states[1], ("The manual", "failed"), "{l}: {states:?}");
        assert_eq!((states[0].1, states[2].1), ("sent", "sent"), "{l}: {states:?}");

        // A file's `failed` that overtakes the send (here: posted before it,
        // for the token the stand-in gives the next call) waits in
        // `pending_statuses` and fails the message once the file's id is
        // recorded.
        let early_token = 5_741_311_803_571_721_006_i64;
        let cb = json!({"event": "failed", "timestamp": now, "message_token": early_token,
                        "user_id": "01234567890A=", "desc": "file refused early"});
        assert_eq!(post_viber(&s, &vb, &cb).await, 200, "{l}");
        drain(&s).await;
        let pending = "SELECT COUNT(*) FROM pending_statuses";
        assert_eq!(kith_testkit::raw_i64(&s.raw_url, pending).await, 1, "{l}: held until its message appears");
        let (_, early) = upload(&s, &token, &vb_conv, "terms.pdf", "application/pdf", b"%PDF terms").await;
        let (st, m) = send(
            &s,
            Method::POST,
            &vb_path,
            &token,
            Some(json!({"body": "Our terms", "attachment_ids": [early["id"]]})),
        )
        .await;
        assert_eq!(st, 202, "{l}: {m}");
        drain_waiting(&s).await;
        let sent = sends_at(&calls, "/pa/send_message", from);
        assert_eq!(sent.len(), 6, "{l}: the file, and not the text of a failed message: {sent:?}");
        assert_eq!(sent[5]["file_name"], "terms.pdf", "{l}");
        assert_eq!(kith_testkit::raw_i64(&s.raw_url, pending).await, 0, "{l}: the early status was applied");
        let (_, msgs) = send(&s, Method::GET, &vb_path, &token, None).await;
        let one = msgs["data"].as_array().unwrap().iter().find(|x| x["id"] == m["id"]).expect("the message").clone();
        let outcome = (one["state"].as_str(), one["error_message"].as_str());
        assert_eq!(outcome, (Some("failed"), Some("file refused early")), "{l}: {one}");
    }
}
