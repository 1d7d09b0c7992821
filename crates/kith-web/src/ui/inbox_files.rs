//! Attachments in the inbox thread: the links a message shows, the
//! download route behind them (the member's session; the same visibility
//! and headers as `GET /api/v1/attachments/{id}`), and the composer's
//! upload ([`upload`]) and removal ([`remove`]).
//!
//! The composer's "Attach files" control (`assets/inbox.js`) uploads each
//! file as soon as it is chosen to `POST /inbox/c/{id}/attachments`, a
//! multipart form whose first field is `_csrf` (the session layer lets
//! this path through unread, as it does the contacts import; the handler
//! checks the token itself before reading the file), and gets the
//! upload's id back as JSON; the reply form then names the ids in
//! `attachment_ids`. The file list's "Remove" deletes the upload (row and
//! object) with `DELETE /inbox/c/{id}/attachments/{attachment_id}`, its
//! token in the `X-CSRF-Token` header (checked by the session layer for
//! every DELETE, PUT and PATCH). An upload never sent nor removed (the
//! page was closed) is swept after a day.

use super::crm::parse_id;
use super::UiCtx;
use crate::state::WebState;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use kith_app::inbox::attachments::{self as app, Attachment, MAX_ATTACHMENT_BYTES};
use kith_app::AppError;

/// One file under a message.
#[derive(Debug, Clone)]
pub struct FileLink {
    pub href: String,
    pub name: String,
    /// "PDF · 1.2 MB"
    pub meta: String,
    pub inline: bool,
}

impl FileLink {
    pub fn of(a: &Attachment) -> FileLink {
        FileLink {
            href: format!("/inbox/files/{}", a.id),
            name: a.name.clone(),
            meta: format!("{} · {}", a.content_type, size(a.size)),
            inline: app::inline_safe(&a.content_type),
        }
    }
}

fn size(bytes: i64) -> String {
    match bytes {
        b if b < 1024 => format!("{b} B"),
        b if b < 1024 * 1024 => format!("{:.0} KB", b as f64 / 1024.0),
        b => format!("{:.1} MB", b as f64 / (1024.0 * 1024.0)),
    }
}

