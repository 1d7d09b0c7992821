//! Attachments of inbox messages (issue #4 §4, §6; DESIGN.md "Files"): the
//! bytes in the object store under `org/<org_id>/att/<attachment_id>`, the
//! row (sealed file name, type, size, SHA-256) in `attachments`.
//!
//! * **In**: e-mail attachments are stored by the IMAP poller before the
//!   event is (see `email.rs`); provider media are fetched by the
//!   `inbox.media` job after the message exists (see `media.rs`).
//! * **Out**: an agent uploads a file to a conversation ([`upload`]) and
//!   names it in `attachment_ids` of a reply; [`check_for_channel`] refuses
//!   what the channel cannot carry before anything is queued, [`link`]
//!   gives it to the message in the reply's transaction, and the send job
//!   passes it on — as a MIME part (e-mail) or as a short-lived signed URL
//!   the provider fetches ([`signed_url`], checked by [`open_signed`]).
//!   Messenger, Instagram and Viber carry one file per provider message:
//!   each file is sent on its own and records the provider's id
//!   ([`mark_sent`]), so a retried send skips what already went.
//! * **Unsent uploads** (never named in a reply) are deleted after
//!   [`UNSENT_TTL_MS`] by the hourly [`SWEEP_JOB`] ([`sweep_unsent`]).
//! * **Reading** goes through the conversation's visibility: an attachment
//!   of a conversation the member may not see is "not found".
//! * **Removing an upload** before it is sent ([`delete_unsent`]: the
//!   composer's Remove, `DELETE /api/v1/attachments/{id}`): the uploader
//!   or an admin (owner included) of a workspace may; nobody else, since an
//!   unsent upload is its uploader's draft (a teammate's removal would
//!   silently take the file off that person's reply). A sent or received
//!   file is `attachment_sent` (409) and stays: it belongs to the thread.
//! * **Deleting**: the `objects.delete` job removes objects by key list or
//!   workspace prefix, queued in the transaction that deletes the rows.
//!
//! File names are cleaned ([`clean_name`]: no path, no control
//! characters); a content type that is not a plain `type/subtype` becomes
//! `application/octet-stream`. Only png, jpeg, gif and webp images are ever
//! shown inline (never svg).

use super::conversations;
use crate::worker::JobError;
use crate::{App, AppError, ErrorCode, Result};
use kith_domain::role::{Action, Role};
use kith_domain::time::now_ms;
use kith_domain::{new_id, Context};
use kith_infra::objects::{ByteStream, Object, ObjectError, PutInfo};
use kith_store::attachments::{self as rows, AttachmentRow};
use kith_store::jobs::ClaimedJob;
use kith_store::Tx;
use serde::Serialize;
use std::collections::HashMap;
use uuid::Uuid;

/// The largest file kept (upload, e-mail part or provider media).
pub const MAX_ATTACHMENT_BYTES: u64 = 25 * 1024 * 1024;
/// The most attachments one reply may carry.
pub const MAX_PER_MESSAGE: usize = 10;
/// How long a signed link handed to a provider stays valid.
pub const LINK_TTL_MS: i64 = 60 * 60 * 1000;
pub const DELETE_JOB: &str = "objects.delete";
const NAME_TABLE: &str = "attachments";
const NAME_COLUMN: &str = "name";

/// An attachment as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Attachment {
    pub id: Uuid,
    pub conversation_id: Uuid,
    /// Null for an upload not sent yet.
    pub message_id: Option<Uuid>,
    /// `in` (from the contact) or `out` (from the team).
    pub direction: String,
    pub name: String,
    pub content_type: String,
    pub size: i64,
    /// SHA-256 of the bytes, hex.
    pub sha256: String,
    pub created_at_ms: i64,
}

/// A file name safe to show and to put in a header: the last path
/// component, without control characters, at most 200 characters;
/// `attachment` when nothing is left.
pub fn clean_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last.chars().filter(|c| !c.is_control()).collect();
    let cleaned = cleaned.trim().trim_start_matches('.').trim();
    let cut: String = cleaned.chars().take(200).collect();
    if cut.is_empty() {
        "attachment".into()
    } else {
        cut
    }
}

