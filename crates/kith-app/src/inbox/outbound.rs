//! The outbound half of the inbox beyond a plain reply (issue #4 §4, §5,
//! §8): replies from canned responses, WhatsApp templates and the 24-hour
//! customer-service window, quiet hours for automated and bulk first
//! messages, failed sends that an admin can see and retry, and each
//! channel's send health.
//!
//! Quiet hours (`kith_domain::quiet_hours`) hold a message whose origin is
//! `automated` or `bulk` unless the contact wrote on that channel within
//! the last 24 hours (a reply is exempt); `manual` messages — an agent
//! answering — are never held. A held message stays `queued` with
//! `hold_until_ms` and its job waits for that time (checked again when it
//! runs: the contact may have written meanwhile).

use super::messages::{check_body, open, Message};
use super::process::message_entry;
use super::{conversations, publish, SEND_JOB};
use crate::crm::timeline;
use crate::{App, AppError, ErrorCode, Result};
use kith_domain::consent::Consent;
use kith_domain::page::{Page, PageRequest};
use kith_domain::quiet_hours::{self, Window};
use kith_domain::role::Action;
use kith_domain::time::now_ms;
use kith_domain::{new_id, Context};
use kith_infra::events::{MESSAGE_CREATED, MESSAGE_UPDATED};
use kith_store::channels::ChannelRow;
use kith_store::inbox::{self as inbox_rows, MessageRow};
use kith_store::outbound::{self as rows, OutboundRow};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// WhatsApp's customer-service window (protocols.md §2.2, §2.7): free-form
/// messages only within 24 hours of the customer's last message.
pub const SERVICE_WINDOW_MS: i64 = 24 * 3_600_000;
/// Replies within this long of the contact's last message are exempt from
/// quiet hours.
pub const REPLY_WINDOW_MS: i64 = 24 * 3_600_000;
const TEMPLATE_TABLE: &str = "outbound_messages";
const MAX_TEMPLATE_VARIABLES: usize = 20;
const MAX_VARIABLE_CHARS: usize = 1024;

/// Who or what sends a message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// An agent writing (never held by quiet hours).
    #[default]
    Manual,
    /// Sent by an automation or an integration on its own.
    Automated,
    /// Part of a bulk send to many contacts.
    Bulk,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Manual => "manual",
            Origin::Automated => "automated",
            Origin::Bulk => "bulk",
        }
    }

    pub fn parse(s: &str) -> Origin {
        match s {
            "automated" => Origin::Automated,
            "bulk" => Origin::Bulk,
            _ => Origin::Manual,
        }
    }
}

/// A WhatsApp message template approved in the business's WhatsApp
/// manager: its name, language and the values of its body's `{{1}}`,
/// `{{2}}`… in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateInput {
    pub name: String,
    /// A language code such as `en_US`.
    pub language: String,
    #[serde(default)]
    pub variables: Vec<String>,
}

/// A message to send: exactly one of `body`, `canned_response_id` or
/// `template` (WhatsApp channels only). `body` may be empty when
/// `attachment_ids` names files (files alone).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OutboundMessage {
    #[serde(default)]
    pub body: Option<String>,
    /// A canned response, rendered for the conversation's contact and the sender.
    #[serde(default)]
    pub canned_response_id: Option<Uuid>,
    /// A WhatsApp template; required outside the 24-hour customer-service window.
    #[serde(default)]
    pub template: Option<TemplateInput>,
    /// `manual` (default), `automated` or `bulk`; quiet hours hold automated
    /// and bulk messages that are not replies.
    #[serde(default)]
    pub origin: Option<Origin>,
    /// Files uploaded to this conversation (`POST /api/v1/attachments`) to send with the message.
    #[serde(default)]
    pub attachment_ids: Vec<Uuid>,
}

impl OutboundMessage {
    pub fn text(body: impl Into<String>) -> OutboundMessage {
        OutboundMessage { body: Some(body.into()), ..Default::default() }
    }
}

