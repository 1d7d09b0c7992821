//! Removing an upload before it is sent, over HTTP on each backend:
//! `DELETE /api/v1/attachments/{id}` (token; 204, then 404; a sent file is
//! 409 `attachment_sent` and stays; another workspace's token is 404; a
//! viewer-scoped token is 403; in the OpenAPI document) and the composer's
//! `DELETE /inbox/c/{id}/attachments/{attachment_id}` (session; the token
//! in `X-CSRF-Token`: missing, forged or from another site is 403 and
//! nothing is deleted; another conversation's or workspace's id is 404; a
//! sent file is 409). Each removal is checked in the database and in the
//! object store.

use crate::helpers::{browser, client, code, form_value, json};
use kith_testkit::{spawn_with, TestDb, TestServer};
use reqwest::{Client, Method};
use serde_json::{json, Value};

const AUTH_TOKEN: &str = "twilio-auth-token-for-removals";

async fn server(db: TestDb) -> TestServer {
    spawn_with(
        db,
        kith_testkit::app::test_settings(),
        kith_web::WebConfig { api_rate_per_second: 0, ..Default::default() },
    )
    .await
}

async fn send(s: &TestServer, method: Method, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = client().request(method, s.url(path)).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    json(req.send().await.unwrap()).await
}

/// A Twilio channel and two conversations (two inbound SMS); their ids.
async fn two_conversations(s: &TestServer, token: &str) -> (String, String) {
    let (st, ch) = send(
        s,
        Method::POST,
        "/api/v1/channels",
        token,
        Some(json!({"kind": "twilio_sms", "name": "Desk",
                    "config": {"account_sid": "AC1", "auth_token": AUTH_TOKEN, "from": "+15550000000"}})),
    )
    .await;
    assert_eq!(st, 201, "{}: {ch}", s.label);
    let url = s.url(&format!("/hooks/twilio/{}", ch["id"].as_str().unwrap()));
    let mut ids = Vec::new();
    for (sid, from) in [("SMdel1", "+15557772001"), ("SMdel2", "+15557772002")] {
        let pairs =
            [("MessageSid", sid), ("AccountSid", "AC1"), ("From", from), ("To", "+15550000000"), ("Body", "hi")];
        let body = serde_urlencoded::to_string(pairs).unwrap();
        let sig = kith_providers::twilio::compute_signature(
            AUTH_TOKEN,
            &url,
            &kith_providers::twilio::form_pairs(body.as_bytes()),
        );
        let r = client()
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-twilio-signature", sig)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", s.label);
        let w = kith_app::worker::Worker::new(s.app.clone(), kith_app::worker::Registry::standard());
        while w.run_once().await.unwrap() > 0 {}
        let (_, convs) = send(s, Method::GET, "/api/v1/conversations", token, None).await;
        ids.push(convs["data"][0]["id"].as_str().unwrap().to_string());
    }
    assert_ne!(ids[0], ids[1], "{}", s.label);
    (ids[0].clone(), ids[1].clone())
}