/// `type/subtype` in lower case, or `application/octet-stream`.
pub fn clean_content_type(raw: Option<&str>) -> String {
    let t = raw.unwrap_or("").split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let token = |s: &str| {
        !s.is_empty() && s.len() <= 100 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b))
    };
    match t.split_once('/') {
        Some((a, b)) if token(a) && token(b) => t,
        _ => "application/octet-stream".into(),
    }
}

/// Images a browser may show inline without risk (never svg: it runs script).
pub fn inline_safe(content_type: &str) -> bool {
    matches!(content_type, "image/png" | "image/jpeg" | "image/gif" | "image/webp")
}

pub fn object_key(org_id: Uuid, id: Uuid) -> String {
    format!("org/{org_id}/att/{id}")
}

/// Every object of a workspace.
pub fn workspace_prefix(org_id: Uuid) -> String {
    format!("org/{org_id}/")
}

fn store_error(e: ObjectError) -> AppError {
    match e {
        ObjectError::TooLarge { max } => AppError::Conflict(
            ErrorCode::PayloadTooLarge,
            if max == MAX_ATTACHMENT_BYTES { "the file is larger than 25 MB" } else { "the file is too large" },
        ),
        other => AppError::Internal(format!("object store: {other}")),
    }
}

/// Put bytes in the store under a new attachment id.
pub(crate) async fn put(app: &App, org_id: Uuid, id: Uuid, body: ByteStream) -> Result<PutInfo> {
    app.objects().put_stream(&object_key(org_id, id), body, MAX_ATTACHMENT_BYTES).await.map_err(store_error)
}

/// The row of a stored object, its name sealed.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn row(
    app: &App,
    org_id: Uuid,
    id: Uuid,
    conversation_id: Uuid,
    message_id: Option<Uuid>,
    part: i64,
    direction: &str,
    name: &str,
    content_type: &str,
    info: &PutInfo,
    uploaded_by: Option<Uuid>,
) -> Result<AttachmentRow> {
    let sealed = app.keyring().seal(app.db(), org_id, NAME_TABLE, NAME_COLUMN, id, clean_name(name).as_bytes()).await?;
    Ok(AttachmentRow {
        id,
        org_id,
        conversation_id,
        message_id,
        part,
        direction: direction.into(),
        name: sealed,
        content_type: clean_content_type(Some(content_type)),
        byte_size: info.size as i64,
        sha256: info.sha256.clone(),
        object_key: object_key(org_id, id),
        uploaded_by,
        created_ms: now_ms(),
        provider_message_id: None,
    })
}

async fn to_api(app: &App, r: AttachmentRow) -> Result<Attachment> {
    let name = app.keyring().open(app.db(), r.org_id, NAME_TABLE, NAME_COLUMN, r.id, &r.name).await?;
    Ok(Attachment {
        id: r.id,
        conversation_id: r.conversation_id,
        message_id: r.message_id,
        direction: r.direction,
        name: String::from_utf8_lossy(&name).into_owned(),
        content_type: r.content_type,
        size: r.byte_size,
        sha256: r.sha256,
        created_at_ms: r.created_ms,
    })
}

/// Upload a file to a conversation, to be sent with a reply (`WriteRecords`).
/// Empty files are refused; more than 25 MB is `payload_too_large`.
pub async fn upload(
    app: &App,
    ctx: &Context,
    conversation_id: Uuid,
    name: &str,
    content_type: Option<&str>,
    body: ByteStream,
) -> Result<Attachment> {
    if !ctx.can(Action::WriteRecords) {
        return Err(AppError::Forbidden);
    }
    conversations::visible(app, ctx, conversation_id).await?;
    let id = new_id();
    let info = put(app, ctx.org_id, id, body).await?;
    if info.size == 0 {
        let _ = app.objects().delete(&object_key(ctx.org_id, id)).await;
        return Err(AppError::field("file", "is empty"));
    }
    let ct = clean_content_type(content_type);
    let r = row(app, ctx.org_id, id, conversation_id, None, 0, "out", name, &ct, &info, Some(ctx.user_id())).await?;
    let stored = async {
        let mut tx = app.db().begin().await?;
        rows::insert(&mut tx, &r).await?;
        tx.commit().await?;
        Ok::<(), AppError>(())
    };
    if let Err(e) = stored.await {
        let _ = app.objects().delete(&r.object_key).await;
        return Err(e);
    }
    to_api(app, r).await
}

