//! The on-demand AI features on both backends against a wiremock stand-in of an OpenAI-compatible server:
//! a switched-off feature sends nothing; prompts hold what the requesting user may see and never another user's
//! personal contact, another user's private note or another workspace's data; without an endpoint each feature
//! answers in its labelled reduced form (speech refuses); every model call is metered.

use crate::support::*;
use kith_app::ai::assist::{self, DraftInput};
use kith_app::ai::metering;
use kith_app::ai::settings::{self, AiSettingsInput, EndpointInput};
use kith_app::crm::companies::{self, CompanyInput};
use kith_app::crm::contacts::{self, Contact, ContactInput, LabeledValue};
use kith_app::crm::deals::{self, DealInput};
use kith_app::crm::notes::{self, NoteInput};
use kith_app::{App, AppError, ErrorCode};
use kith_domain::crm::RecordType;
use kith_domain::visibility::Visibility;
use kith_domain::{Context, Role};
use kith_testkit::TestApp;
use serde_json::{json, Value};
use uuid::Uuid;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ANSWER: &str = "Ann Lee is the CTO at Acme [1].";
const AUDIO: &[u8] = b"ID3\x03\x00fake-mp3-frames";

fn completion(content: &str) -> Value {
    json!({"id": "c", "object": "chat.completion", "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 40, "completion_tokens": 9, "total_tokens": 49}})
}

async fn stand_in() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion(ANSWER)))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/audio/speech"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(AUDIO.to_vec(), "audio/mpeg"))
        .mount(&server)
        .await;
    server
}

/// Every assist feature on; an endpoint at `base` when given.
async fn configure(app: &App, o: &Context, base: Option<&str>, speech_model: bool) {
    let mut i = AiSettingsInput::default();
    i.features.summaries = true;
    i.features.questions = true;
    i.features.drafting = true;
    i.features.speech = true;
    i.endpoint = base.map(|b| EndpointInput {
        base_url: format!("{b}/v1"),
        api_key: Some("sk-assist-key".into()),
        chat_model: "gpt-test".into(),
        speech_model: speech_model.then(|| "tts-test".into()),
        ..Default::default()
    });
    settings::update(app, o, &i, None).await.unwrap();
}

fn person(first: &str, last: &str, email: &str) -> ContactInput {
    ContactInput {
        first_name: Some(first.into()),
        last_name: Some(last.into()),
        emails: Some(vec![LabeledValue { value: email.into(), label: Some("work".into()) }]),
        ..Default::default()
    }
}

async fn contact(app: &App, ctx: &Context, input: ContactInput) -> Contact {
    contacts::create(app, ctx, &input).await.unwrap()
}

async fn note(app: &App, ctx: &Context, on: Uuid, body: &str, private: bool) {
    let input = NoteInput {
        record_type: Some(RecordType::Contact),
        record_id: Some(on),
        body: Some(body.into()),
        is_private: Some(private),
    };
    notes::create(app, ctx, &input).await.unwrap();
}

fn code<T: std::fmt::Debug>(r: Result<T, AppError>) -> (ErrorCode, String) {
    match r {
        Err(e) => (e.code(), e.to_string()),
        Ok(v) => panic!("expected an error, got {v:?}"),
    }
}

/// The text of every chat request the stand-in received.
async fn prompts(server: &MockServer) -> Vec<String> {
    let mut out = Vec::new();
    for r in server.received_requests().await.unwrap() {
        if r.url.path() == "/v1/chat/completions" {
            let body: Value = serde_json::from_slice(&r.body).unwrap();
            out.push(body["messages"].to_string());
        }
    }
    out
}

/// A workspace with an owner, a member, and data the member must not see: the owner's personal contact and
/// private note; plus another workspace with look-alike data.
struct World {
    o: Context,
    m: Context,
    acme: Uuid,
    ann: Contact,
    hidden: Contact,
    other_ws: Context,
}

