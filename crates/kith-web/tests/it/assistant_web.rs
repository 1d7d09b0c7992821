//! The rest of the assistant over HTTP and in the browser, on SQLite and PostgreSQL, against the wiremock
//! stand-in: knowledge-base summaries and their speech (served nosniff to their creator only, deleted on request),
//! the admins' list of AI calls (keyset pages, feature filter, never prompts, in OpenAPI), the Assistant page
//! (questions with links to the records, drafts; feature off says who can turn it on) and the knowledge editor's
//! Summarise and Listen, all without JavaScript; then the same flows in Chromium with screenshots.

use crate::ai_assist_web::{
    call, chat_prompts, configure, data, member, owner_ctx, signin, stand_in, strict, ANSWER, AUDIO,
};
use crate::helpers::{client, form_value};
use kith_app::ai::knowledge::{self, NewKnowledge};
use kith_app::ai::settings::{self, AiSettingsInput};
use kith_domain::Context;
use kith_testkit::{spawn_all, TestServer};
use reqwest::{Client, Method};
use serde_json::{json, Value};
use uuid::Uuid;

const DOC: &str = "# Refund policy\nLarkspur refunds any annual plan within 30 days of purchase.\n\
    Refunds of monthly plans are prorated to the day.\nWe like cats.";

async fn doc(s: &TestServer, o: &Context) -> Uuid {
    let input = NewKnowledge {
        kind: "text".into(),
        title: Some("Refund policy".into()),
        body: Some(DOC.into()),
        ..Default::default()
    };
    knowledge::create(&s.app, o, &input).await.unwrap().id
}

async fn switch_off(s: &TestServer, o: &Context) {
    let v = settings::get(&s.app, o).await.unwrap().version;
    settings::update(&s.app, o, &AiSettingsInput::default(), Some(v).filter(|v| *v > 0)).await.unwrap();
}

