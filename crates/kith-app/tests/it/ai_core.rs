//! The AI foundation on both backends: settings (defaults, validation, the sealed key, admins only, isolation),
//! metered calls against a wiremock stand-in of an OpenAI-compatible server (usage from the provider or
//! estimated), hard limits under concurrency, refusals recorded, the soft-limit warning once.

use crate::support::*;
use kith_app::ai::llm;
use kith_app::ai::metering::{self, CallTarget};
use kith_app::ai::settings::{self, AiSettingsInput, EndpointInput, LimitSet};
use kith_app::{App, AppError, ErrorCode};
use kith_domain::business_hours::{BusinessHours, OpeningSpan};
use kith_domain::{Context, Role};
use kith_providers::llm::{ChatMessage, ChatRequest};
use kith_testkit::TestApp;
use serde_json::{json, Value};
use std::time::Duration;
use uuid::Uuid;
use wiremock::matchers::{body_partial_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "sk-live-very-secret-key-123";

fn completion(content: &str, usage: Option<(i64, i64)>) -> Value {
    let mut v = json!({"id": "c", "object": "chat.completion", "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}]});
    if let Some((p, c)) = usage {
        v["usage"] = json!({"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c});
    }
    v
}

fn sse(pieces: &[&str], usage: Option<(i64, i64)>) -> String {
    let mut out = String::new();
    for p in pieces {
        out.push_str(&format!(
            "data: {}\n\n",
            json!({"choices": [{"index": 0, "delta": {"content": p}, "finish_reason": null}]})
        ));
    }
    out.push_str(&format!("data: {}\n\n", json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})));
    if let Some((p, c)) = usage {
        out.push_str(&format!(
            "data: {}\n\n",
            json!({"choices": [], "usage": {"prompt_tokens": p, "completion_tokens": c}})
        ));
    }
    out.push_str("data: [DONE]\n\n");
    out
}

/// An admin's input with an endpoint at `base` and every feature on.
fn input(base: &str) -> AiSettingsInput {
    let mut i = AiSettingsInput::default();
    i.features.auto_reply = true;
    i.features.suggestions = true;
    i.features.summaries = true;
    i.endpoint = Some(EndpointInput {
        base_url: format!("{base}/v1"),
        api_key: Some(KEY.into()),
        chat_model: "gpt-test".into(),
        embedding_model: Some("embed-test".into()),
        ..Default::default()
    });
    i.prices.prompt_micros_per_million = 1_000_000; // 1 micro-unit per prompt token
    i.prices.completion_micros_per_million = 2_000_000;
    i
}

fn req(text: &str) -> ChatRequest {
    ChatRequest::new("", vec![ChatMessage::system("Be brief."), ChatMessage::user(text)])
}

async fn owner(t: &TestApp, name: &str) -> Context {
    let acct = t.user(&format!("{name}-{}@ai.test", t.label)).await;
    owner_ctx(&t.app, &acct).await
}

fn code<T: std::fmt::Debug>(r: Result<T, AppError>) -> (ErrorCode, String) {
    match r {
        Err(e) => (e.code(), e.to_string()),
        Ok(v) => panic!("expected an error, got {v:?}"),
    }
}

async fn count(t: &TestApp, sql: &str) -> i64 {
    kith_testkit::raw_i64(&t.db.raw_url, sql).await
}

#[tokio::test]
async fn settings_defaults_validation_sealed_key_and_permissions() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let o = owner(&t, "owner").await;

        // A new workspace: every feature off, no endpoint, the default handoff, always open.
        let s = settings::load(app, o.org_id).await.unwrap();
        assert_eq!(s.features, settings::Features::default(), "{l}");
        assert!(s.endpoint.is_none() && s.business_hours.is_none(), "{l}");
        assert!(s.is_open(0) && !s.handoff_message.is_empty() && s.max_auto_replies == 3, "{l}");
        assert_eq!(code(s.require("auto_reply")).0, ErrorCode::AiFeatureDisabled, "{l}");
        let view = settings::get(app, &o).await.unwrap();
        assert_eq!(view.version, 0, "{l}");

        // Validation names every bad field.
        let mut bad = input("ftp://example.com");
        bad.endpoint.as_mut().unwrap().chat_model = "bad model!".into();
        bad.endpoint.as_mut().unwrap().embedding_model = Some("x y".into());
        bad.prices.completion_micros_per_million = -1;
        bad.limits.hard.messages = Some(-5);
        bad.limits.soft.cost_micros = Some(-1);
        bad.handoff_message = "  ".into();
        bad.max_auto_replies = 0;
        bad.business_hours = Some(BusinessHours {
            time_zone: "Nowhere/Land".into(),
            spans: vec![OpeningSpan { day: "mon".into(), open: "18:00".into(), close: "09:00".into() }],
        });
        let mut fields = invalid_fields(l, "bad settings", settings::update(app, &o, &bad, None).await);
        fields.sort();
        assert_eq!(
            fields,
            [
                "business_hours.spans[0].close",
                "business_hours.time_zone",
                "endpoint.base_url",
                "endpoint.chat_model",
                "endpoint.embedding_model",
                "handoff_message",
                "limits.hard.messages",
                "limits.soft.cost_micros",
                "max_auto_replies",
                "prices.completion_micros_per_million",
            ],
            "{l}"
        );

        // Saved: the key is sealed and never shown, only `api_key_set`.
        let mut good = input("http://127.0.0.1:9");
        good.business_hours = Some(BusinessHours {
            time_zone: "europe/berlin".into(),
            spans: vec![OpeningSpan { day: "mon".into(), open: "09:00".into(), close: "17:00".into() }],
        });
        let view = settings::update(app, &o, &good, Some(0)).await.unwrap();
        assert_eq!(view.version, 1, "{l}");
        assert!(view.endpoint.as_ref().unwrap().api_key_set, "{l}");
        assert_eq!(view.business_hours.as_ref().unwrap().time_zone, "Europe/Berlin", "{l}: zone name normalised");
        let shown = serde_json::to_string(&view).unwrap()
            + &serde_json::to_string(&settings::get(app, &o).await.unwrap()).unwrap();
        assert!(!shown.contains(KEY) && !shown.contains("sk-live"), "{l}: the key is never in a view");
        let stored = kith_testkit::raw_bytes(&t.db.raw_url, "SELECT api_key FROM ai_settings").await;
        assert!(!String::from_utf8_lossy(&stored[0]).contains(KEY), "{l}: sealed at rest");
        let settings_json = count(&t, &format!("SELECT COUNT(*) FROM ai_settings WHERE settings LIKE '%{KEY}%'")).await;
        assert_eq!(settings_json, 0, "{l}: not in the plain JSON either");
        let loaded = settings::load(app, o.org_id).await.unwrap();
        assert_eq!(loaded.endpoint.as_ref().unwrap().api_key.as_deref(), Some(KEY), "{l}: opened for calls");
        assert!(loaded.features.auto_reply && loaded.require("auto_reply").is_ok(), "{l}");
        assert!(loaded.require("drafting").is_err(), "{l}");

        // A stale version is refused; leaving the key out keeps it; remove_api_key removes it.
        assert!(matches!(settings::update(app, &o, &good, Some(0)).await, Err(AppError::StaleVersion)), "{l}");
        let mut keep = good.clone();
        keep.endpoint.as_mut().unwrap().api_key = None;
        keep.handoff_message = "A person will answer soon.".into();
        let view = settings::update(app, &o, &keep, Some(1)).await.unwrap();
        assert!(view.endpoint.as_ref().unwrap().api_key_set, "{l}: kept");
        assert_eq!(settings::load(app, o.org_id).await.unwrap().endpoint.unwrap().api_key.as_deref(), Some(KEY));
        let mut remove = keep.clone();
        remove.endpoint.as_mut().unwrap().remove_api_key = true;
        let view = settings::update(app, &o, &remove, None).await.unwrap();
        assert!(!view.endpoint.as_ref().unwrap().api_key_set, "{l}: removed");
        assert_eq!(settings::load(app, o.org_id).await.unwrap().endpoint.unwrap().api_key, None, "{l}");

        // Members and viewers may not read or change them.
        let member = join(app, &o, &format!("member-{l}@ai.test"), Role::Member).await;
        let m = ctx(app, o.org_id, member.user_id).await;
        assert!(matches!(settings::get(app, &m).await, Err(AppError::Forbidden)), "{l}");
        assert!(matches!(settings::update(app, &m, &good, None).await, Err(AppError::Forbidden)), "{l}");
        assert!(matches!(metering::usage(app, &m, None).await, Err(AppError::Forbidden)), "{l}");
        assert!(matches!(llm::test_connection(app, &m).await, Err(AppError::Forbidden)), "{l}");
        let admin = join(app, &o, &format!("admin-{l}@ai.test"), Role::Admin).await;
        let a = ctx(app, o.org_id, admin.user_id).await;
        assert_eq!(settings::get(app, &a).await.unwrap().handoff_message, "A person will answer soon.", "{l}");

        // Another workspace sees its own defaults.
        let other = owner(&t, "other").await;
        let theirs = settings::load(app, other.org_id).await.unwrap();
        assert!(theirs.endpoint.is_none() && !theirs.features.auto_reply, "{l}: isolated");
    }
}

#[tokio::test]
async fn private_endpoints_need_the_operator_switch() {
    let db = kith_testkit::TestDb::sqlite().await;
    let settings = kith_app::AppSettings { allow_private_networks: false, ..kith_testkit::app::test_settings() };
    let t = TestApp::new(db, settings);
    let o = owner(&t, "guarded").await;
    let fields =
        invalid_fields("sqlite", "private", settings::update(&t.app, &o, &input("http://127.0.0.1:11434"), None).await);
    assert_eq!(fields, ["endpoint.base_url"]);
    let err = settings::update(&t.app, &o, &input("http://10.0.0.8"), None).await.unwrap_err();
    assert!(format!("{err:?}").contains("KITH_ALLOW_PRIVATE_NETWORKS"), "{err:?}");
}

/// A stand-in answering non-streamed calls with usage (12 prompt, 3 completion) and streamed calls without.
async fn stand_in() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(body_partial_json(json!({"stream": false})))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion("We open at nine.", Some((12, 3)))))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(body_partial_json(json!({"stream": true})))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(sse(&["We open ", "at nine", " every day."], None), "text/event-stream"),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/embeddings"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [{"index": 0, "embedding": [0.1, 0.2]}, {"index": 1, "embedding": [0.3, 0.4]}],
            "usage": {"prompt_tokens": 7, "total_tokens": 7}})))
        .mount(&server)
        .await;
    server
}

