//! `/api/v1/attachments`: files of inbox messages. Upload one to a
//! conversation (multipart `file` + `conversation_id`, at most 25 MB) and
//! name its id in `attachment_ids` of a reply; delete it again while it is
//! unsent (the uploader or an admin; a sent file is `attachment_sent`);
//! download any attachment of a conversation the member may see. Downloads are streamed from the object
//! store, always with `X-Content-Type-Options: nosniff`, and served as
//! `attachment` unless they are png, jpeg, gif or webp images (never svg).
//! [`capability`] serves the short-lived signed links that providers fetch
//! media from (no session; the signature is the permission).

use crate::error::{ApiError, ErrorBody};
use crate::extract::{field_error, parse_id};
use crate::state::WebState;
use axum::body::Body;
use axum::extract::multipart::MultipartError;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use kith_app::inbox::attachments::{self as app, Attachment, MAX_ATTACHMENT_BYTES};
use kith_app::objects::Object;
use kith_app::{Context, ErrorCode};
use serde::Deserialize;

/// The request body limit of the upload route (the file plus the form).
pub const MAX_UPLOAD_BODY: usize = MAX_ATTACHMENT_BYTES as usize + 64 * 1024;

#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct AttachmentForm {
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    conversation_id: uuid::Uuid,
}

fn too_large() -> ApiError {
    ApiError::new(ErrorCode::PayloadTooLarge, "the file is larger than 25 MB")
}

fn multipart_error(e: MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        too_large()
    } else {
        field_error("file", &format!("the upload could not be read: {}", e.body_text()))
    }
}

/// Upload a file to a conversation, to send with a reply (`attachment_ids`).
/// Empty files are refused (422); over 25 MB is `payload_too_large` (413).
#[utoipa::path(post, path = "/api/v1/attachments", tag = "inbox",
    request_body(content = AttachmentForm, content_type = "multipart/form-data"),
    responses((status = 201, body = Attachment), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn upload(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    mut form: Multipart,
) -> Result<impl IntoResponse, ApiError> {
    let mut conversation: Option<String> = None;
    let mut file: Option<(String, Option<String>, Vec<u8>)> = None;
    while let Some(mut field) = form.next_field().await.map_err(multipart_error)? {
        match field.name().unwrap_or("") {
            "conversation_id" => conversation = Some(field.text().await.map_err(multipart_error)?),
            "file" => {
                if file.is_some() {
                    return Err(field_error("file", "is given more than once"));
                }
                let name = field.file_name().unwrap_or("").to_string();
                let content_type = field.content_type().map(str::to_string);
                let mut data = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
                    if (data.len() + chunk.len()) as u64 > MAX_ATTACHMENT_BYTES {
                        return Err(too_large());
                    }
                    data.extend_from_slice(&chunk);
                }
                file = Some((name, content_type, data));
            }
            _ => {}
        }
    }
    let conversation = conversation.ok_or_else(|| field_error("conversation_id", "is required"))?;
    let conversation = uuid::Uuid::try_parse(conversation.trim()).map_err(|_| ApiError::not_found())?;
    let (name, content_type, data) = file.ok_or_else(|| field_error("file", "is required"))?;
    let body = kith_app::objects::once(data.into());
    let a = app::upload(&state.app, &ctx, conversation, &name, content_type.as_deref(), body).await?;
    Ok((StatusCode::CREATED, Json(a)))
}

/// Download an attachment (streamed). `Content-Disposition: attachment`
/// unless it is a png, jpeg, gif or webp image; always `nosniff`.
#[utoipa::path(get, path = "/api/v1/attachments/{id}", tag = "inbox", params(("id" = String, Path)),
    responses((status = 200, description = "The file", content_type = "application/octet-stream"),
              (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn download(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (a, object) = app::download(&state.app, &ctx, parse_id(&id)?).await?;
    Ok(file_response(&a, object))
}

/// Delete an upload that was not sent with a message: its row at once, its
/// file in the object store right after. The uploader or an admin may;
/// another member is `forbidden`. A file sent (or received) with a message
/// is `attachment_sent` (409) and stays; another workspace's id is
/// `not_found`.
#[utoipa::path(delete, path = "/api/v1/attachments/{id}", tag = "inbox", params(("id" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    app::delete_unsent(&state.app, &ctx, parse_id(&id)?, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// RFC 5987 `filename*` plus an ASCII `filename` fallback.
pub fn disposition(kind: &str, name: &str) -> String {
    let ascii: String =
        name.chars().map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' }).collect();
    let encoded = percent_encode(name);
    format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The streamed response for a stored file.
pub fn file_response(a: &Attachment, object: Object) -> Response {
    let inline = app::inline_safe(&a.content_type);
    let content_type = a.content_type.as_str();
    let mut resp = Body::from_stream(object.body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(content_type).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    let kind = if inline { "inline" } else { "attachment" };
    if let Ok(v) = HeaderValue::from_str(&disposition(kind, &a.name)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'; sandbox"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    if object.size > 0 {
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(object.size));
    }
    resp
}

#[derive(Debug, Deserialize)]
pub struct LinkQuery {
    #[serde(default)]
    expires: i64,
    #[serde(default)]
    sig: String,
}

/// `GET /files/{org_id}/{id}[.ext]?expires=…&sig=…`: a signed, short-lived link
/// (what Twilio, Meta, Telegram and Viber fetch outbound media from).
pub async fn capability(
    State(state): State<WebState>,
    Path((org, id)): Path<(String, String)>,
    Query(q): Query<LinkQuery>,
) -> Result<Response, ApiError> {
    let org = parse_id(&org)?;
    // The id may end in the file's extension (`signed_url_named`).
    let id = app::link_id(&id).ok_or_else(ApiError::not_found)?;
    let (a, object) = app::open_signed(&state.app, org, id, q.expires, &q.sig).await?;
    Ok(file_response(&a, object))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispositions() {
        assert_eq!(
            disposition("attachment", "Rechnung März.pdf"),
            "attachment; filename=\"Rechnung M_rz.pdf\"; filename*=UTF-8''Rechnung%20M%C3%A4rz.pdf"
        );
        assert_eq!(disposition("inline", "a\"b.png"), "inline; filename=\"a_b.png\"; filename*=UTF-8''a%22b.png");
    }
}
