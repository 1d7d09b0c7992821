//! The rest of the on-demand AI features on both backends against a wiremock stand-in of an OpenAI-compatible
//! server: knowledge-base summaries (model or extractive), their speech with its retention (deleted by the user
//! or after 30 days), the admins' list of calls (keyset pages, feature filter, never prompts), related contacts
//! by profile embeddings (cached per contact, made again when the profile changes, only visible contacts), and
//! the feature switches read without the API key. A feature that is off sends nothing to the stand-in.

use crate::support::*;
use kith_app::ai::assist::{self, SPEECH_RETENTION_MS};
use kith_app::ai::calls;
use kith_app::ai::documents;
use kith_app::ai::knowledge::{self, NewKnowledge};
use kith_app::ai::settings::{self, AiSettingsInput, EndpointInput};
use kith_app::crm::companies::{self, CompanyInput};
use kith_app::crm::contacts::{self, Contact, ContactInput, LabeledValue};
use kith_app::{App, AppError, ErrorCode};
use kith_domain::page::PageRequest;
use kith_domain::visibility::Visibility;
use kith_domain::{Context, Role};
use kith_testkit::TestApp;
use serde_json::{json, Value};
use uuid::Uuid;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const ANSWER: &str = "Larkspur refunds annual plans within 30 days.";
const AUDIO: &[u8] = b"ID3\x03\x00fake-mp3-frames";
const DOC: &str = "# Refund policy\nLarkspur refunds any annual plan within 30 days of purchase.\n\
    Our office has a nice view.\nRefunds of monthly plans are prorated to the day.\n\
    Refunds go back to the card that paid, within 5 business days.\nWe like cats.\n\
    Annual plans renew each year unless the plan is cancelled.\nLarkspur plans include refunds for outages.";

/// Vectors by profile: engineering leaders near each other, gardeners elsewhere.
struct Embeddings;

impl Respond for Embeddings {
    fn respond(&self, r: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        let data: Vec<Value> = body["input"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let t = t.as_str().unwrap().to_lowercase();
                let tech = ["cto", "engineering", "vp of tech"].iter().filter(|w| t.contains(*w)).count() as f64;
                let garden = ["gardener", "plants"].iter().filter(|w| t.contains(*w)).count() as f64;
                json!({"index": i, "embedding": [tech, garden, 0.05]})
            })
            .collect();
        ResponseTemplate::new(200).set_body_json(
            json!({"data": data, "model": "embed-test", "usage": {"prompt_tokens": 7, "total_tokens": 7}}),
        )
    }
}

async fn stand_in() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "c", "object": "chat.completion",
            "model": "m", "choices": [{"index": 0, "message": {"role": "assistant", "content": ANSWER},
            "finish_reason": "stop"}], "usage": {"prompt_tokens": 40, "completion_tokens": 9, "total_tokens": 49}})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/audio/speech"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(AUDIO.to_vec(), "audio/mpeg"))
        .mount(&server)
        .await;
    Mock::given(method("POST")).and(path("/v1/embeddings")).respond_with(Embeddings).mount(&server).await;
    server
}

struct Opts {
    base: Option<String>,
    speech_model: bool,
    embedding_model: bool,
    on: bool,
}

async fn configure(app: &App, o: &Context, opts: Opts) {
    let mut i = AiSettingsInput::default();
    i.features.summaries = opts.on;
    i.features.questions = opts.on;
    i.features.drafting = opts.on;
    i.features.speech = opts.on;
    i.store_prompts = true;
    i.endpoint = opts.base.map(|b| EndpointInput {
        base_url: format!("{b}/v1"),
        api_key: Some("sk-assist-key".into()),
        chat_model: "gpt-test".into(),
        speech_model: opts.speech_model.then(|| "tts-test".into()),
        embedding_model: opts.embedding_model.then(|| "embed-test".into()),
        ..Default::default()
    });
    let v = settings::get(app, o).await.unwrap().version;
    settings::update(app, o, &i, Some(v).filter(|v| *v > 0)).await.unwrap();
}

fn code<T: std::fmt::Debug>(r: Result<T, AppError>) -> (ErrorCode, String) {
    match r {
        Err(e) => (e.code(), e.to_string()),
        Ok(v) => panic!("expected an error, got {v:?}"),
    }
}

async fn requests(server: &MockServer, p: &str) -> Vec<String> {
    let all = server.received_requests().await.unwrap();
    all.into_iter().filter(|r| r.url.path() == p).map(|r| String::from_utf8_lossy(&r.body).into_owned()).collect()
}