/// An attachment the member may see (its conversation is visible).
pub async fn get(app: &App, ctx: &Context, id: Uuid) -> Result<Attachment> {
    to_api(app, visible_row(app, ctx, id).await?).await
}

async fn visible_row(app: &App, ctx: &Context, id: Uuid) -> Result<AttachmentRow> {
    let r = rows::get(app.db(), ctx.org_id, id).await?.ok_or(AppError::NotFound)?;
    conversations::visible(app, ctx, r.conversation_id).await?;
    Ok(r)
}

/// The attachment and its bytes, streamed.
pub async fn download(app: &App, ctx: &Context, id: Uuid) -> Result<(Attachment, Object)> {
    let r = visible_row(app, ctx, id).await?;
    let object = app.objects().get(&r.object_key).await.map_err(store_error)?.ok_or(AppError::NotFound)?;
    Ok((to_api(app, r).await?, object))
}

/// The attachments of some messages of a workspace, by message.
pub(crate) async fn for_messages(app: &App, org_id: Uuid, ids: &[Uuid]) -> Result<HashMap<Uuid, Vec<Attachment>>> {
    let mut out: HashMap<Uuid, Vec<Attachment>> = HashMap::new();
    for r in rows::for_messages(app.db(), org_id, ids).await? {
        let Some(message_id) = r.message_id else { continue };
        out.entry(message_id).or_default().push(to_api(app, r).await?);
    }
    Ok(out)
}

/// How many files a message may carry on a kind of channel: MMS and e-mail
/// take several in one provider message; Messenger, Instagram and Viber
/// several, each sent as a provider message of its own (their messages
/// carry one file); WhatsApp and Telegram one (the text goes as its
/// caption); other kinds none.
pub fn max_files(channel_kind: &str) -> usize {
    match channel_kind {
        "twilio_sms" | "email" | "messenger" | "instagram" | "viber" => MAX_PER_MESSAGE,
        "whatsapp" | "telegram" => 1,
        _ => 0,
    }
}

/// Whether a kind of channel sends each file as a provider message of its
/// own (and the text apart from them, but for a short Viber picture caption).
pub fn one_file_per_message(channel_kind: &str) -> bool {
    matches!(channel_kind, "messenger" | "instagram" | "viber")
}

/// The largest image Instagram messaging takes (its videos and audio may
/// reach the 25 MB every upload is held to).
pub const INSTAGRAM_MAX_IMAGE_BYTES: i64 = 8 * 1024 * 1024;

/// Why a channel cannot carry a file, if it cannot: Instagram takes the
/// images (up to 8 MB), videos and audio of Meta's list only
/// ([`kith_providers::meta::INSTAGRAM_TYPES`]); Viber no executables and
/// nothing over 50 MB. Both providers' other ceilings (Instagram's 25 MB for
/// videos and audio, Viber's 26 MB for videos) are above the 25 MiB every
/// upload is held to; a Viber picture over 1 MB goes as a file.
pub fn refusal(channel_kind: &str, name: &str, content_type: &str, size: i64) -> Option<String> {
    match channel_kind {
        "instagram" if !kith_providers::meta::instagram_accepts(content_type) => {
            Some(format!(
                "Instagram takes png, jpeg and gif images, mp4, ogg, avi, mov and webm videos, and aac, m4a and wav audio only, not {content_type}"
            ))
        }
        "instagram" if content_type.starts_with("image/") && size > INSTAGRAM_MAX_IMAGE_BYTES => {
            Some("Instagram takes images of at most 8 MB".to_string())
        }
        "viber" => kith_providers::viber::check_file(name, size.max(0) as u64).err().map(str::to_string),
        _ => None,
    }
}

/// The file types a channel takes, as an HTML `accept` list (empty: any).
pub fn accepted_types(channel_kind: &str) -> &'static str {
    match channel_kind {
        "instagram" => {
            "image/png,image/jpeg,image/gif,video/mp4,video/ogg,video/x-msvideo,video/avi,video/quicktime,video/webm,\
             audio/aac,audio/mp4,audio/x-m4a,audio/m4a,audio/wav,audio/x-wav"
        }
        _ => "",
    }
}

