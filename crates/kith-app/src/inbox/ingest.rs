//! Provider webhooks in: verify the signature with the channel's own secret,
//! parse into provider-neutral events, then store every event (sealed) and
//! its `inbox.process` job in one short transaction before the provider is
//! answered (promise 9). A redelivered event hits the unique key on
//! (channel, provider event id) and is stored once; the provider still gets
//! its 2xx. A bad signature stores nothing.
//!
//! Nothing here logs message text, tokens or signatures.

use super::channels::{by_route, for_hook};
use super::CachedChannel;
use crate::{App, AppError, Result};
use kith_domain::new_id;
use kith_domain::time::now_ms;
use kith_providers::{meta, telegram, twilio, viber, InboundEvent};
use kith_store::inbox::InboundEventRow;
use std::sync::Arc;
use uuid::Uuid;

/// Largest bodies accepted per provider (Meta batches may reach 3 MB).
pub const TWILIO_MAX_BODY: usize = 64 * 1024;
pub const META_MAX_BODY: usize = 3 * 1024 * 1024;
pub const TELEGRAM_MAX_BODY: usize = 1024 * 1024;
pub const VIBER_MAX_BODY: usize = 1024 * 1024;

/// What a webhook request led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HookAck {
    /// New events stored (each with its processing job).
    pub stored: usize,
    /// Events this channel already had (provider redeliveries).
    pub duplicates: usize,
    /// Meta entries addressed to no connected channel of the workspace.
    pub unrouted: usize,
}

const META_KINDS: [&str; 3] = ["whatsapp", "messenger", "instagram"];

async fn channel_of(app: &App, id: Uuid, kinds: &[&str]) -> Result<Arc<CachedChannel>> {
    let c = for_hook(app, id).await?;
    if kinds.contains(&c.kind.as_str()) {
        Ok(c)
    } else {
        Err(AppError::NotFound)
    }
}

fn refused(channel_id: Uuid, provider: &str) -> AppError {
    tracing::warn!(%channel_id, provider, "webhook signature did not verify");
    AppError::Forbidden
}

fn unparseable(channel_id: Uuid, provider: &str, e: kith_providers::ParseError) -> AppError {
    tracing::warn!(%channel_id, provider, error = %e, "webhook payload not understood");
    AppError::field("body", format!("not a {provider} webhook payload: {e}"))
}

/// Twilio: `full_url` is the public URL Twilio called (the server's public
/// base URL + path + query); the signature covers it and every form field.
pub async fn twilio(
    app: &App,
    channel_id: Uuid,
    full_url: &str,
    body: &[u8],
    signature: Option<&str>,
) -> Result<HookAck> {
    let c = channel_of(app, channel_id, &["twilio_sms"]).await?;
    let params = twilio::form_pairs(body);
    if !twilio::verify_signature(c.secret("auth_token"), full_url, &params, signature.unwrap_or("")) {
        return Err(refused(channel_id, "twilio"));
    }
    let events = twilio::parse_form(body).map_err(|e| unparseable(channel_id, "twilio", e))?;
    store(app, c.org_id, events.into_iter().map(|e| (channel_id, e)).collect(), 0).await
}

/// Meta's verification handshake: the challenge to echo, when the token is
/// the channel's verify token.
pub async fn meta_handshake(app: &App, channel_id: Uuid, mode: &str, token: &str, challenge: &str) -> Result<String> {
    let c = channel_of(app, channel_id, &META_KINDS).await?;
    meta::verify_handshake(mode, token, challenge, c.secret("verify_token")).ok_or_else(|| {
        tracing::warn!(%channel_id, "meta verification handshake refused");
        AppError::Forbidden
    })
}