async fn text_entry(app: &App, o: &Context, title: &str, body: &str) -> Uuid {
    let input =
        NewKnowledge { kind: "text".into(), title: Some(title.into()), body: Some(body.into()), ..Default::default() };
    knowledge::create(app, o, &input).await.unwrap().id
}

#[tokio::test]
async fn knowledge_summaries_and_their_speech_with_retention() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let server = stand_in().await;
        let owner = t.user(&format!("doc-owner-{l}@assist.test")).await;
        let o = owner_ctx(app, &owner).await;
        let member = join(app, &o, &format!("doc-member-{l}@assist.test"), Role::Member).await;
        let m = ctx(app, member.org_id, member.user_id).await;
        let other = t.user(&format!("doc-other-{l}@assist.test")).await;
        let other_ws = owner_ctx(app, &other).await;
        let doc = text_entry(app, &o, "Refund policy", DOC).await;

        // Off: refused before anything is read or sent.
        assert_eq!(code(documents::summary(app, &m, doc).await).0, ErrorCode::AiFeatureDisabled, "{l}");
        assert_eq!(code(documents::speak_summary(app, &m, doc).await).0, ErrorCode::AiFeatureDisabled, "{l}");

        // On without an endpoint: extractive, labelled; speech unavailable; still nothing sent.
        configure(app, &o, Opts { base: None, speech_model: false, embedding_model: false, on: true }).await;
        let s = documents::summary(app, &m, doc).await.unwrap();
        assert_eq!((s.mode.as_str(), s.call_id), ("extractive", None), "{l}");
        assert!(s.text.starts_with("Refund policy\nLarkspur refunds any annual plan"), "{l}: {}", s.text);
        assert!(!s.text.contains("cats") && !s.text.contains("nice view"), "{l}: {}", s.text);
        let (c, msg) = code(documents::speak_summary(app, &m, doc).await);
        assert_eq!(c, ErrorCode::AiNotConfigured, "{l}");
        assert!(msg.contains("speech model"), "{l}: {msg}");
        assert!(server.received_requests().await.unwrap().is_empty(), "{l}: nothing reached the stand-in");

        // With an endpoint but no speech model: the model summarises; speech is still refused before any call.
        configure(app, &o, Opts { base: Some(server.uri()), speech_model: false, embedding_model: false, on: true })
            .await;
        let s = documents::summary(app, &m, doc).await.unwrap();
        assert_eq!((s.text.as_str(), s.mode.as_str()), (ANSWER, "model"), "{l}");
        let chats = requests(&server, "/v1/chat/completions").await;
        assert_eq!(chats.len(), 1, "{l}");
        assert!(chats[0].contains("prorated to the day") && chats[0].contains("Refund policy"), "{l}: {}", chats[0]);
        let call = kith_store::ai::get_call(app.db(), o.org_id, s.call_id.unwrap()).await.unwrap().unwrap();
        assert_eq!(
            (call.feature.as_str(), call.record_type.as_deref(), call.record_id),
            ("summaries", Some("knowledge"), Some(doc)),
            "{l}"
        );
        assert_eq!(code(documents::speak_summary(app, &m, doc).await).0, ErrorCode::AiNotConfigured, "{l}");
        assert_eq!(
            requests(&server, "/v1/chat/completions").await.len(),
            1,
            "{l}: no summary made for speech that cannot happen"
        );
        // Another workspace's entry does not exist (even with its own summaries on).
        configure(app, &other_ws, Opts { base: None, speech_model: false, embedding_model: false, on: true }).await;
        assert_eq!(code(documents::summary(app, &other_ws, doc).await).0, ErrorCode::NotFound, "{l}");

        // Speech: the summary spoken, stored for its creator only, deleted on request or by the retention.
        configure(app, &o, Opts { base: Some(server.uri()), speech_model: true, embedding_model: false, on: true })
            .await;
        let f = documents::speak_summary(app, &m, doc).await.unwrap();
        assert_eq!((f.content_type.as_str(), f.bytes), ("audio/mpeg", AUDIO.len() as i64), "{l}");
        let spoken = requests(&server, "/v1/audio/speech").await;
        assert!(spoken.len() == 1 && spoken[0].contains(ANSWER), "{l}: {spoken:?}");
        let (ct, audio) = assist::speech_file(app, &m, f.file_id).await.unwrap();
        assert_eq!((ct.as_str(), audio.as_slice()), ("audio/mpeg", AUDIO), "{l}");
        assert_eq!(code(assist::speech_file(app, &o, f.file_id).await).0, ErrorCode::NotFound, "{l}: creator only");
        let row = kith_store::ai_assist::get_speech(app.db(), o.org_id, f.file_id).await.unwrap().unwrap();
        assert_eq!((row.source_type.as_str(), row.source_id), ("knowledge", Some(doc)), "{l}");
        assert!(f.expires_at_ms - row.created_ms == SPEECH_RETENTION_MS, "{l}");
        assert_eq!(code(assist::delete_speech(app, &o, f.file_id).await).0, ErrorCode::NotFound, "{l}");
        assist::delete_speech(app, &m, f.file_id).await.unwrap();
        assert_eq!(code(assist::speech_file(app, &m, f.file_id).await).0, ErrorCode::NotFound, "{l}");
        assert!(kith_store::files::chunk(app.db(), o.org_id, f.file_id, 1).await.unwrap().is_none(), "{l}");

        let kept = assist::speak(app, &m, "Hello there").await.unwrap();
        let now = kith_domain::time::now_ms();
        assert_eq!(assist::purge_speech(app, now).await.unwrap(), 0, "{l}: young files stay");
        assert!(assist::speech_file(app, &m, kept.file_id).await.is_ok(), "{l}");
        assert!(assist::purge_speech(app, now + SPEECH_RETENTION_MS + 1000).await.unwrap() >= 1, "{l}");
        assert_eq!(code(assist::speech_file(app, &m, kept.file_id).await).0, ErrorCode::NotFound, "{l}");
        assert!(kith_store::files::chunk(app.db(), o.org_id, kept.file_id, 0).await.unwrap().is_none(), "{l}");
    }
}