/// Refuse, before a reply is queued, uploads that the conversation's channel
/// cannot carry (`attachment_ids.N`, 422). Ids that are not this
/// workspace's uploads are left to [`link`], which names them.
pub(crate) async fn check_for_channel(app: &App, org_id: Uuid, channel_kind: &str, ids: &[Uuid]) -> Result<()> {
    if !matches!(channel_kind, "instagram" | "viber") {
        return Ok(());
    }
    let mut v = crate::error::Validator::default();
    for (i, id) in ids.iter().enumerate().take(MAX_PER_MESSAGE) {
        let Some(r) = rows::get(app.db(), org_id, *id).await? else { continue };
        let a = to_api(app, r).await?;
        if let Some(why) = refusal(channel_kind, &a.name, &a.content_type, a.size) {
            v.check::<()>(&format!("attachment_ids.{i}"), Err(why));
        }
    }
    v.finish()
}

/// Give uploads to a new outbound message (in its transaction): each must
/// be an unsent upload of the same conversation (`attachment_ids.N` names
/// the one that is not), and no more than the channel takes.
pub(crate) async fn link(
    tx: &mut Tx,
    org_id: Uuid,
    conversation_id: Uuid,
    message_id: Uuid,
    channel_kind: &str,
    ids: &[Uuid],
) -> Result<()> {
    let max = max_files(channel_kind);
    if ids.len() > max {
        let why = match max {
            0 => "this channel takes no attachments yet".to_string(),
            1 => "this channel takes one attachment per message".to_string(),
            n => format!("at most {n} attachments"),
        };
        return Err(AppError::field("attachment_ids", why));
    }
    for (i, id) in ids.iter().enumerate() {
        if !rows::link(tx, org_id, *id, conversation_id, message_id, i as i64).await? {
            return Err(AppError::field(
                &format!("attachment_ids.{i}"),
                "is not an unsent attachment of this conversation",
            ));
        }
    }
    Ok(())
}

/// A message's attachments with their bytes, as MIME parts (the e-mail send).
pub(crate) async fn mail_parts(
    app: &App,
    org_id: Uuid,
    message_id: Uuid,
) -> Result<Vec<kith_infra::smtp::MailAttachment>> {
    let mut out = Vec::new();
    for r in rows::for_messages(app.db(), org_id, &[message_id]).await? {
        let data = app.objects().get_bytes(&r.object_key).await.map_err(store_error)?.ok_or(AppError::NotFound)?;
        let a = to_api(app, r).await?;
        out.push(kith_infra::smtp::MailAttachment { name: a.name, content_type: a.content_type, data });
    }
    Ok(out)
}

/// A file of an outbound message as a provider fetches it.
pub(crate) struct OutboundFile {
    pub id: Uuid,
    /// A signed link valid for [`LINK_TTL_MS`], ending in the file's extension.
    pub url: String,
    pub content_type: String,
    pub name: String,
    pub size: u64,
    /// Where files go as messages of their own: the provider's id of the
    /// message that carried this one, once sent.
    pub sent_as: Option<String>,
}

/// A message's attachments as signed links, in order, for providers that
/// fetch media by URL (empty when it has none).
pub(crate) async fn outbound_files(app: &App, org_id: Uuid, message_id: Uuid) -> Result<Vec<OutboundFile>> {
    let mut out = Vec::new();
    for r in rows::for_messages(app.db(), org_id, &[message_id]).await? {
        let sent_as = r.provider_message_id.clone();
        let a = to_api(app, r).await?;
        let url = signed_url_named(app, org_id, a.id, &a.name).await?;
        let size = a.size.max(0) as u64;
        out.push(OutboundFile { id: a.id, url, content_type: a.content_type, name: a.name, size, sent_as });
    }
    Ok(out)
}

/// The message one of whose files went as the provider message
/// `provider_id` on a channel (for its status callbacks).
pub(crate) async fn message_of_sent_file(
    tx: &mut Tx,
    org_id: Uuid,
    channel_id: Uuid,
    provider_id: &str,
) -> Result<Option<kith_store::inbox::MessageRow>> {
    let Some(id) = rows::message_of_sent_file(tx, org_id, channel_id, provider_id).await? else { return Ok(None) };
    Ok(kith_store::inbox::get_message_tx(tx, org_id, id).await?)
}