fn check_template(t: &TemplateInput) -> Result<TemplateInput> {
    let mut v = crate::error::Validator::default();
    let name = t.name.trim();
    let name_ok = (1..=512).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    v.check::<()>("template.name", if name_ok { Ok(()) } else { Err("must be a template name (a-z, 0-9, _)") });
    let lang = t.language.trim();
    let lang_ok = (2..=15).contains(&lang.len()) && lang.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    v.check::<()>("template.language", if lang_ok { Ok(()) } else { Err("must be a language code such as en_US") });
    if t.variables.len() > MAX_TEMPLATE_VARIABLES {
        v.check::<()>("template.variables", Err(format!("at most {MAX_TEMPLATE_VARIABLES} values")));
    }
    for (i, value) in t.variables.iter().enumerate() {
        let n = value.trim().chars().count();
        if n == 0 || n > MAX_VARIABLE_CHARS {
            v.check::<()>(
                &format!("template.variables.{i}"),
                Err(format!("must be 1 to {MAX_VARIABLE_CHARS} characters")),
            );
        }
    }
    v.finish()?;
    Ok(TemplateInput {
        name: name.to_string(),
        language: lang.to_string(),
        variables: t.variables.iter().map(|s| s.trim().to_string()).collect(),
    })
}

/// How a template message reads in the thread.
fn template_text(t: &TemplateInput) -> String {
    let mut text = format!("[template {} ({})]", t.name, t.language);
    if !t.variables.is_empty() {
        text.push(' ');
        text.push_str(&t.variables.join(" · "));
    }
    text
}

/// The values of canned-response variables for a conversation's contact,
/// the member sending and the workspace.
async fn render_canned(app: &App, ctx: &Context, canned_id: Uuid, contact_id: Uuid) -> Result<String> {
    let canned = rows::get_canned(app.db(), ctx.org_id, canned_id)
        .await?
        .ok_or_else(|| AppError::field("canned_response_id", "no such canned response"))?;
    let template = kith_domain::template::parse(&canned.body).map_err(|e| AppError::Internal(e.to_string()))?;
    let contact = kith_store::contacts::get_many_any(app.db(), ctx.org_id, &[contact_id]).await?.pop();
    let agent = kith_store::users::get(app.db(), ctx.user_id()).await?;
    let workspace = kith_store::workspaces::get(app.db(), ctx.org_id).await?;
    let first_value = |json: &str| -> Option<String> {
        let list: Vec<serde_json::Value> = serde_json::from_str(json).unwrap_or_default();
        list.first().and_then(|v| v["value"].as_str()).map(str::to_string)
    };
    let text = template.render(|name| match name {
        "contact.first_name" => contact.as_ref().map(|c| c.first_name.clone()),
        "contact.last_name" => contact.as_ref().map(|c| c.last_name.clone()),
        "contact.full_name" => contact.as_ref().map(|c| format!("{} {}", c.first_name, c.last_name)),
        "contact.email" => contact.as_ref().and_then(|c| first_value(&c.emails)),
        "contact.phone" => contact.as_ref().and_then(|c| first_value(&c.phones)),
        "agent.name" => agent.as_ref().map(|u| u.name.clone()),
        "agent.first_name" => agent.as_ref().and_then(|u| u.name.split_whitespace().next().map(str::to_string)),
        "workspace.name" => workspace.as_ref().map(|w| w.name.clone()),
        _ => None,
    });
    check_body(&text).map_err(|_| AppError::field("canned_response_id", "renders to an empty message"))
}

/// When quiet hours hold a message of `origin` in this conversation:
/// `None` when it may go at `now`.
pub(crate) async fn quiet_hold(
    app: &App,
    org_id: Uuid,
    channel_id: Uuid,
    contact_id: Uuid,
    peer: &str,
    origin: Origin,
    now: i64,
) -> Result<Option<i64>> {
    if origin == Origin::Manual {
        return Ok(None);
    }
    let mut tx = app.db().begin().await?;
    let last_in = rows::last_inbound(&mut tx, org_id, channel_id, contact_id).await?;
    tx.commit().await?;
    if last_in.is_some_and(|t| now - t < REPLY_WINDOW_MS) {
        return Ok(None);
    }
    let contact = kith_store::contacts::get_many_any(app.db(), org_id, &[contact_id]).await?.pop();
    let tz = contact.as_ref().and_then(|c| c.time_zone.clone());
    let phone = if peer.starts_with('+') {
        Some(peer.to_string())
    } else {
        contact.as_ref().and_then(|c| {
            let list: Vec<serde_json::Value> = serde_json::from_str(&c.phones).unwrap_or_default();
            list.iter().find_map(|p| p["value"].as_str().filter(|v| v.starts_with('+')).map(str::to_string))
        })
    };
    Ok(quiet_hours::hold_until(tz.as_deref(), phone.as_deref(), Window::DEFAULT, now))
}