pub async fn download(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Path(id): Path<String>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let Some(id) = parse_id(&id) else { return StatusCode::NOT_FOUND.into_response() };
    match app::download(&state.app, &ctx, id).await {
        Ok((a, object)) => crate::api::attachments::file_response(&a, object),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Whether a path is the composer's upload, `/inbox/c/<id>/attachments`
/// (the session layer lets its multipart body through unread).
pub fn is_upload_path(path: &str) -> bool {
    let Some(rest) = path.strip_prefix("/inbox/c/") else { return false };
    rest.strip_suffix("/attachments").is_some_and(|id| !id.is_empty() && !id.contains('/'))
}

fn refused(status: StatusCode, error: &str) -> Response {
    (status, Json(serde_json::json!({"ok": false, "error": error}))).into_response()
}

/// `POST /inbox/c/{id}/attachments`: one file (`_csrf` first, then `file`)
/// for the composer, answered in JSON: `{ok, id, name, size, meta}` or
/// `{ok: false, error}` (403 forged, 404 not found, 413 over 25 MB, 422).
pub async fn upload(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Path(id): Path<String>,
    req: Request,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let forged = || refused(StatusCode::FORBIDDEN, "Your page expired. Reload it and try again.");
    let Some(conversation) = parse_id(&id) else { return refused(StatusCode::NOT_FOUND, "Not found.") };
    let Ok(mut form) = Multipart::from_request(req, &state).await else { return forged() };
    let Ok(Some(first)) = form.next_field().await else { return forged() };
    if first.name() != Some("_csrf") {
        return forged();
    }
    let sent = first.text().await.unwrap_or_default();
    if !kith_crypto::constant_time_eq(sent.as_bytes(), ui.csrf.as_bytes()) {
        return forged();
    }
    let too_large = || refused(StatusCode::PAYLOAD_TOO_LARGE, "The file is larger than 25 MB.");
    let mut file = None;
    loop {
        let mut field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return too_large(),
            Err(_) => return refused(StatusCode::UNPROCESSABLE_ENTITY, "The upload could not be read."),
        };
        if field.name() != Some("file") || file.is_some() {
            continue;
        }
        let name = field.file_name().unwrap_or("").to_string();
        let content_type = field.content_type().map(str::to_string);
        let mut data = Vec::new();
        loop {
            match field.chunk().await {
                Ok(Some(chunk)) if (data.len() + chunk.len()) as u64 > MAX_ATTACHMENT_BYTES => return too_large(),
                Ok(Some(chunk)) => data.extend_from_slice(&chunk),
                Ok(None) => break,
                Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return too_large(),
                Err(_) => return refused(StatusCode::UNPROCESSABLE_ENTITY, "The upload could not be read."),
            }
        }
        file = Some((name, content_type, data));
    }
    let Some((name, content_type, data)) = file else {
        return refused(StatusCode::UNPROCESSABLE_ENTITY, "Choose a file to attach.");
    };
    let body = kith_app::objects::once(data.into());
    match app::upload(&state.app, &ctx, conversation, &name, content_type.as_deref(), body).await {
        Ok(a) => {
            let link = FileLink::of(&a);
            Json(serde_json::json!({"ok": true, "id": a.id, "name": a.name, "size": a.size, "meta": link.meta}))
                .into_response()
        }
        Err(e) => {
            let status = match &e {
                AppError::NotFound => StatusCode::NOT_FOUND,
                AppError::Forbidden => StatusCode::FORBIDDEN,
                AppError::Conflict(kith_app::ErrorCode::PayloadTooLarge, _) => StatusCode::PAYLOAD_TOO_LARGE,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            refused(status, &super::crm::message_of(e))
        }
    }
}

/// `DELETE /inbox/c/{id}/attachments/{attachment_id}`: remove an upload
/// from the composer before it is sent, answered in JSON: `{ok: true}` or
/// `{ok: false, error, code}` (404 not found in this conversation, 403 not
/// the uploader nor an admin, 409 `attachment_sent`). The session layer
/// has checked the token.
pub async fn remove(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Path((id, attachment_id)): Path<(String, String)>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let (Some(conversation), Some(attachment)) = (parse_id(&id), parse_id(&attachment_id)) else {
        return refused(StatusCode::NOT_FOUND, "Not found.");
    };
    match app::delete_unsent(&state.app, &ctx, attachment, Some(conversation)).await {
        Ok(()) => Json(serde_json::json!({"ok": true})).into_response(),
        Err(e) => {
            let code = e.code();
            let status = crate::error::status_of(code);
            let error = match code {
                kith_app::ErrorCode::NotFound => "This file is no longer there.".to_string(),
                kith_app::ErrorCode::Forbidden => {
                    "Only the person who attached this file, or an admin, may remove it.".to_string()
                }
                kith_app::ErrorCode::AttachmentSent => {
                    "This file was sent already; it stays in the thread.".to_string()
                }
                _ => super::crm::message_of(e),
            };
            (status, Json(serde_json::json!({"ok": false, "error": error, "code": code.as_str()}))).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn upload_paths() {
        assert!(super::is_upload_path("/inbox/c/0190a0b1-0000-7000-8000-000000000000/attachments"));
        assert!(!super::is_upload_path("/inbox/c//attachments"));
        assert!(!super::is_upload_path("/inbox/c/a/b/attachments"));
        assert!(!super::is_upload_path("/inbox/c/a/messages"));
        assert!(!super::is_upload_path("/settings/imports"));
    }

    #[test]
    fn sizes() {
        assert_eq!(super::size(512), "512 B");
        assert_eq!(super::size(2048), "2 KB");
        assert_eq!(super::size(3 * 1024 * 1024 / 2), "1.5 MB");
    }
}