async fn configured(
    app: &App,
    o: &Context,
    base: &str,
    tweak: impl FnOnce(&mut AiSettingsInput),
) -> settings::AiSettings {
    let mut i = input(base);
    tweak(&mut i);
    settings::update(app, o, &i, None).await.unwrap();
    settings::load(app, o.org_id).await.unwrap()
}

#[tokio::test]
async fn metered_calls_count_provider_usage_or_estimate_it() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let server = stand_in().await;
        let o = owner(&t, "meter").await;
        let s = configured(app, &o, &server.uri(), |i| i.store_prompts = true).await;
        let conv = Uuid::now_v7();
        let target = CallTarget { conversation_id: Some(conv), record: None };

        let out =
            metering::chat(app, o.org_id, "auto_reply", target.clone(), &s, req("When do you open?")).await.unwrap();
        assert_eq!(out.content, "We open at nine.", "{l}");
        assert_eq!((out.usage.prompt_tokens, out.usage.completion_tokens, out.estimated), (12, 3, false), "{l}");

        // Streamed without usage: estimated from the text (chars / 4, rounded up; 4 per prompt message).
        let mut stream =
            metering::chat_stream(app, o.org_id, "suggestions", target.clone(), &s, req("When?")).await.unwrap();
        let mut text = String::new();
        while let Some(piece) = stream.next().await {
            text.push_str(&piece.unwrap());
        }
        assert_eq!(text, "We open at nine every day.", "{l}");
        let st = stream.outcome().unwrap().clone();
        let want_prompt = (9 + 3) / 4 + 4 + (5 + 3) / 4 + 4; // "Be brief." and "When?"
        assert_eq!((st.usage.prompt_tokens, st.usage.completion_tokens, st.estimated), (want_prompt, 7, true), "{l}");

        let emb = metering::embed(app, o.org_id, "auto_reply", CallTarget::default(), &s, &["a".into(), "b".into()])
            .await
            .unwrap();
        assert_eq!(emb.vectors.len(), 2, "{l}");

        // The stand-in saw the key; the prompt is stored sealed.
        let received = server.received_requests().await.unwrap();
        assert_eq!(received.len(), 3, "{l}");
        assert_eq!(received[0].headers.get("authorization").unwrap().to_str().unwrap(), format!("Bearer {KEY}"));
        let body: Value = serde_json::from_slice(&received[0].body).unwrap();
        assert_eq!(body["model"], "gpt-test", "{l}: the workspace's chat model fills an empty one");
        let prompts =
            kith_testkit::raw_bytes(&t.db.raw_url, "SELECT prompt FROM ai_calls WHERE prompt IS NOT NULL").await;
        assert_eq!(prompts.len(), 2, "{l}: the chat prompts (embeddings keep none)");
        assert!(prompts.iter().all(|p| !String::from_utf8_lossy(p).contains("When do you open")), "{l}: sealed");
        assert_eq!(
            count(&t, "SELECT COUNT(*) FROM ai_calls WHERE conversation_id IS NOT NULL AND status = 'ok'").await,
            2,
            "{l}"
        );

        let u = metering::usage(app, &o, None).await.unwrap();
        assert_eq!(u.messages, 3, "{l}");
        assert_eq!(u.prompt_tokens, 12 + want_prompt + 7, "{l}");
        assert_eq!(u.completion_tokens, 3 + 7, "{l}");
        assert_eq!(u.cost_micros, u.prompt_tokens + 2 * u.completion_tokens, "{l}: priced per million");
        assert_eq!(u.estimated_calls, 1, "{l}");
        let today = kith_domain::time::UtcDateTime::from_ms(kith_domain::time::now_ms()).date();
        let day = u.days.iter().find(|d| d.date == today).unwrap();
        assert_eq!((day.messages, day.estimated_calls, day.cost_micros), (3, 1, u.cost_micros), "{l}");
        assert_eq!(u.days.iter().map(|d| d.messages).sum::<i64>(), 3, "{l}");
        assert!(u.days.len() >= 28 && u.days[0].date.ends_with("-01"), "{l}: every day of the month");
        assert_eq!(metering::usage(app, &o, Some("2020-01")).await.unwrap().messages, 0, "{l}");
        let fields = invalid_fields(l, "month", metering::usage(app, &o, Some("2026-13")).await);
        assert_eq!(fields, ["month"], "{l}");

        // Another workspace's usage is its own.
        let other = owner(&t, "meter-other").await;
        assert_eq!(metering::usage(app, &other, None).await.unwrap().messages, 0, "{l}");

        // A switched-off feature sends nothing.
        let before = server.received_requests().await.unwrap().len();
        let (c, _) = code(metering::chat(app, o.org_id, "drafting", CallTarget::default(), &s, req("x")).await);
        assert_eq!(c, ErrorCode::AiFeatureDisabled, "{l}");
        assert_eq!(server.received_requests().await.unwrap().len(), before, "{l}: nothing sent");
        // No endpoint: not configured.
        let bare = settings::load(app, other.org_id).await.unwrap();
        let mut on = bare.clone();
        on.features.summaries = true;
        let (c, _) = code(metering::chat(app, other.org_id, "summaries", CallTarget::default(), &on, req("x")).await);
        assert_eq!(c, ErrorCode::AiNotConfigured, "{l}");
    }
}

