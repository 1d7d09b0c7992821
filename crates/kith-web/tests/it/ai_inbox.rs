//! The assistant in the inbox over HTTP on both backends — a `suggest`
//! channel's draft at `GET /api/v1/conversations/{id}/ai` and on the thread
//! page, a suggestion streamed on demand (server-sent events from a streamed
//! OpenAI-compatible stand-in, citation markers cleaned), a handoff that
//! pauses the assistant until resumed — and in Chromium: "Suggest a reply"
//! streams into the thread and "Edit in the composer" fills it.
//! Set KITH_TEST_SCREENSHOTS=<dir> to keep the screenshots (default /tmp).

use crate::helpers::{browser, client, form_value};
use kith_app::worker::{Registry, Worker};
use kith_app::{AppSettings, ProviderBases};
use kith_testkit::{spawn_with, TestDb, TestServer};
use reqwest::Client;
use serde_json::{json, Value};
use std::time::Duration;
use wiremock::matchers::{body_partial_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const AUTH_TOKEN: &str = "twilio-auth-token-for-the-assistant";
const HANDOFF: &str = "Someone from the team will reply here soon.";

struct Rig {
    s: TestServer,
    token: String,
    channel: String,
    llm: MockServer,
    _twilio: MockServer,
}

async fn rig(db: TestDb, email: &str) -> Rig {
    let twilio = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"sid": "SMout", "status": "queued"})))
        .mount(&twilio)
        .await;
    let settings = AppSettings {
        provider_bases: ProviderBases { twilio: twilio.uri(), ..ProviderBases::default() },
        ..kith_testkit::app::test_settings()
    };
    let s = spawn_with(db, settings, kith_web::WebConfig { api_rate_per_second: 0, ..Default::default() }).await;
    let (_, token) = s.user_with_token(email).await;
    let llm = MockServer::start().await;
    let channel = call(
        &s,
        &token,
        "POST",
        "/api/v1/channels",
        json!({"kind": "twilio_sms", "name": "Front desk",
        "config": {"account_sid": "AC1", "auth_token": AUTH_TOKEN, "from": "+15550000000"}}),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    call(&s, &token, "PATCH", &format!("/api/v1/channels/{channel}"), json!({"ai_mode": "suggest"})).await;
    call(
        &s,
        &token,
        "PUT",
        "/api/v1/ai/settings",
        json!({
        "features": {"auto_reply": true, "suggestions": true},
        "endpoint": {"base_url": format!("{}/v1", llm.uri()), "api_key": "sk-test", "chat_model": "gpt-test"},
        "handoff_message": HANDOFF}),
    )
    .await;
    for (q, a) in [
        ("Can I bring my dog to the studio?", "Dogs are welcome in the studio as long as they stay on a lead."),
        ("What are your opening hours?", "We are open 8 to 6 on weekdays and 9 to 1 on Saturdays."),
    ] {
        call(&s, &token, "POST", "/api/v1/knowledge", json!({"kind": "faq", "question": q, "answer": a})).await;
    }
    drain(&s).await;
    Rig { s, token, channel, llm, _twilio: twilio }
}

async fn call(s: &TestServer, token: &str, verb: &str, path: &str, body: Value) -> Value {
    let m = reqwest::Method::from_bytes(verb.as_bytes()).unwrap();
    let r = client().request(m, s.url(path)).bearer_auth(token).json(&body).send().await.unwrap();
    let status = r.status();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{}: {verb} {path}: {status} {v}", s.label);
    v
}

async fn get(s: &TestServer, token: &str, path: &str) -> Value {
    let r = client().get(s.url(path)).bearer_auth(token).send().await.unwrap();
    assert!(r.status().is_success(), "{}: GET {path}: {}", s.label, r.status());
    r.json().await.unwrap()
}

async fn inbound_sms(r: &Rig, sid: &str, from: &str, text: &str) {
    let url = r.s.url(&format!("/hooks/twilio/{}", r.channel));
    let pairs = [("MessageSid", sid), ("AccountSid", "AC1"), ("From", from), ("To", "+15550000000"), ("Body", text)];
    let body = serde_urlencoded::to_string(pairs).unwrap();
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
    assert_eq!(resp.status(), 200, "{}: twilio hook", r.s.label);
    drain(&r.s).await;
}

async fn drain(s: &TestServer) {
    let w = Worker::new(s.app.clone(), Registry::standard());
    while w.run_once().await.unwrap() > 0 {}
}

