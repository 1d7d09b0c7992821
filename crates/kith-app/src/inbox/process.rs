//! The `inbox.process` job: one stored inbound event becomes a contact (found
//! or created), a conversation (found or opened), a message, a timeline
//! entry and, for consent keywords, a ledger entry — or, for a status
//! callback, a message's new delivery state (kept for later when the
//! message is not there yet).
//!
//! Idempotent: an event already processed, or a message whose provider id
//! the channel already holds, changes nothing. Two events from one new
//! sender processed at once create one contact and one conversation: the
//! matching runs under a lock keyed on (workspace, sender handle) — SQLite's
//! single writer, or a PostgreSQL advisory lock — and reads inside it.

use super::{publish, sender_lock_key, state_rank, PROCESS_JOB, SEND_JOB};
use crate::crm::contacts::{self as crm_contacts, ContactInput, LabeledValue, PhonePolicy};
use crate::crm::timeline::{self, Entry};
use crate::worker::JobError;
use crate::{App, AppError, Result};
use kith_domain::consent::{classify, keywords_apply, Consent, Keyword};
use kith_domain::crm::RecordType;
use kith_domain::new_id;
use kith_domain::time::{now_ms, DAY_MS};
use kith_domain::visibility::Visibility;
use kith_infra::events::{CONVERSATION_UPDATED, MESSAGE_CREATED, MESSAGE_UPDATED};
use kith_providers::{InboundEvent, InboundMessage, StatusUpdate};
use kith_store::channels::{self as channel_rows, ChannelRow};
use kith_store::contacts::ContactRow;
use kith_store::inbox::{self as rows, ConsentRow, ConversationRow, InboundEventRow, MessageRow, PendingStatusRow};
use kith_store::jobs::ClaimedJob;
use kith_store::Tx;
use uuid::Uuid;

/// The reply to HELP/INFO when the channel has no `help_text` of its own.
pub const DEFAULT_HELP_TEXT: &str =
    "Reply STOP to unsubscribe, START to subscribe again. A member of our team will answer your message here.";

pub(crate) async fn run(app: App, job: ClaimedJob) -> std::result::Result<(), JobError> {
    let payload: serde_json::Value =
        serde_json::from_slice(&job.payload).map_err(|e| JobError::permanent(format!("{PROCESS_JOB}: {e}")))?;
    let id = payload["event_id"]
        .as_str()
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or_else(|| JobError::permanent(format!("{PROCESS_JOB}: no event_id")))?;
    process_event(&app, id).await.map_err(JobError::from)
}

/// Process one stored event (also what a replay from the event log runs).
pub async fn process_event(app: &App, id: Uuid) -> Result<()> {
    let Some(row) = rows::get_event(app.db(), id).await? else { return Ok(()) };
    if row.processed_ms.is_some() {
        return Ok(());
    }
    let json = app.keyring().open(app.db(), row.org_id, "inbound_events", "payload", row.id, &row.payload).await?;
    let event: InboundEvent =
        serde_json::from_slice(&json).map_err(|e| AppError::Internal(format!("stored inbound event: {e}")))?;
    let channel = channel_rows::get_any(app.db(), row.org_id, row.channel_id).await?.ok_or(AppError::NotFound)?;
    match event {
        InboundEvent::Message(m) => message(app, &row, &channel, m).await,
        InboundEvent::Status(s) => status(app, &row, &channel, s).await,
        InboundEvent::Email(e) => super::email::process(app, &row, &channel, *e).await,
    }
}

/// How the sender is known: the handle that matches contacts and keys the lock.
pub(crate) struct SenderKey {
    pub phone: Option<String>,
    pub email: Option<String>,
    /// (channel kind, channel user id)
    pub channel_id: (String, String),
}

