//! Inbound files: the parts of fetched e-mails, and the media that
//! Twilio, Meta, Telegram and Viber messages point at.
//!
//! * E-mail: [`keep_email_parts`] runs in the IMAP poller before the event
//!   is stored — each part within the caps goes to the object store and the
//!   event keeps only its attachment id and hash; processing turns them into
//!   `attachments` rows ([`email_rows`]).
//! * Provider media: processing queues `inbox.media` for a message with
//!   media ([`MEDIA_JOB`]); the job fetches each part not yet stored, with
//!   retries: Twilio `MediaUrlN` with the account's basic auth; WhatsApp
//!   `GET /{media-id}` on the Graph base, then its `url` with the bearer
//!   token; Telegram `getFile`, then `file/bot<token>/<file_path>` on the
//!   Bot API base; Messenger, Instagram and Viber the payload's URL. URLs
//!   taken from a payload go through the SSRF-guarded client; provider
//!   bases are operator configuration. At most 25 MB per file; a part that
//!   cannot be had (4xx, too large) is skipped with a log line that names
//!   no token or URL.

use super::attachments::{self, MAX_ATTACHMENT_BYTES};
use super::channels::open_config;
use crate::worker::JobError;
use crate::{App, AppError, Result};
use futures_util::stream::StreamExt;
use kith_domain::new_id;
use kith_infra::objects::{ByteStream, ObjectError, PutInfo};
use kith_providers::email::{Attachment as EmailPart, InboundEmail};
use kith_providers::{InboundEvent, MediaRef};
use kith_store::attachments::{self as rows, AttachmentRow};
use kith_store::inbox as inbox_rows;
use kith_store::jobs::ClaimedJob;
use serde_json::{Map, Value};
use uuid::Uuid;

pub const MEDIA_JOB: &str = "inbox.media";

// ------------------------------------------------------------------ e-mail

/// Store the bytes of each part of a fetched e-mail (poller, before the
/// event is stored); parts over the caps get a note in the message text.
pub(crate) async fn keep_email_parts(app: &App, org_id: Uuid, email: &mut InboundEmail) -> Result<()> {
    let mut omitted = Vec::new();
    for part in &mut email.attachments {
        if part.omitted {
            omitted.push(format!(
                "{} ({} MB)",
                attachments::clean_name(part.name.as_deref().unwrap_or("")),
                part.size.div_ceil(1024 * 1024)
            ));
            continue;
        }
        if part.data.is_empty() {
            continue;
        }
        let id = new_id();
        let info = attachments::put(app, org_id, id, attachments::bytes_stream(std::mem::take(&mut part.data))).await?;
        part.stored_as = Some(id.to_string());
        part.sha256 = Some(info.sha256);
    }
    if !omitted.is_empty() {
        email.message.text.push_str(&format!(
            "\n\n[Not kept, over the {} MB limit per message: {}]",
            MAX_ATTACHMENT_BYTES / (1024 * 1024),
            omitted.join(", ")
        ));
    }
    Ok(())
}

/// The attachment ids an event's e-mail parts were stored under.
pub(crate) fn stored_parts(event: &InboundEvent) -> Vec<Uuid> {
    match event {
        InboundEvent::Email(e) => {
            e.attachments.iter().filter_map(|a| a.stored_as.as_deref().and_then(|s| Uuid::parse_str(s).ok())).collect()
        }
        _ => vec![],
    }
}

/// Remove stored parts nobody will point at (best effort).
pub(crate) async fn forget_stored(app: &App, org_id: Uuid, ids: &[Uuid]) {
    for id in ids {
        if let Err(e) = app.objects().delete(&attachments::object_key(org_id, *id)).await {
            tracing::warn!(attachment_id = %id, error = %e, "an unneeded object was not removed");
        }
    }
}

/// The rows of a message's stored e-mail parts (conversation id to be set).
pub(crate) async fn email_rows(
    app: &App,
    org_id: Uuid,
    message_id: Uuid,
    parts: &[EmailPart],
) -> Result<Vec<AttachmentRow>> {
    let mut out = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let Some(id) = part.stored_as.as_deref().and_then(|s| Uuid::parse_str(s).ok()) else { continue };
        let info = PutInfo { size: part.size, sha256: part.sha256.clone().unwrap_or_default() };
        let name = part.name.clone().unwrap_or_default();
        out.push(
            attachments::row(
                app,
                org_id,
                id,
                Uuid::nil(),
                Some(message_id),
                i as i64,
                "in",
                &name,
                &part.content_type,
                &info,
                None,
            )
            .await?,
        );
    }
    Ok(out)
}

// --------------------------------------------------------- provider media