/// Send a message in a conversation: a text, a canned response or a
/// WhatsApp template. Stored `queued` and sent by the `inbox.send` job.
/// Refused with `contact_opted_out` (nothing stored) after an opt-out, and
/// with `whatsapp_window_closed` for free-form WhatsApp text more than 24
/// hours after the contact's last message.
pub async fn send(app: &App, ctx: &Context, conversation_id: Uuid, input: &OutboundMessage) -> Result<Message> {
    if !ctx.can(Action::WriteRecords) {
        return Err(AppError::Forbidden);
    }
    let given = [input.body.is_some(), input.canned_response_id.is_some(), input.template.is_some()];
    if given.iter().filter(|g| **g).count() != 1 {
        return Err(AppError::field("body", "give exactly one of `body`, `canned_response_id` or `template`"));
    }
    let conv = conversations::visible(app, ctx, conversation_id).await?;
    let channel = kith_store::channels::get(app.db(), ctx.org_id, conv.channel_id)
        .await?
        .ok_or(AppError::Conflict(ErrorCode::InUse, "the conversation's channel is disconnected"))?;
    let template = match &input.template {
        Some(_) if channel.kind != "whatsapp" => {
            return Err(AppError::field("template", "templates are sent on WhatsApp channels only"))
        }
        Some(t) => Some(check_template(t)?),
        None => None,
    };
    let body = match (&input.body, input.canned_response_id, &template) {
        // Files alone: a reply may carry no text.
        (Some(b), _, _) if b.trim().is_empty() && !input.attachment_ids.is_empty() => String::new(),
        (Some(b), _, _) => check_body(b)?,
        (_, Some(id), _) => render_canned(app, ctx, id, conv.contact_id).await?,
        (_, _, Some(t)) => template_text(t),
        _ => unreachable!("one of them is given"),
    };
    super::attachments::check_for_channel(app, ctx.org_id, &channel.kind, &input.attachment_ids).await?;
    let origin = input.origin.unwrap_or_default();
    let now = now_ms();
    let hold = quiet_hold(app, ctx.org_id, channel.id, conv.contact_id, &conv.peer, origin, now).await?;
    let id = new_id();
    let sealed = app.keyring().seal(app.db(), ctx.org_id, "messages", "body", id, body.as_bytes()).await?;
    let sealed_template = match &template {
        Some(t) => {
            let json = serde_json::to_vec(t).map_err(|e| AppError::Internal(e.to_string()))?;
            Some(app.keyring().seal(app.db(), ctx.org_id, TEMPLATE_TABLE, "template", id, &json).await?)
        }
        None => None,
    };
    let row = MessageRow {
        id,
        org_id: ctx.org_id,
        conversation_id,
        channel_id: channel.id,
        direction: "out".into(),
        kind: "message".into(),
        body: sealed,
        media: None,
        mentions: "[]".into(),
        author_user_id: Some(ctx.user_id()),
        provider_message_id: None,
        state: "queued".into(),
        error_code: None,
        error_message: None,
        created_ms: now,
        updated_ms: now,
        sent_ms: None,
    };
    let details = OutboundRow {
        message_id: id,
        org_id: ctx.org_id,
        origin: origin.as_str().into(),
        template: sealed_template,
        canned_response_id: input.canned_response_id,
        slot_ms: None,
        slot_shift_ms: None,
        hold_until_ms: hold,
        throttled: 0,
    };
    let mut tx = app.db().begin().await?;
    let consent = inbox_rows::current_consent_tx(&mut tx, ctx.org_id, conv.contact_id, &channel.kind).await?;
    if consent.as_deref() == Some(Consent::OptOut.as_str()) {
        return Err(AppError::Conflict(
            ErrorCode::ContactOptedOut,
            "the contact opted out of messages on this channel",
        ));
    }
    if channel.kind == "whatsapp" && template.is_none() {
        let last_in = rows::last_inbound(&mut tx, ctx.org_id, channel.id, conv.contact_id).await?;
        if last_in.is_none_or(|t| now - t >= SERVICE_WINDOW_MS) {
            return Err(AppError::Conflict(
                ErrorCode::WhatsappWindowClosed,
                "more than 24 hours since the contact's last WhatsApp message: send an approved template",
            ));
        }
    }
    inbox_rows::insert_message(&mut tx, &row).await?;
    super::attachments::link(&mut tx, ctx.org_id, conversation_id, id, &channel.kind, &input.attachment_ids).await?;
    rows::insert_outbound(&mut tx, &details).await?;
    inbox_rows::note_message(&mut tx, conversation_id, now, false, now).await?;
    timeline::append(
        &mut tx,
        message_entry(ctx.org_id, conv.contact_id, id, now, Some(ctx.user_id()), "out", &channel.kind, conversation_id),
    )
    .await?;
    let payload = serde_json::json!({"message_id": id});
    crate::worker::enqueue(&mut tx, SEND_JOB, Some(ctx.org_id), &payload, hold.unwrap_or(now)).await?;
    tx.commit().await?;
    publish(app, ctx.org_id, MESSAGE_CREATED, conversation_id, Some(id));
    open(app, row).await
}

