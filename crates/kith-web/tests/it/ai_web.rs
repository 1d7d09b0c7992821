//! `/api/v1/ai/*` and the AI settings and usage pages over HTTP on each backend, against a wiremock stand-in of an
//! OpenAI-compatible endpoint; and both pages in Chromium (screenshots in KITH_TEST_SCREENSHOTS, default /tmp).

use crate::helpers::{browser, client, code, form_value, json};
use kith_app::audit::Origin;
use kith_app::identity::{self, SignUp};
use kith_domain::{new_id, Actor, Context, Credential, Role};
use kith_testkit::{spawn_all, TestServer};
use reqwest::Client;
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "sk-web-secret-key-7788";

async fn stand_in(status: u16, body: Value) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .mount(&server)
        .await;
    server
}

fn ok_completion() -> Value {
    json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
           "usage": {"prompt_tokens": 14, "completion_tokens": 1, "total_tokens": 15}})
}

/// A member (role `role`) of `acct`'s workspace, with an API token.
async fn member_token(s: &TestServer, org_id: uuid::Uuid, owner: uuid::Uuid, email: &str, role: Role) -> String {
    let ctx = Context {
        org_id,
        actor: Actor { user_id: owner, credential: Credential::Session(new_id()) },
        role: Role::Owner,
    };
    let invited = kith_app::invitations::create(&s.app, &ctx, email, role, &Origin::default()).await.unwrap();
    let secret = invited.link.rsplit('/').next().unwrap().to_string();
    let input = SignUp {
        email: email.into(),
        name: "Someone".into(),
        password: kith_testkit::app::PASSWORD.into(),
        workspace_name: None,
        invitation: Some(secret),
    };
    identity::sign_up(&s.app, input, &Origin::default()).await.unwrap();
    kith_app::tokens::create_for_member(&s.app, org_id, email, "t").await.unwrap().1
}

async fn call(
    s: &TestServer,
    token: &str,
    m: reqwest::Method,
    p: &str,
    body: Option<Value>,
    if_match: Option<&str>,
) -> (u16, Value, Option<String>) {
    let mut r = client().request(m, s.url(p)).bearer_auth(token);
    if let Some(b) = body {
        r = r.json(&b);
    }
    if let Some(v) = if_match {
        r = r.header("if-match", v);
    }
    let resp = r.send().await.unwrap();
    let etag = resp.headers().get("etag").map(|v| v.to_str().unwrap().to_string());
    let (st, v) = json(resp).await;
    (st, v, etag)
}

fn settings_body(base: &str) -> Value {
    json!({
        "features": {"auto_reply": true, "summaries": true},
        "endpoint": {"base_url": format!("{base}/v1"), "api_key": KEY, "chat_model": "gpt-test"},
        "prices": {"prompt_micros_per_million": 1000000, "completion_micros_per_million": 2000000},
        "limits": {"hard": {"messages": 100}, "soft": {"tokens": 10}},
        "handoff_message": "A colleague will answer shortly.",
        "business_hours": {"time_zone": "Europe/Paris", "spans": [{"day": "mon", "open": "09:00", "close": "18:00"}]}
    })
}