impl SenderKey {
    pub(crate) fn of(kind: &str, m: &InboundMessage) -> SenderKey {
        let phone = m.from.phone_e164.clone().filter(|p| p.starts_with('+'));
        let email = m.from.email.as_deref().and_then(kith_domain::validate::normalize_email);
        SenderKey { phone, email, channel_id: (kind.to_string(), m.from.channel_user_id.clone()) }
    }

    pub(crate) fn lock_key(&self, org_id: Uuid) -> i64 {
        match (&self.phone, &self.email) {
            (Some(p), _) => sender_lock_key(org_id, "phone", p),
            (None, Some(e)) => sender_lock_key(org_id, "email", e),
            (None, None) => sender_lock_key(org_id, &self.channel_id.0, &self.channel_id.1),
        }
    }
}

/// A message was sent at the provider's time, unless that time is absurd.
pub(crate) fn message_time(m: &InboundMessage, received_ms: i64) -> i64 {
    match m.sent_at_ms {
        Some(t) if t > 0 && t <= received_ms + DAY_MS => t,
        _ => received_ms,
    }
}

async fn message(app: &App, ev: &InboundEventRow, channel: &ChannelRow, m: InboundMessage) -> Result<()> {
    let org_id = ev.org_id;
    let now = now_ms();
    let kind = channel.kind.as_str();
    let key = SenderKey::of(kind, &m);
    let at = message_time(&m, ev.received_ms);
    let peer = if kind == "telegram" {
        m.to.clone().unwrap_or_else(|| m.from.channel_user_id.clone())
    } else {
        m.from.channel_user_id.clone()
    };

    // Seal before the transaction: it stays short.
    let message_id = new_id();
    let body = app.keyring().seal(app.db(), org_id, "messages", "body", message_id, m.text.as_bytes()).await?;
    let media = match m.media.is_empty() {
        true => None,
        false => {
            let json = serde_json::to_vec(&m.media).map_err(|e| AppError::Internal(e.to_string()))?;
            Some(app.keyring().seal(app.db(), org_id, "messages", "media", message_id, &json).await?)
        }
    };
    let keyword = if keywords_apply(kind) { classify(&m.text) } else { None };
    let help = match keyword {
        Some(Keyword::Help) => {
            let public: serde_json::Value = serde_json::from_str(&channel.public_config).unwrap_or_default();
            let text = public["help_text"].as_str().unwrap_or(DEFAULT_HELP_TEXT).to_string();
            let id = new_id();
            Some((id, app.keyring().seal(app.db(), org_id, "messages", "body", id, text.as_bytes()).await?))
        }
        _ => None,
    };

    let mut tx = app.db().begin().await?;
    rows::lock_inbound_key(&mut tx, key.lock_key(org_id)).await?;
    if rows::message_by_provider_id(&mut tx, channel.id, &m.provider_message_id).await?.is_some() {
        rows::mark_event_processed(&mut tx, ev.id, now, None).await?;
        tx.commit().await?;
        return Ok(());
    }
    let contact_id = match find_contact(&mut tx, org_id, &key).await? {
        Some(id) => id,
        None => create_contact(app, &mut tx, org_id, kind, &key, m.from.display_name.as_deref(), now).await?,
    };
    rows::add_channel_id(&mut tx, org_id, contact_id, &key.channel_id.0, &key.channel_id.1, now).await?;
    let conversation = find_or_open(&mut tx, org_id, channel.id, contact_id, &peer, at, now).await?;
    let row = MessageRow {
        id: message_id,
        org_id,
        conversation_id: conversation.id,
        channel_id: channel.id,
        direction: "in".into(),
        kind: "message".into(),
        body,
        media,
        mentions: "[]".into(),
        author_user_id: None,
        provider_message_id: Some(m.provider_message_id.clone()),
        state: "received".into(),
        error_code: None,
        error_message: None,
        created_ms: at,
        updated_ms: now,
        sent_ms: Some(at),
    };
    if !rows::insert_message(&mut tx, &row).await? {
        rows::mark_event_processed(&mut tx, ev.id, now, None).await?;
        tx.commit().await?;
        return Ok(());
    }
    rows::note_message(&mut tx, conversation.id, at, true, now).await?;
    timeline::append(&mut tx, message_entry(org_id, contact_id, message_id, at, None, "in", kind, conversation.id))
        .await?;
    if !m.media.is_empty() {
        super::media::enqueue(&mut tx, org_id, message_id, now).await?;
    }
    match keyword {
        Some(Keyword::OptOut) | Some(Keyword::OptIn) => {
            let consent = if keyword == Some(Keyword::OptOut) { Consent::OptOut } else { Consent::OptIn };
            let entry = ConsentRow {
                id: new_id(),
                org_id,
                contact_id,
                channel_kind: kind.into(),
                channel_id: Some(channel.id),
                kind: consent.as_str().into(),
                source: "keyword".into(),
                message_id: Some(message_id),
                actor_id: None,
                at_ms: at,
            };
            rows::insert_consent(&mut tx, &entry).await?;
        }
        _ => {}
    }
    if let Some((help_id, help_body)) = &help {
        let reply = MessageRow {
            id: *help_id,
            org_id,
            conversation_id: conversation.id,
            channel_id: channel.id,
            direction: "out".into(),
            kind: "message".into(),
            body: help_body.clone(),
            media: None,
            mentions: "[]".into(),
            author_user_id: None,
            provider_message_id: None,
            state: "queued".into(),
            error_code: None,
            error_message: None,
            created_ms: now.max(at + 1),
            updated_ms: now,
            sent_ms: None,
        };
        rows::insert_message(&mut tx, &reply).await?;
        rows::note_message(&mut tx, conversation.id, reply.created_ms, false, now).await?;
        timeline::append(
            &mut tx,
            message_entry(org_id, contact_id, *help_id, reply.created_ms, None, "out", kind, conversation.id),
        )
        .await?;
        // HELP is answered even to a contact who opted out (the carriers' rule).
        let payload = serde_json::json!({"message_id": help_id, "consent_exempt": true});
        crate::worker::enqueue(&mut tx, SEND_JOB, Some(org_id), &payload, now).await?;
    }
    // Consent keywords are answered by the consent rules, not the assistant.
    if keyword.is_none() && channel.ai_mode != "off" {
        crate::ai::autoreply::enqueue(&mut tx, org_id, message_id, now).await?;
    }
    rows::mark_event_processed(&mut tx, ev.id, now, None).await?;
    tx.commit().await?;
    publish(app, org_id, MESSAGE_CREATED, conversation.id, Some(message_id));
    if let Some((help_id, _)) = help {
        publish(app, org_id, MESSAGE_CREATED, conversation.id, Some(help_id));
    }
    publish(app, org_id, CONVERSATION_UPDATED, conversation.id, None);
    Ok(())
}