#[tokio::test]
async fn provider_failures_are_recorded_and_reported_with_the_providers_message() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(404)
                    .set_body_json(json!({"error": "model \"gpt-test\" not found, try pulling it first"})),
            )
            .mount(&server)
            .await;
        let o = owner(&t, "fails").await;
        let s = configured(app, &o, &server.uri(), |_| {}).await;
        let (c, message) =
            code(metering::chat(app, o.org_id, "auto_reply", CallTarget::default(), &s, req("hi")).await);
        assert_eq!(c, ErrorCode::AiProviderFailed, "{l}");
        assert!(message.contains("model \"gpt-test\" not found"), "{l}: {message}");
        let (c, message) = code(llm::test_connection(app, &o).await);
        assert_eq!(c, ErrorCode::AiProviderFailed, "{l}");
        assert!(message.contains("HTTP 404") && message.contains("try pulling it first"), "{l}: {message}");
        assert_eq!(
            count(&t, "SELECT COUNT(*) FROM ai_calls WHERE status = 'failed' AND error LIKE '%not found%'").await,
            2,
            "{l}"
        );
        assert_eq!(count(&t, "SELECT COUNT(*) FROM ai_calls WHERE feature = 'test'").await, 1, "{l}");
        let u = metering::usage(app, &o, None).await.unwrap();
        assert_eq!((u.messages, u.failed_calls, u.in_flight), (0, 2, 0), "{l}: failures release their reservation");
    }
}