/// Queue the fetch of a new message's media (in processing's transaction).
pub(crate) async fn enqueue(tx: &mut kith_store::Tx, org_id: Uuid, message_id: Uuid, now: i64) -> Result<()> {
    crate::worker::enqueue(tx, MEDIA_JOB, Some(org_id), &serde_json::json!({"message_id": message_id}), now).await?;
    Ok(())
}

/// Why one part was not fetched.
enum Miss {
    /// Worth another try (network, 5xx, 429).
    Retry(String),
    /// Will not work (4xx, too large, no URL): skipped.
    Skip(String),
}

fn text(config: &Map<String, Value>, key: &str) -> String {
    config.get(key).and_then(Value::as_str).unwrap_or("").to_string()
}

pub(crate) async fn run(app: App, job: ClaimedJob) -> std::result::Result<(), JobError> {
    let payload: Value =
        serde_json::from_slice(&job.payload).map_err(|e| JobError::permanent(format!("{MEDIA_JOB}: {e}")))?;
    let message_id = payload["message_id"]
        .as_str()
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or_else(|| JobError::permanent(format!("{MEDIA_JOB}: no message_id")))?;
    let org_id = job.org_id.ok_or_else(|| JobError::permanent(format!("{MEDIA_JOB}: no workspace")))?;
    fetch_all(&app, org_id, message_id).await
}

/// Fetch and store every media part of a message not stored yet.
pub async fn fetch_all(app: &App, org_id: Uuid, message_id: Uuid) -> std::result::Result<(), JobError> {
    let Some(m) = inbox_rows::get_message(app.db(), org_id, message_id).await.map_err(AppError::from)? else {
        return Ok(());
    };
    let Some(sealed) = &m.media else { return Ok(()) };
    let json = app.keyring().open(app.db(), org_id, "messages", "media", m.id, sealed).await?;
    let media: Vec<MediaRef> = serde_json::from_slice(&json).unwrap_or_default();
    let Some(channel) = kith_store::channels::get(app.db(), org_id, m.channel_id).await.map_err(AppError::from)? else {
        return Ok(()); // disconnected: its credentials are gone
    };
    let config = open_config(app, org_id, channel.id, channel.config.as_deref()).await?;
    let done = rows::parts_of(app.db(), org_id, m.id).await.map_err(AppError::from)?;
    let mut retry = None;
    for (i, media_ref) in media.iter().enumerate() {
        if done.contains(&(i as i64)) {
            continue;
        }
        let id = new_id();
        match fetch_one(app, org_id, id, &channel.kind, &config, media_ref).await {
            Ok((info, content_type)) => {
                let ext = extension(&content_type);
                let name = format!("{}-{}{ext}", channel.kind, i + 1);
                let r = attachments::row(
                    app,
                    org_id,
                    id,
                    m.conversation_id,
                    Some(m.id),
                    i as i64,
                    "in",
                    &name,
                    &content_type,
                    &info,
                    None,
                )
                .await?;
                let mut tx = app.db().begin().await.map_err(AppError::from)?;
                let fresh = rows::insert(&mut tx, &r).await.map_err(AppError::from)?;
                tx.commit().await.map_err(AppError::from)?;
                if !fresh {
                    let _ = app.objects().delete(&r.object_key).await;
                } else {
                    super::publish(app, org_id, kith_infra::events::MESSAGE_UPDATED, m.conversation_id, Some(m.id));
                }
            }
            Err(Miss::Skip(why)) => {
                tracing::warn!(message_id = %m.id, part = i, kind = %channel.kind, reason = %why, "media skipped");
            }
            Err(Miss::Retry(why)) => retry = Some(why),
        }
    }
    match retry {
        Some(why) => Err(JobError::from(format!("{MEDIA_JOB}: {why}"))),
        None => Ok(()),
    }
}

fn extension(content_type: &str) -> &'static str {
    match content_type {
        "image/jpeg" => ".jpg",
        "image/png" => ".png",
        "image/gif" => ".gif",
        "image/webp" => ".webp",
        "video/mp4" => ".mp4",
        "audio/ogg" => ".ogg",
        "audio/mpeg" => ".mp3",
        "application/pdf" => ".pdf",
        _ => "",
    }
}

fn status_miss(what: &str, status: reqwest::StatusCode) -> Miss {
    if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        Miss::Retry(format!("{what}: HTTP {}", status.as_u16()))
    } else {
        Miss::Skip(format!("{what}: HTTP {}", status.as_u16()))
    }
}

/// A refusal by the SSRF guard is final; a failed request is worth a retry.
fn guard_miss(e: kith_infra::outbound::OutboundError) -> Miss {
    use kith_infra::outbound::OutboundError;
    match e {
        OutboundError::InvalidUrl(_) | OutboundError::ForbiddenAddress(_) => Miss::Skip(format!("media URL: {e}")),
        OutboundError::Request(e) => Miss::Retry(format!("media: {}", e.without_url())),
    }
}

