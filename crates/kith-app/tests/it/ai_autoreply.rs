//! Grounded automatic replies on both backends, against a wiremock stand-in
//! of an OpenAI-compatible server and a stand-in of Twilio: answers cite the
//! workspace's own passages (and prompts never hold another workspace's
//! text), suggestions stay drafts, and the assistant hands off — and then
//! keeps quiet — when asked for a person, when the model declines or cites
//! nothing, when the endpoint fails, and at a hard limit; an opted-out
//! contact gets nothing; without an endpoint only a clear FAQ match is sent.

use crate::inbox::{deliver, drain, sms, twilio_channel, twilio_stand_in};
use crate::support::*;
use kith_app::ai::autoreply;
use kith_app::ai::knowledge::{self, NewKnowledge};
use kith_app::ai::settings::{self, AiSettingsInput, EndpointInput};
use kith_app::inbox::channels::{self, AiMode, ChannelPatch};
use kith_app::inbox::conversations::{self, ConversationPatch, Status};
use kith_app::inbox::messages::{self, Message};
use kith_app::{App, AppSettings, ProviderBases};
use kith_domain::{Context, PageRequest};
use kith_testkit::{TestApp, TestDb};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use uuid::Uuid;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const HANDOFF: &str = "A member of our team will answer you here shortly.";

struct Setup {
    t: TestApp,
    twilio_calls: Arc<AtomicUsize>,
    llm: MockServer,
    owner: Context,
    channel: Uuid,
}

/// Per backend: an app whose Twilio is a stand-in, a workspace with an SMS
/// channel in `mode`, FAQs indexed, and an OpenAI-compatible stand-in.
async fn setups(mode: AiMode, with_endpoint: bool) -> Vec<Setup> {
    let mut out = Vec::new();
    for db in TestDb::all().await {
        let (base, twilio_calls) = twilio_stand_in().await;
        let app_settings = AppSettings {
            provider_bases: ProviderBases { twilio: base, ..ProviderBases::default() },
            ..kith_testkit::app::test_settings()
        };
        let t = TestApp::new(db, app_settings);
        let acct = t.user(&format!("owner-{}@autoreply.test", t.label)).await;
        let owner = owner_ctx(&t.app, &acct).await;
        let channel = twilio_channel(&t.app, &owner).await;
        let patch = ChannelPatch { ai_mode: Some(mode), ..Default::default() };
        channels::update(&t.app, &owner, channel, &patch, None).await.unwrap();
        for (q, a) in [
            ("What are your opening hours?", "We are open 9 to 5, Monday to Friday, and 10 to 2 on Saturday."),
            ("Do you offer free parking?", "Yes: the car park behind the shop is free for customers for two hours."),
            ("How do I return an item?", "Bring it back within 30 days with the receipt for a full refund."),
        ] {
            faq(&t.app, &owner, q, a).await;
        }
        let llm = MockServer::start().await;
        let mut input = AiSettingsInput::default();
        input.features.auto_reply = true;
        input.features.suggestions = true;
        input.handoff_message = HANDOFF.into();
        if with_endpoint {
            input.endpoint = Some(EndpointInput {
                base_url: format!("{}/v1", llm.uri()),
                api_key: Some("sk-test".into()),
                chat_model: "gpt-test".into(),
                ..Default::default()
            });
        }
        settings::update(&t.app, &owner, &input, None).await.unwrap();
        drain(&t.app).await;
        out.push(Setup { t, twilio_calls, llm, owner, channel });
    }
    out
}

async fn faq(app: &App, ctx: &Context, question: &str, answer: &str) {
    let input = NewKnowledge {
        kind: "faq".into(),
        question: Some(question.into()),
        answer: Some(answer.into()),
        ..Default::default()
    };
    knowledge::create(app, ctx, &input).await.unwrap();
}

/// The model answers every chat call with `content`.
async fn model_says(llm: &MockServer, content: &str) {
    llm.reset().await;
    let body = json!({"id": "c1", "object": "chat.completion", "model": "gpt-test",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 120, "completion_tokens": 12, "total_tokens": 132}});
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(llm)
        .await;
}

/// The chat requests the stand-in received, as JSON.
async fn prompts(llm: &MockServer) -> Vec<Value> {
    let received = llm.received_requests().await.unwrap_or_default();
    received.iter().filter(|r| r.url.path() == "/v1/chat/completions").map(|r| r.body_json().unwrap()).collect()
}

/// Deliver a message (provider id `sid`), run the jobs, and return its
/// conversation and thread (oldest first).
async fn ask(s: &Setup, sid: &str, from: &str, text: &str) -> (Uuid, Vec<Message>) {
    deliver(&s.t.app, s.channel, &sms(sid, from, text)).await.unwrap();
    drain(&s.t.app).await;
    let mut tx = s.t.app.db().begin().await.unwrap();
    let m = kith_store::inbox::message_by_provider_id(&mut tx, s.channel, sid).await.unwrap().expect("stored");
    tx.commit().await.unwrap();
    let page = messages::list(&s.t.app, &s.owner, m.conversation_id, true, &PageRequest::default()).await.unwrap();
    (m.conversation_id, page.items)
}