/// The timeline entry of a message on its contact.
#[allow(clippy::too_many_arguments)]
pub(crate) fn message_entry(
    org_id: Uuid,
    contact_id: Uuid,
    message_id: Uuid,
    at_ms: i64,
    actor_id: Option<Uuid>,
    direction: &str,
    channel_kind: &str,
    conversation_id: Uuid,
) -> Entry {
    Entry {
        org_id,
        record: (RecordType::Contact, contact_id),
        at_ms,
        kind: timeline::MESSAGE,
        ref_id: message_id,
        actor_id,
        private_to: None,
        summary: serde_json::json!({
            "direction": direction,
            "channel_kind": channel_kind,
            "conversation_id": conversation_id,
        }),
    }
}

/// A workspace-shared contact for this sender: by phone, then e-mail, then
/// channel user id. Never a personal contact (promise 2).
pub(crate) async fn find_contact(tx: &mut Tx, org_id: Uuid, key: &SenderKey) -> Result<Option<Uuid>> {
    if let Some(p) = &key.phone {
        if let Some(id) = rows::find_shared_by_handle_tx(tx, org_id, "phone", p).await? {
            return Ok(Some(id));
        }
    }
    if let Some(e) = &key.email {
        if let Some(id) = rows::find_shared_by_handle_tx(tx, org_id, "email", e).await? {
            return Ok(Some(id));
        }
    }
    Ok(rows::find_contact_by_channel_id(tx, org_id, &key.channel_id.0, &key.channel_id.1).await?)
}