#[tokio::test]
async fn the_list_of_calls_pages_filters_and_never_shows_prompts() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let server = stand_in().await;
        let owner = t.user(&format!("calls-owner-{l}@assist.test")).await;
        let o = owner_ctx(app, &owner).await;
        let member = join(app, &o, &format!("calls-member-{l}@assist.test"), Role::Member).await;
        let m = ctx(app, member.org_id, member.user_id).await;
        configure(app, &o, Opts { base: Some(server.uri()), speech_model: true, embedding_model: false, on: true })
            .await;
        let doc = text_entry(app, &o, "Refund policy", DOC).await;
        for _ in 0..3 {
            documents::summary(app, &m, doc).await.unwrap();
        }
        assist::speak(app, &m, "Hello").await.unwrap();
        assist::ask(app, &m, "Which deals are open?").await.unwrap();

        let all = calls::list(app, &o, None, None, &PageRequest::new(Some(50), None)).await.unwrap();
        assert_eq!(all.items.len(), 5, "{l}");
        assert!(all.next.is_none(), "{l}");
        assert!(all.items.windows(2).all(|w| (w[0].created_at_ms, w[0].id) > (w[1].created_at_ms, w[1].id)), "{l}");
        assert_eq!(all.items[0].feature, "questions", "{l}");
        let sum = all.items.iter().find(|c| c.feature == "summaries").unwrap();
        assert_eq!(
            (sum.record_type.as_deref(), sum.record_id, sum.outcome.as_str()),
            (Some("knowledge"), Some(doc), "ok"),
            "{l}"
        );
        assert_eq!((sum.prompt_tokens, sum.completion_tokens, sum.tokens_estimated), (40, 9, false), "{l}");
        let speech = all.items.iter().find(|c| c.feature == "speech").unwrap();
        assert!(speech.tokens_estimated, "{l}");
        // Prompts are kept (sealed) by this workspace, yet the list carries none.
        let stored = kith_store::ai::get_call(app.db(), o.org_id, sum.id).await.unwrap().unwrap();
        assert!(stored.prompt.is_some(), "{l}");
        let wire = serde_json::to_string(&all.items).unwrap();
        assert!(!wire.contains("prorated") && !wire.contains("prompt\""), "{l}: {wire}");

        // Keyset pages of two: 2 + 2 + 1, no repeats.
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let p = calls::list(app, &o, None, None, &PageRequest::new(Some(2), after)).await.unwrap();
            seen.extend(p.items.iter().map(|c| c.id));
            match p.next {
                Some(c) => after = Some(c),
                None => break,
            }
        }
        assert_eq!(seen, all.items.iter().map(|c| c.id).collect::<Vec<_>>(), "{l}");

        let only = calls::list(app, &o, None, Some("summaries"), &PageRequest::new(Some(50), None)).await.unwrap();
        assert_eq!(only.items.len(), 3, "{l}");
        assert!(only.items.iter().all(|c| c.feature == "summaries"), "{l}");
        let month = kith_app::ai::metering::current_month();
        let same = calls::list(app, &o, Some(&month), None, &PageRequest::new(Some(50), None)).await.unwrap();
        assert_eq!(same.items.len(), 5, "{l}");
        let empty = calls::list(app, &o, Some("2001-01"), None, &PageRequest::new(Some(50), None)).await.unwrap();
        assert!(empty.items.is_empty(), "{l}");

        assert_eq!(
            code(calls::list(app, &m, None, None, &PageRequest::default()).await).0,
            ErrorCode::Forbidden,
            "{l}"
        );
        assert_eq!(
            invalid_fields(l, "month", calls::list(app, &o, Some("2026-13"), None, &PageRequest::default()).await),
            ["month"]
        );
        assert_eq!(
            invalid_fields(l, "feature", calls::list(app, &o, None, Some("nope"), &PageRequest::default()).await),
            ["feature"]
        );
        // Another workspace sees none of them.
        let other = t.user(&format!("calls-other-{l}@assist.test")).await;
        let other_ws = owner_ctx(app, &other).await;
        assert!(
            calls::list(app, &other_ws, None, None, &PageRequest::default()).await.unwrap().items.is_empty(),
            "{l}"
        );
    }
}

