//! Messages of a conversation: reading them (bodies opened), replying, and
//! the `inbox.send` job that hands a queued reply to the provider.
//!
//! A reply is stored `queued` with its send job in one transaction, after the
//! consent ledger is read in that same transaction: nothing is queued for a
//! contact who opted out (promise 10), and the job checks again before it
//! calls the provider. Provider answers map to retries: rate limited → again
//! after the provider's delay, transient → backoff, permanent → `failed` with
//! the provider's code.

use super::channels::open_config;
use super::process::{advance, apply_pending, lock_message};
use super::{conversations, outbound, publish, ratelimit, SEND_JOB};
use crate::worker::JobError;
use crate::{App, AppError, Result};
use kith_domain::consent::Consent;
use kith_domain::page::{Page, PageRequest};
use kith_domain::time::now_ms;
use kith_domain::{new_id, Context};
use kith_infra::events::MESSAGE_UPDATED;
use kith_providers::{MediaRef, SendError, Sent};
use kith_store::inbox::{self as rows, MessageRow};
use kith_store::jobs::ClaimedJob;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const MAX_BODY_CHARS: usize = 4096;
/// How many times a send may be put off because the provider throttled it.
const MAX_DEFERRALS: i64 = 50;
/// Twilio's error for a recipient who opted out of this sender (protocols.md §1.3, §1.8).
const TWILIO_OPTED_OUT: &str = "21610";

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Media {
    pub url: Option<String>,
    pub provider_media_id: Option<String>,
    pub content_type: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Message {
    pub id: Uuid,
    pub conversation_id: Uuid,
    /// `in` (from the contact) or `out` (from the team).
    pub direction: String,
    /// `message`, or `note` (private to the team, never sent).
    pub kind: String,
    pub body: String,
    pub media: Vec<Media>,
    /// Members mentioned in a note.
    pub mentions: Vec<Uuid>,
    /// The member who wrote it; null for the contact's messages and automatic replies.
    pub author_user_id: Option<Uuid>,
    /// `received` (inbound), or `queued`, `sent`, `delivered`, `read`, `failed`.
    pub state: String,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub created_at_ms: i64,
    pub sent_at_ms: Option<i64>,
    /// A queued message held by quiet hours goes out at this time.
    pub hold_until_ms: Option<i64>,
    /// Files sent or received with the message (`GET /api/v1/attachments/{id}`).
    pub attachments: Vec<super::attachments::Attachment>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMessage {
    pub body: String,
}

/// A message with its body and media opened.
pub(crate) async fn open(app: &App, r: MessageRow) -> Result<Message> {
    let body = app.keyring().open(app.db(), r.org_id, "messages", "body", r.id, &r.body).await?;
    let media: Vec<MediaRef> = match &r.media {
        Some(sealed) => {
            let json = app.keyring().open(app.db(), r.org_id, "messages", "media", r.id, sealed).await?;
            serde_json::from_slice(&json).unwrap_or_default()
        }
        None => vec![],
    };
    // Only a queued outbound message can be held.
    let hold_until_ms = if r.direction == "out" && r.state == "queued" {
        kith_store::outbound::get_outbound(app.db(), r.org_id, r.id).await?.and_then(|d| d.hold_until_ms)
    } else {
        None
    };
    let attachments = super::attachments::for_messages(app, r.org_id, &[r.id]).await?.remove(&r.id).unwrap_or_default();
    Ok(Message {
        attachments,
        hold_until_ms,
        id: r.id,
        conversation_id: r.conversation_id,
        direction: r.direction,
        kind: r.kind,
        body: String::from_utf8_lossy(&body).into_owned(),
        media: media
            .into_iter()
            .map(|m| Media { url: m.url, provider_media_id: m.provider_media_id, content_type: m.content_type })
            .collect(),
        mentions: serde_json::from_str(&r.mentions).unwrap_or_default(),
        author_user_id: r.author_user_id,
        state: r.state,
        error_code: r.error_code,
        error_message: r.error_message,
        created_at_ms: r.created_ms,
        sent_at_ms: r.sent_ms,
    })
}

/// A page of a conversation's messages and notes: newest first, or oldest
/// first when `ascending`.
pub async fn list(
    app: &App,
    ctx: &Context,
    conversation_id: Uuid,
    ascending: bool,
    page: &PageRequest,
) -> Result<Page<Message>> {
    conversations::visible(app, ctx, conversation_id).await?;
    let rows = rows::list_messages(app.db(), ctx.org_id, conversation_id, ascending, page).await?;
    let mut items = Vec::with_capacity(rows.items.len());
    for r in rows.items {
        items.push(open(app, r).await?);
    }
    Ok(Page { items, next: rows.next })
}

/// Timeline previews: the first characters of each message the viewer may
/// see (the timeline already checked the contact).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MessagePreview {
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub direction: String,
    pub state: String,
    pub preview: String,
}

pub(crate) async fn previews(app: &App, ctx: &Context, ids: &[Uuid]) -> Result<Vec<MessagePreview>> {
    let mut out = Vec::new();
    for r in rows::get_messages(app.db(), ctx.org_id, ids).await? {
        let body = app.keyring().open(app.db(), r.org_id, "messages", "body", r.id, &r.body).await?;
        out.push(MessagePreview {
            id: r.id,
            conversation_id: r.conversation_id,
            direction: r.direction,
            state: r.state,
            preview: super::preview(&String::from_utf8_lossy(&body), 140),
        });
    }
    Ok(out)
}

pub(crate) fn check_body(body: &str) -> Result<String> {
    let t = body.trim();
    if t.is_empty() {
        return Err(AppError::field("body", "must not be empty"));
    }
    if t.chars().count() > MAX_BODY_CHARS {
        return Err(AppError::field("body", format!("must be at most {MAX_BODY_CHARS} characters")));
    }
    Ok(t.to_string())
}

/// Reply in a conversation: stored `queued`, sent by a job. Refused with
/// `contact_opted_out` (nothing stored) when the contact opted out on this
/// kind of channel. Canned responses, WhatsApp templates and automated
/// sends: [`super::outbound::send`].
pub async fn send(app: &App, ctx: &Context, conversation_id: Uuid, input: &NewMessage) -> Result<Message> {
    super::outbound::send(app, ctx, conversation_id, &super::outbound::OutboundMessage::text(input.body.clone())).await
}

pub(crate) async fn run_send(app: App, job: ClaimedJob) -> std::result::Result<(), JobError> {
    let payload: serde_json::Value =
        serde_json::from_slice(&job.payload).map_err(|e| JobError::permanent(format!("{SEND_JOB}: {e}")))?;
    let id = payload["message_id"]
        .as_str()
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or_else(|| JobError::permanent(format!("{SEND_JOB}: no message_id")))?;
    let org_id = job.org_id.ok_or_else(|| JobError::permanent(format!("{SEND_JOB}: no workspace")))?;
    let exempt = payload["consent_exempt"].as_bool().unwrap_or(false);
    let last_attempt = job.attempts >= job.max_attempts;
    match send_now(&app, org_id, id, exempt, last_attempt).await {
        Ok(Outcome::Done) => Ok(()),
        Ok(Outcome::Retry(transient)) => Err(JobError::from(transient)),
        Ok(Outcome::Defer(at)) => Err(JobError::defer(at)),
        Err(e) => Err(e.into()),
    }
}

/// What the send job does next.
enum Outcome {
    /// Sent, or failed for good.
    Done,
    /// A transient failure: retry with backoff (an attempt).
    Retry(String),
    /// Not yet (a rate-limit slot, quiet hours, a provider's 429): run
    /// again then, without spending an attempt.
    Defer(i64),
}

/// Mark a queued message failed for good.
async fn fail(app: &App, m: &MessageRow, code: &str, message: &str) -> Result<()> {
    fail_with(app, m, code, message, None).await
}

/// Mark a queued message failed for good; with `opt_out` (contact and
/// channel kind), the provider's refusal also records an opt-out in the
/// consent ledger in the same transaction (source `provider`).
async fn fail_with(app: &App, m: &MessageRow, code: &str, message: &str, opt_out: Option<(Uuid, &str)>) -> Result<()> {
    let now = now_ms();
    let mut tx = app.db().begin().await?;
    let changed = advance(&mut tx, m, "failed", Some(code), Some(message), now).await?;
    if let Some((contact_id, kind)) = opt_out {
        let current = rows::current_consent_tx(&mut tx, m.org_id, contact_id, kind).await?;
        if current.as_deref() != Some(Consent::OptOut.as_str()) {
            let entry = rows::ConsentRow {
                id: new_id(),
                org_id: m.org_id,
                contact_id,
                channel_kind: kind.to_string(),
                channel_id: Some(m.channel_id),
                kind: Consent::OptOut.as_str().into(),
                source: "provider".into(),
                message_id: Some(m.id),
                actor_id: None,
                at_ms: now,
            };
            rows::insert_consent(&mut tx, &entry).await?;
        }
    }
    tx.commit().await?;
    if changed {
        publish(app, m.org_id, MESSAGE_UPDATED, m.conversation_id, Some(m.id));
    }
    Ok(())
}

async fn send_now(app: &App, org_id: Uuid, id: Uuid, exempt: bool, last_attempt: bool) -> Result<Outcome> {
    // One read for all of it: see `SendContext`.
    let Some(sending) = kith_store::outbound::send_context(app.db(), org_id, id).await? else {
        return Ok(Outcome::Done);
    };
    let m = sending.message;
    if m.state != "queued" || m.provider_message_id.is_some() {
        return Ok(Outcome::Done); // already handed over (a replayed job)
    }
    let Some(conv) = sending.conversation else { return Ok(Outcome::Done) };
    let Some(channel) = sending.channel.filter(|c| c.deleted_ms.is_none()) else {
        fail(app, &m, "channel_disconnected", "the channel was disconnected before the message was sent").await?;
        return Ok(Outcome::Done);
    };
    if !exempt && sending.consent.as_deref() == Some(Consent::OptOut.as_str()) {
        fail(app, &m, "contact_opted_out", "the contact opted out before the message was sent").await?;
        return Ok(Outcome::Done);
    }
    let details = sending.outbound;
    let origin = details.as_ref().map(|d| outbound::Origin::parse(&d.origin)).unwrap_or_default();
    let now = now_ms();
    let files = if sending.has_files { super::attachments::outbound_files(app, org_id, m.id).await? } else { vec![] };
    // Quiet hours: checked again now (the contact may have written
    // meanwhile) — unless some of the message's files went already (its job
    // was deferred between two calls): the rest follows, rather than half a
    // message overnight.
    let started = files.iter().any(|f| f.sent_as.is_some());
    let hold = match started {
        true => None,
        false => outbound::quiet_hold(app, org_id, channel.id, conv.contact_id, &conv.peer, origin, now).await?,
    };
    if let Some(until) = hold {
        let mut tx = app.db().begin().await?;
        kith_store::outbound::set_schedule(&mut tx, org_id, m.id, None, Some(until)).await?;
        tx.commit().await?;
        return Ok(Outcome::Defer(until));
    }
    let config = open_config(app, org_id, channel.id, channel.config.as_deref()).await?;
    let template = match &details {
        Some(d) => outbound::open_template(app, org_id, d).await?,
        None => None,
    };
    let body = app.keyring().open(app.db(), org_id, "messages", "body", m.id, &m.body).await?;
    let body = String::from_utf8_lossy(&body).into_owned();
    let text = |k: &str| config.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
    let media_urls: Vec<String> = files.iter().map(|f| f.url.clone()).collect();
    let first_file = files.first().map(|f| kith_providers::meta::OutboundMedia {
        link: &f.url,
        content_type: &f.content_type,
        file_name: &f.name,
        caption: &body,
    });
    // The sender's rate-limit slot, claimed in a transaction right before
    // the call, so that the provider sees the calls spaced as the slots are.
    let limits = ratelimit::for_channel(&channel.kind, &config);
    let mut reserved = details
        .as_ref()
        .and_then(|d| d.slot_ms.map(|slot_ms| ratelimit::Reservation { slot_ms, shift_ms: d.slot_shift_ms }));
    let (inbox, to) = (app.inbox(), conv.peer.as_str());
    let pacing = outbound::Pacing { message_id: m.id, contact_id: conv.contact_id, peer: to, exempt, limits: &limits };
    let message = &m;
    let not_now = |stop: outbound::NotNow, what: &'static str| async move {
        match stop {
            outbound::NotNow::Defer(at) => Ok(Outcome::Defer(at)),
            outbound::NotNow::OptedOut => {
                fail(app, message, "contact_opted_out", what).await?;
                Ok(Outcome::Done)
            }
        }
    };
    let result = loop {
        if let Err(stop) = outbound::take_slot(app, org_id, &channel, &pacing, reserved).await? {
            return not_now(stop, "the contact opted out before the message was sent").await;
        }
        let result: std::result::Result<Sent, SendError> = match channel.kind.as_str() {
            "twilio_sms" => {
                let sender = match config.get("from").and_then(|v| v.as_str()) {
                    Some(from) => kith_providers::twilio::TwilioSender::From(from.into()),
                    None => kith_providers::twilio::TwilioSender::MessagingServiceSid(text("messaging_service_sid")),
                };
                let callback =
                    format!("{}{}", app.settings().public_url, super::channels::hook_path("twilio_sms", channel.id));
                inbox
                    .twilio()
                    .send_sms(
                        &text("account_sid"),
                        &text("auth_token"),
                        &sender,
                        to,
                        &body,
                        &media_urls,
                        Some(&callback),
                    )
                    .await
            }
            "whatsapp" => {
                let to = to.trim_start_matches('+');
                let (number, token) = (text("phone_number_id"), text("access_token"));
                match &template {
                    Some(t) => {
                        inbox
                            .meta()
                            .send_whatsapp_template(&number, &token, to, &t.name, &t.language, &t.variables)
                            .await
                    }
                    None => match &first_file {
                        Some(f) => inbox.meta().send_whatsapp_media(&number, &token, to, f).await,
                        None => inbox.meta().send_whatsapp_text(&number, &token, to, &body).await,
                    },
                }
            }
            kind if !files.is_empty() && super::attachments::one_file_per_message(kind) => {
                // Several calls: each after the first claims a slot of its own.
                match outbound::send_file_by_file(app, org_id, &channel, &config, &pacing, &body, &files).await? {
                    outbound::FileByFile::Done(result) => result,
                    outbound::FileByFile::NotNow(stop) => {
                        return not_now(stop, "the contact opted out before the whole message was sent").await
                    }
                }
            }
            "messenger" => {
                inbox.meta().send_messenger_text(&text("page_id"), &text("page_access_token"), to, &body).await
            }
            "instagram" => {
                let node = config
                    .get("page_id")
                    .and_then(|v| v.as_str())
                    .map(str::to_string)
                    .unwrap_or(text("instagram_account_id"));
                inbox.meta().send_instagram_text(&node, &text("page_access_token"), to, &body).await
            }
            "telegram" => match &first_file {
                Some(f) => inbox.telegram().send_media(&text("bot_token"), to, f).await,
                None => inbox.telegram().send_message(&text("bot_token"), to, &body).await,
            },
            "viber" => {
                let name = config.get("sender_name").and_then(|v| v.as_str()).unwrap_or(&channel.name).to_string();
                inbox.viber().send_message(&text("auth_token"), to, &name, &body).await
            }
            "email" => super::email::send(app, &channel, &config, &conv, &m, &body).await,
            other => Err(SendError::Permanent {
                code: "unsupported_channel".into(),
                message: format!("sending on {other} channels is not available yet"),
            }),
        };
        // The provider's word wins over our slots: a send it refused for too
        // many requests goes again at the sender's next slot (or at the time
        // the provider names), with the waiting line moved back behind it;
        // waiting spends no attempt (up to a bound). That slot is one
        // interval away as a rule: the send waits for it here, keeping its
        // seat free, instead of going back through the queue, where it came
        // back late and every send behind it slipped with it.
        let Err(SendError::RateLimited { retry_after_ms }) = result else { break result };
        let refused_at = now_ms();
        let until = refused_at + retry_after_ms.map_or(0, |ms| ms.clamp(100, 3_600_000));
        let (slot, throttled) = ratelimit::push_back(app, org_id, channel.id, m.id, &limits, until, refused_at).await?;
        if throttled > MAX_DEFERRALS {
            if last_attempt {
                fail(app, &m, "retries_exhausted", "the provider kept refusing for too many requests").await?;
                return Ok(Outcome::Done);
            }
            return Ok(Outcome::Retry("rate limited by the provider".into()));
        }
        // `take_slot` waits for it (or defers the job to it) and checks
        // consent again.
        reserved = Some(slot);
    };
    match result {
        Ok(sent) => {
            let now = now_ms();
            let mut tx = app.db().begin().await?;
            lock_message(&mut tx, org_id, channel.id, &sent.provider_message_id).await?;
            // A message whose state moved on meanwhile still records the
            // provider's id (its status callbacks find it by that).
            if !rows::set_sent(&mut tx, m.id, &sent.provider_message_id, now).await? {
                rows::set_provider_message_id(&mut tx, m.id, &sent.provider_message_id).await?;
            }
            let sent_row = MessageRow { state: "sent".into(), ..m.clone() };
            apply_pending(&mut tx, &sent_row, &sent.provider_message_id, now).await?;
            tx.commit().await?;
            publish(app, org_id, MESSAGE_UPDATED, m.conversation_id, Some(m.id));
            Ok(Outcome::Done)
        }
        Err(SendError::Permanent { code, message }) => {
            tracing::info!(message_id = %m.id, kind = %channel.kind, code = %code, "provider refused a message");
            // Twilio 21610: the recipient replied STOP to this sender; record
            // it so that nothing more is queued (promise 10).
            let opted_out = channel.kind == "twilio_sms" && code == TWILIO_OPTED_OUT;
            let opt_out = opted_out.then_some((conv.contact_id, channel.kind.as_str()));
            fail_with(app, &m, &code, &message, opt_out).await?;
            Ok(Outcome::Done)
        }
        Err(e) => {
            if last_attempt {
                fail(app, &m, "retries_exhausted", &e.to_string()).await?;
                return Ok(Outcome::Done);
            }
            if reserved.is_some() {
                // The slot was spent on this call: the retry lines up anew
                // rather than claiming it again ahead of the sends waiting.
                let mut tx = app.db().begin().await?;
                kith_store::outbound::set_schedule(&mut tx, org_id, m.id, None, None).await?;
                tx.commit().await?;
            }
            Ok(Outcome::Retry(e.to_string()))
        }
    }
}
