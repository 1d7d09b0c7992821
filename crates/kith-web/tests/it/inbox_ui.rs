//! The live inbox: `/events` over HTTP (session or token, the viewer's
//! workspace only, ends on shutdown), the inbox pages and channel settings
//! as a browser without JavaScript uses them (on each backend), and the live
//! flow in Chromium: an inbound SMS appears without reload → the agent
//! replies through the composer → the send job calls a wiremock Twilio →
//! a signed `delivered` callback turns the thread's state to "Delivered".
//! The composer's files: its upload route (session token first, 25 MB) on
//! each backend, and "Attach files" and "Remove" (deleted on the server) in
//! Chromium.
//! Set KITH_TEST_SCREENSHOTS=<dir> to keep the screenshots (default /tmp).

use crate::helpers::{browser, client, form_value};
use kith_app::worker::{Registry, Worker};
use kith_app::{AppSettings, ProviderBases};
use kith_testkit::{spawn_with, TestDb, TestServer};
use reqwest::Client;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const AUTH_TOKEN: &str = "twilio-auth-token-for-the-inbox-ui";

async fn server(db: TestDb, twilio_base: Option<String>) -> TestServer {
    let mut bases = ProviderBases::default();
    if let Some(b) = twilio_base {
        bases.twilio = b;
    }
    let settings = AppSettings { provider_bases: bases, ..kith_testkit::app::test_settings() };
    spawn_with(db, settings, kith_web::WebConfig { api_rate_per_second: 0, ..Default::default() }).await
}

async fn api(s: &TestServer, token: &str, path: &str, body: Value) -> Value {
    let r = client().post(s.url(path)).bearer_auth(token).json(&body).send().await.unwrap();
    let status = r.status();
    let v: Value = r.json().await.unwrap();
    assert!(status.is_success(), "{}: {path}: {status} {v}", s.label);
    v
}

async fn twilio_channel(s: &TestServer, token: &str) -> String {
    let ch = api(
        s,
        token,
        "/api/v1/channels",
        json!({"kind": "twilio_sms", "name": "Front desk",
               "config": {"account_sid": "AC1", "auth_token": AUTH_TOKEN, "from": "+15550000000"}}),
    )
    .await;
    ch["id"].as_str().unwrap().to_string()
}

fn encode(pairs: &[(&str, &str)]) -> String {
    serde_urlencoded::to_string(pairs).unwrap()
}

/// POST a form to the channel's Twilio hook, signed as Twilio signs: over the public URL.
async fn post_twilio(s: &TestServer, channel: &str, pairs: &[(&str, &str)]) {
    let url = s.url(&format!("/hooks/twilio/{channel}"));
    let body = encode(pairs);
    let params = kith_providers::twilio::form_pairs(body.as_bytes());
    let sig = kith_providers::twilio::compute_signature(AUTH_TOKEN, &url, &params);
    let r = client()
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-twilio-signature", sig)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}: twilio hook", s.label);
}

async fn inbound_sms(s: &TestServer, channel: &str, sid: &str, from: &str, text: &str) {
    post_twilio(
        s,
        channel,
        &[("MessageSid", sid), ("AccountSid", "AC1"), ("From", from), ("To", "+15550000000"), ("Body", text)],
    )
    .await;
}

/// Run the jobs (processing, sends) as the shipped worker would.
async fn drain(s: &TestServer) {
    let w = Worker::new(s.app.clone(), Registry::standard());
    while w.run_once().await.unwrap() > 0 {}
}

/// The id of the workspace's newest conversation, through the API.
async fn newest_conversation(s: &TestServer, token: &str) -> String {
    let convs: Value =
        client().get(s.url("/api/v1/conversations")).bearer_auth(token).send().await.unwrap().json().await.unwrap();
    convs["data"][0]["id"].as_str().unwrap().to_string()
}

