//! Grounded automatic replies (issue #5 §5): the `ai.reply` job that runs
//! for each inbound message in a channel whose AI mode is `auto` or
//! `suggest`.
//!
//! The job retrieves the knowledge passages that best match the message,
//! asks the workspace's model for an answer built only from them (each
//! used passage cited as `[n]`), and then either queues the reply (`auto`)
//! or keeps it as a draft for the agents (`suggest`). It hands the
//! conversation to a person — sending the workspace's handoff message and
//! pausing the assistant there — when the customer asks for a human, the
//! business is closed, retrieval finds nothing relevant, the model declines
//! or cites nothing, the endpoint fails, or a hard limit is reached.
//! Without an endpoint, the best FAQ answer is sent only above a confidence
//! threshold; otherwise it hands off.
//!
//! Must never: message a contact who opted out (the outbound rules refuse
//! it again when queueing), send more than `max_auto_replies` automatic
//! messages without a new customer message, answer the same inbound
//! message twice (one `ai_replies` row per inbound message, written in the
//! transaction that queues the reply), or put a private note or another
//! workspace's text in a prompt.

use super::{metering, retrieval, settings};
use crate::inbox::channels::AiMode;
use crate::inbox::outbound::{prepare_automated, queue_automated};
use crate::inbox::publish;
use crate::worker::{JobError, Registry};
use crate::{App, AppError, ErrorCode, Result};
use kith_domain::consent::Consent;
use kith_domain::new_id;
use kith_domain::time::now_ms;
use kith_infra::events::{CONVERSATION_UPDATED, MESSAGE_CREATED};
use kith_providers::llm::{ChatMessage, ChatRequest};
use kith_store::ai_replies::{self as rows, AiReplyRow};
use kith_store::inbox::{self as inbox_rows, ConversationRow, MessageRow};
use kith_store::jobs::ClaimedJob;
use kith_store::Tx;
use retrieval::Passage;
use serde::{Deserialize, Serialize};
use std::time::Instant;
use uuid::Uuid;

pub const JOB: &str = "ai.reply";
/// The metering feature name of automatic replies and suggestions.
pub const FEATURE_AUTO_REPLY: &str = "auto_reply";
pub const FEATURE_SUGGESTIONS: &str = "suggestions";
/// Passages put in a prompt.
const PASSAGES: usize = 4;
/// Recent messages of the conversation put in a prompt.
const TURNS: u32 = 10;
/// Below this confidence a passage is not relevant enough to ground an
/// answer at all (retrieval "found nothing relevant").
pub const RELEVANCE_FLOOR: f64 = 0.2;
/// The answer the model gives when the passages do not answer the message.
const DECLINE_WORD: &str = "HANDOFF";

pub fn register(r: &mut Registry) {
    r.register(JOB, run);
}

/// Queue the job for an inbound message (in the transaction that stored it).
pub(crate) async fn enqueue(tx: &mut Tx, org_id: Uuid, message_id: Uuid, now: i64) -> Result<()> {
    crate::worker::enqueue(tx, JOB, Some(org_id), &serde_json::json!({ "message_id": message_id }), now).await?;
    Ok(())
}

async fn run(app: App, job: ClaimedJob) -> std::result::Result<(), JobError> {
    let payload: serde_json::Value =
        serde_json::from_slice(&job.payload).map_err(|e| JobError::permanent(format!("{JOB}: {e}")))?;
    let id = payload["message_id"]
        .as_str()
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or_else(|| JobError::permanent(format!("{JOB}: no message_id")))?;
    let org_id = job.org_id.ok_or_else(|| JobError::permanent(format!("{JOB}: no workspace")))?;
    handle(&app, org_id, id).await.map(|_| ()).map_err(JobError::from)
}

/// What the assistant did about one inbound message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// `replied`, `suggested`, `handoff` or `skipped`.
    pub outcome: String,
    /// One of [`REASONS`].
    pub reason: String,
}

impl Decision {
    fn new(outcome: &str, reason: &str) -> Decision {
        Decision { outcome: outcome.into(), reason: reason.into() }
    }
}