async fn decision_for(s: &Setup, message_id: Uuid) -> kith_store::ai_replies::AiReplyRow {
    kith_store::ai_replies::by_inbound(s.t.app.db(), s.owner.org_id, message_id).await.unwrap().expect("a decision")
}

fn last_out(thread: &[Message]) -> Option<&Message> {
    thread.iter().rev().find(|m| m.direction == "out")
}

#[tokio::test]
async fn answers_cite_the_workspace_passages_and_suggestions_stay_drafts() {
    for s in setups(AiMode::Auto, true).await {
        let (app, l) = (&s.t.app, s.t.label);
        // Another workspace with knowledge of its own, never in this one's prompts.
        let other = owner_ctx(app, &s.t.user(&format!("other-{l}@autoreply.test")).await).await;
        faq(app, &other, "What are your opening hours on Sunday?", "Zanzibar-lagoon hours: closed all Sunday.").await;
        drain(app).await;

        model_says(&s.llm, "We open at 10 on Saturday [1].").await;
        let (conv, thread) = ask(&s, "SMa1", "+15551110001", "What are your opening hours on Saturday?").await;
        let reply = last_out(&thread).expect("a reply");
        assert_eq!(reply.body, "We open at 10 on Saturday.", "{l}: the citation marker is not sent");
        assert_eq!(reply.author_user_id, None, "{l}: written by the assistant");
        assert_eq!(s.twilio_calls.load(Ordering::SeqCst), 1, "{l}: sent through the provider");
        let inbound = thread.iter().find(|m| m.direction == "in").unwrap();
        let d = decision_for(&s, inbound.id).await;
        assert_eq!(
            (d.outcome.as_str(), d.reason.as_str(), d.reply_message_id),
            ("replied", "answered", Some(reply.id))
        );
        let cited: Vec<Value> = serde_json::from_str(&d.citations).unwrap();
        assert_eq!(cited.len(), 1, "{l}");
        assert_eq!(cited[0]["title"], "What are your opening hours?", "{l}: cites the FAQ");

        let sent = prompts(&s.llm).await;
        assert_eq!(sent.len(), 1, "{l}");
        let text = sent[0].to_string();
        assert!(text.contains("10 to 2 on Saturday"), "{l}: the passage is in the prompt");
        assert!(text.contains("What are your opening hours on Saturday?"), "{l}: so is the customer's message");
        assert!(!text.contains("Zanzibar"), "{l}: never another workspace's text");

        // Running the job again for the same message does nothing more.
        let again = autoreply::handle(app, s.owner.org_id, inbound.id).await.unwrap();
        assert_eq!((again.outcome.as_str(), again.reason.as_str()), ("replied", "answered"), "{l}");
        let page = messages::list(app, &s.owner, conv, true, &PageRequest::default()).await.unwrap();
        assert_eq!(page.items.len(), 2, "{l}: one reply");
        assert_eq!(prompts(&s.llm).await.len(), 1, "{l}: no second call");

        // In `suggest` mode the answer waits as a draft for the agents.
        let patch = ChannelPatch { ai_mode: Some(AiMode::Suggest), ..Default::default() };
        channels::update(app, &s.owner, s.channel, &patch, None).await.unwrap();
        model_says(&s.llm, "Parking is free for two hours [1].").await;
        let (same, thread) = ask(&s, "SMa2", "+15551110001", "Is parking free?").await;
        assert_eq!(same, conv, "{l}");
        assert_eq!(thread.last().unwrap().direction, "in", "{l}: nothing sent");
        let d = decision_for(&s, thread.last().unwrap().id).await;
        assert_eq!((d.outcome.as_str(), d.mode.as_str()), ("suggested", "suggest"), "{l}");
        let draft = kith_app::ai::autoreply::draft(app, &s.owner, conv).await.unwrap().expect("a draft");
        assert_eq!(draft.text, "Parking is free for two hours.", "{l}");
        assert_eq!(s.twilio_calls.load(Ordering::SeqCst), 1, "{l}: still one send");
    }
}

