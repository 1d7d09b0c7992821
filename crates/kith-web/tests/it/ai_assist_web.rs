//! The on-demand AI features over HTTP on each backend (summary, questions, related contacts, drafts, speech)
//! against a wiremock stand-in; the contact page's Summarise button without JavaScript; and the contact page with a
//! summary in Chromium (screenshot in KITH_TEST_SCREENSHOTS, default /tmp).

use crate::helpers::{browser, client, code, form_value, json};
use kith_app::ai::settings::{self, AiSettingsInput, EndpointInput};
use kith_app::audit::Origin;
use kith_app::crm::companies::{self, CompanyInput};
use kith_app::crm::contacts::{self, ContactInput, LabeledValue};
use kith_app::crm::notes::{self, NoteInput};
use kith_app::identity::{self, SignUp};
use kith_domain::crm::RecordType;
use kith_domain::visibility::Visibility;
use kith_domain::{new_id, Actor, Context, Credential, Role};
use kith_testkit::{spawn_all, TestServer};
use reqwest::{Client, Method};
use serde_json::{json, Value};
use uuid::Uuid;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

pub(crate) const ANSWER: &str = "Ann Lee leads the rollout at Acme; the pilot went well.";
pub(crate) const AUDIO: &[u8] = b"ID3\x03\x00fake-mp3-frames";

pub(crate) async fn stand_in(audio_type: &str) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "choices": [{"index": 0, "message": {"role": "assistant", "content": ANSWER}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 30, "completion_tokens": 12, "total_tokens": 42}})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/audio/speech"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(AUDIO.to_vec(), audio_type))
        .mount(&server)
        .await;
    server
}

pub(crate) fn owner_ctx(org_id: Uuid, user_id: Uuid) -> Context {
    Context { org_id, actor: Actor { user_id, credential: Credential::Session(new_id()) }, role: Role::Owner }
}

/// A member of the owner's workspace who can sign in with the test password; returns an API token.
pub(crate) async fn member(s: &TestServer, o: &Context, email: &str) -> String {
    let invited = kith_app::invitations::create(&s.app, o, email, Role::Member, &Origin::default()).await.unwrap();
    let secret = invited.link.rsplit('/').next().unwrap().to_string();
    let input = SignUp {
        email: email.into(),
        name: "Mia Member".into(),
        password: kith_testkit::app::PASSWORD.into(),
        workspace_name: None,
        invitation: Some(secret),
    };
    identity::sign_up(&s.app, input, &Origin::default()).await.unwrap();
    kith_app::tokens::create_for_member(&s.app, o.org_id, email, "t").await.unwrap().1
}

pub(crate) async fn configure(s: &TestServer, o: &Context, base: Option<&str>) {
    let mut i = AiSettingsInput::default();
    i.features.summaries = true;
    i.features.questions = true;
    i.features.drafting = true;
    i.features.speech = true;
    i.endpoint = base.map(|b| EndpointInput {
        base_url: format!("{b}/v1"),
        api_key: Some("sk-assist-web".into()),
        chat_model: "gpt-test".into(),
        speech_model: Some("tts-test".into()),
        ..Default::default()
    });
    settings::update(&s.app, o, &i, None).await.unwrap();
}

fn person(first: &str, last: &str, email: &str, visibility: Visibility) -> ContactInput {
    ContactInput {
        first_name: Some(first.into()),
        last_name: Some(last.into()),
        emails: Some(vec![LabeledValue { value: email.into(), label: Some("work".into()) }]),
        visibility: Some(visibility),
        ..Default::default()
    }
}

pub(crate) struct Data {
    pub(crate) ann: Uuid,
    pub(crate) bob: Uuid,
    pub(crate) hidden: Uuid,
}