/// Decide and act on one inbound message; a second run for the same
/// message returns the first decision and does nothing.
pub async fn handle(app: &App, org_id: Uuid, message_id: Uuid) -> Result<Decision> {
    let started = Instant::now();
    if let Some(done) = rows::by_inbound(app.db(), org_id, message_id).await? {
        return Ok(Decision { outcome: done.outcome, reason: done.reason });
    }
    let Some(msg) = inbox_rows::get_message(app.db(), org_id, message_id).await? else {
        return Err(AppError::NotFound);
    };
    let Some(conv) = inbox_rows::get_conversation(app.db(), org_id, msg.conversation_id).await? else {
        return Err(AppError::NotFound);
    };
    let Some(channel) = kith_store::channels::get(app.db(), org_id, conv.channel_id).await? else {
        return Ok(Decision::new("skipped", "channel_gone"));
    };
    let mode = AiMode::parse(&channel.ai_mode);
    if mode == AiMode::Off || msg.direction != "in" {
        return Ok(Decision::new("skipped", "mode_off"));
    }
    let auto = mode == AiMode::Auto;
    let mut ctx = Run { app, conv: &conv, channel_kind: &channel.kind, msg: &msg, auto, started, model_ms: 0 };
    let s = settings::load(app, org_id).await?;
    let feature_on = if auto { s.features.auto_reply } else { s.features.suggestions };
    if !feature_on {
        return ctx.skip("feature_off").await;
    }

    // Rules that need no text: a newer message is answered by its own job
    // (which sees this one in its turns), a paused or opted-out
    // conversation gets nothing, and the automatic streak is capped.
    let mut tx = app.db().begin().await?;
    let newest = rows::newest_inbound(&mut tx, conv.id).await?;
    let paused = rows::paused_ms(&mut tx, org_id, conv.id).await?;
    let consent = inbox_rows::current_consent_tx(&mut tx, org_id, conv.contact_id, &channel.kind).await?;
    let since = newest.map(|(_, at)| at).unwrap_or(msg.created_ms);
    let cap = i64::from(s.max_auto_replies);
    let streak = rows::automated_since(&mut tx, conv.id, since, cap).await?;
    tx.commit().await?;
    if newest.is_some_and(|(id, _)| id != msg.id) {
        return ctx.skip("superseded").await;
    }
    if paused.is_some() {
        return ctx.skip("paused").await;
    }
    if auto && consent.as_deref() == Some(Consent::OptOut.as_str()) {
        return ctx.skip("opted_out").await;
    }
    if auto && streak >= cap {
        return ctx.skip("streak").await;
    }

    let text = open_body(app, &msg).await?;
    if asks_for_human(&text) {
        return ctx.handoff(&s, "asked_for_human").await;
    }
    if auto && !s.is_open(now_ms()) {
        return ctx.handoff(&s, "closed_hours").await;
    }
    let passages = retrieval::retrieve(app, org_id, &text, PASSAGES).await?;
    let relevant: Vec<Passage> = passages.into_iter().filter(|p| p.confidence >= RELEVANCE_FLOOR).collect();
    if relevant.is_empty() {
        return ctx.handoff(&s, "no_passages").await;
    }

    if s.endpoint.is_none() {
        // The reduced form: an FAQ's answer as it stands, only when it clearly matches.
        let best = relevant.iter().find(|p| p.entry_kind == "faq" && p.confidence >= retrieval::FAQ_THRESHOLD);
        return match best {
            Some(p) => {
                let reply = p.text.trim().to_string();
                ctx.answer(reply, std::slice::from_ref(p), Some(p.confidence), None, "faq_match").await
            }
            None => ctx.handoff(&s, "low_confidence").await,
        };
    }

    let request = prompt(app, &conv, &relevant, &s).await?;
    let feature = if auto { FEATURE_AUTO_REPLY } else { FEATURE_SUGGESTIONS };
    let target = metering::CallTarget { conversation_id: Some(conv.id), record: None };
    let model_started = Instant::now();
    let outcome = metering::chat(app, org_id, feature, target, &s, request).await;
    ctx.model_ms = model_started.elapsed().as_millis() as i64;
    let outcome = match outcome {
        Ok(o) => o,
        Err(AppError::Ai(ErrorCode::AiLimitReached, _)) => return ctx.handoff(&s, "limit_reached").await,
        Err(AppError::Ai(ErrorCode::AiProviderFailed | ErrorCode::AiNotConfigured, m)) => {
            tracing::warn!(%org_id, conversation = %conv.id, error = %m, "auto-reply: the endpoint failed");
            return ctx.handoff(&s, "provider_failed").await;
        }
        Err(e) => return Err(e),
    };
    let (answer, cited) = cited_answer(&outcome.content, &relevant);
    let confidence = cited.iter().map(|p| p.confidence).fold(None, |m: Option<f64>, c| Some(m.map_or(c, |m| m.max(c))));
    match answer {
        Some(a) if !cited.is_empty() => ctx.answer(a, &cited, confidence, Some(outcome.call_id), "answered").await,
        _ => ctx.handoff(&s, "model_declined").await,
    }
}