#[tokio::test]
async fn the_connection_test_is_a_tiny_metered_call() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(body_partial_json(json!({"max_tokens": 5})))
            .respond_with(ResponseTemplate::new(200).set_body_json(completion("ok", None)))
            .expect(1)
            .mount(&server)
            .await;
        let o = owner(&t, "test").await;
        let (c, _) = code(llm::test_connection(app, &o).await);
        assert_eq!(c, ErrorCode::AiNotConfigured, "{l}: without an endpoint");
        configured(app, &o, &server.uri(), |i| i.features = Default::default()).await;
        let r = llm::test_connection(app, &o).await.unwrap();
        assert!(r.ok && r.reply == "ok" && r.estimated && r.model == "gpt-test", "{l}: {r:?}");
    }
}

#[tokio::test]
async fn a_hard_limit_refuses_and_records_the_refusal() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let server = stand_in().await;
        let o = owner(&t, "hard").await;
        let s = configured(app, &o, &server.uri(), |i| i.limits.hard.messages = Some(2)).await;
        for _ in 0..2 {
            metering::chat(app, o.org_id, "auto_reply", CallTarget::default(), &s, req("q")).await.unwrap();
        }
        let conv = Uuid::now_v7();
        let target = CallTarget { conversation_id: Some(conv), record: None };
        let (c, message) = code(metering::chat(app, o.org_id, "auto_reply", target, &s, req("q")).await);
        assert_eq!(c, ErrorCode::AiLimitReached, "{l}");
        assert!(message.contains("2 of 2 messages"), "{l}: {message}");
        assert_eq!(server.received_requests().await.unwrap().len(), 2, "{l}: the refused call never left");
        assert_eq!(
            count(&t, "SELECT COUNT(*) FROM ai_calls WHERE status = 'refused' AND conversation_id IS NOT NULL").await,
            1,
            "{l}"
        );
        let u = metering::usage(app, &o, None).await.unwrap();
        assert!(u.hard_limit_reached && u.refused_calls == 1 && u.messages == 2, "{l}: {u:?}");

        // A token limit: reached once finished usage meets it.
        let o2 = owner(&t, "hard-tokens").await;
        let s2 = configured(app, &o2, &server.uri(), |i| i.limits.hard.tokens = Some(20)).await;
        metering::chat(app, o2.org_id, "auto_reply", CallTarget::default(), &s2, req("q")).await.unwrap(); // 15 tokens
        metering::chat(app, o2.org_id, "auto_reply", CallTarget::default(), &s2, req("q")).await.unwrap(); // 30
        let (c, _) = code(metering::chat(app, o2.org_id, "auto_reply", CallTarget::default(), &s2, req("q")).await);
        assert_eq!(c, ErrorCode::AiLimitReached, "{l}: tokens");
    }
}