async fn page(c: &Client, s: &TestServer, p: &str) -> (u16, String) {
    let r = c.get(s.url(p)).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn post(c: &Client, s: &TestServer, p: &str, csrf: &str, fields: &[(&str, &str)]) -> (u16, String) {
    let mut form: Vec<(&str, &str)> = vec![("_csrf", csrf)];
    form.extend_from_slice(fields);
    let r = c.post(s.url(p)).form(&form).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn knowledge_summaries_speech_and_calls_over_the_api() {
    for s in spawn_all().await {
        let l = s.label;
        let server = stand_in("audio/mpeg").await;
        let (owner, owner_token) = s.user_with_token(&format!("kbsum-owner-{l}@web.test")).await;
        let o = owner_ctx(owner.org_id, owner.user_id);
        let token = member(&s, &o, &format!("kbsum-member-{l}@web.test")).await;
        let id = doc(&s, &o).await;
        let sum = format!("/api/v1/knowledge/{id}/summary");

        // Off: 409 with the clear code, nothing sent.
        let (st, body) = call(&s, &token, Method::POST, &sum, None).await;
        assert_eq!((st, body["error"]["code"].as_str()), (409, Some("ai_feature_disabled")), "{l}: {body}");
        let (st, body) = call(&s, &token, Method::POST, "/api/v1/ai/speech", Some(json!({"knowledge_id": id}))).await;
        assert_eq!((st, body["error"]["code"].as_str()), (409, Some("ai_feature_disabled")), "{l}: {body}");
        assert!(server.received_requests().await.unwrap().is_empty(), "{l}");

        // No endpoint: extractive.
        configure(&s, &o, None).await;
        let (st, body) = call(&s, &token, Method::POST, &sum, None).await;
        assert_eq!((st, body["mode"].as_str()), (200, Some("extractive")), "{l}: {body}");
        assert!(body["text"].as_str().unwrap().contains("prorated"), "{l}: {body}");
        let (st, body) = call(&s, &token, Method::POST, "/api/v1/ai/speech", Some(json!({"knowledge_id": id}))).await;
        assert_eq!((st, body["error"]["code"].as_str()), (409, Some("ai_not_configured")), "{l}: {body}");
        assert!(server.received_requests().await.unwrap().is_empty(), "{l}");

        // The model, then its summary spoken and served to its creator only.
        configure(&s, &o, Some(&server.uri())).await;
        let (st, body) = call(&s, &token, Method::POST, &sum, None).await;
        assert_eq!((st, body["mode"].as_str(), body["text"].as_str()), (200, Some("model"), Some(ANSWER)), "{l}");
        assert!(chat_prompts(&server).await[0].contains("prorated to the day"), "{l}");
        let (st, f) = call(&s, &token, Method::POST, "/api/v1/ai/speech", Some(json!({"knowledge_id": id}))).await;
        assert_eq!(st, 201, "{l}: {f}");
        assert!(f["expires_at_ms"].as_i64().unwrap() > kith_domain::time::now_ms(), "{l}");
        let file = format!("/api/v1/ai/speech/{}", f["file_id"].as_str().unwrap());
        let r = client().get(s.url(&file)).bearer_auth(&token).send().await.unwrap();
        assert_eq!(r.status(), 200, "{l}");
        assert_eq!(r.headers()["x-content-type-options"], "nosniff", "{l}");
        assert_eq!(r.headers()["content-type"], "audio/mpeg", "{l}");
        assert_eq!(r.bytes().await.unwrap().as_ref(), AUDIO, "{l}");
        let r = client().get(s.url(&file)).bearer_auth(&owner_token).send().await.unwrap();
        assert_eq!(r.status(), 404, "{l}: creator only");
        let r = client().delete(s.url(&file)).bearer_auth(&owner_token).send().await.unwrap();
        assert_eq!(r.status(), 404, "{l}");
        let r = client().delete(s.url(&file)).bearer_auth(&token).send().await.unwrap();
        assert_eq!(r.status(), 204, "{l}");
        let r = client().get(s.url(&file)).bearer_auth(&token).send().await.unwrap();
        assert_eq!(r.status(), 404, "{l}: deleted");
        let (st, body) =
            call(&s, &token, Method::POST, "/api/v1/ai/speech", Some(json!({"knowledge_id": id, "text": "x"}))).await;
        assert_eq!((st, body["error"]["code"].as_str()), (422, Some("validation_failed")), "{l}: {body}");

        // The calls: admins only, newest first, by keyset pages, filtered by feature, never a prompt.
        let (st, body) = call(&s, &token, Method::GET, "/api/v1/ai/calls", None).await;
        assert_eq!(st, 403, "{l}: {body}");
        let (st, all) = call(&s, &owner_token, Method::GET, "/api/v1/ai/calls", None).await;
        assert_eq!(st, 200, "{l}: {all}");
        let data = all["data"].as_array().unwrap();
        // The summary, the summary made to be spoken, and the speech.
        assert_eq!(data.len(), 3, "{l}: {all}");
        assert_eq!(data[0]["feature"], "speech", "{l}");
        assert_eq!(data[1]["feature"], "summaries", "{l}");
        assert_eq!(data[2]["feature"], "summaries", "{l}");
        assert_eq!(
            (data[1]["record_type"].as_str(), data[1]["record_id"].as_str()),
            (Some("knowledge"), Some(id.to_string().as_str())),
            "{l}"
        );
        for k in [
            "prompt_tokens",
            "completion_tokens",
            "tokens_estimated",
            "cost_micros",
            "latency_ms",
            "outcome",
            "created_at_ms",
            "conversation_id",
        ] {
            assert!(data[1].get(k).is_some(), "{l}: {k} in {}", data[1]);
        }
        assert!(data[1].get("prompt").is_none() && !all.to_string().contains("prorated"), "{l}: {all}");
        let (_, p1) = call(&s, &owner_token, Method::GET, "/api/v1/ai/calls?limit=1", None).await;
        assert_eq!(p1["data"][0]["id"], data[0]["id"], "{l}");
        let cursor = p1["next_cursor"].as_str().unwrap().to_string();
        let (_, p2) =
            call(&s, &owner_token, Method::GET, &format!("/api/v1/ai/calls?limit=1&cursor={cursor}"), None).await;
        assert_eq!(p2["data"][0]["id"], data[1]["id"], "{l}");
        assert!(p2["next_cursor"].is_string(), "{l}: {p2}");
        let cursor = p2["next_cursor"].as_str().unwrap().to_string();
        let url = format!("/api/v1/ai/calls?limit=1&cursor={cursor}");
        let (_, p3) = call(&s, &owner_token, Method::GET, &url, None).await;
        assert_eq!(p3["data"][0]["id"], data[2]["id"], "{l}");
        assert!(p3["next_cursor"].is_null(), "{l}: {p3}");
        let (_, only) = call(&s, &owner_token, Method::GET, "/api/v1/ai/calls?feature=speech", None).await;
        assert_eq!(only["data"].as_array().unwrap().len(), 1, "{l}");
        let month = kith_app::ai::metering::current_month();
        let (_, same) = call(&s, &owner_token, Method::GET, &format!("/api/v1/ai/calls?month={month}"), None).await;
        assert_eq!(same["data"].as_array().unwrap().len(), 3, "{l}");
        for (q, field) in [
            ("month=2026-13", "month"),
            ("feature=nope", "feature"),
            ("cursor=zzz", "cursor"),
            ("limit=0", "limit"),
            ("bogus=1", ""),
        ] {
            let (st, body) = call(&s, &owner_token, Method::GET, &format!("/api/v1/ai/calls?{q}"), None).await;
            assert_eq!(st, 422, "{l}: {q}: {body}");
            if !field.is_empty() {
                assert_eq!(body["error"]["fields"][0]["field"], field, "{l}: {q}: {body}");
            }
        }
    }
}

#[tokio::test]
async fn the_openapi_document_lists_the_new_ai_endpoints() {
    let s = kith_testkit::spawn_app().await;
    let doc: Value = client().get(s.url("/api/v1/openapi.json")).send().await.unwrap().json().await.unwrap();
    for (p, m) in [
        ("/api/v1/knowledge/{id}/summary", "post"),
        ("/api/v1/ai/calls", "get"),
        ("/api/v1/ai/speech/{file_id}", "delete"),
    ] {
        assert!(doc["paths"][p].get(m).is_some(), "{p} {m}");
    }
    let params: Vec<&str> = doc["paths"]["/api/v1/ai/calls"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(params, ["month", "feature", "cursor", "limit"]);
    assert!(doc["components"]["schemas"]["AiCall"]["properties"].get("prompt").is_none());
    assert!(doc["components"]["schemas"]["SpeechInput"]["properties"].get("knowledge_id").is_some());
}

#[tokio::test]
async fn the_assistant_pages_work_without_javascript() {
    for s in spawn_all().await {
        let l = s.label;
        let server = stand_in("audio/mpeg").await;
        let owner_email = format!("asst-owner-{l}@web.test");
        let (owner, _) = s.user_with_token(&owner_email).await;
        let o = owner_ctx(owner.org_id, owner.user_id);
        let email = format!("asst-member-{l}@web.test");
        member(&s, &o, &email).await;
        let d = data(&s, &o).await;
        let id = doc(&s, &o).await;
        let m = signin(&s, &email).await;
        let a = signin(&s, &owner_email).await;

        // Off: both panels say so, and who can turn them on.
        let (st, html) = page(&m, &s, "/assistant").await;
        assert_eq!(st, 200, "{l}");
        strict(&html, "assistant");
        assert!(html.contains("Questions are off") && html.contains("Drafting is off"), "{l}");
        assert!(html.contains("An owner or admin of the workspace can turn it on"), "{l}");
        assert!(html.contains("href=\"/assistant\" aria-current=\"page\""), "{l}: in the nav");
        let (_, html) = page(&a, &s, "/assistant").await;
        assert!(html.contains("You can turn it on in Settings → AI") && html.contains("Open AI settings"), "{l}");
        let csrf = form_value(&html, "_csrf");
        let (_, html) = page(&a, &s, &format!("/settings/knowledge/{id}")).await;
        assert!(html.contains("data-feature-off=\"summaries\"") && html.contains("data-speech-unavailable"), "{l}");

        // No endpoint: the reduced forms, labelled.
        configure(&s, &o, None).await;
        let (_, html) = page(&m, &s, "/assistant").await;
        let mcsrf = form_value(&html, "_csrf");
        assert!(html.contains("No AI endpoint is set up"), "{l}");
        let (st, html) = post(&m, &s, "/assistant/ask", &mcsrf, &[("question", "Ann migration")]).await;
        assert_eq!(st, 200, "{l}");
        assert!(html.contains("Matching records (no AI endpoint)"), "{l}");
        assert!(html.contains(&format!("href=\"/contacts/{}\"", d.ann)), "{l}: a link to Ann");
        assert!(!html.contains(&d.hidden.to_string()) && !html.contains("Hiddenfriend"), "{l}");
        let (st, html) = post(&m, &s, "/assistant/ask", &mcsrf, &[("question", " ")]).await;
        assert_eq!(st, 422, "{l}");
        assert!(html.contains("id=\"ask-error\""), "{l}");
        let bob = d.bob.to_string();
        let fields =
            [("template", "Hi {{contact.first_name}}, thanks!"), ("instructions", ""), ("contact_id", bob.as_str())];
        let (st, html) = post(&m, &s, "/assistant/draft", &mcsrf, &fields).await;
        assert_eq!(st, 200, "{l}");
        assert!(html.contains("Template filled in (no instructions given)") && html.contains("Hi Bob, thanks!"), "{l}");
        let (st, html) =
            post(&m, &s, "/assistant/draft", &mcsrf, &[("template", "Hi {{oops"), ("contact_id", "")]).await;
        assert_eq!(st, 422, "{l}");
        assert!(html.contains("id=\"draft-template-error\"") && html.contains("aria-invalid=\"true\""), "{l}");
        let (_, html) = post(&a, &s, &format!("/settings/knowledge/{id}/summary"), &csrf, &[]).await;
        assert!(
            html.contains("Extractive summary (no AI endpoint)") && html.contains("data-summary-mode=\"extractive\""),
            "{l}"
        );
        assert!(html.contains("Listening is unavailable"), "{l}");
        assert!(server.received_requests().await.unwrap().is_empty(), "{l}: nothing sent without an endpoint");

        // With the model.
        configure(&s, &o, Some(&server.uri())).await;
        let (_, html) = post(&m, &s, "/assistant/ask", &mcsrf, &[("question", "How is Ann's migration going?")]).await;
        assert!(html.contains("AI answer") && html.contains(ANSWER), "{l}");
        assert!(html.contains(&format!("href=\"/contacts/{}\"", d.ann)), "{l}");
        let fields =
            [("template", "Hi {{contact.first_name}}"), ("instructions", "Warmer"), ("contact_id", bob.as_str())];
        let (_, html) = post(&m, &s, "/assistant/draft", &mcsrf, &fields).await;
        assert!(html.contains("AI draft") && html.contains("data-draft-mode=\"model\""), "{l}");
        let (_, html) = post(&a, &s, &format!("/settings/knowledge/{id}/summary"), &csrf, &[]).await;
        assert!(html.contains("AI summary") && html.contains(ANSWER), "{l}");
        let (_, html) = post(&a, &s, &format!("/settings/knowledge/{id}/speech"), &csrf, &[]).await;
        strict(&html, "knowledge editor with audio");
        let start = html.find("src=\"/ai/speech/").expect("an audio player") + "src=\"".len();
        let src = &html[start..start + html[start..].find('"').unwrap()];
        let r = a.get(s.url(src)).send().await.unwrap();
        assert_eq!(
            (r.status().as_u16(), r.headers()["x-content-type-options"].to_str().unwrap()),
            (200, "nosniff"),
            "{l}"
        );
        assert_eq!(r.bytes().await.unwrap().as_ref(), AUDIO, "{l}");
        assert_eq!(m.get(s.url(src)).send().await.unwrap().status(), 404, "{l}: creator only");
        let back = format!("/settings/knowledge/{id}");
        let (st, _) = post(&a, &s, &format!("{src}/delete"), &csrf, &[("back", &back)]).await;
        assert_eq!(st, 303, "{l}");
        let (_, html) = page(&a, &s, &back).await;
        assert!(html.contains("The audio was deleted."), "{l}");
        assert_eq!(a.get(s.url(src)).send().await.unwrap().status(), 404, "{l}");
        // Only a path of this site is a place to go back to.
        for evil in ["//evil.test/x", "/\\evil.test", "https://evil.test/"] {
            let r = a
                .post(s.url(&format!("{src}/delete")))
                .form(&[("_csrf", csrf.as_str()), ("back", evil)])
                .send()
                .await
                .unwrap();
            assert_eq!(
                (r.status().as_u16(), r.headers()["location"].to_str().unwrap()),
                (303, "/assistant"),
                "{l}: {evil}"
            );
        }

        // The contact page's Listen: the summary made, spoken and played for the member who asked.
        let (st, html) = post(&m, &s, &format!("/contacts/{}/speech", d.ann), &mcsrf, &[]).await;
        assert_eq!(st, 200, "{l}");
        strict(&html, "contact page with audio");
        assert!(html.contains("AI summary") && html.contains("<audio controls"), "{l}");
        let start = html.find("src=\"/ai/speech/").expect("an audio player") + "src=\"".len();
        let csrc = &html[start..start + html[start..].find('"').unwrap()];
        assert_eq!(m.get(s.url(csrc)).send().await.unwrap().status(), 200, "{l}");
        assert_eq!(a.get(s.url(csrc)).send().await.unwrap().status(), 404, "{l}: creator only");

        // The usage page lists the calls, filters them and pages them.
        let (st, html) = page(&a, &s, "/settings/ai/usage").await;
        assert_eq!(st, 200, "{l}");
        strict(&html, "usage");
        assert!(html.contains("class=\"table table-stack ai-calls\""), "{l}");
        assert_eq!(
            html.matches("data-label=\"Time\"").count(),
            7,
            "{l}: question, draft, summary, and twice a summary with its speech"
        );
        let (_, html) = page(&a, &s, "/settings/ai/usage?feature=speech").await;
        assert_eq!(html.matches("data-label=\"Time\"").count(), 2, "{l}");
        let (_, html) = page(&a, &s, "/settings/ai/usage?month=2001-01").await;
        assert!(html.contains("No calls in January 2001"), "{l}");
        assert_eq!(page(&m, &s, "/settings/ai/usage").await.0, 403, "{l}");

        switch_off(&s, &o).await;
        let before = server.received_requests().await.unwrap().len();
        let (_, html) = post(&m, &s, "/assistant/ask", &mcsrf, &[("question", "Ann")]).await;
        assert!(html.contains("Questions are off"), "{l}");
        assert_eq!(server.received_requests().await.unwrap().len(), before, "{l}: off sends nothing");
    }
}

mod chromium {
    use super::*;
    use crate::ai_chromium::{self, shot, sign_in};
    use fantoccini::actions::{InputSource, KeyAction, KeyActions};
    use fantoccini::key::Key;
    use fantoccini::Locator;
    use std::time::Duration;

    async fn press(b: &fantoccini::Client, key: Key) {
        let k: char = key.into();
        let seq =
            KeyActions::new("keyboard".into()).then(KeyAction::Down { value: k }).then(KeyAction::Up { value: k });
        b.perform_actions(seq).await.unwrap();
    }

    #[tokio::test]
    async fn the_assistant_and_the_knowledge_summary_in_chromium() {
        let Some((_driver, b)) = ai_chromium::start().await else { return };
        let server = stand_in("audio/mpeg").await;
        let s = kith_testkit::spawn_app().await;
        let email = "asst-browser-owner@web.test";
        let (owner, _) = s.user_with_token(email).await;
        let o = owner_ctx(owner.org_id, owner.user_id);
        let d = data(&s, &o).await;
        let id = doc(&s, &o).await;
        sign_in(&b, &s, email).await;

        // Off: the panels say so.
        b.goto(&s.url("/assistant")).await.unwrap();
        let off = b.find(Locator::Css("#ask .empty-state")).await.unwrap().text().await.unwrap();
        assert!(off.contains("Questions are off") && off.contains("Settings → AI"), "{off}");
        shot(&b, "assistant-off").await;

        // No endpoint: ask by keyboard (type, Tab to the button, Enter); records listed with links.
        configure(&s, &o, None).await;
        b.goto(&s.url("/assistant")).await.unwrap();
        let q = b.find(Locator::Id("ask-question")).await.unwrap();
        q.click().await.unwrap();
        q.send_keys("Ann migration").await.unwrap();
        press(&b, Key::Tab).await;
        press(&b, Key::Enter).await;
        b.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css("[data-answer-mode]")).await.unwrap();
        let title = b.find(Locator::Id("answer-title")).await.unwrap().text().await.unwrap();
        assert_eq!(title, "Matching records (no AI endpoint)");
        b.find(Locator::Css(&format!(".assist-records a[href='/contacts/{}']", d.ann))).await.unwrap();
        shot(&b, "assistant-records").await;

        // The model: an answer, then a draft for Bob.
        configure(&s, &o, Some(&server.uri())).await;
        b.goto(&s.url("/assistant")).await.unwrap();
        b.find(Locator::Id("ask-question")).await.unwrap().send_keys("How is Ann's migration going?").await.unwrap();
        b.find(Locator::Css("form[action='/assistant/ask#ask'] button")).await.unwrap().click().await.unwrap();
        b.wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::XPath("//h3[@id='answer-title' and text()='AI answer']"))
            .await
            .unwrap();
        assert_eq!(b.find(Locator::Css("[data-answer-mode]")).await.unwrap().text().await.unwrap(), ANSWER);
        shot(&b, "assistant-answer").await;
        b.find(Locator::Id("draft-template"))
            .await
            .unwrap()
            .send_keys("Hi {{contact.first_name}}, thanks for today.")
            .await
            .unwrap();
        b.find(Locator::Id("draft-instructions")).await.unwrap().send_keys("Make it warmer").await.unwrap();
        b.find(Locator::Css(&format!("#draft-contact option[value='{}']", d.bob)))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        b.find(Locator::Css("form[action='/assistant/draft#draft'] button")).await.unwrap().click().await.unwrap();
        b.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css("[data-draft-mode='model']")).await.unwrap();
        let label = b.find(Locator::Id("draft-result-title")).await.unwrap().text().await.unwrap();
        assert_eq!(label, "AI draft");
        shot(&b, "assistant-draft").await;
        b.set_window_size(1280, 1400).await.unwrap();
        shot(&b, "assistant-full").await;
        b.set_window_size(390, 844).await.unwrap();
        shot(&b, "assistant-narrow").await;
        b.set_window_size(1280, 800).await.unwrap();

        // The knowledge editor: Summarise, then Listen (an audio player on the stored file).
        b.goto(&s.url(&format!("/settings/knowledge/{id}"))).await.unwrap();
        b.find(Locator::Css(&format!("form[action='/settings/knowledge/{id}/summary#summary'] button")))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        b.wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css("[data-summary-mode='model']"))
            .await
            .unwrap();
        assert_eq!(b.find(Locator::Id("kb-summary-title")).await.unwrap().text().await.unwrap(), "AI summary");
        shot(&b, "knowledge-summary").await;
        b.find(Locator::Css(&format!("form[action='/settings/knowledge/{id}/speech#summary'] button")))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        b.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css(".assist-audio audio")).await.unwrap();
        let src = b.find(Locator::Css(".assist-audio audio")).await.unwrap().attr("src").await.unwrap().unwrap();
        assert!(src.starts_with("/ai/speech/"), "{src}");
        shot(&b, "knowledge-speech").await;
        b.set_window_size(390, 844).await.unwrap();
        shot(&b, "knowledge-speech-narrow").await;
        b.set_window_size(1280, 800).await.unwrap();

        // Without a speech model: the clear message instead of the button.
        let mut i = AiSettingsInput::default();
        i.features.summaries = true;
        i.features.speech = true;
        i.endpoint = Some(kith_app::ai::settings::EndpointInput {
            base_url: format!("{}/v1", server.uri()),
            chat_model: "gpt-test".into(),
            ..Default::default()
        });
        let v = settings::get(&s.app, &o).await.unwrap().version;
        settings::update(&s.app, &o, &i, Some(v)).await.unwrap();
        b.goto(&s.url(&format!("/settings/knowledge/{id}"))).await.unwrap();
        let msg = b.find(Locator::Css("[data-speech-unavailable]")).await.unwrap().text().await.unwrap();
        assert!(msg.contains("Listening is unavailable"), "{msg}");
        shot(&b, "knowledge-speech-unavailable").await;

        // The usage page's table of calls.
        b.goto(&s.url("/settings/ai/usage#calls")).await.unwrap();
        b.find(Locator::Css("table.ai-calls")).await.unwrap();
        b.set_window_size(1280, 1600).await.unwrap();
        shot(&b, "ai-usage-calls").await;
        b.set_window_size(390, 844).await.unwrap();
        b.goto(&s.url("/settings/ai/usage#calls")).await.unwrap();
        shot(&b, "ai-usage-calls-narrow").await;
        b.close().await.unwrap();
    }
}