/// Ann (with notes, one private to the owner) and Bob at Acme, and the owner's personal contact Paula.
pub(crate) async fn data(s: &TestServer, o: &Context) -> Data {
    let app = &s.app;
    let acme = companies::create(app, o, &CompanyInput { name: Some("Acme Rockets".into()), ..Default::default() })
        .await
        .unwrap();
    let ann = contacts::create(
        app,
        o,
        &ContactInput {
            title: Some("CTO".into()),
            company_id: Some(Some(acme.id)),
            ..person("Ann", "Lee", "ann@acme-rockets.test", Visibility::Everyone)
        },
    )
    .await
    .unwrap();
    let bob = contacts::create(
        app,
        o,
        &ContactInput { company_id: Some(Some(acme.id)), ..person("Bob", "Ray", "bob@ray.test", Visibility::Everyone) },
    )
    .await
    .unwrap();
    let hidden =
        contacts::create(app, o, &person("Paula", "Hiddenfriend", "paula@acme-rockets.test", Visibility::Personal))
            .await
            .unwrap();
    for (body, private) in [
        ("Ann wants the migration plan for 40 seats before the March budget review.", false),
        ("The pilot with the platform team went well; Ann will sponsor the rollout.", false),
        ("OWNERPRIVATE Ann mentioned a confidential acquisition.", true),
    ] {
        let input = NoteInput {
            record_type: Some(RecordType::Contact),
            record_id: Some(ann.id),
            body: Some(body.into()),
            is_private: Some(private),
        };
        notes::create(app, o, &input).await.unwrap();
    }
    Data { ann: ann.id, bob: bob.id, hidden: hidden.id }
}

pub(crate) async fn call(s: &TestServer, token: &str, m: Method, p: &str, body: Option<Value>) -> (u16, Value) {
    let mut r = client().request(m, s.url(p)).bearer_auth(token);
    if let Some(b) = body {
        r = r.json(&b);
    }
    json(r.send().await.unwrap()).await
}

pub(crate) async fn chat_prompts(server: &MockServer) -> Vec<String> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/v1/chat/completions")
        .map(|r| serde_json::from_slice::<Value>(&r.body).unwrap()["messages"].to_string())
        .collect()
}