async fn world(t: &TestApp, name: &str) -> World {
    let app = &t.app;
    let owner = t.user(&format!("{name}-owner-{}@assist.test", t.label)).await;
    let o = owner_ctx(app, &owner).await;
    let member = join(app, &o, &format!("{name}-member-{}@assist.test", t.label), Role::Member).await;
    let m = ctx(app, member.org_id, member.user_id).await;
    let acme = companies::create(app, &o, &CompanyInput { name: Some("Acme Rockets".into()), ..Default::default() })
        .await
        .unwrap()
        .id;
    let ann = contact(
        app,
        &o,
        ContactInput {
            title: Some("CTO".into()),
            company_id: Some(Some(acme)),
            visibility: Some(Visibility::Everyone),
            ..person("Ann", "Lee", "ann@acme-rockets.test")
        },
    )
    .await;
    note(app, &o, ann.id, "Ann wants the migration plan for 40 seats before the March budget review.", false).await;
    note(app, &o, ann.id, "Ann confirmed the pilot with the platform team went well.", false).await;
    note(app, &o, ann.id, "OWNERPRIVATE Ann mentioned a confidential acquisition.", true).await;
    let hidden = contact(
        app,
        &o,
        ContactInput {
            visibility: Some(Visibility::Personal),
            ..person("Paula", "Hiddenfriend", "paula@acme-rockets.test")
        },
    )
    .await;
    note(app, &o, hidden.id, "HIDDENNOTE about Paula and acme.", false).await;
    let other = t.user(&format!("{name}-other-{}@assist.test", t.label)).await;
    let other_ws = owner_ctx(app, &other).await;
    let twin = contact(app, &other_ws, person("Ann", "Otherworkspace", "ann@acme-rockets.test")).await;
    note(app, &other_ws, twin.id, "OTHERWORKSPACE migration budget for acme.", false).await;
    World { o, m, acme, ann, hidden, other_ws }
}

fn leaks(prompt: &str) -> Option<&'static str> {
    ["OWNERPRIVATE", "HIDDENNOTE", "Hiddenfriend", "OTHERWORKSPACE", "Otherworkspace"]
        .into_iter()
        .find(|s| prompt.contains(s))
}

#[tokio::test]
async fn contact_summaries_by_the_model_see_only_what_the_user_may_and_are_extractive_without_an_endpoint() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let server = stand_in().await;
        let w = world(&t, "sum").await;

        // Off (a new workspace): refused, nothing sent, nothing metered.
        let (c, _) = code(assist::contact_summary(app, &w.m, w.ann.id).await);
        assert_eq!(c, ErrorCode::AiFeatureDisabled, "{l}");
        assert!(server.received_requests().await.unwrap().is_empty(), "{l}");

        configure(app, &w.o, Some(&server.uri()), false).await;
        configure(app, &w.other_ws, Some(&server.uri()), false).await;
        let s = assist::contact_summary(app, &w.m, w.ann.id).await.unwrap();
        assert_eq!((s.text.as_str(), s.mode.as_str()), (ANSWER, "model"), "{l}");
        assert!(s.call_id.is_some() && s.sources >= 3, "{l}: {s:?}");
        let p = prompts(&server).await;
        assert_eq!(p.len(), 1, "{l}");
        assert!(
            p[0].contains("40 seats") && p[0].contains("Ann Lee") && p[0].contains("Acme Rockets"),
            "{l}: {}",
            p[0]
        );
        assert_eq!(leaks(&p[0]), None, "{l}: {}", p[0]);

        // The owner's own summary holds their private note (the filter is per user, not a blanket cut).
        assist::contact_summary(app, &w.o, w.ann.id).await.unwrap();
        assert!(prompts(&server).await[1].contains("OWNERPRIVATE"), "{l}");

        // Another user's personal contact does not exist for the member.
        let (c, _) = code(assist::contact_summary(app, &w.m, w.hidden.id).await);
        assert_eq!(c, ErrorCode::NotFound, "{l}");
        // Nor does another workspace's contact.
        let (c, _) = code(assist::contact_summary(app, &w.other_ws, w.ann.id).await);
        assert_eq!(c, ErrorCode::NotFound, "{l}");
        assert_eq!(prompts(&server).await.len(), 2, "{l}");

        // Metered: both calls recorded against the contact.
        let u = metering::usage(app, &w.o, None).await.unwrap();
        assert_eq!((u.messages, u.prompt_tokens, u.completion_tokens), (2, 80, 18), "{l}");
        let rows = kith_testkit::raw_i64(
            &t.db.raw_url,
            "SELECT COUNT(*) FROM ai_calls WHERE feature = 'summaries' AND record_type = 'contact' AND status = 'ok'",
        )
        .await;
        assert!(rows >= 2, "{l}");

        // Without an endpoint: extractive, labelled, nothing sent, nothing metered.
        let mut i = AiSettingsInput::default();
        i.features.summaries = true;
        settings::update(app, &w.o, &i, None).await.unwrap();
        let before = server.received_requests().await.unwrap().len();
        let s = assist::contact_summary(app, &w.m, w.ann.id).await.unwrap();
        assert_eq!(s.mode, "extractive", "{l}");
        assert!(s.call_id.is_none(), "{l}");
        assert!(s.text.starts_with("Name: Ann Lee; Title: CTO; Company: Acme Rockets"), "{l}: {}", s.text);
        assert!(s.text.contains("40 seats"), "{l}: {}", s.text);
        assert_eq!(leaks(&s.text), None, "{l}: {}", s.text);
        assert_eq!(server.received_requests().await.unwrap().len(), before, "{l}");
        assert_eq!(metering::usage(app, &w.o, None).await.unwrap().messages, 2, "{l}");
    }
}