/// Record that a file went as the provider message `provider_message_id`
/// (committed at once: a retry must not send it again). A status callback
/// for that id may have come first and been held in `pending_statuses`
/// (the provider answers the call after it sends the callback, or the
/// callback overtook this write): it is applied here, under the same lock as
/// a callback, as [`super::process`] applies one arriving later — a file's
/// `failed` fails its message, its other states are dropped. True when the
/// message failed so (the caller sends nothing more of it).
pub(crate) async fn mark_sent(
    app: &App,
    org_id: Uuid,
    channel_id: Uuid,
    id: Uuid,
    provider_message_id: &str,
) -> Result<bool> {
    use kith_store::inbox as inbox_rows;
    let mut tx = app.db().begin().await?;
    super::process::lock_message(&mut tx, org_id, channel_id, provider_message_id).await?;
    rows::set_provider_message_id(&mut tx, org_id, id, provider_message_id).await?;
    let (mut failed, mut changed) = (false, None);
    if let Some(p) = inbox_rows::get_pending(&mut tx, channel_id, provider_message_id).await? {
        inbox_rows::delete_pending(&mut tx, channel_id, provider_message_id).await?;
        if p.state == "failed" {
            if let Some(m) = message_of_sent_file(&mut tx, org_id, channel_id, provider_message_id).await? {
                let (code, text) = (p.error_code.as_deref(), p.error_message.as_deref());
                failed = true;
                changed = super::process::advance(&mut tx, &m, "failed", code, text, now_ms()).await?.then_some(m);
            }
        }
    }
    tx.commit().await?;
    if let Some(m) = changed {
        super::publish(app, org_id, kith_infra::events::MESSAGE_UPDATED, m.conversation_id, Some(m.id));
    }
    Ok(failed)
}

// ------------------------------------------------------------ signed links

async fn link_key(app: &App, org_id: Uuid) -> Result<Vec<u8>> {
    // Derived from the workspace's first data key: stable across rotation.
    Ok(app.keyring().search_key(app.db(), org_id).await?.derive("attachment-links").as_bytes().to_vec())
}

fn link_mac(key: &[u8], org_id: Uuid, id: Uuid, expires_ms: i64) -> String {
    hex::encode(kith_crypto::hmac_sha256(key, format!("{org_id}:{id}:{expires_ms}").as_bytes()))
}

/// The path of a capability link to an attachment, valid until `expires_ms`.
pub async fn signed_path(app: &App, org_id: Uuid, id: Uuid, expires_ms: i64) -> Result<String> {
    let sig = link_mac(&link_key(app, org_id).await?, org_id, id, expires_ms);
    Ok(format!("/files/{org_id}/{id}?expires={expires_ms}&sig={sig}"))
}

/// A capability URL on the public base URL, valid for [`LINK_TTL_MS`]
/// (what a provider fetches to send media).
pub async fn signed_url(app: &App, org_id: Uuid, id: Uuid) -> Result<String> {
    let path = signed_path(app, org_id, id, now_ms() + LINK_TTL_MS).await?;
    Ok(format!("{}{path}", app.settings().public_url))
}

/// [`signed_url`] whose last path segment ends in the file name's extension
/// (`/files/<org>/<id>.jpg?…`): Viber wants a picture's or video's URL to
/// end in `.jpg`, `.png`, `.mp4`…; the route ignores the extension and the
/// signature does not cover it.
pub async fn signed_url_named(app: &App, org_id: Uuid, id: Uuid, name: &str) -> Result<String> {
    let url = signed_url(app, org_id, id).await?;
    let Some(ext) = link_extension(name) else { return Ok(url) };
    let id_text = id.to_string();
    Ok(url.replacen(&format!("/{id_text}?"), &format!("/{id_text}.{ext}?"), 1))
}

/// A file name's extension when it is short and plain (`[a-z0-9]{1,8}`),
/// lower case.
fn link_extension(name: &str) -> Option<String> {
    let (_, ext) = name.rsplit_once('.')?;
    let ok = (1..=8).contains(&ext.len()) && ext.bytes().all(|b| b.is_ascii_alphanumeric());
    ok.then(|| ext.to_ascii_lowercase())
}