async fn person(
    app: &App,
    ctx: &Context,
    first: &str,
    title: &str,
    email: &str,
    company: Option<Uuid>,
    vis: Visibility,
) -> Contact {
    let input = ContactInput {
        first_name: Some(first.into()),
        last_name: Some("Test".into()),
        title: Some(title.into()),
        emails: Some(vec![LabeledValue { value: email.into(), label: None }]),
        company_id: company.map(Some),
        visibility: Some(vis),
        ..Default::default()
    };
    contacts::create(app, ctx, &input).await.unwrap()
}

#[tokio::test]
async fn related_contacts_by_profile_embeddings_are_cached_and_fused_with_plain_signals() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let server = stand_in().await;
        let owner = t.user(&format!("rel-owner-{l}@assist.test")).await;
        let o = owner_ctx(app, &owner).await;
        let member = join(app, &o, &format!("rel-member-{l}@assist.test"), Role::Member).await;
        let m = ctx(app, member.org_id, member.user_id).await;
        let acme = companies::create(app, &o, &CompanyInput { name: Some("Acme".into()), ..Default::default() })
            .await
            .unwrap()
            .id;
        let ann = person(app, &o, "Ann", "CTO", "ann@gmail.com", Some(acme), Visibility::Everyone).await;
        let colleague =
            person(app, &o, "Cole", "Office manager", "cole@gmail.com", Some(acme), Visibility::Everyone).await;
        let bob = person(app, &o, "Bob", "VP of Tech, engineering", "bob@yahoo.com", None, Visibility::Everyone).await;
        let gus = person(app, &o, "Gus", "Gardener", "gus@plants.test", None, Visibility::Everyone).await;
        let secret = person(app, &o, "Sue", "CTO SECRETTITLE", "sue@hotmail.com", None, Visibility::Personal).await;

        // Without an embedding model (or with the questions switch off): the plain signals, nothing sent.
        configure(app, &o, Opts { base: Some(server.uri()), speech_model: false, embedding_model: false, on: true })
            .await;
        let plain = assist::related_contacts(app, &m, ann.id).await.unwrap();
        assert_eq!(plain.iter().map(|r| r.id).collect::<Vec<_>>(), [colleague.id], "{l}: {plain:?}");
        configure(app, &o, Opts { base: Some(server.uri()), speech_model: false, embedding_model: true, on: false })
            .await;
        let plain_off = assist::related_contacts(app, &m, ann.id).await.unwrap();
        assert_eq!(plain_off, plain, "{l}");
        assert!(server.received_requests().await.unwrap().is_empty(), "{l}: nothing reached the stand-in");

        // With both: Bob's profile lies close to Ann's; Gus's does not; the member's view never embeds Sue.
        configure(app, &o, Opts { base: Some(server.uri()), speech_model: false, embedding_model: true, on: true })
            .await;
        let related = assist::related_contacts(app, &m, ann.id).await.unwrap();
        let ids: Vec<Uuid> = related.iter().map(|r| r.id).collect();
        assert!(ids.contains(&colleague.id) && ids.contains(&bob.id), "{l}: {related:?}");
        assert!(!ids.contains(&gus.id) && !ids.contains(&secret.id), "{l}: {related:?}");
        let b = related.iter().find(|r| r.id == bob.id).unwrap();
        assert_eq!(b.reasons, ["similar_profile"], "{l}");
        assert!(b.similarity.unwrap() > 0.9, "{l}: {b:?}");
        let sent = requests(&server, "/v1/embeddings").await;
        assert_eq!(sent.len(), 1, "{l}: one batch");
        assert!(
            sent[0].contains("Title: CTO; Company: Acme") && sent[0].contains("Title: Gardener"),
            "{l}: {}",
            sent[0]
        );
        assert!(
            !sent[0].contains("SECRETTITLE") && !sent[0].contains("Ann"),
            "{l}: no hidden contact, no names: {}",
            sent[0]
        );
        assert!(!sent[0].contains("gmail.com"), "{l}: free-mail domains say nothing");

        // Cached: the same view again sends nothing.
        assert_eq!(assist::related_contacts(app, &m, ann.id).await.unwrap(), related, "{l}");
        assert_eq!(requests(&server, "/v1/embeddings").await.len(), 1, "{l}");

        // A changed profile is embedded again, alone; Bob is no longer close once he gardens.
        let v = contacts::get(app, &o, bob.id).await.unwrap().version;
        let patch = ContactInput { title: Some("Gardener".into()), ..Default::default() };
        contacts::update(app, &o, bob.id, &patch, Some(v)).await.unwrap();
        let again = assist::related_contacts(app, &m, ann.id).await.unwrap();
        assert!(!again.iter().any(|r| r.id == bob.id), "{l}: {again:?}");
        let sent = requests(&server, "/v1/embeddings").await;
        assert_eq!(sent.len(), 2, "{l}");
        let body: Value = serde_json::from_str(&sent[1]).unwrap();
        assert_eq!(body["input"], json!(["Title: Gardener"]), "{l}");
        // Metered under its own name, against the contact looked at.
        let listed = calls::list(app, &o, None, Some("related_contacts"), &PageRequest::default()).await.unwrap();
        assert_eq!(listed.items.len(), 2, "{l}");
        assert_eq!(listed.items[0].record_id, Some(ann.id), "{l}");

        // Deleting a contact deletes its cached profile vector.
        let gus_only = [gus.id];
        let cached = || kith_store::ai_assist::contact_vectors(app.db(), o.org_id, &gus_only);
        assert_eq!(cached().await.unwrap().len(), 1, "{l}: cached");
        contacts::delete(app, &o, gus.id, &nowhere()).await.unwrap();
        assert!(cached().await.unwrap().is_empty(), "{l}: deleted with the contact");
    }
}