/// The model answers non-streamed requests with `content`.
async fn model_says(llm: &MockServer, content: &str) {
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(body_partial_json(json!({"stream": false})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "c", "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 50, "completion_tokens": 9}})))
        .mount(llm)
        .await;
}

/// The model streams `pieces` (without a usage chunk, as Ollama does).
async fn model_streams(llm: &MockServer, pieces: &[&str]) {
    let mut sse = String::new();
    for p in pieces {
        let chunk = json!({"choices": [{"index": 0, "delta": {"content": p}, "finish_reason": null}]});
        sse.push_str(&format!("data: {chunk}\n\n"));
    }
    sse.push_str("data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n");
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(body_partial_json(json!({"stream": true})))
        .respond_with(ResponseTemplate::new(200).set_body_raw(sse, "text/event-stream"))
        .mount(llm)
        .await;
}

/// The events of a server-sent event stream: (event, data).
fn events(text: &str) -> Vec<(String, Value)> {
    text.split("\n\n")
        .filter_map(|block| {
            let mut kind = String::from("message");
            let mut data = String::new();
            for line in block.lines() {
                if let Some(k) = line.strip_prefix("event:") {
                    kind = k.trim().to_string();
                } else if let Some(d) = line.strip_prefix("data:") {
                    data.push_str(d.trim());
                }
            }
            (!data.is_empty()).then(|| (kind, serde_json::from_str(&data).unwrap()))
        })
        .collect()
}

async fn conversation_of(r: &Rig) -> String {
    let list = get(&r.s, &r.token, "/api/v1/conversations").await;
    list["data"][0]["id"].as_str().unwrap().to_string()
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
    assert_eq!(r.status(), 303, "{}: sign-in", s.label);
    c
}

#[tokio::test]
async fn drafts_streamed_suggestions_and_handoffs_over_http() {
    for db in TestDb::all().await {
        let r = rig(db, "agent@assistant.example").await;
        let l = r.s.label;

        // `suggest` mode: the draft waits for the agents, nothing is sent.
        model_says(&r.llm, "Yes, dogs on a lead are welcome [1].").await;
        inbound_sms(&r, "SMs1", "+15554440001", "Can I bring my dog along?").await;
        let conv = conversation_of(&r).await;
        let ai = get(&r.s, &r.token, &format!("/api/v1/conversations/{conv}/ai")).await;
        assert_eq!(ai["mode"], "suggest", "{l}: {ai}");
        assert_eq!(ai["suggestion"]["text"], "Yes, dogs on a lead are welcome.", "{l}: {ai}");
        assert_eq!(ai["suggestion"]["citations"][0]["title"], "Can I bring my dog to the studio?", "{l}");
        let msgs = get(&r.s, &r.token, &format!("/api/v1/conversations/{conv}/messages")).await;
        assert_eq!(msgs["data"].as_array().unwrap().len(), 1, "{l}: nothing sent in suggest mode");

        // The thread page shows the draft with its source.
        let c = signin(&r.s, "agent@assistant.example").await;
        let html = c.get(r.s.url(&format!("/inbox/c/{conv}"))).send().await.unwrap().text().await.unwrap();
        assert!(html.contains("Suggested reply") && html.contains("Yes, dogs on a lead are welcome."), "{l}");
        assert!(html.contains("from Can I bring my dog to the studio?"), "{l}");

        // On demand: streamed, markers cleaned in `done`, usage estimated (the stream has none).
        model_streams(&r.llm, &["Dogs are ", "welcome on a lead", " [1]."]).await;
        let resp = client()
            .post(r.s.url(&format!("/api/v1/conversations/{conv}/suggestion")))
            .bearer_auth(&r.token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{l}");
        assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"), "{l}");
        let evs = events(&resp.text().await.unwrap());
        let kinds: Vec<&str> = evs.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(kinds.first(), Some(&"passages"), "{l}: {kinds:?}");
        assert_eq!(kinds.iter().filter(|k| **k == "delta").count(), 3, "{l}: {evs:?}");
        let done = &evs.last().unwrap().1;
        assert_eq!(done["text"], "Dogs are welcome on a lead.", "{l}: {done}");
        assert_eq!(done["mode"], "model", "{l}");
        let usage = get(&r.s, &r.token, "/api/v1/ai/usage").await;
        assert!(usage["messages"].as_i64().unwrap() >= 2, "{l}: both calls metered: {usage}");

        // Other workspaces' ids are not found; the feature off is a clear refusal.
        let (_, stranger) = r.s.user_with_token("stranger@assistant.example").await;
        let resp = client()
            .post(r.s.url(&format!("/api/v1/conversations/{conv}/suggestion")))
            .bearer_auth(&stranger)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 404, "{l}");
        call(
            &r.s,
            &r.token,
            "PUT",
            "/api/v1/ai/settings",
            json!({"features": {"auto_reply": true},
            "endpoint": {"base_url": format!("{}/v1", r.llm.uri()), "chat_model": "gpt-test"},
            "handoff_message": HANDOFF}),
        )
        .await;
        let resp = client()
            .post(r.s.url(&format!("/api/v1/conversations/{conv}/suggestion")))
            .bearer_auth(&r.token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 409, "{l}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["code"], "ai_feature_disabled", "{l}");

        // `auto` mode: asked for a person, the handoff goes out and the assistant pauses until resumed.
        call(&r.s, &r.token, "PATCH", &format!("/api/v1/channels/{}", r.channel), json!({"ai_mode": "auto"})).await;
        inbound_sms(&r, "SMs2", "+15554440001", "I'd rather speak to a human, please").await;
        let msgs = get(&r.s, &r.token, &format!("/api/v1/conversations/{conv}/messages")).await;
        assert_eq!(msgs["data"][0]["body"], HANDOFF, "{l}: newest first: {msgs}");
        let ai = get(&r.s, &r.token, &format!("/api/v1/conversations/{conv}/ai")).await;
        assert!(ai["paused_at_ms"].is_i64(), "{l}: {ai}");
        assert_eq!(
            (ai["last_outcome"].as_str(), ai["last_reason"].as_str()),
            (Some("handoff"), Some("asked_for_human"))
        );
        let html = c.get(r.s.url(&format!("/inbox/c/{conv}"))).send().await.unwrap().text().await.unwrap();
        assert!(html.contains("the customer asked for a person"), "{l}");
        let resumed = call(&r.s, &r.token, "POST", &format!("/api/v1/conversations/{conv}/ai/resume"), json!({})).await;
        assert!(resumed["paused_at_ms"].is_null(), "{l}: {resumed}");
    }
}

mod chromium {
    use super::*;
    use crate::inbox_ui::chromium::{shot, start, wait_path, wait_text};
    use fantoccini::Locator;

    async fn signin_browser(b: &fantoccini::Client, s: &TestServer, email: &str) {
        b.goto(&s.url("/signin")).await.unwrap();
        b.find(Locator::Id("email")).await.unwrap().send_keys(email).await.unwrap();
        b.find(Locator::Id("password")).await.unwrap().send_keys(kith_testkit::app::PASSWORD).await.unwrap();
        b.find(Locator::Css("form[action='/signin'] button[type=submit]")).await.unwrap().click().await.unwrap();
        wait_path(b, "/").await;
    }

    #[tokio::test]
    async fn suggest_a_reply_streams_into_the_thread_and_fills_the_composer() {
        let Some((_driver, b)) = start().await else { return };
        let r = rig(TestDb::sqlite().await, "browser@assistant.example").await;
        model_says(&r.llm, "Yes, dogs are welcome on a lead [1].").await;
        inbound_sms(&r, "SMb1", "+15554440009", "Can I bring my dog along on Saturday?").await;
        let conv = conversation_of(&r).await;
        signin_browser(&b, &r.s, "browser@assistant.example").await;
        b.goto(&r.s.url(&format!("/inbox/c/{conv}"))).await.unwrap();
        wait_text(&b, "[data-ai-text]", "dogs are welcome", Duration::from_secs(5)).await;
        shot(&b, "ai-01-draft").await;

        model_streams(&r.llm, &["We are open ", "9 to 1 on Saturdays", " [1]."]).await;
        b.find(Locator::Css("[data-ai-suggest]")).await.unwrap().click().await.unwrap();
        wait_text(&b, "[data-ai-text]", "9 to 1 on Saturdays.", Duration::from_secs(10)).await;
        let text = b.find(Locator::Css("[data-ai-text]")).await.unwrap().text().await.unwrap();
        assert!(!text.contains("[1]"), "markers are not shown: {text}");
        b.find(Locator::Css("[data-ai-use]")).await.unwrap().click().await.unwrap();
        let value = b.execute("return document.getElementById('composer-body').value", vec![]).await.unwrap();
        assert_eq!(value, json!("We are open 9 to 1 on Saturdays."));
        let focused = b.execute("return document.activeElement.id", vec![]).await.unwrap();
        assert_eq!(focused, json!("composer-body"), "the agent edits it at once");
        shot(&b, "ai-02-suggested").await;
    }
}