/// The attachment id in a capability link's last segment, with or without
/// the extension [`signed_url_named`] adds.
pub fn link_id(segment: &str) -> Option<Uuid> {
    let id = segment.split_once('.').map_or(segment, |(id, _)| id);
    Uuid::try_parse(id).ok()
}

/// The attachment behind a capability link; `not_found` when the link is
/// forged, expired, or the file is gone.
pub async fn open_signed(
    app: &App,
    org_id: Uuid,
    id: Uuid,
    expires_ms: i64,
    sig: &str,
) -> Result<(Attachment, Object)> {
    if expires_ms < now_ms() {
        return Err(AppError::NotFound);
    }
    let Ok(Some(r)) = rows::get(app.db(), org_id, id).await else { return Err(AppError::NotFound) };
    let expected = link_mac(&link_key(app, org_id).await?, org_id, id, expires_ms);
    if !kith_crypto::constant_time_eq(expected.as_bytes(), sig.as_bytes()) {
        return Err(AppError::NotFound);
    }
    let object = app.objects().get(&r.object_key).await.map_err(store_error)?.ok_or(AppError::NotFound)?;
    Ok((to_api(app, r).await?, object))
}

// ---------------------------------------------------------------- deleting

/// Queue the removal of objects (in the transaction that removes their rows).
pub(crate) async fn delete_objects_later(tx: &mut Tx, org_id: Uuid, keys: Vec<String>) -> Result<()> {
    delete_objects_at(tx, org_id, keys, now_ms()).await
}

async fn delete_objects_at(tx: &mut Tx, org_id: Uuid, keys: Vec<String>, run_at_ms: i64) -> Result<()> {
    if keys.is_empty() {
        return Ok(());
    }
    for chunk in keys.chunks(500) {
        let payload = serde_json::json!({"keys": chunk});
        crate::worker::enqueue(tx, DELETE_JOB, Some(org_id), &payload, run_at_ms).await?;
    }
    Ok(())
}

/// How long the `objects.delete` job queued with a removed upload waits
/// before it runs. [`delete_unsent`] removes the object itself right after
/// the row's transaction commits; the job is the backstop for when that
/// removal fails or the process stops between the two (the hourly sweep
/// cannot help then: it finds objects through their rows, and the row is
/// gone). Removing an object that is already gone is not an error.
pub const DELETE_BACKSTOP_MS: i64 = 5 * 60 * 1000;

fn already_sent() -> AppError {
    AppError::Conflict(ErrorCode::AttachmentSent, "the attachment was sent with a message and cannot be deleted")
}

/// Delete an upload not sent yet, row and object (`WriteRecords`, and the
/// uploader or an admin). `conversation_id`, when given (the composer's
/// route names it), must be the upload's. Not found: another workspace's
/// id, another conversation's, one the member may not see, or one already
/// deleted. A file that went (or came) with a message is `attachment_sent`
/// and nothing is deleted.
///
/// Order: the row goes in a transaction that also queues an
/// `objects.delete` job for its object, due in [`DELETE_BACKSTOP_MS`];
/// after the commit the object is removed at once. A reply that names the
/// upload afterwards is refused ("not an unsent attachment"); a reply that
/// linked it first makes the delete `attachment_sent`. The object is never
/// removed while its row can still be sent, and never outlives the row for
/// more than the backstop's delay (and the job's retries).
pub async fn delete_unsent(app: &App, ctx: &Context, id: Uuid, conversation_id: Option<Uuid>) -> Result<()> {
    if !ctx.can(Action::WriteRecords) {
        return Err(AppError::Forbidden);
    }
    let r = rows::get(app.db(), ctx.org_id, id).await?.ok_or(AppError::NotFound)?;
    if conversation_id.is_some_and(|c| c != r.conversation_id) {
        return Err(AppError::NotFound);
    }
    conversations::visible(app, ctx, r.conversation_id).await?;
    if r.message_id.is_some() {
        return Err(already_sent());
    }
    if r.uploaded_by != Some(ctx.user_id()) && ctx.effective_role() < Role::Admin {
        return Err(AppError::Forbidden);
    }
    let mut tx = app.db().begin().await?;
    if !rows::delete_unsent_one(&mut tx, ctx.org_id, r.conversation_id, id).await? {
        // Sent (or deleted) between the read and the delete.
        tx.rollback().await?;
        return match rows::get(app.db(), ctx.org_id, id).await? {
            Some(now) if now.message_id.is_some() => Err(already_sent()),
            _ => Err(AppError::NotFound),
        };
    }
    delete_objects_at(&mut tx, ctx.org_id, vec![r.object_key.clone()], now_ms() + DELETE_BACKSTOP_MS).await?;
    tx.commit().await?;
    if let Err(e) = app.objects().delete(&r.object_key).await {
        tracing::warn!(attachment_id = %id, error = %e, "removed upload: object removal left to the queued job");
    }
    Ok(())
}