/// The message a run is about, and what it needs to record its decision.
struct Run<'a> {
    app: &'a App,
    conv: &'a ConversationRow,
    channel_kind: &'a str,
    msg: &'a MessageRow,
    auto: bool,
    started: Instant,
    model_ms: i64,
}

impl Run<'_> {
    fn row(&self, outcome: &'static str, reason: &'static str) -> AiReplyRow {
        let total = self.started.elapsed().as_millis() as i64;
        AiReplyRow {
            id: new_id(),
            org_id: self.conv.org_id,
            conversation_id: self.conv.id,
            inbound_message_id: self.msg.id,
            mode: if self.auto { "auto" } else { "suggest" }.into(),
            outcome: outcome.into(),
            reason: reason.into(),
            reply_message_id: None,
            draft: None,
            citations: "[]".into(),
            confidence: None,
            call_id: None,
            overhead_ms: (total - self.model_ms).max(0),
            model_ms: self.model_ms,
            created_ms: now_ms(),
        }
    }

    async fn skip(&self, reason: &'static str) -> Result<Decision> {
        let mut tx = self.app.db().begin().await?;
        rows::insert(&mut tx, &self.row("skipped", reason)).await?;
        tx.commit().await?;
        Ok(Decision::new("skipped", reason))
    }

    /// Hand the conversation to a person: in `auto` mode the handoff
    /// message is sent and the assistant pauses there; in `suggest` mode
    /// the agents are already answering, so only the reason is kept.
    async fn handoff(&self, s: &settings::AiSettings, reason: &'static str) -> Result<Decision> {
        let mut row = self.row("handoff", reason);
        if !self.auto {
            let mut tx = self.app.db().begin().await?;
            rows::insert(&mut tx, &row).await?;
            tx.commit().await?;
            return Ok(Decision::new("handoff", reason));
        }
        let now = now_ms();
        let notice = prepare_automated(self.app, self.conv, &s.handoff_message, now).await?;
        let mut tx = self.app.db().begin().await?;
        // The checks come before any write, so a refusal leaves the transaction usable.
        let queued = match queue_automated(&mut tx, self.conv, self.channel_kind, &notice, now).await {
            Ok(()) => true,
            // The pause and the reason still stand; there is just no one to tell.
            Err(AppError::Conflict(ErrorCode::ContactOptedOut | ErrorCode::WhatsappWindowClosed, _)) => false,
            Err(e) => return Err(e),
        };
        row.reply_message_id = queued.then_some(notice.id);
        if !rows::insert(&mut tx, &row).await? {
            return Ok(Decision::new("handoff", reason));
        }
        rows::set_paused(&mut tx, self.conv.org_id, self.conv.id, Some(now)).await?;
        tx.commit().await?;
        if queued {
            publish(self.app, self.conv.org_id, MESSAGE_CREATED, self.conv.id, Some(notice.id));
        }
        publish(self.app, self.conv.org_id, CONVERSATION_UPDATED, self.conv.id, None);
        Ok(Decision::new("handoff", reason))
    }

    /// Send (auto) or keep as a draft (suggest) a grounded answer.
    async fn answer(
        &self,
        answer: String,
        cited: &[Passage],
        confidence: Option<f64>,
        call_id: Option<Uuid>,
        reason: &'static str,
    ) -> Result<Decision> {
        let citations: Vec<serde_json::Value> = cited
            .iter()
            .map(|p| serde_json::json!({"chunk_id": p.chunk_id, "entry_id": p.entry_id, "title": p.title}))
            .collect();
        let outcome = if self.auto { "replied" } else { "suggested" };
        let mut row = self.row(outcome, reason);
        row.citations = serde_json::Value::Array(citations).to_string();
        row.confidence = confidence;
        row.call_id = call_id;
        let org_id = self.conv.org_id;
        if !self.auto {
            let draft =
                self.app.keyring().seal(self.app.db(), org_id, "ai_replies", "draft", row.id, answer.as_bytes());
            row.draft = Some(draft.await?);
            let mut tx = self.app.db().begin().await?;
            rows::insert(&mut tx, &row).await?;
            tx.commit().await?;
            publish(self.app, org_id, CONVERSATION_UPDATED, self.conv.id, None);
            return Ok(Decision::new(outcome, reason));
        }
        let now = now_ms();
        let reply = prepare_automated(self.app, self.conv, &answer, now).await?;
        row.reply_message_id = Some(reply.id);
        let mut tx = self.app.db().begin().await?;
        match queue_automated(&mut tx, self.conv, self.channel_kind, &reply, now).await {
            Ok(()) => {}
            Err(AppError::Conflict(code @ (ErrorCode::ContactOptedOut | ErrorCode::WhatsappWindowClosed), _)) => {
                drop(tx);
                let why = if code == ErrorCode::ContactOptedOut { "opted_out" } else { "window_closed" };
                return self.skip(why).await;
            }
            Err(e) => return Err(e),
        }
        if !rows::insert(&mut tx, &row).await? {
            return Ok(Decision::new(outcome, reason));
        }
        tx.commit().await?;
        publish(self.app, org_id, MESSAGE_CREATED, self.conv.id, Some(reply.id));
        Ok(Decision::new(outcome, reason))
    }
}