fn net_miss(what: &str, e: reqwest::Error) -> Miss {
    Miss::Retry(format!("{what}: {}", e.without_url()))
}

async fn fetch_one(
    app: &App,
    org_id: Uuid,
    id: Uuid,
    kind: &str,
    config: &Map<String, Value>,
    media: &MediaRef,
) -> std::result::Result<(PutInfo, String), Miss> {
    let guarded = app.outbound();
    let inbox = app.inbox();
    let resp = match kind {
        "twilio_sms" => {
            let url = media.url.as_deref().ok_or_else(|| Miss::Skip("no media URL".into()))?;
            let req = guarded.http().get(url).basic_auth(text(config, "account_sid"), Some(text(config, "auth_token")));
            guarded.send(req).await.map_err(guard_miss)?
        }
        "whatsapp" => {
            let media_id = media.provider_media_id.as_deref().ok_or_else(|| Miss::Skip("no media id".into()))?;
            let token = text(config, "access_token");
            let mut meta_url = url::Url::parse(&inbox.bases.meta_graph).map_err(|e| Miss::Skip(e.to_string()))?;
            meta_url
                .path_segments_mut()
                .map_err(|_| Miss::Skip("bad Graph base".into()))?
                .pop_if_empty()
                .push(media_id);
            let meta = inbox.http.get(meta_url).bearer_auth(&token).send().await.map_err(|e| net_miss("graph", e))?;
            if !meta.status().is_success() {
                return Err(status_miss("graph media lookup", meta.status()));
            }
            let info: Value = meta.json().await.map_err(|e| net_miss("graph", e))?;
            let url = info["url"].as_str().ok_or_else(|| Miss::Skip("graph gave no media url".into()))?;
            guarded.send(guarded.http().get(url).bearer_auth(&token)).await.map_err(guard_miss)?
        }
        "telegram" => {
            let file_id = media.provider_media_id.as_deref().ok_or_else(|| Miss::Skip("no file id".into()))?;
            let token = text(config, "bot_token");
            let file = inbox
                .telegram()
                .call(&token, "getFile", &serde_json::json!({"file_id": file_id}))
                .await
                .map_err(|e| match e {
                    kith_providers::SendError::Permanent { message, .. } => Miss::Skip(format!("getFile: {message}")),
                    other => Miss::Retry(format!("getFile: {other}")),
                })?;
            let path = file["file_path"].as_str().ok_or_else(|| Miss::Skip("getFile gave no file_path".into()))?;
            let mut url = url::Url::parse(&inbox.bases.telegram).map_err(|e| Miss::Skip(e.to_string()))?;
            {
                let mut segs = url.path_segments_mut().map_err(|_| Miss::Skip("bad Bot API base".into()))?;
                segs.pop_if_empty().push("file").push(&format!("bot{token}"));
                segs.extend(path.split('/'));
            }
            inbox.http.get(url).send().await.map_err(|e| net_miss("telegram file", e))?
        }
        _ => {
            let url = media.url.as_deref().ok_or_else(|| Miss::Skip("no media URL".into()))?;
            guarded.get(url).await.map_err(guard_miss)?
        }
    };
    if !resp.status().is_success() {
        return Err(status_miss("media download", resp.status()));
    }
    if resp.content_length().is_some_and(|n| n > MAX_ATTACHMENT_BYTES) {
        return Err(Miss::Skip("larger than 25 MB".into()));
    }
    let header_type =
        resp.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_string);
    let content_type = attachments::clean_content_type(
        header_type.as_deref().filter(|t| !t.starts_with("application/octet-stream")).or(media.content_type.as_deref()),
    );
    let body: ByteStream = futures_util::stream::try_unfold(resp, |mut resp| async move {
        match resp.chunk().await {
            Ok(Some(chunk)) => Ok(Some((chunk, resp))),
            Ok(None) => Ok(None),
            Err(e) => Err(ObjectError::Remote(e.without_url().to_string())),
        }
    })
    .boxed();
    match app.objects().put_stream(&attachments::object_key(org_id, id), body, MAX_ATTACHMENT_BYTES).await {
        Ok(info) => Ok((info, content_type)),
        Err(ObjectError::TooLarge { .. }) => Err(Miss::Skip("larger than 25 MB".into())),
        Err(e) => Err(Miss::Retry(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn extensions() {
        assert_eq!(super::extension("image/jpeg"), ".jpg");
        assert_eq!(super::extension("application/x-unknown"), "");
    }
}