fn kind_label(kind: &str) -> &'static str {
    match kind {
        "twilio_sms" => "SMS",
        "whatsapp" => "WhatsApp",
        "messenger" => "Messenger",
        "instagram" => "Instagram",
        "telegram" => "Telegram",
        "viber" => "Viber",
        _ => "Inbox",
    }
}

/// A new shared contact for a sender nobody knows yet: visible to everyone
/// in the workspace, owned by nobody, its source the channel kind.
pub(crate) async fn create_contact(
    app: &App,
    tx: &mut Tx,
    org_id: Uuid,
    kind: &str,
    key: &SenderKey,
    display_name: Option<&str>,
    now: i64,
) -> Result<Uuid> {
    let name: String = display_name.map(str::trim).filter(|n| !n.is_empty()).unwrap_or("").chars().take(200).collect();
    let (first, last) = match name.split_once(' ') {
        Some((f, l)) => (f.to_string(), l.trim().to_string()),
        None => (name.clone(), String::new()),
    };
    let first = if first.is_empty() && key.phone.is_none() && key.email.is_none() {
        format!("{} {}", kind_label(kind), key.channel_id.1.chars().take(40).collect::<String>())
    } else {
        first
    };
    let input = ContactInput {
        first_name: Some(first.chars().take(100).collect()),
        last_name: Some(last.chars().take(100).collect()),
        phones: key.phone.clone().map(|p| vec![LabeledValue { value: p, label: None }]),
        emails: key.email.clone().map(|e| vec![LabeledValue { value: e, label: None }]),
        source: Some(kind.into()),
        ..Default::default()
    };
    let mut row = ContactRow {
        id: new_id(),
        org_id,
        first_name: String::new(),
        last_name: String::new(),
        emails: "[]".into(),
        phones: "[]".into(),
        addresses: "[]".into(),
        social: "{}".into(),
        company_id: None,
        title: None,
        birthday: None,
        time_zone: None,
        source: None,
        custom: "{}".into(),
        visibility: Visibility::Everyone.as_str().into(),
        owner_id: None,
        team_id: None,
        // Made by the inbox, not by a member.
        created_by: Uuid::nil(),
        version: 1,
        created_ms: now,
        updated_ms: now,
    };
    if crm_contacts::apply_input(&mut row, &input, "", PhonePolicy::Strict).is_err() {
        // A sender id that is no valid phone: keep it as given, flagged.
        crm_contacts::apply_input(&mut row, &input, "", PhonePolicy::KeepRaw)?;
    }
    kith_store::contacts::insert(tx, &row).await?;
    crm_contacts::write_satellites(tx, &row, None, &[], None).await?;
    crate::webhooks::emit(app, tx, org_id, "contact.created", row.id, Some(row.version), false).await?;
    Ok(row.id)
}

pub(crate) async fn find_or_open(
    tx: &mut Tx,
    org_id: Uuid,
    channel_id: Uuid,
    contact_id: Uuid,
    peer: &str,
    at: i64,
    now: i64,
) -> Result<ConversationRow> {
    if let Some(c) = rows::current_conversation(tx, channel_id, contact_id).await? {
        return Ok(c);
    }
    let c = ConversationRow {
        id: new_id(),
        org_id,
        channel_id,
        contact_id,
        peer: peer.into(),
        status: "open".into(),
        snoozed_until_ms: None,
        assignee_user_id: None,
        assignee_team_id: None,
        last_message_ms: at,
        last_inbound_ms: None,
        version: 1,
        created_ms: now,
        updated_ms: now,
    };
    if rows::insert_conversation(tx, &c).await? {
        return Ok(c);
    }
    // Opened by someone else meanwhile (only possible without the lock).
    rows::current_conversation(tx, channel_id, contact_id)
        .await?
        .ok_or_else(|| AppError::Internal("conversation vanished while opening it".into()))
}