#[tokio::test]
async fn assist_api_over_http() {
    for s in spawn_all().await {
        let l = s.label;
        let server = stand_in("audio/mpeg").await;
        let (owner, _) = s.user_with_token(&format!("assist-owner-{l}@web.test")).await;
        let o = owner_ctx(owner.org_id, owner.user_id);
        let token = member(&s, &o, &format!("assist-member-{l}@web.test")).await;
        let d = data(&s, &o).await;
        let summary = format!("/api/v1/contacts/{}/summary", d.ann);

        // Off: 409 ai_feature_disabled, nothing sent.
        let (st, v) = call(&s, &token, Method::POST, &summary, None).await;
        assert_eq!((st, code(&v)), (409, "ai_feature_disabled"), "{l}: {v}");
        let (st, v) = call(&s, &token, Method::POST, "/api/v1/ai/questions", Some(json!({"question": "acme"}))).await;
        assert_eq!((st, code(&v)), (409, "ai_feature_disabled"), "{l}: {v}");
        assert!(server.received_requests().await.unwrap().is_empty(), "{l}");

        // Without an endpoint: the labelled reduced forms; speech refuses clearly.
        configure(&s, &o, None).await;
        let (st, v) = call(&s, &token, Method::POST, &summary, None).await;
        assert_eq!((st, v["mode"].as_str()), (200, Some("extractive")), "{l}: {v}");
        assert!(v["text"].as_str().unwrap().contains("40 seats") && v["call_id"].is_null(), "{l}: {v}");
        assert!(!v.to_string().contains("OWNERPRIVATE"), "{l}");
        let (st, v) =
            call(&s, &token, Method::POST, "/api/v1/ai/questions", Some(json!({"question": "Who is at Acme?"}))).await;
        assert_eq!((st, v["mode"].as_str()), (200, Some("records")), "{l}: {v}");
        assert!(!v.to_string().contains("Hiddenfriend"), "{l}: {v}");
        let (st, v) = call(&s, &token, Method::POST, "/api/v1/ai/speech", Some(json!({"text": "Hello"}))).await;
        assert_eq!((st, code(&v)), (409, "ai_not_configured"), "{l}: {v}");
        assert!(v["error"]["message"].as_str().unwrap().contains("Speech needs an AI endpoint with a speech model"));
        let draft = json!({"template": "Hi {{contact.first_name|there}}, here is the plan.", "instructions": "Warmer.",
                           "contact_id": d.ann});
        let (st, v) = call(&s, &token, Method::POST, "/api/v1/ai/drafts", Some(draft.clone())).await;
        assert_eq!(
            (st, v["mode"].as_str(), v["text"].as_str()),
            (200, Some("template"), Some("Hi Ann, here is the plan."))
        );
        assert!(server.received_requests().await.unwrap().is_empty(), "{l}");

        // With an endpoint.
        configure(&s, &o, Some(&server.uri())).await;
        let (st, v) = call(&s, &token, Method::POST, &summary, None).await;
        assert_eq!((st, v["mode"].as_str(), v["text"].as_str()), (200, Some("model"), Some(ANSWER)), "{l}: {v}");
        assert!(v["call_id"].is_string(), "{l}");
        let p = chat_prompts(&server).await;
        assert!(p[0].contains("40 seats") && !p[0].contains("OWNERPRIVATE"), "{l}: {}", p[0]);
        let (st, v) = call(&s, &token, Method::POST, &format!("/api/v1/contacts/{}/summary", d.hidden), None).await;
        assert_eq!((st, code(&v)), (404, "not_found"), "{l}");

        let (st, v) =
            call(&s, &token, Method::POST, "/api/v1/ai/questions", Some(json!({"question": "Who is at Acme?"}))).await;
        assert_eq!((st, v["mode"].as_str()), (200, Some("model")), "{l}: {v}");
        let records = v["records"].as_array().unwrap();
        assert!(records.iter().any(|r| r["id"] == json!(d.ann) && r["type"] == "contact" && r["name"] == "Ann Lee"));
        assert!(!records.iter().any(|r| r["id"] == json!(d.hidden)), "{l}");
        assert!(!chat_prompts(&server).await[1].contains("Hiddenfriend"), "{l}");
        for bad in [json!({"question": ""}), json!({"question": "x", "extra": 1}), json!({})] {
            let (st, v) = call(&s, &token, Method::POST, "/api/v1/ai/questions", Some(bad)).await;
            assert_eq!(st, 422, "{l}: {v}");
        }

        let (st, v) = call(&s, &token, Method::GET, &format!("/api/v1/contacts/{}/related", d.ann), None).await;
        assert_eq!(st, 200, "{l}: {v}");
        assert_eq!(v["data"], json!([{"id": d.bob, "name": "Bob Ray", "reasons": ["company"]}]), "{l}");
        assert!(v["next_cursor"].is_null(), "{l}");

        let (st, v) = call(&s, &token, Method::POST, "/api/v1/ai/drafts", Some(draft)).await;
        assert_eq!((st, v["mode"].as_str(), v["text"].as_str()), (200, Some("model"), Some(ANSWER)), "{l}: {v}");
        assert_eq!(v["rendered"], "Hi Ann, here is the plan.", "{l}");
        let (st, v) = call(&s, &token, Method::POST, "/api/v1/ai/drafts", Some(json!({"template": "{{oops"}))).await;
        assert_eq!((st, v["error"]["fields"][0]["field"].as_str()), (422, Some("template")), "{l}: {v}");

        // Speech: stored, served inline as audio to its creator only, never sniffed.
        let (st, v) = call(&s, &token, Method::POST, "/api/v1/ai/speech", Some(json!({"text": "Hello Ann"}))).await;
        assert_eq!(
            (st, v["content_type"].as_str(), v["bytes"].as_i64()),
            (201, Some("audio/mpeg"), Some(AUDIO.len() as i64))
        );
        let file = v["file_id"].as_str().unwrap().to_string();
        let r = client().get(s.url(&format!("/api/v1/ai/speech/{file}"))).bearer_auth(&token).send().await.unwrap();
        assert_eq!(r.status(), 200, "{l}");
        assert_eq!(r.headers()["content-type"], "audio/mpeg", "{l}");
        assert_eq!(r.headers()["x-content-type-options"], "nosniff", "{l}");
        assert_eq!(r.headers()["content-disposition"], "inline", "{l}");
        assert_eq!(r.bytes().await.unwrap().as_ref(), AUDIO, "{l}");
        let owner_token = kith_app::tokens::create_for_member(&s.app, o.org_id, &owner.email, "t2").await.unwrap().1;
        let (st, _) = call(&s, &owner_token, Method::GET, &format!("/api/v1/ai/speech/{file}"), None).await;
        assert_eq!(st, 404, "{l}: only its creator");
        let (st, v) = call(&s, &token, Method::POST, "/api/v1/ai/speech", Some(json!({"contact_id": d.ann}))).await;
        assert_eq!(st, 201, "{l}: a contact's summary spoken: {v}");
        let (st, _) = call(&s, &token, Method::POST, "/api/v1/ai/speech", Some(json!({}))).await;
        assert_eq!(st, 422, "{l}");

        // Every model call metered: summary, question, draft, speech, summary + speech.
        let u = kith_app::ai::metering::usage(&s.app, &o, None).await.unwrap();
        assert_eq!(u.messages, 6, "{l}");

        // Another workspace whose endpoint returns something that is not audio: a download, never rendered.
        let odd = stand_in("text/html").await;
        let (other, other_token) = s.user_with_token(&format!("assist-other-{l}@web.test")).await;
        configure(&s, &owner_ctx(other.org_id, other.user_id), Some(&odd.uri())).await;
        let (st, v) = call(&s, &other_token, Method::POST, "/api/v1/ai/speech", Some(json!({"text": "Hi"}))).await;
        assert_eq!(st, 201, "{l}: {v}");
        let r = client()
            .get(s.url(&format!("/api/v1/ai/speech/{}", v["file_id"].as_str().unwrap())))
            .bearer_auth(&other_token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["content-type"], "application/octet-stream", "{l}");
        assert!(r.headers()["content-disposition"].to_str().unwrap().starts_with("attachment"), "{l}");
        let (st, _) = call(&s, &other_token, Method::GET, &format!("/api/v1/ai/speech/{file}"), None).await;
        assert_eq!(st, 404, "{l}: another workspace's file");
        let (st, _) = call(&s, &other_token, Method::POST, &summary, None).await;
        assert_eq!(st, 404, "{l}: another workspace's contact");
    }
}