#[tokio::test]
async fn concurrent_callers_cannot_overshoot_a_hard_limit() {
    each_backend_concurrently(|t| async move {
        let (app, l) = (&t.app, t.label);
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(completion("ok", Some((10, 2))))
                    .set_delay(Duration::from_millis(150)),
            )
            .mount(&server)
            .await;
        let o = owner(&t, "race").await;
        let s = configured(app, &o, &server.uri(), |i| i.limits.hard.messages = Some(5)).await;
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let (app, s, org) = (app.clone(), s.clone(), o.org_id);
                tokio::spawn(async move {
                    metering::chat(&app, org, "auto_reply", CallTarget::default(), &s, req("q")).await
                })
            })
            .collect();
        let mut ok = 0;
        let mut refused = 0;
        for h in tasks {
            match h.await.unwrap() {
                Ok(_) => ok += 1,
                Err(AppError::Ai(ErrorCode::AiLimitReached, _)) => refused += 1,
                Err(e) => panic!("{l}: {e:?}"),
            }
        }
        let reached = server.received_requests().await.unwrap().len();
        assert!(reached <= 6, "{l}: {reached} calls reached the stand-in");
        assert_eq!(reached, ok, "{l}");
        assert_eq!(ok + refused, 20, "{l}");
        let u = metering::usage(app, &o, None).await.unwrap();
        assert_eq!((u.messages, u.refused_calls, u.in_flight), (ok as i64, refused as i64, 0), "{l}");

        // The same with a token limit: at most about one call over.
        let o2 = owner(&t, "race-tokens").await;
        let s2 = configured(app, &o2, &server.uri(), |i| i.limits.hard.tokens = Some(60)).await;
        let before = server.received_requests().await.unwrap().len();
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let (app, s, org) = (app.clone(), s2.clone(), o2.org_id);
                tokio::spawn(async move {
                    metering::chat(&app, org, "auto_reply", CallTarget::default(), &s, req("q")).await
                })
            })
            .collect();
        for h in tasks {
            let _ = h.await.unwrap();
        }
        let reached = server.received_requests().await.unwrap().len() - before;
        let u = metering::usage(app, &o2, None).await.unwrap();
        assert!(u.prompt_tokens + u.completion_tokens <= 60 + 12, "{l}: {u:?} ({reached} calls)");
    })
    .await;
}