/// A multipart body: the fields in order, then `file`.
fn multipart(fields: &[(&str, &str)], name: &str, data: &[u8]) -> (String, Vec<u8>) {
    let boundary = "kith-removal-boundary";
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n").as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
             Content-Type: text/plain\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(data);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn api_upload(s: &TestServer, token: &str, conv: &str, name: &str) -> String {
    let (ct, body) = multipart(&[("conversation_id", conv)], name, name.as_bytes());
    let r = client().post(s.url("/api/v1/attachments")).bearer_auth(token).header("content-type", ct).body(body);
    let (st, up) = json(r.send().await.unwrap()).await;
    assert_eq!(st, 201, "{}: {up}", s.label);
    up["id"].as_str().unwrap().to_string()
}

/// How many rows, and whether the object is still in the store.
async fn stored(s: &TestServer, org_id: uuid::Uuid, id: &str) -> (i64, bool) {
    // Ids read back as ids (SQLite keeps them as blobs: no text comparison in SQL).
    let id: uuid::Uuid = id.parse().unwrap();
    let all = kith_testkit::raw_ids(&s.raw_url, "SELECT id FROM attachments").await;
    let rows = all.iter().filter(|a| **a == id).count() as i64;
    let key = kith_app::inbox::attachments::object_key(org_id, id);
    (rows, s.app.objects().get_bytes(&key).await.unwrap().is_some())
}

async fn reply_with(s: &TestServer, token: &str, conv: &str, id: &str) {
    let path = format!("/api/v1/conversations/{conv}/messages");
    let (st, m) =
        send(s, Method::POST, &path, token, Some(json!({"body": "with a file", "attachment_ids": [id]}))).await;
    assert_eq!(st, 202, "{}: {m}", s.label);
}

#[tokio::test]
async fn api_deletes_unsent_uploads_only() {
    for db in TestDb::all().await {
        let s = server(db).await;
        let l = s.label;
        let (owner, token) = s.user_with_token("api-remove@web.test").await;
        let (_, stranger) = s.user_with_token("api-remove-stranger@web.test").await;
        let (conv, _) = two_conversations(&s, &token).await;
        let path = |id: &str| format!("/api/v1/attachments/{id}");

        // Unsent: 204, row and object gone; again 404.
        let id = api_upload(&s, &token, &conv, "draft.txt").await;
        assert_eq!(stored(&s, owner.org_id, &id).await, (1, true), "{l}");
        let (st, body) = send(&s, Method::DELETE, &path(&id), &token, None).await;
        assert_eq!(st, 204, "{l}: {body}");
        assert_eq!(stored(&s, owner.org_id, &id).await, (0, false), "{l}: row and object gone");
        let (st, body) = send(&s, Method::DELETE, &path(&id), &token, None).await;
        assert_eq!((st, code(&body)), (404, "not_found"), "{l}");
        let (st, body) = send(&s, Method::DELETE, &path("not-an-id"), &token, None).await;
        assert_eq!((st, code(&body)), (404, "not_found"), "{l}");

        // Another workspace's token: 404, nothing deleted. A viewer-scoped token: 403.
        let kept = api_upload(&s, &token, &conv, "kept.txt").await;
        let (st, body) = send(&s, Method::DELETE, &path(&kept), &stranger, None).await;
        assert_eq!((st, code(&body)), (404, "not_found"), "{l}");
        let (st, ro) =
            send(&s, Method::POST, "/api/v1/tokens", &token, Some(json!({"name": "ro", "scope": "viewer"}))).await;
        assert_eq!(st, 201, "{l}: {ro}");
        let (st, body) = send(&s, Method::DELETE, &path(&kept), ro["token"].as_str().unwrap(), None).await;
        assert_eq!((st, code(&body)), (403, "forbidden"), "{l}");
        assert_eq!(stored(&s, owner.org_id, &kept).await, (1, true), "{l}: kept");

        // Sent: 409 attachment_sent, nothing deleted.
        reply_with(&s, &token, &conv, &kept).await;
        let (st, body) = send(&s, Method::DELETE, &path(&kept), &token, None).await;
        assert_eq!((st, code(&body)), (409, "attachment_sent"), "{l}: {body}");
        assert_eq!(stored(&s, owner.org_id, &kept).await, (1, true), "{l}: the sent file stays");

        // Documented.
        let (_, doc) = send(&s, Method::GET, "/api/v1/openapi.json", &token, None).await;
        let op = &doc["paths"]["/api/v1/attachments/{id}"]["delete"];
        assert!(op.is_object(), "{l}: {}", doc["paths"]["/api/v1/attachments/{id}"]);
        for status in ["204", "403", "404", "409"] {
            assert!(op["responses"][status].is_object(), "{l}: {status} in {op}");
        }
    }
}

async fn signin(s: &TestServer, email: &str) -> Client {
    let c = browser();
    let html = c.get(s.url("/signin")).send().await.unwrap().text().await.unwrap();
    let csrf = form_value(&html, "_csrf");
    let r = c
        .post(s.url("/signin"))
        .form(&[("_csrf", csrf.as_str()), ("email", email), ("password", kith_testkit::app::PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "{}: sign-in of {email}", s.label);
    c
}

/// The session's CSRF token, from a page.
async fn csrf_of(s: &TestServer, c: &Client, path: &str) -> String {
    let html = c.get(s.url(path)).send().await.unwrap().text().await.unwrap();
    form_value(&html, "_csrf")
}

async fn composer_upload(s: &TestServer, c: &Client, csrf: &str, conv: &str, name: &str) -> String {
    let (ct, body) = multipart(&[("_csrf", csrf)], name, name.as_bytes());
    let r = c.post(s.url(&format!("/inbox/c/{conv}/attachments"))).header("content-type", ct).body(body);
    let (st, up) = json(r.send().await.unwrap()).await;
    assert_eq!((st, up["ok"].as_bool()), (200, Some(true)), "{}: {up}", s.label);
    up["id"].as_str().unwrap().to_string()
}

async fn composer_delete(c: &Client, url: &str, csrf: Option<&str>, origin: Option<&str>) -> (u16, Value) {
    let mut req = c.delete(url).header("accept", "application/json");
    if let Some(t) = csrf {
        req = req.header("x-csrf-token", t);
    }
    if let Some(o) = origin {
        req = req.header("origin", o);
    }
    json(req.send().await.unwrap()).await
}

#[tokio::test]
async fn composer_remove_checks_the_token_and_deletes_the_upload() {
    for db in TestDb::all().await {
        let s = server(db).await;
        let l = s.label;
        let (owner, token) = s.user_with_token("ui-remove@web.test").await;
        let (conv, conv2) = two_conversations(&s, &token).await;
        let c = signin(&s, "ui-remove@web.test").await;
        let csrf = csrf_of(&s, &c, &format!("/inbox/c/{conv}")).await;
        let id = composer_upload(&s, &c, &csrf, &conv, "menu.txt").await;
        let url = s.url(&format!("/inbox/c/{conv}/attachments/{id}"));

        // No token, a forged one, another site's request: 403 (JSON for the script), nothing deleted.
        let (st, body) = composer_delete(&c, &url, None, None).await;
        assert_eq!((st, body["ok"].as_bool()), (403, Some(false)), "{l}: no token: {body}");
        let (st, _) = composer_delete(&c, &url, Some("forged"), None).await;
        assert_eq!(st, 403, "{l}: a forged token");
        let (st, _) = composer_delete(&c, &url, Some(&csrf), Some("https://evil.example")).await;
        assert_eq!(st, 403, "{l}: another site");
        assert_eq!(stored(&s, owner.org_id, &id).await, (1, true), "{l}: nothing deleted");
        // Without a session: not deleted either.
        let r = client().delete(&url).header("x-csrf-token", &csrf).send().await.unwrap();
        assert_ne!(r.status().as_u16(), 200, "{l}: signed out");
        assert_eq!(stored(&s, owner.org_id, &id).await, (1, true), "{l}");

        // Another conversation's path: 404, nothing deleted.
        let wrong = s.url(&format!("/inbox/c/{conv2}/attachments/{id}"));
        let (st, body) = composer_delete(&c, &wrong, Some(&csrf), None).await;
        assert_eq!((st, body["code"].as_str()), (404, Some("not_found")), "{l}: {body}");
        assert_eq!(stored(&s, owner.org_id, &id).await, (1, true), "{l}");

        // Another workspace's session: 404, nothing deleted.
        let _ = s.user_with_token("ui-remove-stranger@web.test").await;
        let other = signin(&s, "ui-remove-stranger@web.test").await;
        let other_csrf = csrf_of(&s, &other, "/inbox").await;
        let (st, _) = composer_delete(&other, &url, Some(&other_csrf), None).await;
        assert_eq!(st, 404, "{l}: another workspace");
        assert_eq!(stored(&s, owner.org_id, &id).await, (1, true), "{l}");

        // The page's own token, same origin: deleted, row and object.
        let (st, body) = composer_delete(&c, &url, Some(&csrf), Some(&s.base)).await;
        assert_eq!((st, body["ok"].as_bool()), (200, Some(true)), "{l}: {body}");
        assert_eq!(stored(&s, owner.org_id, &id).await, (0, false), "{l}: row and object gone");
        let (st, _) = composer_delete(&c, &url, Some(&csrf), None).await;
        assert_eq!(st, 404, "{l}: gone");

        // A sent file: 409 with its code and words, nothing deleted.
        let sent = composer_upload(&s, &c, &csrf, &conv, "sent.txt").await;
        reply_with(&s, &token, &conv, &sent).await;
        let sent_url = s.url(&format!("/inbox/c/{conv}/attachments/{sent}"));
        let (st, body) = composer_delete(&c, &sent_url, Some(&csrf), None).await;
        assert_eq!((st, body["code"].as_str()), (409, Some("attachment_sent")), "{l}: {body}");
        assert!(body["error"].as_str().unwrap().contains("sent already"), "{l}: {body}");
        assert_eq!(stored(&s, owner.org_id, &sent).await, (1, true), "{l}: the sent file stays");
    }
}