async fn open_body(app: &App, m: &MessageRow) -> Result<String> {
    let bytes = app.keyring().open(app.db(), m.org_id, "messages", "body", m.id, &m.body).await?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The chat request: instructions and numbered passages, then the
/// conversation's recent customer and outbound messages (never notes).
async fn prompt(
    app: &App,
    conv: &ConversationRow,
    passages: &[Passage],
    s: &settings::AiSettings,
) -> Result<ChatRequest> {
    let workspace = kith_store::workspaces::get(app.db(), conv.org_id).await?.map(|w| w.name).unwrap_or_default();
    let mut system = format!(
        "You answer customers of {workspace} on their behalf. Answer the customer's last message using only the \
         numbered passages below. Cite each passage you use as [n]. If the passages do not answer it, or the \
         customer wants a person, reply with exactly {DECLINE_WORD}. Be brief and friendly, plain text, in the \
         customer's language.\n\nPassages:"
    );
    for (i, p) in passages.iter().enumerate() {
        system.push_str(&format!("\n\n[{}] {}\n{}", i + 1, p.title, p.text));
    }
    let page = kith_domain::page::PageRequest { limit: TURNS, after: None };
    let recent = inbox_rows::list_messages(app.db(), conv.org_id, conv.id, false, &page).await?;
    let mut messages = vec![ChatMessage::system(system)];
    for m in recent.items.iter().rev().filter(|m| m.kind == "message") {
        let text = open_body(app, m).await?;
        messages.push(if m.direction == "in" { ChatMessage::user(text) } else { ChatMessage::assistant(text) });
    }
    Ok(ChatRequest::new(s.chat_model().unwrap_or_default(), messages))
}

/// The model's answer without its `[n]` markers, and the passages it cited.
/// `None` when it declined (the decline word, or nothing left).
fn cited_answer(content: &str, passages: &[Passage]) -> (Option<String>, Vec<Passage>) {
    let trimmed = content.trim();
    if trimmed.is_empty() || trimmed.trim_matches(|c: char| !c.is_alphanumeric()) == DECLINE_WORD {
        return (None, vec![]);
    }
    let mut cited: Vec<usize> = Vec::new();
    let mut out = String::with_capacity(trimmed.len());
    let mut rest = trimmed;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after.find(']');
        let inner = close.map(|c| &after[..c]);
        let numbers: Option<Vec<usize>> =
            inner.and_then(|s| s.split(',').map(|n| n.trim().parse::<usize>().ok()).collect::<Option<Vec<_>>>());
        match (close, numbers) {
            (Some(c), Some(ns)) if !ns.is_empty() && ns.iter().all(|n| (1..=passages.len()).contains(n)) => {
                for n in ns {
                    if !cited.contains(&n) {
                        cited.push(n);
                    }
                }
                rest = &after[c + 1..];
            }
            _ => {
                out.push('[');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    let text = tidy_spaces(&out);
    if text.is_empty() || text.contains(DECLINE_WORD) {
        return (None, vec![]);
    }
    (Some(text), cited.into_iter().map(|n| passages[n - 1].clone()).collect())
}

/// Collapse the spaces that removed markers leave behind (" ." → ".").
fn tidy_spaces(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for line in s.lines() {
        let words: Vec<&str> = line.split(' ').filter(|w| !w.is_empty()).collect();
        let mut l = words.join(" ");
        for p in [" .", " ,", " !", " ?", " ;", " :"] {
            l = l.replace(p, &p[1..]);
        }
        out.push_str(&l);
        out.push('\n');
    }
    out.trim().to_string()
}

/// Whether the customer asks for a person rather than the assistant.
pub fn asks_for_human(text: &str) -> bool {
    let t: String =
        text.to_lowercase().chars().map(|c| if c.is_alphanumeric() || c == '\'' { c } else { ' ' }).collect();
    let words: Vec<&str> = t.split_whitespace().collect();
    let joined = format!(" {} ", words.join(" "));
    const WORDS: [&str; 6] = ["human", "humans", "representative", "operator", "agent", "agents"];
    const PHRASES: [&str; 12] = [
        " real person ",
        " a person ",
        " live person ",
        " actual person ",
        " talk to someone ",
        " speak to someone ",
        " speak with someone ",
        " talk with someone ",
        " customer service ",
        " staff member ",
        " not a bot ",
        " stop the bot ",
    ];
    words.iter().any(|w| WORDS.contains(w)) || PHRASES.iter().any(|p| joined.contains(p))
}

/// Every reason a decision can give.
pub const REASONS: [&str; 17] = [
    "answered",
    "faq_match",
    "no_passages",
    "low_confidence",
    "model_declined",
    "asked_for_human",
    "closed_hours",
    "limit_reached",
    "provider_failed",
    "opted_out",
    "window_closed",
    "streak",
    "paused",
    "feature_off",
    "superseded",
    "mode_off",
    "channel_gone",
];

/// A passage an answer cites.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Citation {
    pub chunk_id: Uuid,
    pub entry_id: Uuid,
    pub title: String,
}

/// The assistant's draft answer to the customer's latest message, for the agents.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Suggestion {
    pub inbound_message_id: Uuid,
    pub text: String,
    pub citations: Vec<Citation>,
    pub created_at_ms: i64,
}

/// What the assistant did last in a conversation and whether it is paused.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AiStatus {
    /// The channel's AI mode: `off`, `suggest` or `auto`.
    pub mode: String,
    /// An agent may ask for a suggested reply (the `suggestions` feature is on).
    pub can_suggest: bool,
    /// Set after a handoff: no automatic replies until resumed or resolved.
    pub paused_at_ms: Option<i64>,
    /// The latest decision: `replied`, `suggested`, `handoff` or `skipped`.
    pub last_outcome: Option<String>,
    /// Why (one of the reasons in docs/ai.md).
    pub last_reason: Option<String>,
    pub suggestion: Option<Suggestion>,
}