#[tokio::test]
async fn ai_settings_and_usage_api() {
    use reqwest::Method;
    for s in spawn_all().await {
        let l = s.label;
        let server = stand_in(200, ok_completion()).await;
        let (owner, token) = s.user_with_token(&format!("ai-owner-{l}@web.test")).await;

        let (st, v, etag) = call(&s, &token, Method::GET, "/api/v1/ai/settings", None, None).await;
        assert_eq!(st, 200, "{l}: {v}");
        assert_eq!(
            v["features"],
            json!({"auto_reply": false, "suggestions": false, "summaries": false, "drafting": false, "questions": false, "speech": false}),
            "{l}"
        );
        assert!(v["endpoint"].is_null() && v["version"] == 0, "{l}");
        assert_eq!(etag.as_deref(), Some("\"0\""), "{l}");

        let mut bad = settings_body("ftp://x");
        bad["limits"]["hard"]["tokens"] = json!(-1);
        bad["endpoint"]["chat_model"] = json!("");
        let (st, v, _) = call(&s, &token, Method::PUT, "/api/v1/ai/settings", Some(bad), None).await;
        assert_eq!((st, code(&v)), (422, "validation_failed"), "{l}: {v}");
        let mut fields: Vec<&str> =
            v["error"]["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
        fields.sort();
        assert_eq!(fields, ["endpoint.base_url", "endpoint.chat_model", "limits.hard.tokens"], "{l}");
        let (st, v, _) =
            call(&s, &token, Method::PUT, "/api/v1/ai/settings", Some(json!({"features": {"telepathy": true}})), None)
                .await;
        assert_eq!(st, 422, "{l}: unknown fields are refused: {v}");

        let (st, v, etag) =
            call(&s, &token, Method::PUT, "/api/v1/ai/settings", Some(settings_body(&server.uri())), Some("\"0\""))
                .await;
        assert_eq!(st, 200, "{l}: {v}");
        assert_eq!(etag.as_deref(), Some("\"1\""), "{l}");
        assert_eq!(v["endpoint"]["api_key_set"], true, "{l}");
        assert!(!v.to_string().contains(KEY), "{l}: the key is never returned");
        let (_, v, _) = call(&s, &token, Method::GET, "/api/v1/ai/settings", None, None).await;
        assert!(!v.to_string().contains(KEY) && v["endpoint"].get("api_key").is_none(), "{l}");
        assert_eq!(v["business_hours"]["time_zone"], "Europe/Paris", "{l}");
        let (st, v, _) =
            call(&s, &token, Method::PUT, "/api/v1/ai/settings", Some(settings_body(&server.uri())), Some("\"0\""))
                .await;
        assert_eq!((st, code(&v)), (412, "stale_version"), "{l}");

        // The connection test, then the usage it produced.
        let (st, v, _) = call(&s, &token, Method::POST, "/api/v1/ai/settings/test", None, None).await;
        assert_eq!(st, 200, "{l}: {v}");
        assert_eq!(
            (v["ok"].as_bool(), v["reply"].as_str(), v["prompt_tokens"].as_i64()),
            (Some(true), Some("ok"), Some(14)),
            "{l}"
        );
        let got = server.received_requests().await.unwrap();
        assert_eq!(got[0].headers.get("authorization").unwrap(), &format!("Bearer {KEY}"), "{l}");
        let (st, u, _) = call(&s, &token, Method::GET, "/api/v1/ai/usage", None, None).await;
        assert_eq!(st, 200, "{l}: {u}");
        assert_eq!(
            (u["messages"].as_i64(), u["prompt_tokens"].as_i64(), u["cost_micros"].as_i64()),
            (Some(1), Some(14), Some(16)),
            "{l}"
        );
        assert_eq!(u["soft_limit_reached"], true, "{l}: 15 tokens over a soft limit of 10");
        assert_eq!(u["hard_limit_reached"], false, "{l}");
        assert!(u["days"].as_array().unwrap().len() >= 28, "{l}");
        let (st, v, _) = call(&s, &token, Method::GET, "/api/v1/ai/usage?month=2026-1", None, None).await;
        assert_eq!((st, v["error"]["fields"][0]["field"].as_str()), (422, Some("month")), "{l}");
        let (st, v, _) = call(&s, &token, Method::GET, "/api/v1/ai/usage?month=2024-02", None, None).await;
        assert_eq!((st, v["days"].as_array().unwrap().len(), v["messages"].as_i64()), (200, 29, Some(0)), "{l}");

        // The endpoint failing: 502 with the provider's message.
        let failing = stand_in(401, json!({"error": {"message": "Incorrect API key provided", "type": "invalid_request_error", "code": "invalid_api_key"}})).await;
        let (_, cur, etag) = call(&s, &token, Method::GET, "/api/v1/ai/settings", None, None).await;
        let mut body = settings_body(&failing.uri());
        body["endpoint"].as_object_mut().unwrap().remove("api_key");
        let (st, v, _) = call(&s, &token, Method::PUT, "/api/v1/ai/settings", Some(body), etag.as_deref()).await;
        assert_eq!((st, &v["endpoint"]["api_key_set"]), (200, &json!(true)), "{l}: kept ({cur})");
        let (st, v, _) = call(&s, &token, Method::POST, "/api/v1/ai/settings/test", None, None).await;
        assert_eq!((st, code(&v)), (502, "ai_provider_failed"), "{l}: {v}");
        assert!(v["error"]["message"].as_str().unwrap().contains("Incorrect API key provided"), "{l}: {v}");

        // Members: forbidden everywhere here.
        let member =
            member_token(&s, owner.org_id, owner.user_id, &format!("ai-member-{l}@web.test"), Role::Member).await;
        for (m, p) in [
            (Method::GET, "/api/v1/ai/settings"),
            (Method::GET, "/api/v1/ai/usage"),
            (Method::POST, "/api/v1/ai/settings/test"),
        ] {
            let (st, v, _) = call(&s, &member, m, p, None, None).await;
            assert_eq!((st, code(&v)), (403, "forbidden"), "{l}: {p}");
        }
        let (st, _, _) =
            call(&s, &member, Method::PUT, "/api/v1/ai/settings", Some(settings_body(&server.uri())), None).await;
        assert_eq!(st, 403, "{l}");

        // Another workspace sees its own defaults and usage.
        let (_, stranger) = s.user_with_token(&format!("ai-stranger-{l}@web.test")).await;
        let (_, v, _) = call(&s, &stranger, Method::GET, "/api/v1/ai/settings", None, None).await;
        assert!(v["endpoint"].is_null() && v["features"]["auto_reply"] == false, "{l}");
        let (_, v, _) = call(&s, &stranger, Method::GET, "/api/v1/ai/usage", None, None).await;
        assert_eq!(v["messages"], 0, "{l}");
    }
}

#[tokio::test]
async fn the_openapi_document_lists_the_ai_endpoints() {
    let s = kith_testkit::spawn_app().await;
    let (_, doc) = json(client().get(s.url("/api/v1/openapi.json")).send().await.unwrap()).await;
    for p in ["/api/v1/ai/settings", "/api/v1/ai/settings/test", "/api/v1/ai/usage"] {
        assert!(doc["paths"].get(p).is_some(), "{p} missing");
    }
    assert!(doc["paths"]["/api/v1/ai/settings"].get("put").is_some());
}

async fn page(c: &Client, url: &str) -> (u16, String) {
    let r = c.get(url).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
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

fn strict(html: &str, what: &str) {
    assert!(!html.contains(" style="), "{what}: inline style");
    for tag in html.split("<script").skip(1) {
        assert!(tag.trim_start().starts_with("type=\"module\" src="), "{what}: inline script");
    }
}

fn form(csrf: &str, version: &str, base: &str) -> Vec<(String, String)> {
    let mut f: Vec<(String, String)> = [
        ("_csrf", csrf),
        ("version", version),
        ("feature_auto_reply", "on"),
        ("feature_suggestions", "on"),
        ("base_url", base),
        ("api_key", KEY),
        ("chat_model", "llama3.1:8b"),
        ("prompt_price", "0.15"),
        ("completion_price", "0.6"),
        ("soft_messages", "1"),
        ("hard_cost", "2.5"),
        ("handoff_message", "Someone from the team will reply soon."),
        ("max_auto_replies", "3"),
        ("hours_on", "on"),
        ("time_zone", "Europe/Berlin"),
        ("bh_mon_0_open", "09:00"),
        ("bh_mon_0_close", "17:00"),
        ("store_prompts", "on"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    f.retain(|(_, v)| !v.is_empty());
    f
}

#[tokio::test]
async fn ai_settings_and_usage_pages_without_javascript() {
    for s in spawn_all().await {
        let l = s.label;
        let server = stand_in(200, ok_completion()).await;
        let email = format!("ai-ui-{l}@web.test");
        let (acct, _) = s.user_with_token(&email).await;
        let c = signin(&s, &email).await;
        let (st, html) = page(&c, &s.url("/settings/ai")).await;
        assert_eq!(st, 200, "{l}: {html:.300}");
        strict(&html, "settings");
        assert!(html.contains("href=\"/settings/ai/usage\""), "{l}: linked in the settings navigation");
        assert!(html.contains("role=\"switch\"") && html.contains("Automatic replies"), "{l}");
        let csrf = form_value(&html, "_csrf");

        // Invalid: the errors sit next to their fields, the key is not echoed.
        let mut bad = form(&csrf, "0", "gopher://nowhere");
        bad.retain(|(k, _)| k != "prompt_price");
        bad.push(("prompt_price".into(), "cheap".into()));
        bad.push(("bh_tue_0_open".into(), "18:00".into()));
        bad.push(("bh_tue_0_close".into(), "08:00".into()));
        let r = c.post(s.url("/settings/ai")).form(&bad).send().await.unwrap();
        assert_eq!(r.status(), 422, "{l}");
        let html = r.text().await.unwrap();
        assert!(html.contains("id=\"ai-base-url-error\""), "{l}: base URL error shown");
        assert!(html.contains("id=\"ai-prompt-price-error\""), "{l}: price error shown");
        assert!(html.contains("Closing time must be after the opening time"), "{l}: span error on its day");
        assert!(!html.contains(KEY), "{l}: the key is never echoed");

        let good = form(&csrf, "0", &format!("{}/v1", server.uri()));
        let r = c.post(s.url("/settings/ai")).form(&good).send().await.unwrap();
        assert_eq!(r.status(), 303, "{l}: {}", r.text().await.unwrap_or_default());
        let stored = kith_app::ai::settings::load(&s.app, acct.org_id).await.unwrap();
        let e = stored.endpoint.as_ref().unwrap();
        assert_eq!((e.chat_model.as_str(), e.api_key.as_deref()), ("llama3.1:8b", Some(KEY)), "{l}");
        assert_eq!(stored.prices.prompt_micros_per_million, 150_000, "{l}");
        assert_eq!(stored.limits.hard.cost_micros, Some(2_500_000), "{l}");
        assert!(
            stored.features.auto_reply
                && stored.features.suggestions
                && !stored.features.speech
                && stored.store_prompts,
            "{l}"
        );
        assert_eq!(stored.business_hours.as_ref().unwrap().spans.len(), 1, "{l}");
        let (_, html) = page(&c, &s.url("/settings/ai")).await;
        assert!(!html.contains(KEY) && html.contains("Stored encrypted; never shown"), "{l}");

        // Test connection: a flash with the answer.
        let r = c.post(s.url("/settings/ai/test")).form(&[("_csrf", csrf.as_str())]).send().await.unwrap();
        assert_eq!(r.status(), 303, "{l}");
        let (_, html) = page(&c, &s.url("/settings/ai")).await;
        assert!(html.contains("Connected: llama3.1:8b answered"), "{l}");
        assert!(html.contains("crossed a soft limit"), "{l}: the soft-limit notice");

        // Remove the key: the form's radio.
        let mut remove = form(&csrf, "1", &format!("{}/v1", server.uri()));
        remove.retain(|(k, _)| k != "api_key");
        remove.push(("key_action".into(), "remove".into()));
        let r = c.post(s.url("/settings/ai")).form(&remove).send().await.unwrap();
        assert_eq!(r.status(), 303, "{l}");
        assert_eq!(
            kith_app::ai::settings::load(&s.app, acct.org_id).await.unwrap().endpoint.unwrap().api_key,
            None,
            "{l}"
        );

        let (st, html) = page(&c, &s.url("/settings/ai/usage")).await;
        assert_eq!(st, 200, "{l}");
        strict(&html, "usage");
        assert!(html.contains("<svg class=\"usage-chart\"") && html.contains("Over soft limit"), "{l}");
        let (st, html) = page(&c, &s.url("/settings/ai/usage?month=nope")).await;
        assert_eq!(st, 200, "{l}");
        assert!(html.contains("Showing this month instead"), "{l}");

        // A member is turned away.
        let member = format!("ai-ui-member-{l}@web.test");
        member_token(&s, acct.org_id, acct.user_id, &member, Role::Member).await;
        let m = signin(&s, &member).await;
        assert_eq!(page(&m, &s.url("/settings/ai")).await.0, 403, "{l}");
        assert_eq!(page(&m, &s.url("/settings/ai/usage")).await.0, 403, "{l}");
    }
}

mod chromium {
    use super::*;
    use crate::ai_chromium::{self, sign_in};
    use fantoccini::Locator;
    use std::time::Duration;

    #[tokio::test]
    async fn ai_pages_in_chromium() {
        let Some((_driver, b)) = ai_chromium::start().await else { return };
        let dir = ai_chromium::shot_dir();

        // Usage from a server that reports none (counts estimated, hatched in the chart).
        let mut no_usage = ok_completion();
        no_usage.as_object_mut().unwrap().remove("usage");
        let server = stand_in(200, no_usage).await;
        let s = kith_testkit::spawn_app().await;
        let email = "ai-browser@web.test";
        let (acct, token) = s.user_with_token(email).await;
        let r = client()
            .put(s.url("/api/v1/ai/settings"))
            .bearer_auth(&token)
            .json(&settings_body(&server.uri()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        for _ in 0..3 {
            let r = client().post(s.url("/api/v1/ai/settings/test")).bearer_auth(&token).send().await.unwrap();
            assert_eq!(r.status(), 200);
        }
        let _ = acct;

        sign_in(&b, &s, email).await;
        b.goto(&s.url("/settings/ai")).await.unwrap();
        b.find(Locator::Id("feature-auto_reply")).await.unwrap();
        // Keyboard: the switch toggles with Space like a checkbox.
        let sw = b.find(Locator::Id("feature-drafting")).await.unwrap();
        sw.send_keys(" ").await.unwrap();
        assert_eq!(sw.prop("checked").await.unwrap().as_deref(), Some("true"));
        std::fs::write(format!("{dir}/ai-settings.png"), b.screenshot().await.unwrap()).unwrap();
        // The test button: the flash says what the endpoint answered.
        b.find(Locator::Css("form[action='/settings/ai/test'] button")).await.unwrap().click().await.unwrap();
        b.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css(".flash")).await.unwrap();
        let flash = b.find(Locator::Css(".flash")).await.unwrap().text().await.unwrap();
        assert!(flash.contains("Connected: gpt-test answered") && flash.contains("estimated"), "{flash}");
        std::fs::write(format!("{dir}/ai-settings-tested.png"), b.screenshot().await.unwrap()).unwrap();
        b.goto(&s.url("/settings/ai/usage")).await.unwrap();
        b.find(Locator::Css("svg.usage-chart")).await.unwrap();
        std::fs::write(format!("{dir}/ai-usage.png"), b.screenshot().await.unwrap()).unwrap();
        b.set_window_size(1280, 1400).await.unwrap();
        std::fs::write(format!("{dir}/ai-usage-full.png"), b.screenshot().await.unwrap()).unwrap();
        b.goto(&s.url("/settings/ai")).await.unwrap();
        b.set_window_size(1280, 2600).await.unwrap();
        std::fs::write(format!("{dir}/ai-settings-full.png"), b.screenshot().await.unwrap()).unwrap();
        b.goto(&s.url("/settings/ai/usage")).await.unwrap();
        b.set_window_size(390, 844).await.unwrap();
        std::fs::write(format!("{dir}/ai-usage-narrow.png"), b.screenshot().await.unwrap()).unwrap();
        b.goto(&s.url("/settings/ai")).await.unwrap();
        std::fs::write(format!("{dir}/ai-settings-narrow.png"), b.screenshot().await.unwrap()).unwrap();
        b.close().await.unwrap();
    }
}