async fn status(app: &App, ev: &InboundEventRow, channel: &ChannelRow, s: StatusUpdate) -> Result<()> {
    let now = now_ms();
    let mut tx = app.db().begin().await?;
    lock_message(&mut tx, ev.org_id, channel.id, &s.provider_message_id).await?;
    let changed = match rows::message_by_provider_id(&mut tx, channel.id, &s.provider_message_id).await? {
        Some(m) if m.direction == "out" => {
            advance(&mut tx, &m, s.state.as_str(), s.error_code.as_deref(), s.error_message.as_deref(), now)
                .await?
                .then_some(m)
        }
        Some(_) => None,
        None => 'unmatched: {
            // A file sent as a provider message of its own (Messenger,
            // Instagram, Viber): its failure is its message's; its other
            // states follow the message's own provider id.
            let pid = &s.provider_message_id;
            if let Some(m) = super::attachments::message_of_sent_file(&mut tx, ev.org_id, channel.id, pid).await? {
                let (code, text) = (s.error_code.as_deref(), s.error_message.as_deref());
                let failed = s.state.as_str() == "failed";
                break 'unmatched if failed {
                    advance(&mut tx, &m, "failed", code, text, now).await?.then_some(m)
                } else {
                    None
                };
            }
            let earlier = rows::get_pending(&mut tx, channel.id, &s.provider_message_id).await?;
            if earlier.is_none_or(|p| state_rank(s.state.as_str()) > state_rank(&p.state)) {
                let p = PendingStatusRow {
                    channel_id: channel.id,
                    provider_message_id: s.provider_message_id.clone(),
                    org_id: ev.org_id,
                    state: s.state.as_str().into(),
                    error_code: s.error_code.clone(),
                    error_message: s.error_message.clone(),
                    at_ms: s.at_ms.unwrap_or(ev.received_ms),
                };
                rows::put_pending(&mut tx, &p).await?;
            }
            None
        }
    };
    rows::mark_event_processed(&mut tx, ev.id, now, None).await?;
    tx.commit().await?;
    if let Some(m) = changed {
        publish(app, ev.org_id, MESSAGE_UPDATED, m.conversation_id, Some(m.id));
    }
    Ok(())
}

/// Serialise everything that touches one provider message id of a channel
/// (a status callback racing the send that learns the id).
pub(crate) async fn lock_message(tx: &mut Tx, org_id: Uuid, channel_id: Uuid, provider_id: &str) -> Result<()> {
    Ok(rows::lock_inbound_key(tx, sender_lock_key(org_id, &format!("message:{channel_id}"), provider_id)).await?)
}

/// Move a message to `state` unless it is already there or further.
pub(crate) async fn advance(
    tx: &mut Tx,
    m: &MessageRow,
    state: &str,
    error_code: Option<&str>,
    error_message: Option<&str>,
    now: i64,
) -> Result<bool> {
    if state_rank(state) <= state_rank(&m.state) {
        return Ok(false);
    }
    let sent_ms = (state != "failed").then_some(now);
    Ok(rows::set_message_state(tx, m.id, &m.state, state, error_code, error_message, sent_ms, now).await?)
}

/// Apply a status that arrived before the message learned its provider id.
pub(crate) async fn apply_pending(tx: &mut Tx, m: &MessageRow, provider_id: &str, now: i64) -> Result<bool> {
    let Some(p) = rows::get_pending(tx, m.channel_id, provider_id).await? else { return Ok(false) };
    rows::delete_pending(tx, m.channel_id, provider_id).await?;
    advance(tx, m, &p.state, p.error_code.as_deref(), p.error_message.as_deref(), now).await
}