#[tokio::test]
async fn a_soft_limit_warns_admins_once_a_month() {
    use kith_app::worker::{Registry, Worker};
    use kith_testkit::smtp::{ServerTls, SmtpServer};
    let Some(smtp) = SmtpServer::start(ServerTls::None) else { return };
    for db in kith_testkit::TestDb::all().await {
        let mut app_settings = kith_testkit::app::test_settings();
        app_settings.mail = Some(kith_app::MailConfig {
            url: smtp.url("smtp+plain"),
            from: "Kith <kith@example.test>".into(),
            timeout: Duration::from_secs(10),
        });
        let t = TestApp::new(db, app_settings);
        let (app, l) = (&t.app, t.label);
        let server = stand_in().await;
        let o = owner(&t, "soft").await;
        let s = configured(app, &o, &server.uri(), |i| {
            i.limits.soft = LimitSet { messages: Some(2), ..Default::default() };
        })
        .await;
        let before = smtp.messages().len();
        for _ in 0..4 {
            metering::chat(app, o.org_id, "auto_reply", CallTarget::default(), &s, req("q")).await.unwrap();
        }
        let u = metering::usage(app, &o, None).await.unwrap();
        assert!(u.soft_limit_reached && !u.hard_limit_reached && u.soft_warned_at_ms.is_some(), "{l}: {u:?}");
        let mut registry = Registry::default();
        kith_app::mail::register(&mut registry);
        let w = Worker::new(app.clone(), registry);
        while w.run_once().await.unwrap() > 0 {}
        let warnings: Vec<String> =
            smtp.messages()[before..].iter().map(|m| m.to_string()).filter(|m| m.contains("soft limit")).collect();
        assert_eq!(warnings.len(), 1, "{l}: one warning, not one per call past the limit");
        assert!(warnings[0].contains(&format!("soft-{l}@ai.test")) && warnings[0].contains("messages: 2"), "{l}");
    }
}