#[tokio::test]
async fn the_openapi_document_lists_the_assist_endpoints() {
    let s = kith_testkit::spawn_app().await;
    let (_, doc) = json(client().get(s.url("/api/v1/openapi.json")).send().await.unwrap()).await;
    for (p, m) in [
        ("/api/v1/contacts/{id}/summary", "post"),
        ("/api/v1/contacts/{id}/related", "get"),
        ("/api/v1/ai/questions", "post"),
        ("/api/v1/ai/drafts", "post"),
        ("/api/v1/ai/speech", "post"),
        ("/api/v1/ai/speech/{file_id}", "get"),
    ] {
        assert!(doc["paths"][p].get(m).is_some(), "{p} {m}");
    }
}

pub(crate) async fn signin(s: &TestServer, email: &str) -> Client {
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

pub(crate) fn strict(html: &str, what: &str) {
    assert!(!html.contains(" style="), "{what}: inline style");
    for tag in html.split("<script").skip(1) {
        assert!(tag.trim_start().starts_with("type=\"module\" src="), "{what}: inline script");
    }
}

#[tokio::test]
async fn the_contact_page_summarises_without_javascript() {
    for s in spawn_all().await {
        let l = s.label;
        let server = stand_in("audio/mpeg").await;
        let (owner, _) = s.user_with_token(&format!("assist-ui-owner-{l}@web.test")).await;
        let o = owner_ctx(owner.org_id, owner.user_id);
        let email = format!("assist-ui-member-{l}@web.test");
        member(&s, &o, &email).await;
        let d = data(&s, &o).await;
        let c = signin(&s, &email).await;
        let page = format!("/contacts/{}", d.ann);

        // Off: no button; related contacts show anyway.
        let html = c.get(s.url(&page)).send().await.unwrap().text().await.unwrap();
        assert!(!html.contains(&format!("action=\"{page}/summary\"")), "{l}");
        assert!(html.contains("Related contacts") && html.contains("Bob Ray") && html.contains("same company"), "{l}");
        assert!(!html.contains("Hiddenfriend"), "{l}");

        configure(&s, &o, None).await;
        let html = c.get(s.url(&page)).send().await.unwrap().text().await.unwrap();
        assert!(html.contains(&format!("action=\"{page}/summary\"")) && html.contains(">Summarise</button>"), "{l}");
        let csrf = form_value(&html, "_csrf");
        let r = c.post(s.url(&format!("{page}/summary"))).form(&[("_csrf", csrf.as_str())]).send().await.unwrap();
        assert_eq!(r.status(), 200, "{l}");
        let html = r.text().await.unwrap();
        assert!(html.contains("Extractive summary (no AI endpoint)") && html.contains("40 seats"), "{l}");
        assert!(!html.contains("OWNERPRIVATE"), "{l}");
        strict(&html, "summary page");

        configure(&s, &o, Some(&server.uri())).await;
        let r = c.post(s.url(&format!("{page}/summary"))).form(&[("_csrf", csrf.as_str())]).send().await.unwrap();
        let html = r.text().await.unwrap();
        assert!(html.contains(">AI summary<") && html.contains("Ann Lee leads the rollout"), "{l}");
        // Without the form's token the POST is refused.
        let r = c.post(s.url(&format!("{page}/summary"))).form(&[("x", "y")]).send().await.unwrap();
        assert!(r.status().is_client_error(), "{l}: {}", r.status());
        // Someone else's personal contact: not found.
        let r = c
            .post(s.url(&format!("/contacts/{}/summary", d.hidden)))
            .form(&[("_csrf", csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{l}");
        assert_eq!(chat_prompts(&server).await.len(), 1, "{l}");
    }
}

mod chromium {
    use super::*;
    use crate::ai_chromium::{self, sign_in};
    use fantoccini::Locator;
    use std::time::Duration;

    #[tokio::test]
    async fn the_contact_page_with_a_summary_in_chromium() {
        let Some((_driver, b)) = ai_chromium::start().await else { return };
        b.set_window_size(1280, 900).await.unwrap();
        let dir = ai_chromium::shot_dir();

        let server = stand_in("audio/mpeg").await;
        let s = kith_testkit::spawn_app().await;
        let (owner, _) = s.user_with_token("assist-browser-owner@web.test").await;
        let o = owner_ctx(owner.org_id, owner.user_id);
        let email = "assist-browser@web.test";
        member(&s, &o, email).await;
        let d = data(&s, &o).await;
        configure(&s, &o, None).await;

        sign_in(&b, &s, email).await;
        b.goto(&s.url(&format!("/contacts/{}", d.ann))).await.unwrap();
        let button = format!("form[action='/contacts/{}/summary'] button", d.ann);
        b.find(Locator::Css(&button)).await.unwrap().click().await.unwrap();
        b.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css("[data-summary-mode]")).await.unwrap();
        let title = b.find(Locator::Id("summary-title")).await.unwrap().text().await.unwrap();
        assert_eq!(title, "Extractive summary (no AI endpoint)");
        std::fs::write(format!("{dir}/assist-contact-extractive.png"), b.screenshot().await.unwrap()).unwrap();

        configure(&s, &o, Some(&server.uri())).await;
        b.find(Locator::Css(&button)).await.unwrap().click().await.unwrap();
        b.wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::XPath("//h2[@id='summary-title' and text()='AI summary']"))
            .await
            .unwrap();
        let text = b.find(Locator::Css("[data-summary-mode]")).await.unwrap().text().await.unwrap();
        assert_eq!(text, ANSWER);
        std::fs::write(format!("{dir}/assist-contact-ai.png"), b.screenshot().await.unwrap()).unwrap();
        // Listen: the summary spoken, with a player on the stored file.
        let listen = format!("form[action='/contacts/{}/speech#summary'] button", d.ann);
        b.find(Locator::Css(&listen)).await.unwrap().click().await.unwrap();
        b.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css(".assist-audio audio")).await.unwrap();
        std::fs::write(format!("{dir}/assist-contact-listen.png"), b.screenshot().await.unwrap()).unwrap();
        b.set_window_size(1280, 1500).await.unwrap();
        std::fs::write(format!("{dir}/assist-contact-full.png"), b.screenshot().await.unwrap()).unwrap();
        b.set_window_size(390, 844).await.unwrap();
        std::fs::write(format!("{dir}/assist-contact-narrow.png"), b.screenshot().await.unwrap()).unwrap();
        b.close().await.unwrap();
    }
}