/// A message the workspace sends on its own — the assistant's replies and
/// handoff notices: no author, origin `automated`, its body sealed before
/// the caller's transaction opens (which then stays short).
pub(crate) struct AutomatedMessage {
    pub id: Uuid,
    sealed_body: Vec<u8>,
    hold_until_ms: Option<i64>,
}

pub(crate) async fn prepare_automated(
    app: &App,
    conv: &inbox_rows::ConversationRow,
    body: &str,
    now: i64,
) -> Result<AutomatedMessage> {
    let body = check_body(body)?;
    let hold =
        quiet_hold(app, conv.org_id, conv.channel_id, conv.contact_id, &conv.peer, Origin::Automated, now).await?;
    let id = new_id();
    let sealed_body = app.keyring().seal(app.db(), conv.org_id, "messages", "body", id, body.as_bytes()).await?;
    Ok(AutomatedMessage { id, sealed_body, hold_until_ms: hold })
}

/// Queue a prepared automated message in the caller's transaction, under
/// the same rules as an agent's reply: nothing for a contact who opted out
/// (`contact_opted_out`) and no free-form WhatsApp text outside the 24-hour
/// window (`whatsapp_window_closed`). The caller publishes
/// `MESSAGE_CREATED` after its commit.
pub(crate) async fn queue_automated(
    tx: &mut kith_store::Tx,
    conv: &inbox_rows::ConversationRow,
    channel_kind: &str,
    m: &AutomatedMessage,
    now: i64,
) -> Result<()> {
    let consent = inbox_rows::current_consent_tx(tx, conv.org_id, conv.contact_id, channel_kind).await?;
    if consent.as_deref() == Some(Consent::OptOut.as_str()) {
        return Err(AppError::Conflict(
            ErrorCode::ContactOptedOut,
            "the contact opted out of messages on this channel",
        ));
    }
    if channel_kind == "whatsapp" {
        let last_in = rows::last_inbound(tx, conv.org_id, conv.channel_id, conv.contact_id).await?;
        if last_in.is_none_or(|t| now - t >= SERVICE_WINDOW_MS) {
            return Err(AppError::Conflict(
                ErrorCode::WhatsappWindowClosed,
                "more than 24 hours since the contact's last WhatsApp message",
            ));
        }
    }
    let row = MessageRow {
        id: m.id,
        org_id: conv.org_id,
        conversation_id: conv.id,
        channel_id: conv.channel_id,
        direction: "out".into(),
        kind: "message".into(),
        body: m.sealed_body.clone(),
        media: None,
        mentions: "[]".into(),
        author_user_id: None,
        provider_message_id: None,
        state: "queued".into(),
        error_code: None,
        error_message: None,
        created_ms: now,
        updated_ms: now,
        sent_ms: None,
    };
    let details = OutboundRow {
        message_id: m.id,
        org_id: conv.org_id,
        origin: Origin::Automated.as_str().into(),
        template: None,
        canned_response_id: None,
        slot_ms: None,
        slot_shift_ms: None,
        hold_until_ms: m.hold_until_ms,
        throttled: 0,
    };
    inbox_rows::insert_message(tx, &row).await?;
    rows::insert_outbound(tx, &details).await?;
    inbox_rows::note_message(tx, conv.id, now, false, now).await?;
    timeline::append(tx, message_entry(conv.org_id, conv.contact_id, m.id, now, None, "out", channel_kind, conv.id))
        .await?;
    let payload = serde_json::json!({"message_id": m.id});
    crate::worker::enqueue(tx, SEND_JOB, Some(conv.org_id), &payload, m.hold_until_ms.unwrap_or(now)).await?;
    Ok(())
}