/// Queue the removal of every object of a workspace.
pub async fn delete_workspace_objects_later(tx: &mut Tx, org_id: Uuid) -> Result<()> {
    let payload = serde_json::json!({"prefix": workspace_prefix(org_id)});
    crate::worker::enqueue(tx, DELETE_JOB, None, &payload, now_ms()).await?;
    Ok(())
}

/// Queue the removal of the objects of every conversation of a contact
/// (call before the contact's row goes: the rows cascade).
pub async fn delete_contact_objects_later(tx: &mut Tx, org_id: Uuid, contact_id: Uuid) -> Result<()> {
    let keys = rows::keys_of_contact(tx, org_id, contact_id).await?;
    delete_objects_later(tx, org_id, keys).await
}

pub(crate) async fn run_delete(app: App, job: ClaimedJob) -> std::result::Result<(), JobError> {
    let payload: serde_json::Value =
        serde_json::from_slice(&job.payload).map_err(|e| JobError::permanent(format!("{DELETE_JOB}: {e}")))?;
    if let Some(prefix) = payload["prefix"].as_str() {
        let n = app.objects().delete_prefix(prefix).await.map_err(|e| JobError::from(e.to_string()))?;
        tracing::info!(objects = n, "removed a workspace's objects");
        return Ok(());
    }
    let org_id = job.org_id.ok_or_else(|| JobError::permanent(format!("{DELETE_JOB}: no workspace")))?;
    let own = format!("org/{org_id}/");
    for key in payload["keys"].as_array().into_iter().flatten().filter_map(|k| k.as_str()) {
        if !key.starts_with(&own) {
            return Err(JobError::permanent(format!("{DELETE_JOB}: a key outside the workspace")));
        }
        app.objects().delete(key).await.map_err(|e| JobError::from(e.to_string()))?;
    }
    Ok(())
}

/// Bytes as a one-chunk stream.
pub(crate) fn bytes_stream(data: Vec<u8>) -> ByteStream {
    kith_infra::objects::once(data.into())
}

// -------------------------------------------------------- unsent uploads

/// How long an upload may wait to be sent with a reply before the sweep
/// deletes it.
pub const UNSENT_TTL_MS: i64 = 24 * 3_600_000;
/// The sweep of unsent uploads, its schedule and cron (hourly, at minute 41).
pub const SWEEP_JOB: &str = "attachments.sweep";
pub const SWEEP_SCHEDULE: &str = "attachments-sweep";
pub const SWEEP_CRON: &str = "41 * * * *";
/// Rows deleted per transaction.
const SWEEP_BATCH: i64 = 200;
/// Batches per run: a backlog larger than this waits for the next run.
const SWEEP_MAX_BATCHES: usize = 50;

/// Delete uploads (of every workspace) never sent with a message and made
/// more than [`UNSENT_TTL_MS`] before `now`: rows in bounded batches, each
/// batch's objects removed after its transaction commits (a failed removal
/// is queued as an `objects.delete` job instead of being lost). Running it
/// again finds nothing more to do. Returns how many went.
pub async fn sweep_unsent(app: &App, now: i64) -> Result<u64> {
    let mut total = 0u64;
    for _ in 0..SWEEP_MAX_BATCHES {
        let mut tx = app.db().begin().await?;
        let gone = rows::delete_unsent(&mut tx, now - UNSENT_TTL_MS, SWEEP_BATCH).await?;
        tx.commit().await?;
        for u in &gone {
            if let Err(e) = app.objects().delete(&u.object_key).await {
                tracing::warn!(attachment_id = %u.id, error = %e, "unsent upload: object removal queued for later");
                let mut tx = app.db().begin().await?;
                delete_objects_later(&mut tx, u.org_id, vec![u.object_key.clone()]).await?;
                tx.commit().await?;
            }
        }
        total += gone.len() as u64;
        if (gone.len() as i64) < SWEEP_BATCH {
            break;
        }
    }
    if total > 0 {
        tracing::info!(deleted = total, "unsent uploads deleted");
    }
    Ok(total)
}