#[tokio::test]
async fn questions_give_the_model_only_visible_records_and_list_records_without_an_endpoint() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let server = stand_in().await;
        let w = world(&t, "ask").await;

        let (c, _) = code(assist::ask(app, &w.m, "Who works at Acme?").await);
        assert_eq!(c, ErrorCode::AiFeatureDisabled, "{l}");
        assert!(server.received_requests().await.unwrap().is_empty(), "{l}");
        configure(app, &w.o, Some(&server.uri()), false).await;
        configure(app, &w.other_ws, Some(&server.uri()), false).await;
        let fields = invalid_fields(l, "blank", assist::ask(app, &w.m, "   ").await);
        assert_eq!(fields, ["question"], "{l}");
        let fields = invalid_fields(l, "long", assist::ask(app, &w.m, &"acme ".repeat(101)).await);
        assert_eq!(fields, ["question"], "{l}");

        let a = assist::ask(app, &w.m, "Who works at Acme?").await.unwrap();
        assert_eq!((a.answer.as_str(), a.mode.as_str()), (ANSWER, "model"), "{l}");
        let ids: Vec<Uuid> = a.records.iter().map(|r| r.id).collect();
        assert!(ids.contains(&w.ann.id) && ids.contains(&w.acme), "{l}: {a:?}");
        assert!(!ids.contains(&w.hidden.id), "{l}");
        assert!(a.records.iter().filter(|r| r.cited).count() == 1 && a.records[0].cited, "{l}: [1] is cited: {a:?}");
        let p = prompts(&server).await;
        assert!(p[0].contains("Ann Lee") && p[0].contains("Acme Rockets") && p[0].contains("Who works at Acme"), "{l}");
        assert_eq!(leaks(&p[0]), None, "{l}: {}", p[0]);

        // The owner may see Paula: the same question gives her to the model (so the member's cut is visibility).
        let a = assist::ask(app, &w.o, "Who works at Acme?").await.unwrap();
        assert!(a.records.iter().any(|r| r.id == w.hidden.id), "{l}");
        assert!(prompts(&server).await[1].contains("Hiddenfriend"), "{l}");

        // Notes are records too (through the blind index): the member finds the shared note, not the private one.
        let a = assist::ask(app, &w.m, "migration seats").await.unwrap();
        assert!(a.records.iter().any(|r| r.kind == "note"), "{l}: {a:?}");
        let p = prompts(&server).await;
        assert!(p[2].contains("40 seats"), "{l}");
        assert_eq!(leaks(&p[2]), None, "{l}");
        let a = assist::ask(app, &w.m, "confidential acquisition").await.unwrap();
        assert!(a.records.is_empty(), "{l}: a private note of another user is not found: {a:?}");
        assert_eq!(leaks(&prompts(&server).await[3]), None, "{l}");

        assert_eq!(metering::usage(app, &w.o, None).await.unwrap().messages, 4, "{l}");

        // Without an endpoint: the matching records are the answer, labelled.
        let mut i = AiSettingsInput::default();
        i.features.questions = true;
        settings::update(app, &w.o, &i, None).await.unwrap();
        let before = server.received_requests().await.unwrap().len();
        let a = assist::ask(app, &w.m, "Who works at Acme?").await.unwrap();
        assert_eq!(a.mode, "records", "{l}");
        assert!(
            a.answer.starts_with("No AI endpoint is configured") && a.answer.contains("Ann Lee"),
            "{l}: {}",
            a.answer
        );
        assert!(!a.answer.contains("Hiddenfriend"), "{l}");
        assert_eq!(server.received_requests().await.unwrap().len(), before, "{l}");
    }
}