/// The latest suggestion in a conversation, if the latest decision was one.
pub async fn draft(app: &App, ctx: &kith_domain::Context, conversation_id: Uuid) -> Result<Option<Suggestion>> {
    Ok(status(app, ctx, conversation_id).await?.suggestion)
}

pub async fn status(app: &App, ctx: &kith_domain::Context, conversation_id: Uuid) -> Result<AiStatus> {
    let conv = crate::inbox::conversations::visible(app, ctx, conversation_id).await?;
    let paused_at_ms = rows::paused_ms_read(app.db(), ctx.org_id, conv.id).await?;
    let channel = kith_store::channels::get(app.db(), ctx.org_id, conv.channel_id).await?;
    let mode = channel.map(|c| c.ai_mode).unwrap_or_else(|| "off".into());
    let can_suggest = settings::switches(app, ctx.org_id).await?.features.suggestions;
    let last = rows::recent(app.db(), ctx.org_id, conv.id, 1).await?.pop();
    let suggestion = match &last {
        Some(r) if r.outcome == "suggested" => match &r.draft {
            Some(sealed) => {
                let text = app.keyring().open(app.db(), ctx.org_id, "ai_replies", "draft", r.id, sealed).await?;
                Some(Suggestion {
                    inbound_message_id: r.inbound_message_id,
                    text: String::from_utf8_lossy(&text).into_owned(),
                    citations: serde_json::from_str(&r.citations).unwrap_or_default(),
                    created_at_ms: r.created_ms,
                })
            }
            None => None,
        },
        _ => None,
    };
    Ok(AiStatus {
        mode,
        can_suggest,
        paused_at_ms,
        last_outcome: last.as_ref().map(|r| r.outcome.clone()),
        last_reason: last.map(|r| r.reason),
        suggestion,
    })
}