// ------------------------------------------------- one file per message

/// The send a file-by-file message belongs to: what the slots of its calls
/// after the first are claimed for, and the consent they check again.
pub(crate) struct Pacing<'a> {
    pub message_id: Uuid,
    pub contact_id: Uuid,
    /// The recipient (the conversation's peer).
    pub peer: &'a str,
    /// Sent whatever the contact's consent (the job's `consent_exempt`).
    pub exempt: bool,
    pub limits: &'a super::ratelimit::RateLimits,
}

/// Why a call cannot take its slot now ([`take_slot`]).
pub(crate) enum NotNow {
    /// The slot is not near: run the job again at this time. The slot is
    /// recorded on the message (and a file-by-file send's files sent so far
    /// are marked), so the job resumes in its place in line.
    Defer(i64),
    /// The contact opted out while the call waited for its slot.
    OptedOut,
}

/// What the calls of a file-by-file send came to.
pub(crate) enum FileByFile {
    /// Every call made (the message's provider id), or a call's failure.
    Done(std::result::Result<kith_providers::Sent, kith_providers::SendError>),
    /// A later call could not take its slot now.
    NotNow(NotNow),
}

/// Send a message with files on a channel whose messages carry one file
/// each (Messenger, Instagram, Viber; the send job calls this when the
/// message has attachments): each file not sent yet goes as a provider
/// message of its own, in order, and records the provider's id at once
/// ([`super::attachments::mark_sent`]), so that a retry after a partial
/// failure skips it; then the text, as its own message — except on Viber
/// when the first file is a picture and the text fits its 120-character
/// `text`. The result is the text's provider id, or the last file's when no
/// text went apart: the message's own id, which status callbacks match
/// (a file's own `failed` callback fails the message too).
///
/// Every call takes a rate-limit slot of its own, as a message of one call
/// does: the first uses the slot the send job claimed before calling this,
/// each later one claims its own right before it ([`take_slot`]).
pub(crate) async fn send_file_by_file(
    app: &App,
    org_id: Uuid,
    channel: &ChannelRow,
    config: &serde_json::Map<String, serde_json::Value>,
    pacing: &Pacing<'_>,
    body: &str,
    files: &[super::attachments::OutboundFile],
) -> Result<FileByFile> {
    use kith_providers::{meta, viber, SendError};
    let text = |k: &str| config.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
    let inbox = app.inbox();
    let to = pacing.peer;
    let stored = |e: AppError| SendError::Transient(format!("recording a sent file: {e}"));
    let viber_name = config.get("sender_name").and_then(|v| v.as_str()).unwrap_or(&channel.name).to_string();
    // Whether the text rides on the first file (a Viber picture caption).
    let text_apart = match (channel.kind.as_str(), files.first()) {
        ("viber", Some(first)) => viber::text_goes_apart(&viber_file(first, body)),
        _ => !body.is_empty(),
    };
    let node = match channel.kind.as_str() {
        "messenger" => text("page_id"),
        _ => config.get("page_id").and_then(|v| v.as_str()).map(str::to_string).unwrap_or(text("instagram_account_id")),
    };
    // The first call of this run goes in the slot the job claimed.
    let mut slot_claimed = true;
    let mut last: Option<kith_providers::Sent> = None;
    for (i, f) in files.iter().enumerate() {
        if let Some(id) = &f.sent_as {
            last = Some(kith_providers::Sent { provider_message_id: id.clone() });
            continue;
        }
        if !std::mem::take(&mut slot_claimed) {
            if let Err(stop) = take_slot(app, org_id, channel, pacing, None).await? {
                return Ok(FileByFile::NotNow(stop));
            }
        }
        let media =
            meta::OutboundMedia { link: &f.url, content_type: &f.content_type, file_name: &f.name, caption: "" };
        let sent = match channel.kind.as_str() {
            "messenger" => inbox.meta().send_messenger_attachment(&node, &text("page_access_token"), to, &media).await,
            "instagram" => inbox.meta().send_instagram_attachment(&node, &text("page_access_token"), to, &media).await,
            "viber" => {
                let caption = if i == 0 && !text_apart { body } else { "" };
                inbox.viber().send_media(&text("auth_token"), to, &viber_name, &viber_file(f, caption)).await
            }
            other => Err(SendError::Permanent {
                code: "unsupported_channel".into(),
                message: format!("no file sending on {other}"),
            }),
        };
        let sent = match sent {
            Ok(sent) => sent,
            Err(e) => return Ok(FileByFile::Done(Err(e))),
        };
        match super::attachments::mark_sent(app, org_id, channel.id, f.id, &sent.provider_message_id).await {
            Ok(false) => {}
            // The provider's `failed` for this file came before its id was
            // written, and failed the message: the rest is not sent.
            Ok(true) => {
                return Ok(FileByFile::Done(Err(SendError::Permanent {
                    code: "file_failed".into(),
                    message: "the provider reported that a file of this message failed".into(),
                })))
            }
            Err(e) => return Ok(FileByFile::Done(Err(stored(e)))),
        }
        last = Some(sent);
    }
    if text_apart && !body.is_empty() {
        if !slot_claimed {
            if let Err(stop) = take_slot(app, org_id, channel, pacing, None).await? {
                return Ok(FileByFile::NotNow(stop));
            }
        }
        let sent = match channel.kind.as_str() {
            "messenger" => inbox.meta().send_messenger_text(&node, &text("page_access_token"), to, body).await,
            "instagram" => inbox.meta().send_instagram_text(&node, &text("page_access_token"), to, body).await,
            _ => inbox.viber().send_message(&text("auth_token"), to, &viber_name, body).await,
        };
        return Ok(FileByFile::Done(sent));
    }
    Ok(FileByFile::Done(last.ok_or_else(|| SendError::Permanent {
        code: "invalid_request".into(),
        message: "a message with neither text nor files".into(),
    })))
}