#[tokio::test]
async fn hands_off_to_a_person_and_keeps_quiet_after() {
    for s in setups(AiMode::Auto, true).await {
        let (app, l) = (&s.t.app, s.t.label);
        model_says(&s.llm, "We are open 9 to 5 [1].").await;

        // Asked for a person: the handoff message, then silence in that conversation.
        let (conv, thread) = ask(&s, "SMh1", "+15552220001", "Can I talk to a real person please?").await;
        assert_eq!(last_out(&thread).map(|m| m.body.as_str()), Some(HANDOFF), "{l}");
        assert_eq!(decision_for(&s, thread[0].id).await.reason, "asked_for_human", "{l}");
        let (_, thread) = ask(&s, "SMh2", "+15552220001", "What are your opening hours?").await;
        assert_eq!(thread.iter().filter(|m| m.direction == "out").count(), 1, "{l}: paused after the handoff");
        assert_eq!(decision_for(&s, thread.last().unwrap().id).await.reason, "paused", "{l}");
        assert!(prompts(&s.llm).await.is_empty(), "{l}: the model was never asked");
        // A member resumes the assistant.
        autoreply::resume(app, &s.owner, conv).await.unwrap();
        let (_, thread) = ask(&s, "SMh3", "+15552220001", "What are your opening hours?").await;
        assert_eq!(last_out(&thread).map(|m| m.body.as_str()), Some("We are open 9 to 5."), "{l}: resumed");

        // The model declines, or answers without citing a passage.
        for (i, answer) in ["HANDOFF", "Sure, anything you like!"].into_iter().enumerate() {
            model_says(&s.llm, answer).await;
            let from = format!("+1555222010{i}");
            let (_, thread) = ask(&s, &format!("SMd{i}"), &from, "How do I return an item I bought?").await;
            assert_eq!(last_out(&thread).map(|m| m.body.as_str()), Some(HANDOFF), "{l}: {answer}");
            assert_eq!(decision_for(&s, thread[0].id).await.reason, "model_declined", "{l}: {answer}");
        }

        // Nothing relevant in the knowledge base: no model call at all.
        model_says(&s.llm, "We sell bicycles [1].").await;
        let (_, thread) = ask(&s, "SMn1", "+15552220200", "Do you repair vintage motorcycles?").await;
        assert_eq!(decision_for(&s, thread[0].id).await.reason, "no_passages", "{l}");
        assert!(prompts(&s.llm).await.is_empty(), "{l}");

        // The endpoint fails: a handoff, not an error.
        s.llm.reset().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {"message": "model not loaded"}})))
            .mount(&s.llm)
            .await;
        let (_, thread) = ask(&s, "SMf1", "+15552220300", "What are your opening hours?").await;
        assert_eq!(decision_for(&s, thread[0].id).await.reason, "provider_failed", "{l}");
        assert_eq!(last_out(&thread).map(|m| m.body.as_str()), Some(HANDOFF), "{l}");

        // A hard limit reached: a handoff without a call.
        model_says(&s.llm, "We are open 9 to 5 [1].").await;
        let mut input = AiSettingsInput::default();
        let current = settings::get(app, &s.owner).await.unwrap();
        input.features = current.features;
        input.handoff_message = HANDOFF.into();
        input.endpoint = Some(EndpointInput {
            base_url: format!("{}/v1", s.llm.uri()),
            api_key: Some("sk-test".into()),
            chat_model: "gpt-test".into(),
            ..Default::default()
        });
        input.limits.hard.messages = Some(1);
        settings::update(app, &s.owner, &input, None).await.unwrap();
        let (_, thread) = ask(&s, "SMl1", "+15552220400", "What are your opening hours?").await;
        assert_eq!(decision_for(&s, thread[0].id).await.reason, "limit_reached", "{l}");
        assert!(prompts(&s.llm).await.is_empty(), "{l}: no call over the limit");

        // An opted-out contact gets nothing at all.
        let before = s.twilio_calls.load(Ordering::SeqCst);
        ask(&s, "SMo1", "+15552220500", "STOP").await;
        let sent_for_stop = s.twilio_calls.load(Ordering::SeqCst) - before;
        let (_, thread) = ask(&s, "SMo2", "+15552220500", "Can I talk to a human?").await;
        assert_eq!(decision_for(&s, thread.last().unwrap().id).await.reason, "opted_out", "{l}");
        assert_eq!(s.twilio_calls.load(Ordering::SeqCst) - before, sent_for_stop, "{l}: nothing more sent");
        assert!(last_out(&thread).is_none_or(|m| m.body != HANDOFF), "{l}");

        // Resolving a handed-off conversation resumes the assistant there.
        let done = ConversationPatch { status: Some(Status::Resolved), ..Default::default() };
        conversations::update(app, &s.owner, conv, &done, None).await.unwrap();
        assert_eq!(kith_store::ai_replies::paused_ms_read(app.db(), s.owner.org_id, conv).await.unwrap(), None);
    }
}

#[tokio::test]
async fn without_an_endpoint_only_a_clear_faq_match_is_sent() {
    for s in setups(AiMode::Auto, false).await {
        let l = s.t.label;
        let (_, thread) = ask(&s, "SMx1", "+15553330001", "what are your opening hours").await;
        let reply = last_out(&thread).expect("a reply");
        assert_eq!(reply.body, "We are open 9 to 5, Monday to Friday, and 10 to 2 on Saturday.", "{l}");
        assert_eq!(decision_for(&s, thread[0].id).await.reason, "faq_match", "{l}");

        let (_, thread) = ask(&s, "SMx2", "+15553330002", "hours for the holiday party bus booking").await;
        let d = decision_for(&s, thread[0].id).await;
        assert!(["low_confidence", "no_passages"].contains(&d.reason.as_str()), "{l}: {}", d.reason);
        assert_eq!(last_out(&thread).map(|m| m.body.as_str()), Some(HANDOFF), "{l}");
        assert!(prompts(&s.llm).await.is_empty(), "{l}: nothing sent to any model");
    }
}