/// A suggestion an agent asked for (the `suggestions` feature, started by
/// a member): the model's answer as it streams, the reduced form's FAQ
/// answer, or why there is none.
pub enum OnDemand {
    /// Read the text with `stream.next()`; the passages are numbered as in
    /// the prompt (`[1]` is the first). [`finish_suggestion`] cleans the
    /// whole text of its markers once it has ended.
    Model { stream: Box<metering::MeteredStream>, passages: Vec<Passage> },
    /// No endpoint: the best FAQ answer, above the threshold.
    Faq { text: String, passage: Passage },
    /// Nothing to suggest, and why (`no_message`, `no_passages`, `low_confidence`).
    Nothing { reason: &'static str },
}

/// Start a suggested reply to the customer's latest message.
pub async fn suggest(app: &App, ctx: &kith_domain::Context, conversation_id: Uuid) -> Result<OnDemand> {
    if !ctx.can(kith_domain::role::Action::WriteRecords) {
        return Err(AppError::Forbidden);
    }
    let view = crate::inbox::conversations::visible(app, ctx, conversation_id).await?;
    let s = settings::load(app, ctx.org_id).await?;
    s.require(FEATURE_SUGGESTIONS)?;
    let Some(conv) = inbox_rows::get_conversation(app.db(), ctx.org_id, view.id).await? else {
        return Err(AppError::NotFound);
    };
    let mut tx = app.db().begin().await?;
    let newest = rows::newest_inbound(&mut tx, conv.id).await?;
    tx.commit().await?;
    let Some((message_id, _)) = newest else { return Ok(OnDemand::Nothing { reason: "no_message" }) };
    let Some(msg) = inbox_rows::get_message(app.db(), ctx.org_id, message_id).await? else {
        return Ok(OnDemand::Nothing { reason: "no_message" });
    };
    let text = open_body(app, &msg).await?;
    let passages = retrieval::retrieve(app, ctx.org_id, &text, PASSAGES).await?;
    let relevant: Vec<Passage> = passages.into_iter().filter(|p| p.confidence >= RELEVANCE_FLOOR).collect();
    if relevant.is_empty() {
        return Ok(OnDemand::Nothing { reason: "no_passages" });
    }
    if s.endpoint.is_none() {
        return Ok(
            match relevant.into_iter().find(|p| p.entry_kind == "faq" && p.confidence >= retrieval::FAQ_THRESHOLD) {
                Some(p) => OnDemand::Faq { text: p.text.trim().to_string(), passage: p },
                None => OnDemand::Nothing { reason: "low_confidence" },
            },
        );
    }
    let request = prompt(app, &conv, &relevant, &s).await?;
    let target = metering::CallTarget { conversation_id: Some(conv.id), record: None };
    let stream = metering::chat_stream(app, ctx.org_id, FEATURE_SUGGESTIONS, target, &s, request).await?;
    Ok(OnDemand::Model { stream: Box::new(stream), passages: relevant })
}

/// A streamed suggestion's whole text without its markers, and what it
/// cites; `None` when the model declined.
pub fn finish_suggestion(text: &str, passages: &[Passage]) -> (Option<String>, Vec<Citation>) {
    let (answer, cited) = cited_answer(text, passages);
    let citations =
        cited.into_iter().map(|p| Citation { chunk_id: p.chunk_id, entry_id: p.entry_id, title: p.title }).collect();
    (answer, citations)
}

/// The passages the assistant's messages among `message_ids` cite, by message.
pub async fn citations_of(
    app: &App,
    ctx: &kith_domain::Context,
    message_ids: &[Uuid],
) -> Result<std::collections::HashMap<Uuid, Vec<Citation>>> {
    let rows = rows::by_reply_messages(app.db(), ctx.org_id, message_ids).await?;
    Ok(rows
        .into_iter()
        .filter(|r| r.outcome == "replied")
        .filter_map(|r| Some((r.reply_message_id?, serde_json::from_str(&r.citations).unwrap_or_default())))
        .collect())
}

/// Resume the assistant in a conversation it handed off.
pub async fn resume(app: &App, ctx: &kith_domain::Context, conversation_id: Uuid) -> Result<()> {
    if !ctx.can(kith_domain::role::Action::WriteRecords) {
        return Err(AppError::Forbidden);
    }
    let conv = crate::inbox::conversations::visible(app, ctx, conversation_id).await?;
    let mut tx = app.db().begin().await?;
    rows::set_paused(&mut tx, ctx.org_id, conv.id, None).await?;
    tx.commit().await?;
    publish(app, ctx.org_id, CONVERSATION_UPDATED, conv.id, None);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passage(n: u8, kind: &str, confidence: f64) -> Passage {
        Passage {
            chunk_id: Uuid::from_bytes([n; 16]),
            entry_id: Uuid::from_bytes([n; 16]),
            entry_kind: kind.into(),
            title: format!("title {n}"),
            text: format!("text {n}"),
            rank: n as usize,
            confidence,
        }
    }

    #[test]
    fn citations_are_collected_and_removed_from_the_text() {
        let ps = [passage(1, "faq", 0.9), passage(2, "text", 0.5), passage(3, "text", 0.4)];
        let (text, cited) = cited_answer("We open at 9 [1]. Parking is free [3, 1].", &ps);
        assert_eq!(text.as_deref(), Some("We open at 9. Parking is free."));
        assert_eq!(cited.iter().map(|p| p.title.as_str()).collect::<Vec<_>>(), ["title 1", "title 3"]);
        // A bracket that is not a citation stays; an out-of-range number is not a citation.
        let (text, cited) = cited_answer("Use code [SPRING] or see [9].", &ps);
        assert_eq!(text.as_deref(), Some("Use code [SPRING] or see [9]."));
        assert!(cited.is_empty());
    }

    #[test]
    fn the_decline_word_is_a_decline() {
        let ps = [passage(1, "faq", 0.9)];
        assert_eq!(cited_answer("HANDOFF", &ps).0, None);
        assert_eq!(cited_answer("  HANDOFF.\n", &ps).0, None);
        assert_eq!(cited_answer("I am not sure. HANDOFF [1]", &ps).0, None);
        assert_eq!(cited_answer("", &ps).0, None);
    }

    #[test]
    fn requests_for_a_person_are_recognised() {
        for t in ["Can I talk to a human?", "AGENT please", "I want a real person!", "customer service pls"] {
            assert!(asks_for_human(t), "{t}");
        }
        for t in ["What are your opening hours?", "Is the personal plan cheaper?", "my agenda is full"] {
            assert!(!asks_for_human(t), "{t}");
        }
    }
}