/// Meta (WhatsApp, Messenger, Instagram): the signature is checked with the
/// app secret of the channel in the URL; each event then goes to the
/// channel of the same workspace that its route (phone number id, page id,
/// Instagram account id) names. Events for no connected channel are dropped.
pub async fn meta(app: &App, channel_id: Uuid, body: &[u8], signature: Option<&str>) -> Result<HookAck> {
    let c = channel_of(app, channel_id, &META_KINDS).await?;
    if !meta::verify_signature(c.secret("app_secret"), body, signature.unwrap_or("")) {
        return Err(refused(channel_id, "meta"));
    }
    let events = meta::parse(body).map_err(|e| unparseable(channel_id, "meta", e))?;
    let mut routed = Vec::with_capacity(events.len());
    let mut unrouted = 0;
    let mut known: Vec<(String, Option<Uuid>)> = Vec::new();
    for e in events {
        let target = match e.route() {
            None => Some(channel_id),
            Some(r) if c.route_key.as_deref() == Some(r) => Some(channel_id),
            Some(r) => match known.iter().find(|(k, _)| k == r) {
                Some((_, t)) => *t,
                None => {
                    let t = by_route(app, c.org_id, r)
                        .await?
                        .filter(|(_, kind)| META_KINDS.contains(&kind.as_str()))
                        .map(|(id, _)| id);
                    known.push((r.to_string(), t));
                    t
                }
            },
        };
        match target {
            Some(t) => routed.push((t, e)),
            None => unrouted += 1,
        }
    }
    if unrouted > 0 {
        tracing::info!(%channel_id, unrouted, "meta entries for no connected channel of the workspace dropped");
    }
    store(app, c.org_id, routed, unrouted).await
}

/// Telegram: the secret token header must be the one given at registration.
pub async fn telegram(app: &App, channel_id: Uuid, body: &[u8], secret: Option<&str>) -> Result<HookAck> {
    let c = channel_of(app, channel_id, &["telegram"]).await?;
    if !telegram::verify_secret_token(secret, c.secret("webhook_secret")) {
        return Err(refused(channel_id, "telegram"));
    }
    let events = telegram::parse(body).map_err(|e| unparseable(channel_id, "telegram", e))?;
    store(app, c.org_id, events.into_iter().map(|e| (channel_id, e)).collect(), 0).await
}

/// Viber: `X-Viber-Content-Signature` over the raw body with the auth token.
pub async fn viber(app: &App, channel_id: Uuid, body: &[u8], signature: Option<&str>) -> Result<HookAck> {
    let c = channel_of(app, channel_id, &["viber"]).await?;
    if !viber::verify_signature(c.secret("auth_token"), body, signature.unwrap_or("")) {
        return Err(refused(channel_id, "viber"));
    }
    let events = viber::parse(body).map_err(|e| unparseable(channel_id, "viber", e))?;
    store(app, c.org_id, events.into_iter().map(|e| (channel_id, e)).collect(), 0).await
}

/// Seal every event, then store them and their jobs in one transaction
/// (shared with concurrent requests: [`super::group_commit`]).
async fn store(app: &App, org_id: Uuid, events: Vec<(Uuid, InboundEvent)>, unrouted: usize) -> Result<HookAck> {
    let mut ack = HookAck { unrouted, ..Default::default() };
    if events.is_empty() {
        return Ok(ack);
    }
    let now = now_ms();
    let mut prepared = Vec::with_capacity(events.len());
    for (channel_id, event) in events {
        let id = new_id();
        let value = serde_json::to_value(&event).map_err(|e| AppError::Internal(e.to_string()))?;
        // The event's serde tag: `message`, `status`, `email`.
        let kind = value["kind"].as_str().unwrap_or("message").to_string();
        let json = serde_json::to_vec(&value).map_err(|e| AppError::Internal(e.to_string()))?;
        let payload = app.keyring().seal(app.db(), org_id, "inbound_events", "payload", id, &json).await?;
        prepared.push(InboundEventRow {
            id,
            org_id,
            channel_id,
            provider_event_id: event.provider_event_id(),
            kind,
            payload,
            received_ms: now,
            processed_ms: None,
            error: None,
        });
    }
    // Committed together with other requests' events (group commit); back only once durable.
    let unit = super::group_commit::Unit { org_id, rows: prepared, now };
    (ack.stored, ack.duplicates) = app.inbox().ingest.store(app.db(), unit).await?;
    Ok(ack)
}