#[tokio::test]
async fn feature_switches_read_without_the_key() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user(&format!("sw-owner-{l}@assist.test")).await;
        let o = owner_ctx(app, &owner).await;
        assert_eq!(settings::switches(app, o.org_id).await.unwrap(), settings::Switches::default(), "{l}");
        configure(
            app,
            &o,
            Opts { base: Some("http://127.0.0.1:9".into()), speech_model: true, embedding_model: false, on: true },
        )
        .await;
        let sw = settings::switches(app, o.org_id).await.unwrap();
        let full = settings::load(app, o.org_id).await.unwrap();
        assert_eq!(sw.features, full.features, "{l}");
        assert!(sw.endpoint && sw.speech_model && !sw.embedding_model, "{l}: {sw:?}");
        // The status of a conversation and the contact page read these; the sealed key stays sealed in the row.
        let json = kith_store::ai_assist::settings_json(app.db(), o.org_id).await.unwrap().unwrap();
        assert!(!json.contains("sk-assist-key"), "{l}");
    }
}

#[tokio::test]
async fn the_scheduled_retention_job_deletes_speech_older_than_30_days() {
    use kith_app::worker::{self, Registry, Worker};
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user(&format!("purge-owner-{l}@assist.test")).await;
        let o = owner_ctx(app, &owner).await;
        worker::install_standard_schedules(app).await.unwrap();
        let far = kith_domain::time::now_ms() + 2 * 3_600_000;
        let due = kith_store::jobs::due_schedules(app.db(), far).await.unwrap();
        assert!(
            due.iter().any(|s| s.name == assist::SPEECH_PURGE_SCHEDULE && s.kind == assist::SPEECH_PURGE_JOB),
            "{l}: the hourly schedule is installed"
        );
        // One file made 31 days ago, one today (rows and audio as speak() stores them).
        let now = kith_domain::time::now_ms();
        let mut ids = Vec::new();
        for age in [31 * kith_domain::time::DAY_MS, 0] {
            let id = Uuid::now_v7();
            let row = kith_store::ai_assist::SpeechRow {
                id,
                org_id: o.org_id,
                created_by: o.user_id(),
                source_type: "text".into(),
                source_id: None,
                content_type: "audio/mpeg".into(),
                bytes: AUDIO.len() as i64,
                call_id: None,
                created_ms: now - age,
            };
            let mut tx = app.db().begin().await.unwrap();
            kith_store::ai_assist::insert_speech(&mut tx, &row).await.unwrap();
            kith_store::files::append_chunk(&mut tx, id, o.org_id, 1, AUDIO).await.unwrap();
            tx.commit().await.unwrap();
            ids.push(id);
        }
        let mut tx = app.db().begin().await.unwrap();
        worker::enqueue(&mut tx, assist::SPEECH_PURGE_JOB, None, &json!({}), now).await.unwrap();
        tx.commit().await.unwrap();
        let w = Worker::new(app.clone(), Registry::standard());
        while w.run_once().await.unwrap() > 0 {}
        assert!(kith_store::ai_assist::get_speech(app.db(), o.org_id, ids[0]).await.unwrap().is_none(), "{l}");
        assert!(kith_store::files::chunk(app.db(), o.org_id, ids[0], 1).await.unwrap().is_none(), "{l}");
        assert!(kith_store::ai_assist::get_speech(app.db(), o.org_id, ids[1]).await.unwrap().is_some(), "{l}");
        assert!(kith_store::files::chunk(app.db(), o.org_id, ids[1], 1).await.unwrap().is_some(), "{l}");
    }
}