pub(crate) async fn run_sweep(app: App, _job: ClaimedJob) -> std::result::Result<(), JobError> {
    sweep_unsent(&app, now_ms()).await.map(drop).map_err(JobError::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_cleaned() {
        assert_eq!(clean_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_name("C:\\Users\\x\\report.pdf"), "report.pdf");
        assert_eq!(clean_name("a\u{0}b\r\n.txt"), "ab.txt");
        assert_eq!(clean_name("..."), "attachment");
        assert_eq!(clean_name(".htaccess"), "htaccess");
        assert_eq!(clean_name(""), "attachment");
        assert_eq!(clean_name(&"é".repeat(300)).chars().count(), 200);
    }

    #[test]
    fn files_per_channel() {
        assert_eq!(max_files("twilio_sms"), MAX_PER_MESSAGE);
        assert_eq!(max_files("email"), MAX_PER_MESSAGE);
        assert_eq!((max_files("whatsapp"), max_files("telegram")), (1, 1));
        assert_eq!((max_files("messenger"), max_files("instagram"), max_files("viber")), (10, 10, 10));
        assert_eq!(max_files("unknown"), 0);
        assert!(one_file_per_message("viber") && !one_file_per_message("whatsapp"));
    }

    #[test]
    fn what_channels_refuse() {
        assert!(refusal("instagram", "a.pdf", "application/pdf", 10).is_some());
        assert!(refusal("instagram", "a.png", "image/png", 10).is_none());
        assert!(refusal("instagram", "a.png", "image/png", INSTAGRAM_MAX_IMAGE_BYTES + 1).is_some());
        assert!(refusal("instagram", "a.mp4", "video/mp4", INSTAGRAM_MAX_IMAGE_BYTES + 1).is_none());
        assert!(refusal("messenger", "a.pdf", "application/pdf", 10).is_none());
        assert!(refusal("viber", "setup.exe", "application/octet-stream", 10).is_some());
        assert!(refusal("viber", "a.pdf", "application/pdf", 10).is_none());
        assert!(refusal("instagram", "a.mp3", "audio/mpeg", 10).is_some(), "not on Meta's list");
        assert!(refusal("instagram", "a.webp", "image/webp", 10).is_some());
        let listed: Vec<&str> = accepted_types("instagram").split(',').collect();
        assert_eq!(listed, kith_providers::meta::INSTAGRAM_TYPES, "the picker offers what the check takes");
        for t in listed {
            assert!(refusal("instagram", "f", t, 10).is_none(), "{t}");
        }
        assert_eq!(accepted_types("messenger"), "");
    }

    #[test]
    fn link_ids_and_extensions() {
        let id = new_id();
        assert_eq!(link_id(&id.to_string()), Some(id));
        assert_eq!(link_id(&format!("{id}.jpg")), Some(id));
        assert_eq!(link_id("nonsense.jpg"), None);
        assert_eq!(link_extension("Photo.JPG").as_deref(), Some("jpg"));
        assert_eq!(link_extension("archive.tar.gz").as_deref(), Some("gz"));
        assert_eq!(link_extension("no-extension"), None);
        assert_eq!(link_extension("odd.ext with space"), None);
    }

    #[test]
    fn content_types() {
        assert_eq!(clean_content_type(Some("Image/PNG; charset=x")), "image/png");
        assert_eq!(clean_content_type(Some("text/html\r\nX-Evil: 1")), "application/octet-stream");
        assert_eq!(clean_content_type(None), "application/octet-stream");
        assert_eq!(clean_content_type(Some("nonsense")), "application/octet-stream");
        assert!(inline_safe("image/webp") && !inline_safe("image/svg+xml") && !inline_safe("text/html"));
    }
}