#[tokio::test]
async fn related_contacts_share_company_domain_or_deal_among_those_the_user_may_see() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let w = world(&t, "rel").await;
        let everyone = |c: ContactInput| ContactInput { visibility: Some(Visibility::Everyone), ..c };
        let bob = contact(
            app,
            &w.o,
            everyone(ContactInput { company_id: Some(Some(w.acme)), ..person("Bob", "Ray", "bob@ray.test") }),
        )
        .await;
        let cara = contact(app, &w.o, everyone(person("Cara", "Diaz", "cara@acme-rockets.test"))).await;
        let dan = contact(app, &w.o, everyone(person("Dan", "Wu", "dan@gmail.com"))).await;
        let eve = contact(app, &w.o, everyone(person("Eve", "Stone", "eve@gmail.com"))).await;
        deals::create(
            app,
            &w.o,
            &DealInput {
                title: Some("Rollout".into()),
                value_minor: Some(100),
                contact_ids: Some(vec![w.ann.id, dan.id]),
                ..Default::default()
            },
        )
        .await
        .unwrap();

        let rel = assist::related_contacts(app, &w.m, w.ann.id).await.unwrap();
        let reasons = |id: Uuid| rel.iter().find(|r| r.id == id).map(|r| r.reasons.clone());
        assert_eq!(reasons(bob.id), Some(vec!["company".to_string()]), "{l}: {rel:?}");
        assert_eq!(reasons(cara.id), Some(vec!["email_domain".to_string()]), "{l}");
        assert_eq!(reasons(dan.id), Some(vec!["deal".to_string()]), "{l}");
        assert_eq!(reasons(eve.id), None, "{l}: a free-mail domain relates nobody");
        assert_eq!(reasons(w.hidden.id), None, "{l}: another user's personal contact");
        assert!(!rel.iter().any(|r| r.id == w.ann.id), "{l}: not itself");
        // The owner sees Paula, who shares the domain.
        let rel = assist::related_contacts(app, &w.o, w.ann.id).await.unwrap();
        assert!(rel.iter().any(|r| r.id == w.hidden.id), "{l}");
        // Dan (gmail) relates to Ann through the deal only.
        let rel = assist::related_contacts(app, &w.m, dan.id).await.unwrap();
        assert_eq!(rel.iter().map(|r| r.id).collect::<Vec<_>>(), vec![w.ann.id], "{l}");
        assert_eq!(code(assist::related_contacts(app, &w.m, w.hidden.id).await).0, ErrorCode::NotFound, "{l}");
        assert_eq!(code(assist::related_contacts(app, &w.other_ws, w.ann.id).await).0, ErrorCode::NotFound, "{l}");
    }
}

#[tokio::test]
async fn drafts_render_the_template_for_the_contact_and_the_model_rewrites_it() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let server = stand_in().await;
        let w = world(&t, "draft").await;
        let input = DraftInput {
            template: "Hi {{contact.first_name|there}}, the plan for {{workspace.name}} is attached.".into(),
            instructions: "Make it warmer.".into(),
            contact_id: Some(w.ann.id),
        };
        assert_eq!(code(assist::draft(app, &w.m, &input).await).0, ErrorCode::AiFeatureDisabled, "{l}");
        assert!(server.received_requests().await.unwrap().is_empty(), "{l}");
        configure(app, &w.o, Some(&server.uri()), false).await;

        let d = assist::draft(app, &w.m, &input).await.unwrap();
        assert_eq!((d.text.as_str(), d.mode.as_str()), (ANSWER, "model"), "{l}");
        assert!(d.rendered.starts_with("Hi Ann, the plan for "), "{l}: {}", d.rendered);
        let p = prompts(&server).await;
        assert!(p[0].contains("Hi Ann, the plan") && p[0].contains("Make it warmer."), "{l}: {}", p[0]);

        // Bad input names its field; a hidden contact is no contact.
        let bad = DraftInput { template: "Hi {{nope}}".into(), ..input.clone() };
        assert_eq!(invalid_fields(l, "template", assist::draft(app, &w.m, &bad).await), ["template"], "{l}");
        let hidden = DraftInput { contact_id: Some(w.hidden.id), ..input.clone() };
        assert_eq!(invalid_fields(l, "contact", assist::draft(app, &w.m, &hidden).await), ["contact_id"], "{l}");
        assert_eq!(prompts(&server).await.len(), 1, "{l}");
        assert_eq!(metering::usage(app, &w.o, None).await.unwrap().messages, 1, "{l}");

        // Without an endpoint: the rendered template as it stands.
        let mut i = AiSettingsInput::default();
        i.features.drafting = true;
        settings::update(app, &w.o, &i, None).await.unwrap();
        let d = assist::draft(app, &w.m, &input).await.unwrap();
        assert_eq!(d.mode, "template", "{l}");
        assert_eq!(d.text, d.rendered, "{l}");
        assert!(d.text.starts_with("Hi Ann, the plan for "), "{l}");
        let none = DraftInput { contact_id: None, ..input };
        assert!(assist::draft(app, &w.m, &none).await.unwrap().text.starts_with("Hi there,"), "{l}: the default");
        assert_eq!(prompts(&server).await.len(), 1, "{l}: nothing sent");
    }
}