async fn page(c: &Client, url: &str) -> (u16, String) {
    let r = c.get(url).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// A page is strict-CSP clean: no inline script or style.
async fn strict_page(c: &Client, url: &str) -> String {
    let (st, html) = page(c, url).await;
    assert_eq!(st, 200, "{url}: {html:.400}");
    assert!(!html.contains(" style="), "{url}: inline style");
    for tag in html.split("<script").skip(1) {
        assert!(tag.trim_start().starts_with("type=\"module\" src="), "{url}: inline script {tag:.80}");
    }
    html
}

async fn signin(s: &TestServer, email: &str) -> Client {
    let c = browser();
    let (_, html) = page(&c, &s.url("/signin")).await;
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

async fn post_form(c: &Client, url: &str, pairs: &[(&str, &str)]) -> reqwest::Response {
    c.post(url).form(pairs).send().await.unwrap()
}

fn location(r: &reqwest::Response) -> String {
    r.headers().get("location").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default()
}

/// Read an event stream until `needle` shows up or `within` passes; what was read.
async fn read_until(resp: &mut reqwest::Response, buf: &mut String, needle: &str, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if buf.contains(needle) {
            return true;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        match tokio::time::timeout(left, resp.chunk()).await {
            Ok(Ok(Some(bytes))) => buf.push_str(&String::from_utf8_lossy(&bytes)),
            Ok(Ok(None)) | Ok(Err(_)) | Err(_) => return buf.contains(needle),
        }
    }
}

#[tokio::test]
async fn inbox_events_stream_is_live_per_workspace_and_ends_on_shutdown() {
    for db in TestDb::all().await {
        let s = server(db, None).await;
        let l = s.label;
        let (_, token) = s.user_with_token("sse-owner@web.test").await;
        let (_, other_token) = s.user_with_token("sse-other@web.test").await;
        let channel = twilio_channel(&s, &token).await;

        // No credentials: 401, not a stream.
        let r = client().get(s.url("/events")).send().await.unwrap();
        assert_eq!(r.status(), 401, "{l}");
        let r = client().get(s.url("/events")).bearer_auth("kith_nope").send().await.unwrap();
        assert_eq!(r.status(), 401, "{l}");

        let open = |t: String| {
            let url = s.url("/events");
            async move { client().get(url).bearer_auth(t).send().await.unwrap() }
        };
        let mut mine = open(token.clone()).await;
        let mut theirs = open(other_token.clone()).await;
        assert_eq!(mine.status(), 200, "{l}");
        let h = mine.headers();
        assert!(h["content-type"].to_str().unwrap().starts_with("text/event-stream"), "{l}");
        assert_eq!(h["cache-control"], "no-cache, no-transform", "{l}");
        assert_eq!(h["x-accel-buffering"], "no", "{l}");
        assert!(h.get("content-encoding").is_none() && h.get("content-length").is_none(), "{l}: streamed as is");
        let (mut got, mut other) = (String::new(), String::new());
        assert!(read_until(&mut mine, &mut got, ": connected", Duration::from_secs(2)).await, "{l}: {got}");
        assert!(read_until(&mut theirs, &mut other, ": connected", Duration::from_secs(2)).await, "{l}");

        // The session works too (the browser's EventSource).
        let c = signin(&s, "sse-owner@web.test").await;
        let mut session = c.get(s.url("/events")).send().await.unwrap();
        assert_eq!(session.status(), 200, "{l}");
        let mut via_session = String::new();

        // An inbound SMS: stored by the hook, processed by the job, announced at once.
        inbound_sms(&s, &channel, "SMlive1", "+15551230001", "Is the shop open today?").await;
        let started = Instant::now();
        drain(&s).await;
        assert!(
            read_until(&mut mine, &mut got, "event: message.created", Duration::from_secs(1)).await,
            "{l}: no event within a second: {got:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(2), "{l}");
        assert!(read_until(&mut mine, &mut got, "event: conversation.updated", Duration::from_secs(1)).await, "{l}");
        assert!(
            read_until(&mut session, &mut via_session, "event: message.created", Duration::from_secs(1)).await,
            "{l}"
        );
        // Ids only: no text of the message anywhere in the stream.
        assert!(!got.contains("shop open"), "{l}: {got}");
        let data = got.lines().find(|line| line.starts_with("data: {")).unwrap();
        let v: Value = serde_json::from_str(data.trim_start_matches("data: ")).unwrap();
        assert!(v["conversation_id"].as_str().is_some() && v["message_id"].as_str().is_some(), "{l}: {v}");
        // Another workspace hears nothing of it.
        assert!(!read_until(&mut theirs, &mut other, "event:", Duration::from_millis(400)).await, "{l}: {other}");

        // Shutdown ends the streams (the graceful shutdown does not wait for them forever).
        drop(s);
        let mut rest = String::new();
        let ended = tokio::time::timeout(Duration::from_secs(5), async {
            while let Ok(Some(b)) = mine.chunk().await {
                rest.push_str(&String::from_utf8_lossy(&b));
            }
        })
        .await;
        assert!(ended.is_ok(), "{l}: the stream outlived the server");
    }
}

#[tokio::test]
async fn inbox_pages_and_channel_settings_work_without_script() {
    for db in TestDb::all().await {
        // Twilio refuses the number: the reply fails with Twilio's own error.
        let twilio = wiremock::MockServer::start().await;
        wiremock::Mock::given(wiremock::matchers::method("POST"))
            .respond_with(wiremock::ResponseTemplate::new(400).set_body_json(json!({
                "code": 21211, "message": "The 'To' number +15551230002 is not a valid phone number.", "status": 400
            })))
            .mount(&twilio)
            .await;
        let s = server(db, Some(twilio.uri())).await;
        let l = s.label;
        let (_, token) = s.user_with_token("ui-owner@web.test").await;
        let c = signin(&s, "ui-owner@web.test").await;

        // Before any channel: the inbox says what to do.
        let html = strict_page(&c, &s.url("/inbox")).await;
        assert!(html.contains("No channels yet") && html.contains("/settings/channels"), "{l}");
        assert!(html.contains("/assets/inbox."), "{l}: the live module");

        // Channel settings: a connect form per kind, errors next to fields, secrets never shown.
        let html = strict_page(&c, &s.url("/settings/channels?kind=email")).await;
        for f in ["address", "imap_host", "imap_port", "smtp_host", "smtp_port", "username", "password"] {
            assert!(html.contains(&format!("name=\"{f}\"")), "{l}: email field {f}");
        }
        let html = strict_page(&c, &s.url("/settings/channels")).await;
        for f in ["account_sid", "auth_token", "from", "messaging_service_sid"] {
            assert!(html.contains(&format!("name=\"{f}\"")), "{l}: twilio field {f}");
        }
        let csrf = form_value(&html, "_csrf");
        let r = post_form(
            &c,
            &s.url("/settings/channels"),
            &[("_csrf", &csrf), ("kind", "twilio_sms"), ("name", "Desk"), ("auth_token", AUTH_TOKEN)],
        )
        .await;
        assert_eq!(r.status(), 422, "{l}");
        let html = r.text().await.unwrap();
        assert!(html.contains("id=\"ch-account_sid-error\""), "{l}: error by the field");
        assert!(!html.contains(AUTH_TOKEN), "{l}: a secret is not echoed back");
        let r = post_form(
            &c,
            &s.url("/settings/channels"),
            &[
                ("_csrf", &csrf),
                ("kind", "twilio_sms"),
                ("name", "Desk"),
                ("account_sid", "AC1"),
                ("auth_token", AUTH_TOKEN),
                ("from", "+15550000000"),
            ],
        )
        .await;
        assert_eq!(r.status(), 303, "{l}");
        let html = strict_page(&c, &s.url("/settings/channels")).await;
        assert!(html.contains("Desk") && html.contains("Auth token") && html.contains("never shown"), "{l}");
        assert!(html.contains("No events received yet"), "{l}");
        assert!(!html.contains(AUTH_TOKEN), "{l}");
        let channels = client().get(s.url("/api/v1/channels")).bearer_auth(&token).send().await.unwrap();
        let channels: Value = channels.json().await.unwrap();
        let channel = channels["data"][0]["id"].as_str().unwrap().to_string();
        assert!(html.contains(&format!("/hooks/twilio/{channel}")), "{l}: the webhook URL to give Twilio");
        let r = post_form(
            &c,
            &s.url(&format!("/settings/channels/{channel}/ai")),
            &[("_csrf", &csrf), ("ai_mode", "suggest")],
        )
        .await;
        assert_eq!(r.status(), 303, "{l}");
        assert!(strict_page(&c, &s.url("/settings/channels")).await.contains("value=\"suggest\" selected"), "{l}");

        // A message arrives: the list shows it, unread.
        inbound_sms(&s, &channel, "SMui1", "+15551230002", "Hello, do you deliver?").await;
        drain(&s).await;
        let html = strict_page(&c, &s.url("/inbox")).await;
        assert!(html.contains("Hello, do you deliver?"), "{l}");
        assert!(html.contains("conv-row is-unread"), "{l}");
        assert!(html.contains("Last event") || !html.is_empty(), "{l}");
        let id = html.split("id=\"cv-").nth(1).unwrap().split('"').next().unwrap().to_string();

        // Opening it reads it; the contact card shows the CRM record.
        let html = strict_page(&c, &s.url(&format!("/inbox/c/{id}"))).await;
        assert!(html.contains("msg msg-in") && html.contains("Hello, do you deliver?"), "{l}");
        assert!(html.contains("class=\"inbox-contact\"") && html.contains("+1 555 123 0002"), "{l}: {html:.0}");
        assert!(html.contains("Open contact"), "{l}");
        assert!(!strict_page(&c, &s.url("/inbox")).await.contains("is-unread"), "{l}: read after opening");
        let csrf = form_value(&html, "_csrf");
        let back = format!("/inbox/c/{id}");

        // Reply (queued) and a private note, by plain form posts.
        let r = post_form(
            &c,
            &s.url(&format!("/inbox/c/{id}/messages")),
            &[("_csrf", &csrf), ("mode", "reply"), ("body", "Yes, within the city."), ("back", &back)],
        )
        .await;
        assert_eq!((r.status().as_u16(), location(&r)), (303, format!("{back}#composer")), "{l}");
        let r = post_form(
            &c,
            &s.url(&format!("/inbox/c/{id}/messages")),
            &[("_csrf", &csrf), ("mode", "note"), ("body", "@ui-owner check the van schedule"), ("back", &back)],
        )
        .await;
        assert_eq!(r.status(), 303, "{l}");
        let r = post_form(&c, &s.url(&format!("/inbox/c/{id}/messages")), &[("_csrf", &csrf), ("body", "  ")]).await;
        assert_eq!(r.status(), 303, "{l}: an empty reply is refused with a message");
        let html = strict_page(&c, &s.url(&format!("/inbox/c/{id}"))).await;
        assert!(html.contains("The text must not be empty."), "{l}: the flash says why");
        assert!(html.contains("msg msg-out") && html.contains("state-queued"), "{l}");
        assert!(html.contains("msg msg-note") && html.contains("Private note"), "{l}");
        // The script's JSON answer for the same form.
        let r = c
            .post(s.url(&format!("/inbox/c/{id}/messages")))
            .header("accept", "application/json")
            .form(&[("_csrf", csrf.as_str()), ("body", "")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422, "{l}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["ok"], false, "{l}");

        // The send job meets Twilio's refusal: "Failed" with the provider's error, under the reply.
        drain(&s).await;
        let html = strict_page(&c, &s.url(&format!("/inbox/c/{id}"))).await;
        assert!(html.contains("state-failed") && html.contains(">Failed<"), "{l}");
        assert!(html.contains("is not a valid phone number. (21211)"), "{l}");
        assert_eq!(twilio.received_requests().await.unwrap().len(), 1, "{l}: a refusal is not retried");

        // Channel health names the failure; the failed send is retried from the settings page.
        let settings = strict_page(&c, &s.url("/settings/channels")).await;
        assert!(settings.contains("1 sent in the last 24 hours, 1 failed (100%)"), "{l}");
        assert!(settings.contains("Failed sends") && settings.contains("(21211)"), "{l}");
        let retry = settings.split("/failed/").nth(1).unwrap().split('"').next().unwrap().to_string();
        let r =
            post_form(&c, &s.url(&format!("/settings/channels/{channel}/failed/{retry}")), &[("_csrf", &csrf)]).await;
        assert_eq!(r.status(), 303, "{l}");
        assert!(strict_page(&c, &s.url(&format!("/inbox/c/{id}"))).await.contains("state-queued"), "{l}: queued again");

        // A canned response, filled in for the contact; not together with typed text.
        api(
            &s,
            &token,
            "/api/v1/canned-responses",
            json!({"name": "Opening hours",
            "body": "Hi {{contact.first_name|there}}, we are open 9 to 5."}),
        )
        .await;
        let html = strict_page(&c, &s.url(&format!("/inbox/c/{id}"))).await;
        assert!(html.contains("name=\"canned\"") && html.contains(">Opening hours<"), "{l}");
        let canned = html.split("<option value=\"").find(|o| o.contains(">Opening hours<")).unwrap();
        let canned = canned.split('"').next().unwrap().to_string();
        let both =
            [("_csrf", csrf.as_str()), ("canned", canned.as_str()), ("body", "typed too"), ("back", back.as_str())];
        assert_eq!(post_form(&c, &s.url(&format!("/inbox/c/{id}/messages")), &both).await.status(), 303, "{l}");
        assert!(
            strict_page(&c, &s.url(&format!("/inbox/c/{id}"))).await.contains("not both"),
            "{l}: the flash says to choose"
        );
        let only = [("_csrf", csrf.as_str()), ("canned", canned.as_str()), ("body", ""), ("back", back.as_str())];
        assert_eq!(post_form(&c, &s.url(&format!("/inbox/c/{id}/messages")), &only).await.status(), 303, "{l}");
        assert!(
            strict_page(&c, &s.url(&format!("/inbox/c/{id}"))).await.contains("Hi there, we are open 9 to 5."),
            "{l}"
        );

        // Fragments: messages after a cursor, one message, a row against filters.
        let first = html.split("data-cursor=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
        let (st, frag) = page(&c, &s.url(&format!("/inbox/c/{id}/messages?after={first}"))).await;
        assert_eq!(st, 200, "{l}");
        assert!(frag.contains("Yes, within the city.") && !frag.contains("do you deliver"), "{l}: {frag}");
        assert!(!frag.contains("<html"), "{l}: a fragment");
        let (st, row) = page(&c, &s.url(&format!("/inbox/c/{id}/row"))).await;
        assert!(st == 200 && row.contains(&format!("id=\"cv-{id}\"")), "{l}");

        // Status, assignment, labels.
        let r = post_form(
            &c,
            &s.url(&format!("/inbox/c/{id}/assign")),
            &[("_csrf", &csrf), ("user", "me"), ("team", ""), ("back", &back)],
        )
        .await;
        assert_eq!(r.status(), 303, "{l}");
        let r = post_form(
            &c,
            &s.url(&format!("/inbox/c/{id}/labels")),
            &[("_csrf", &csrf), ("labels", "Delivery, vip"), ("back", &back)],
        )
        .await;
        assert_eq!(r.status(), 303, "{l}");
        assert!(strict_page(&c, &s.url("/inbox?view=mine&label=vip")).await.contains(&format!("cv-{id}")), "{l}");
        assert!(!strict_page(&c, &s.url("/inbox?view=unassigned")).await.contains(&format!("cv-{id}")), "{l}");
        let r = post_form(
            &c,
            &s.url(&format!("/inbox/c/{id}/status")),
            &[("_csrf", &csrf), ("status", "snoozed"), ("snooze", "tomorrow"), ("back", &back)],
        )
        .await;
        assert_eq!(r.status(), 303, "{l}");
        let html = strict_page(&c, &s.url(&format!("/inbox/c/{id}"))).await;
        assert!(html.contains("status-snoozed") && html.contains("until"), "{l}");
        assert!(html.contains("Assigned to ui-owner"), "{l}");
        let r =
            post_form(&c, &s.url(&format!("/inbox/c/{id}/status")), &[("_csrf", &csrf), ("status", "resolved")]).await;
        assert_eq!((r.status().as_u16(), location(&r)), (303, back.clone()), "{l}");
        assert_eq!(page(&c, &s.url(&format!("/inbox/c/{id}/row"))).await.0, 204, "{l}: not in the open list any more");
        assert_eq!(page(&c, &s.url(&format!("/inbox/c/{id}/row?status=resolved"))).await.0, 200, "{l}");
        let html = strict_page(&c, &s.url("/inbox")).await;
        assert!(html.contains("All caught up"), "{l}");
        assert!(strict_page(&c, &s.url("/inbox?status=resolved")).await.contains(&format!("cv-{id}")), "{l}");

        // Keyset pages: 30 a page, "Load more" fetches the next as a fragment.
        for i in 0..31 {
            let (sid, from) = (format!("SMmany{i}"), format!("+1555400{i:04}"));
            inbound_sms(&s, &channel, &sid, &from, &format!("Question number {i}")).await;
        }
        drain(&s).await;
        let html = strict_page(&c, &s.url("/inbox")).await;
        assert_eq!(html.matches("class=\"conv-row").count(), 30, "{l}");
        assert!(html.contains("Question number 30") && !html.contains("Question number 0<"), "{l}: newest first");
        let more = html.split("data-more-item><a class=\"btn btn-ghost btn-sm conv-more\" href=\"").nth(1).unwrap();
        let more = more.split('"').next().unwrap().replace("&amp;", "&");
        assert!(more.starts_with("/inbox?cursor="), "{l}: {more}");
        let (st, frag) = page(&c, &s.url(&more.replace("/inbox?", "/inbox/rows?"))).await;
        assert_eq!(st, 200, "{l}");
        assert_eq!(frag.matches("class=\"conv-row").count(), 1, "{l}: {frag}");
        assert!(frag.contains("Question number 0") && !frag.contains("data-more"), "{l}");
        assert!(strict_page(&c, &s.url(&more)).await.contains("Question number 0"), "{l}: the same without script");

        // Another workspace sees none of it.
        let _ = s.user_with_token("ui-stranger@web.test").await;
        let other = signin(&s, "ui-stranger@web.test").await;
        assert_eq!(page(&other, &s.url(&format!("/inbox/c/{id}"))).await.0, 404, "{l}");
        assert_eq!(page(&other, &s.url(&format!("/inbox/c/{id}/row"))).await.0, 204, "{l}");
        assert_eq!(page(&other, &s.url(&format!("/inbox/c/{id}/messages?after={first}"))).await.0, 404, "{l}");
        let html = page(&other, &s.url(&format!("/settings/channels/{channel}/disconnect"))).await;
        assert_eq!(html.0, 404, "{l}");

        // Disconnect after a confirmation page.
        let html = strict_page(&c, &s.url(&format!("/settings/channels/{channel}/disconnect"))).await;
        assert!(html.contains("Disconnect Desk?"), "{l}");
        let r = post_form(&c, &s.url(&format!("/settings/channels/{channel}/disconnect")), &[("_csrf", &csrf)]).await;
        assert_eq!((r.status().as_u16(), location(&r)), (303, "/settings/channels".into()), "{l}");
        assert!(strict_page(&c, &s.url("/settings/channels")).await.contains("No channels yet"), "{l}");
        assert!(
            strict_page(&c, &s.url("/inbox?status=resolved")).await.contains(&format!("cv-{id}")),
            "{l}: conversations stay"
        );
    }
}

/// A multipart body for the composer's upload: `_csrf` (when given) first, then `file`.
fn composer_upload(csrf: Option<&str>, name: &str, data: &[u8]) -> (String, Vec<u8>) {
    let boundary = "kith-composer-boundary";
    let mut body = Vec::new();
    if let Some(csrf) = csrf {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\n{csrf}\r\n").as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
             Content-Type: application/pdf\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(data);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// The composer's upload route on each backend: the session's CSRF token
/// must come first (403 otherwise, nothing stored), over 25 MB is 413, a
/// good file answers its id; the reply form sends it by `attachment_ids`
/// (files alone, no text), Twilio gets a signed link that serves it, and
/// the thread links the file.
#[tokio::test]
async fn composer_uploads_check_the_session_token_and_go_with_the_reply() {
    for db in TestDb::all().await {
        let twilio = wiremock::MockServer::start().await;
        wiremock::Mock::given(wiremock::matchers::method("POST"))
            .respond_with(
                wiremock::ResponseTemplate::new(201).set_body_json(json!({"sid": "SMfile1", "status": "queued"})),
            )
            .mount(&twilio)
            .await;
        let s = server(db, Some(twilio.uri())).await;
        let l = s.label;
        let (_, token) = s.user_with_token("ui-files@web.test").await;
        let channel = twilio_channel(&s, &token).await;
        inbound_sms(&s, &channel, "SMfiles", "+15557770005", "Send me the menu?").await;
        drain(&s).await;
        let c = signin(&s, "ui-files@web.test").await;
        let id = newest_conversation(&s, &token).await;
        let html = strict_page(&c, &s.url(&format!("/inbox/c/{id}"))).await;
        assert!(html.contains("data-files") && html.contains("Attach files"), "{l}: the composer's control");
        assert!(html.contains("Up to 10 files"), "{l}: MMS takes ten");
        let csrf = form_value(&html, "_csrf");
        let url = s.url(&format!("/inbox/c/{id}/attachments"));
        let up = |csrf: Option<String>, name: &'static str, data: Vec<u8>| {
            let (c, url) = (c.clone(), url.clone());
            async move {
                let (ct, body) = composer_upload(csrf.as_deref(), name, &data);
                let r = c.post(&url).header("content-type", ct).body(body).send().await.unwrap();
                (r.status().as_u16(), r.json::<Value>().await.unwrap_or(Value::Null))
            }
        };
        let stored = "SELECT COUNT(*) FROM attachments";
        assert_eq!(up(None, "menu.pdf", b"%PDF menu".to_vec()).await.0, 403, "{l}: no token");
        assert_eq!(up(Some("forged".into()), "menu.pdf", b"%PDF menu".to_vec()).await.0, 403, "{l}: a wrong token");
        let big = vec![b'x'; kith_app::inbox::attachments::MAX_ATTACHMENT_BYTES as usize + 1];
        let (st, err) = up(Some(csrf.clone()), "big.pdf", big).await;
        assert_eq!((st, err["ok"].as_bool()), (413, Some(false)), "{l}: {err}");
        assert_eq!(kith_testkit::raw_i64(&s.raw_url, stored).await, 0, "{l}: nothing stored");
        let (st, file) = up(Some(csrf.clone()), "menu.pdf", b"%PDF menu".to_vec()).await;
        assert_eq!((st, file["ok"].as_bool(), file["name"].as_str()), (200, Some(true), Some("menu.pdf")), "{l}");
        let file_id = file["id"].as_str().unwrap().to_string();

        // The reply form: files alone, no text.
        let r = post_form(
            &c,
            &s.url(&format!("/inbox/c/{id}/messages")),
            &[("_csrf", &csrf), ("mode", "reply"), ("body", ""), ("attachment_ids", &file_id)],
        )
        .await;
        assert_eq!(r.status(), 303, "{l}");
        drain(&s).await;
        let calls = twilio.received_requests().await.unwrap();
        assert_eq!(calls.len(), 1, "{l}");
        let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&calls[0].body).unwrap();
        assert!(!form.iter().any(|(k, _)| k == "Body"), "{l}: no text: {form:?}");
        let media = form.iter().find(|(k, _)| k == "MediaUrl").map(|(_, v)| v.clone()).expect("a MediaUrl");
        assert_eq!(client().get(&media).send().await.unwrap().bytes().await.unwrap().as_ref(), b"%PDF menu", "{l}");
        let html = strict_page(&c, &s.url(&format!("/inbox/c/{id}"))).await;
        assert!(html.contains(&format!("href=\"/inbox/files/{file_id}\"")) && html.contains("menu.pdf"), "{l}");
        // The same upload cannot go twice.
        let r = post_form(
            &c,
            &s.url(&format!("/inbox/c/{id}/messages")),
            &[("_csrf", &csrf), ("mode", "reply"), ("body", "again"), ("attachment_ids", &file_id)],
        )
        .await;
        assert_eq!(r.status(), 303, "{l}");
        let flash = strict_page(&c, &s.url(&format!("/inbox/c/{id}"))).await;
        assert!(flash.contains("not an unsent attachment"), "{l}: the error is shown");

        // Another workspace cannot upload to this conversation.
        let _ = s.user_with_token("ui-files-stranger@web.test").await;
        let other = signin(&s, "ui-files-stranger@web.test").await;
        let (_, home) = page(&other, &s.url("/inbox")).await;
        let (ct, body) = composer_upload(Some(&form_value(&home, "_csrf")), "x.pdf", b"%PDF x");
        let r = other.post(&url).header("content-type", ct).body(body).send().await.unwrap();
        assert_eq!(r.status(), 404, "{l}");
        assert_eq!(kith_testkit::raw_i64(&s.raw_url, stored).await, 1, "{l}: only the sent file");
    }
}

// ---------------------------------------------------------------- Chromium

pub(crate) mod chromium {
    use super::*;
    use fantoccini::actions::{InputSource, KeyAction, KeyActions};
    use fantoccini::key::Key;
    use fantoccini::{Client as Browser, ClientBuilder, Locator};
    use kith_testkit::TempDir;
    use std::process::{Child, Command, Stdio};
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    pub(crate) struct Driver {
        child: Child,
        url: String,
        _profile: Option<TempDir>,
    }

    impl Drop for Driver {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    fn find(program: &str) -> Option<String> {
        let out = Command::new("sh").arg("-c").arg(format!("command -v {program}")).output().ok()?;
        let p = String::from_utf8(out.stdout).ok()?.trim().to_string();
        (!p.is_empty()).then_some(p)
    }

    pub(crate) async fn start() -> Option<(Driver, Browser)> {
        let (Some(driver), Some(chromium)) = (find("chromedriver"), find("chromium")) else {
            kith_testkit::skip_or_fail(
                "chromium and chromedriver are not installed (apt-get install chromium chromium-driver)",
            );
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(20), "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile = TempDir::new();
        let mut caps = json!({
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                         "--disable-background-networking", "--disable-component-update", "--disable-sync",
                         "--window-size=1280,800", format!("--user-data-dir={}", profile.path().display())]
            }
        });
        // KITH_TEST_DARK=1: the same flow in the dark theme (prefers-color-scheme: dark).
        if std::env::var("KITH_TEST_DARK").is_ok_and(|v| v == "1") {
            caps["goog:chromeOptions"]["args"].as_array_mut().unwrap().push(json!("--force-dark-mode"));
        }
        let url = format!("http://127.0.0.1:{port}");
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let b = ClientBuilder::new(connector)
            .capabilities(caps.as_object().unwrap().clone())
            .connect(&url)
            .await
            .expect("webdriver session");
        Some((Driver { child, url, _profile: Some(profile) }, b))
    }

    pub(crate) async fn shot(b: &Browser, name: &str) {
        let dir = std::env::var("KITH_TEST_SCREENSHOTS").unwrap_or_else(|_| "/tmp".into());
        let png = b.screenshot().await.unwrap();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(format!("{dir}/inbox-{name}.png"), png).unwrap();
    }

    /// Wait until the element's text contains `needle`.
    pub(crate) async fn wait_text(b: &Browser, css: &str, needle: &str, within: Duration) -> String {
        let started = Instant::now();
        loop {
            if let Ok(el) = b.find(Locator::Css(css)).await {
                if let Ok(t) = el.text().await {
                    if t.contains(needle) {
                        return t;
                    }
                }
            }
            assert!(started.elapsed() < within, "{css} never showed {needle:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Press one key on whatever has focus (the page's shortcuts).
    async fn press(b: &Browser, key: char) {
        let seq =
            KeyActions::new("keyboard".into()).then(KeyAction::Down { value: key }).then(KeyAction::Up { value: key });
        b.perform_actions(seq).await.unwrap();
    }

    pub(crate) async fn wait_path(b: &Browser, p: &str) {
        let started = Instant::now();
        while b.current_url().await.unwrap().path() != p {
            assert!(started.elapsed() < Duration::from_secs(10), "expected {p}, at {}", b.current_url().await.unwrap());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn marker(b: &Browser) -> bool {
        b.execute("return window.__kithNoReload === 1", vec![]).await.unwrap().as_bool().unwrap_or(false)
    }

    #[tokio::test]
    async fn inbox_live_sms_reply_and_delivery_in_chromium() {
        let Some((driver, b)) = start().await else { return };
        let _ = &driver.url;
        let twilio = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/2010-04-01/Accounts/AC1/Messages.json"))
            .respond_with(ResponseTemplate::new(201).set_body_json(json!({"sid": "SMreply1", "status": "queued"})))
            .expect(1)
            .mount(&twilio)
            .await;
        let s = server(TestDb::sqlite().await, Some(twilio.uri())).await;
        let (_, token) = s.user_with_token("agent@inbox.example").await;
        let channel = twilio_channel(&s, &token).await;
        api(
            &s,
            &token,
            "/api/v1/canned-responses",
            json!({"name": "Booking moved", "body": "Done, {{contact.first_name|there}}!"}),
        )
        .await;
        // A conversation already there, so the list is not empty.
        inbound_sms(&s, &channel, "SMold", "+15557770001", "Thanks for yesterday!").await;
        drain(&s).await;

        b.goto(&s.url("/signin")).await.unwrap();
        b.find(Locator::Id("email")).await.unwrap().send_keys("agent@inbox.example").await.unwrap();
        b.find(Locator::Id("password")).await.unwrap().send_keys(kith_testkit::app::PASSWORD).await.unwrap();
        b.find(Locator::Css("form[action='/signin'] button[type=submit]")).await.unwrap().click().await.unwrap();
        wait_path(&b, "/").await;

        b.goto(&s.url("/inbox")).await.unwrap();
        b.wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css("[data-inbox][data-live-ready]"))
            .await
            .unwrap();
        b.execute("window.__kithNoReload = 1", vec![]).await.unwrap();

        // 1. An inbound SMS appears in the open list, without reload.
        inbound_sms(&s, &channel, "SMnew", "+15557770002", "Hi! Can I move my booking to Friday?").await;
        let t0 = Instant::now();
        drain(&s).await;
        let text = wait_text(&b, "#conv-list .conv-row:first-child", "move my booking", Duration::from_secs(5)).await;
        assert!(t0.elapsed() < Duration::from_secs(2), "live within a second or so: {:?}", t0.elapsed());
        assert!(text.contains("+1 555 777 0002") || text.contains("+15557770002"), "{text}");
        assert!(marker(&b).await, "the page was not reloaded");
        let unread = b.find(Locator::Css("#conv-list .conv-row:first-child")).await.unwrap();
        assert!(unread.attr("class").await.unwrap().unwrap().contains("is-unread"));
        shot(&b, "01-list-live").await;

        // j then Enter opens it (the keyboard path).
        b.execute("document.activeElement && document.activeElement.blur()", vec![]).await.unwrap();
        press(&b, 'j').await;
        b.find(Locator::Css(".conv-row.is-selected")).await.unwrap();
        b.execute("document.activeElement && document.activeElement.blur()", vec![]).await.unwrap();
        press(&b, Key::Enter.into()).await;
        b.wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css("[data-inbox][data-thread][data-live-ready]"))
            .await
            .unwrap();
        let thread_url = b.current_url().await.unwrap();
        assert!(thread_url.path().starts_with("/inbox/c/"), "{thread_url}");
        wait_text(&b, "#messages", "move my booking", Duration::from_secs(5)).await;
        b.execute("window.__kithNoReload = 1", vec![]).await.unwrap();

        // 2. r focuses the composer; the reply goes without reload and shows "Queued".
        press(&b, 'r').await;
        let focused = b.execute("return document.activeElement.id", vec![]).await.unwrap();
        assert_eq!(focused, json!("composer-body"));
        b.find(Locator::Id("composer-body"))
            .await
            .unwrap()
            .send_keys("Of course — Friday at 10:00 works.")
            .await
            .unwrap();
        b.find(Locator::Css("form[data-composer] button[type=submit]")).await.unwrap().click().await.unwrap();
        let out = wait_text(&b, "#messages .msg-out:last-child", "Friday at 10:00", Duration::from_secs(5)).await;
        assert!(out.contains("Queued"), "{out}");
        assert!(marker(&b).await, "sent without reload");

        // 3. The send job calls Twilio (the wiremock stand-in): "Sent", live.
        drain(&s).await;
        wait_text(&b, "#messages .msg-out:last-child .msg-state", "Sent", Duration::from_secs(3)).await;
        let calls = twilio.received_requests().await.unwrap();
        assert_eq!(calls.len(), 1);
        let body = String::from_utf8_lossy(&calls[0].body).to_string();
        assert!(body.contains("To=%2B15557770002") && body.contains("Friday"), "{body}");

        // 4. Twilio's signed status callback: "Delivered", live.
        post_twilio(
            &s,
            &channel,
            &[
                ("MessageSid", "SMreply1"),
                ("AccountSid", "AC1"),
                ("MessageStatus", "delivered"),
                ("From", "+15550000000"),
                ("To", "+15557770002"),
            ],
        )
        .await;
        let t0 = Instant::now();
        drain(&s).await;
        wait_text(&b, "#messages .msg-out:last-child .msg-state", "Delivered", Duration::from_secs(3)).await;
        assert!(t0.elapsed() < Duration::from_secs(2));
        assert!(marker(&b).await, "delivered without reload");

        // A private note, then resolve with e.
        b.execute("document.activeElement && document.activeElement.blur()", vec![]).await.unwrap();
        press(&b, 'n').await;
        b.find(Locator::Id("composer-body")).await.unwrap().send_keys("Moved in the calendar too.").await.unwrap();
        b.find(Locator::Css("form[data-composer] button[type=submit]")).await.unwrap().click().await.unwrap();
        wait_text(&b, "#messages .msg-note:last-child", "Moved in the calendar", Duration::from_secs(5)).await;
        shot(&b, "02-thread-delivered").await;

        b.execute("document.activeElement && document.activeElement.blur()", vec![]).await.unwrap();
        press(&b, 'e').await;
        wait_text(&b, "#thread-status", "Resolved", Duration::from_secs(5)).await;

        // Channel settings, and the inbox at phone width.
        b.goto(&s.url("/settings/channels")).await.unwrap();
        wait_text(&b, ".channel-list", "Front desk", Duration::from_secs(5)).await;
        shot(&b, "03-channel-settings").await;
        b.set_window_size(390, 844).await.unwrap();
        b.goto(thread_url.as_str()).await.unwrap();
        wait_text(&b, "#messages", "Friday", Duration::from_secs(5)).await;
        shot(&b, "04-thread-phone").await;
        b.goto(&s.url("/inbox?status=all")).await.unwrap();
        wait_text(&b, "#conv-list", "Thanks for yesterday", Duration::from_secs(5)).await;
        shot(&b, "05-list-phone").await;
        b.close().await.unwrap();
        drop(driver);
    }
    /// The id the composer's list holds for the file named `name`, once uploaded.
    async fn uploaded_id(b: &Browser, name: &str) -> String {
        let started = Instant::now();
        loop {
            let id = b
                .execute(
                    "return Array.from(document.querySelectorAll('[data-file-list] li'))
                       .filter((li) => li.textContent.includes(arguments[0]))
                       .map((li) => li.getAttribute('data-id') || '')[0] || ''",
                    vec![json!(name)],
                )
                .await
                .unwrap();
            if let Some(id) = id.as_str().filter(|id| !id.is_empty()) {
                return id.to_string();
            }
            assert!(started.elapsed() < Duration::from_secs(10), "{name} never uploaded");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Wait until the composer's list no longer names `name`.
    async fn wait_gone(b: &Browser, name: &str) {
        let started = Instant::now();
        while b.find(Locator::Css("[data-file-list]")).await.unwrap().text().await.unwrap().contains(name) {
            assert!(started.elapsed() < Duration::from_secs(10), "{name} stayed in the list");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The composer's "Attach files": two files chosen (one removed again:
    /// deleted on the server, row and object), one over 25 MB refused in the
    /// page, the reply sent with the other: the thread links it and the
    /// Twilio stand-in got a link that serves it. Removing a file that was
    /// sent meanwhile shows why it cannot be removed.
    #[tokio::test]
    async fn composer_attaches_files_in_chromium() {
        let Some((driver, b)) = start().await else { return };
        let twilio = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/2010-04-01/Accounts/AC1/Messages.json"))
            .respond_with(ResponseTemplate::new(201).set_body_json(json!({"sid": "SMfiles2", "status": "queued"})))
            .expect(1)
            .mount(&twilio)
            .await;
        let s = server(TestDb::sqlite().await, Some(twilio.uri())).await;
        let (account, token) = s.user_with_token("attach@inbox.example").await;
        let channel = twilio_channel(&s, &token).await;
        inbound_sms(&s, &channel, "SMmenu", "+15557770009", "Could you send the menu?").await;
        drain(&s).await;
        let conv = newest_conversation(&s, &token).await;
        let dir = TempDir::new();
        let menu = dir.path().join("Lunch menu.pdf");
        std::fs::write(&menu, b"%PDF lunch menu").unwrap();
        let extra = dir.path().join("extra.txt");
        std::fs::write(&extra, b"extra").unwrap();
        let huge = dir.path().join("huge.mov");
        std::fs::File::create(&huge).unwrap().set_len(26 * 1024 * 1024).unwrap();

        b.goto(&s.url("/signin")).await.unwrap();
        b.find(Locator::Id("email")).await.unwrap().send_keys("attach@inbox.example").await.unwrap();
        b.find(Locator::Id("password")).await.unwrap().send_keys(kith_testkit::app::PASSWORD).await.unwrap();
        b.find(Locator::Css("form[action='/signin'] button[type=submit]")).await.unwrap().click().await.unwrap();
        wait_path(&b, "/").await;
        b.goto(&s.url(&format!("/inbox/c/{conv}"))).await.unwrap();
        b.wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css("[data-inbox][data-thread][data-live-ready]"))
            .await
            .unwrap();

        // The control shows (the script reveals it) and is a real, focusable button.
        let attach = b.find(Locator::Css("[data-files]:not([hidden]) button[data-attach]")).await.unwrap();
        assert_eq!(attach.text().await.unwrap(), "Attach files");
        b.execute("document.querySelector('[data-attach]').focus()", vec![]).await.unwrap();
        let focused = b.execute("return document.activeElement.textContent", vec![]).await.unwrap();
        assert_eq!(focused, json!("Attach files"));

        let input = b.find(Locator::Id("composer-file-input")).await.unwrap();
        input.send_keys(&menu.display().to_string()).await.unwrap();
        wait_text(&b, ".composer-file:not(.is-uploading)", "Lunch menu.pdf", Duration::from_secs(10)).await;
        let input = b.find(Locator::Id("composer-file-input")).await.unwrap();
        input.send_keys(&extra.display().to_string()).await.unwrap();
        let extra_id = uploaded_id(&b, "extra.txt").await;
        let extra_key = kith_app::inbox::attachments::object_key(account.org_id, extra_id.parse().unwrap());
        assert!(s.app.objects().get_bytes(&extra_key).await.unwrap().is_some(), "uploaded");
        let input = b.find(Locator::Id("composer-file-input")).await.unwrap();
        input.send_keys(&huge.display().to_string()).await.unwrap();
        let err = wait_text(&b, ".composer-error", "larger than 25 MB", Duration::from_secs(5)).await;
        assert!(err.contains("huge.mov"), "{err}");
        shot(&b, "06-composer-files").await;
        b.find(Locator::Css("button[aria-label='Remove extra.txt']")).await.unwrap().click().await.unwrap();
        wait_gone(&b, "extra.txt").await;
        // Removed on the server: its row and its object.
        let rows = kith_testkit::raw_ids(&s.raw_url, "SELECT id FROM attachments").await;
        assert!(!rows.contains(&extra_id.parse().unwrap()), "the upload's row is deleted");
        assert_eq!(s.app.objects().get_bytes(&extra_key).await.unwrap(), None, "its object is deleted");
        let list = b.find(Locator::Css("[data-file-list]")).await.unwrap().text().await.unwrap();
        assert!(list.contains("Lunch menu.pdf") && !list.contains("extra.txt"), "{list}");
        let ids = b.execute("return document.querySelector('[data-attachment-ids]').value", vec![]).await.unwrap();
        assert_eq!(ids.as_str().unwrap().split(',').count(), 1, "{ids}");

        b.find(Locator::Id("composer-body")).await.unwrap().send_keys("Here is the menu.").await.unwrap();
        b.find(Locator::Css("form[data-composer] button[type=submit]")).await.unwrap().click().await.unwrap();
        let out = wait_text(&b, "#messages .msg-out:last-child", "Lunch menu.pdf", Duration::from_secs(5)).await;
        assert!(out.contains("Here is the menu."), "{out}");
        let link = b.find(Locator::Css("#messages .msg-out:last-child .msg-attachment a")).await.unwrap();
        assert!(link.attr("href").await.unwrap().unwrap().starts_with("/inbox/files/"));
        let left = b.find(Locator::Css("[data-file-list]")).await.unwrap().text().await.unwrap();
        assert_eq!(left, "", "the composer's list is cleared");

        drain(&s).await;
        wait_text(&b, "#messages .msg-out:last-child .msg-state", "Sent", Duration::from_secs(3)).await;
        let calls = twilio.received_requests().await.unwrap();
        let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&calls[0].body).unwrap();
        let media: Vec<&String> = form.iter().filter(|(k, _)| k == "MediaUrl").map(|(_, v)| v).collect();
        assert_eq!(media.len(), 1, "{form:?}");
        assert_eq!(client().get(media[0]).send().await.unwrap().bytes().await.unwrap().as_ref(), b"%PDF lunch menu");
        shot(&b, "07-composer-sent").await;
        b.set_window_size(390, 844).await.unwrap();
        let input = b.find(Locator::Id("composer-file-input")).await.unwrap();
        input.send_keys(&extra.display().to_string()).await.unwrap();
        wait_text(&b, ".composer-file:not(.is-uploading)", "extra.txt", Duration::from_secs(10)).await;
        shot(&b, "08-composer-files-phone").await;
        // Files alone: no text needed.
        b.find(Locator::Css("form[data-composer] button[type=submit]")).await.unwrap().click().await.unwrap();
        wait_text(&b, "#messages .msg-out:last-child", "extra.txt", Duration::from_secs(5)).await;
        shot(&b, "09-files-alone-phone").await;

        // A file sent meanwhile (here through the API) cannot be removed: the page says why.
        let input = b.find(Locator::Id("composer-file-input")).await.unwrap();
        input.send_keys(&menu.display().to_string()).await.unwrap();
        let late = uploaded_id(&b, "Lunch menu.pdf").await;
        let sent: Value = client()
            .post(s.url(&format!("/api/v1/conversations/{conv}/messages")))
            .bearer_auth(&token)
            .json(&json!({"body": "Sent from elsewhere", "attachment_ids": [late]}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(sent["attachments"][0]["id"], json!(late), "{sent}");
        b.find(Locator::Css("button[aria-label='Remove Lunch menu.pdf']")).await.unwrap().click().await.unwrap();
        let err = wait_text(&b, ".composer-error", "sent already", Duration::from_secs(5)).await;
        assert!(err.starts_with("Lunch menu.pdf:"), "{err}");
        let seen = "const r = document.querySelector('.composer-error').getBoundingClientRect();
                    return r.top >= 0 && r.bottom <= window.innerHeight;";
        assert_eq!(b.execute(seen, vec![]).await.unwrap(), json!(true), "the error is scrolled into view");
        wait_gone(&b, "Lunch menu.pdf").await;
        shot(&b, "10-remove-refused-phone").await;
        b.close().await.unwrap();
        drop(driver);
    }
}