/// Timing, not a check: the admins' list of calls over 10,000 recorded calls (a first page, a page of one
/// feature, and a page 5,000 calls deep), p50/p95 of 50 runs each, on both backends. Run with
/// `cargo test -p kith-app --test it calls_list_timing -- --ignored --nocapture`.
#[tokio::test]
#[ignore]
async fn calls_list_timing() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user(&format!("calls-timing-{l}@assist.test")).await;
        let o = owner_ctx(app, &owner).await;
        let now = kith_domain::time::now_ms();
        let features = ["auto_reply", "suggestions", "summaries", "questions", "knowledge"];
        let mut tx = app.db().begin().await.unwrap();
        for i in 0..10_000i64 {
            let call = kith_store::ai::NewCall {
                id: Uuid::now_v7(),
                org_id: o.org_id,
                feature: features[(i % 5) as usize].into(),
                conversation_id: None,
                record_type: None,
                record_id: None,
                status: "ok".into(),
                error: None,
                month: kith_app::ai::metering::current_month(),
                reserved_tokens: 0,
                reserved_cost: 0,
                created_ms: now - 10_000 + i,
            };
            kith_store::ai::insert_call(&mut tx, &call).await.unwrap();
        }
        tx.commit().await.unwrap();
        let deep = calls::list(app, &o, None, None, &PageRequest::new(Some(200), None)).await.unwrap();
        let mut after = deep.next;
        for _ in 0..24 {
            after = calls::list(app, &o, None, None, &PageRequest::new(Some(200), after)).await.unwrap().next;
        }
        for (what, feature, start) in
            [("first page", None, None), ("one feature", Some("questions"), None), ("5,000 deep", None, after)]
        {
            let mut ms = Vec::new();
            for _ in 0..50 {
                let t0 = std::time::Instant::now();
                let p = calls::list(app, &o, None, feature, &PageRequest::new(Some(50), start)).await.unwrap();
                ms.push(t0.elapsed().as_secs_f64() * 1000.0);
                assert_eq!(p.items.len(), 50);
            }
            ms.sort_by(|a, b| a.partial_cmp(b).unwrap());
            println!("{l}: calls list, {what}: p50 {:.2} ms, p95 {:.2} ms", ms[24], ms[47]);
        }
    }
}