#[tokio::test]
async fn speech_is_stored_for_its_creator_and_refused_clearly_without_a_speech_model() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let server = stand_in().await;
        let w = world(&t, "speech").await;
        assert_eq!(code(assist::speak(app, &w.m, "Hello").await).0, ErrorCode::AiFeatureDisabled, "{l}");

        // An endpoint without a speech model: unavailable, with a clear message, nothing sent.
        configure(app, &w.o, Some(&server.uri()), false).await;
        let (c, msg) = code(assist::speak(app, &w.m, "Hello").await);
        assert_eq!(c, ErrorCode::AiNotConfigured, "{l}");
        assert!(msg.contains("Speech needs an AI endpoint with a speech model"), "{l}: {msg}");
        // No endpoint at all: the same.
        configure(app, &w.other_ws, None, false).await;
        let (c, msg) = code(assist::speak(app, &w.other_ws, "Hello").await);
        assert_eq!(c, ErrorCode::AiNotConfigured, "{l}");
        assert!(msg.contains("Speech needs an AI endpoint"), "{l}: {msg}");
        assert!(server.received_requests().await.unwrap().is_empty(), "{l}");

        let mut i = AiSettingsInput::default();
        i.features.speech = true;
        i.features.summaries = true;
        i.endpoint = Some(EndpointInput {
            base_url: format!("{}/v1", server.uri()),
            chat_model: "gpt-test".into(),
            speech_model: Some("tts-test".into()),
            ..Default::default()
        });
        settings::update(app, &w.o, &i, None).await.unwrap();
        let f = assist::speak(app, &w.m, "Ann Lee is the CTO.").await.unwrap();
        assert_eq!((f.content_type.as_str(), f.bytes), ("audio/mpeg", AUDIO.len() as i64), "{l}");
        let (ct, audio) = assist::speech_file(app, &w.m, f.file_id).await.unwrap();
        assert_eq!((ct.as_str(), audio.as_slice()), ("audio/mpeg", AUDIO), "{l}");
        let sent: Value = serde_json::from_slice(&server.received_requests().await.unwrap()[0].body).unwrap();
        assert_eq!(
            (sent["model"].as_str(), sent["input"].as_str()),
            (Some("tts-test"), Some("Ann Lee is the CTO.")),
            "{l}"
        );
        // Only its creator gets it; another workspace never.
        assert_eq!(code(assist::speech_file(app, &w.o, f.file_id).await).0, ErrorCode::NotFound, "{l}");
        assert_eq!(code(assist::speech_file(app, &w.other_ws, f.file_id).await).0, ErrorCode::NotFound, "{l}");
        assert_eq!(code(assist::speech_file(app, &w.m, Uuid::now_v7()).await).0, ErrorCode::NotFound, "{l}");

        // A contact's summary spoken: the summary call and the speech call, both metered.
        let f2 = assist::speak_summary(app, &w.m, w.ann.id).await.unwrap();
        assert_eq!(f2.bytes, AUDIO.len() as i64, "{l}");
        let spoken: Vec<Value> = server
            .received_requests()
            .await
            .unwrap()
            .iter()
            .filter(|r| r.url.path() == "/v1/audio/speech")
            .map(|r| serde_json::from_slice(&r.body).unwrap())
            .collect();
        assert_eq!(spoken.last().unwrap()["input"], ANSWER, "{l}");
        let u = metering::usage(app, &w.o, None).await.unwrap();
        assert_eq!(u.messages, 3, "{l}: speech, summary, speech");
        assert_eq!(invalid_fields(l, "blank", assist::speak(app, &w.m, " ").await), ["text"], "{l}");
    }
}