/// Take the rate-limit slot of one provider call, with the claim
/// ([`super::ratelimit::claim`]) made right before the call: go now (once
/// [`super::ratelimit::space_call`] lets it leave), wait in memory for a near
/// slot (then check consent again: the contact may have written STOP), or
/// defer the job to it. `reserved`: the slot the message already holds (from
/// its row, or given by a provider's 429); a send back from the queue ahead
/// of it (`worker::come_back_at`) waits for it first, as early as the
/// sender's grid allows.
///
/// A file-by-file send claims one slot per call after its first, with no
/// reservation: the calls are then spaced on the sender's grid as the
/// provider sees them, and a 429, the line shift and the per-recipient scope
/// need nothing new. Such a call lines up as a newcomer behind the sends
/// already waiting: the slot the message held for its previous call is spent
/// (its row still names it), and claiming with it would count as having
/// waited and let the call jump the line, pushing every waiting send past
/// its slot once per file. A message's calls thus keep their order but may
/// interleave with other messages' sends, as two messages running at once
/// already could.
pub(crate) async fn take_slot(
    app: &App,
    org_id: Uuid,
    channel: &ChannelRow,
    pacing: &Pacing<'_>,
    mut reserved: Option<super::ratelimit::Reservation>,
) -> Result<std::result::Result<(), NotNow>> {
    use super::ratelimit::{claim, space_call, Claim};
    let limits = pacing.limits;
    // Wait for `at` in memory (the worker seats another job meanwhile), or
    // defer the job to it; then check consent again.
    let wait = |at: i64| async move {
        if !crate::worker::wait_in_memory(at).await {
            return Ok(Err(NotNow::Defer(crate::worker::come_back_at(at))));
        }
        if !pacing.exempt {
            let consent = inbox_rows::current_consent(app.db(), org_id, pacing.contact_id, &channel.kind).await?;
            if consent.as_deref() == Some(Consent::OptOut.as_str()) {
                return Ok(Err(NotNow::OptedOut));
            }
        }
        Ok::<_, AppError>(Ok(()))
    };
    if let Some(r) = reserved {
        let early = match limits.recipient_interval_ms() {
            None => limits.sender_spacing().map_or(0, |g| g.tolerance_ms),
            Some(_) => 0,
        };
        let at = r.slot_ms - early - super::ratelimit::CLAIM_LEAD_MS;
        if at > now_ms() {
            if let Err(stop) = wait(at).await? {
                return Ok(Err(stop));
            }
        }
    }
    loop {
        // The time of the claim itself: a time read before the send's reads
        // would let the sender's next slot start that much early.
        let (c, holding) =
            claim(app, org_id, channel.id, pacing.message_id, pacing.peer, limits, reserved, now_ms()).await?;
        match c {
            Claim::Go(at) => {
                // A slot taken ahead of its time: wait for it, in memory
                // (outside a running worker, or when it stops, for these
                // few milliseconds anyway: the slot is spent).
                if at > now_ms() && !crate::worker::wait_in_memory(at).await {
                    let rest = (at - now_ms()).max(0) as u64;
                    tokio::time::sleep(std::time::Duration::from_millis(rest)).await;
                }
                space_call(channel.id, limits).await;
                return Ok(Ok(()));
            }
            Claim::Reserved(at) | Claim::Wait(at) => {
                if let Err(stop) = wait(at).await? {
                    return Ok(Err(stop));
                }
                reserved = holding;
            }
        }
    }
}

fn viber_file<'a>(
    f: &'a super::attachments::OutboundFile,
    caption: &'a str,
) -> kith_providers::viber::OutboundFile<'a> {
    kith_providers::viber::OutboundFile {
        link: &f.url,
        content_type: &f.content_type,
        file_name: &f.name,
        size: f.size,
        caption,
    }
}

/// The template of a message, opened (for the send job).
pub(crate) async fn open_template(app: &App, org_id: Uuid, d: &OutboundRow) -> Result<Option<TemplateInput>> {
    let Some(sealed) = &d.template else { return Ok(None) };
    let json = app.keyring().open(app.db(), org_id, TEMPLATE_TABLE, "template", d.message_id, sealed).await?;
    Ok(Some(serde_json::from_slice(&json).map_err(|e| AppError::Internal(e.to_string()))?))
}

// ------------------------------------------------------------ failed sends

/// A send that failed before the provider took it (no content shown).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FailedSend {
    pub message_id: Uuid,
    pub conversation_id: Uuid,
    /// `failed`, or `queued` once retried.
    pub state: String,
    /// Kith's or the provider's code (`retries_exhausted`, `21211`, `131047`…).
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub created_at_ms: i64,
    pub failed_at_ms: i64,
}

impl From<MessageRow> for FailedSend {
    fn from(m: MessageRow) -> Self {
        FailedSend {
            message_id: m.id,
            conversation_id: m.conversation_id,
            state: m.state,
            error_code: m.error_code,
            error_message: m.error_message,
            created_at_ms: m.created_ms,
            failed_at_ms: m.updated_ms,
        }
    }
}

fn need_admin(ctx: &Context) -> Result<()> {
    if ctx.can(Action::ManageChannels) {
        Ok(())
    } else {
        Err(AppError::Forbidden)
    }
}

async fn channel_of(app: &App, ctx: &Context, channel_id: Uuid) -> Result<ChannelRow> {
    kith_store::channels::get_any(app.db(), ctx.org_id, channel_id).await?.ok_or(AppError::NotFound)
}

/// A channel's failed sends, newest first (admins).
pub async fn failed_sends(app: &App, ctx: &Context, channel_id: Uuid, page: &PageRequest) -> Result<Page<FailedSend>> {
    need_admin(ctx)?;
    channel_of(app, ctx, channel_id).await?;
    Ok(rows::list_failed(app.db(), ctx.org_id, channel_id, page).await?.map(FailedSend::from))
}

/// Queue a failed send again with a fresh set of attempts (admins). The
/// consent ledger is read again: a contact who opted out meanwhile gets
/// nothing (`contact_opted_out`).
pub async fn retry_failed(app: &App, ctx: &Context, channel_id: Uuid, message_id: Uuid) -> Result<FailedSend> {
    need_admin(ctx)?;
    let channel = channel_of(app, ctx, channel_id).await?;
    if channel.deleted_ms.is_some() {
        return Err(AppError::Conflict(ErrorCode::InUse, "the channel is disconnected"));
    }
    let m = inbox_rows::get_message(app.db(), ctx.org_id, message_id)
        .await?
        .filter(|m| m.channel_id == channel_id && m.direction == "out")
        .ok_or(AppError::NotFound)?;
    let conv =
        inbox_rows::get_conversation(app.db(), ctx.org_id, m.conversation_id).await?.ok_or(AppError::NotFound)?;
    let now = now_ms();
    let mut tx = app.db().begin().await?;
    let consent = inbox_rows::current_consent_tx(&mut tx, ctx.org_id, conv.contact_id, &channel.kind).await?;
    if consent.as_deref() == Some(Consent::OptOut.as_str()) {
        return Err(AppError::Conflict(
            ErrorCode::ContactOptedOut,
            "the contact opted out of messages on this channel",
        ));
    }
    if !rows::requeue_failed(&mut tx, ctx.org_id, message_id, now).await? {
        return Err(AppError::Conflict(
            ErrorCode::InUse,
            "only a failed send that never reached the provider can be retried",
        ));
    }
    rows::set_schedule(&mut tx, ctx.org_id, message_id, None, None).await?;
    crate::worker::enqueue(&mut tx, SEND_JOB, Some(ctx.org_id), &serde_json::json!({"message_id": message_id}), now)
        .await?;
    tx.commit().await?;
    publish(app, ctx.org_id, MESSAGE_UPDATED, m.conversation_id, Some(message_id));
    let m = inbox_rows::get_message(app.db(), ctx.org_id, message_id).await?.ok_or(AppError::NotFound)?;
    Ok(FailedSend::from(m))
}

// ------------------------------------------------------------------ health

/// How a channel is doing: its newest inbound event, and its sends of the
/// last 24 hours.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ChannelHealth {
    /// When the channel last received an event.
    pub last_event_at_ms: Option<i64>,
    /// When a message was last queued on it (within the last 24 hours).
    pub last_send_at_ms: Option<i64>,
    /// Messages sent or tried in the last 24 hours.
    pub sends_24h: i64,
    /// Of those, how many failed.
    pub failed_24h: i64,
    /// `failed_24h / sends_24h` (0 without sends).
    pub error_rate_24h: f64,
}

/// The health of several channels of a workspace.
pub(crate) async fn health(
    app: &App,
    org_id: Uuid,
    ids: &[Uuid],
    last_events: &[(Uuid, i64)],
) -> Result<Vec<(Uuid, ChannelHealth)>> {
    let since = now_ms() - 24 * 3_600_000;
    let stats = rows::send_stats(app.db(), org_id, ids, since).await?;
    Ok(stats
        .into_iter()
        .map(|(id, s)| {
            let h = ChannelHealth {
                last_event_at_ms: last_events.iter().find(|(c, _)| *c == id).map(|(_, at)| *at),
                last_send_at_ms: s.last_out_ms,
                sends_24h: s.total,
                failed_24h: s.failed,
                error_rate_24h: if s.total > 0 { s.failed as f64 / s.total as f64 } else { 0.0 },
            };
            (id, h)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_checked_and_shown_as_text() {
        let t = TemplateInput {
            name: "order_update".into(),
            language: "en_US".into(),
            variables: vec![" #123 ".into(), "Friday".into()],
        };
        let checked = check_template(&t).unwrap();
        assert_eq!(checked.variables, ["#123", "Friday"]);
        assert_eq!(template_text(&checked), "[template order_update (en_US)] #123 · Friday");
        let bad = TemplateInput { name: "Order Update".into(), language: "e".into(), variables: vec![" ".into()] };
        match check_template(&bad) {
            Err(AppError::Validation(f)) => {
                let names: Vec<&str> = f.iter().map(|e| e.field.as_str()).collect();
                assert_eq!(names, ["template.name", "template.language", "template.variables.0"]);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(Origin::parse("bulk"), Origin::Bulk);
        assert_eq!(Origin::parse("whatever"), Origin::Manual);
    }
}
