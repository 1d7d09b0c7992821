//! `/api/v1/knowledge`: the assistant's knowledge base. Every member reads
//! it and may try questions against it (`/knowledge/search`); admins add,
//! change and delete entries. JSON creates FAQs, offers, texts and
//! websites; a multipart upload (field `file`) creates a document. Entries
//! are indexed in the background: poll an entry until `status` is `ready`
//! or `failed`.

use crate::error::{ApiError, ErrorBody};
use crate::extract::{etag, field_error, if_match, parse_id, parse_limit, ApiJson, ApiQuery};
use crate::state::WebState;
use axum::extract::multipart::MultipartError;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use kith_app::ai::knowledge::{self as app, KnowledgeEntry, KnowledgePatch, NewKnowledge};
use kith_app::ai::retrieval::{self, Passage};
use kith_app::{Context, ErrorCode};
use kith_domain::page::{Cursor, PageRequest};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The largest request this endpoint reads: a 20 MiB document plus the form around it.
pub const MAX_UPLOAD_BYTES: usize = kith_app::ai::knowledge::MAX_DOCUMENT_BYTES + 64 * 1024;

#[derive(Debug, Serialize, ToSchema)]
pub struct KnowledgeList {
    pub data: Vec<KnowledgeEntry>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PassageList {
    pub data: Vec<Passage>,
}

/// The multipart form of a document upload.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct DocumentForm {
    /// A PDF, DOCX, Markdown, HTML or plain-text file, at most 20 MiB.
    #[schema(format = Binary, content_media_type = "application/octet-stream")]
    file: String,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct KnowledgeListQuery {
    /// Only entries of this kind: `faq`, `offer`, `text`, `document` or `website`.
    kind: Option<String>,
    /// Page size, 1–200 (larger values are clamped to 200); default 50.
    limit: Option<String>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// The question, as a customer would ask it.
    q: String,
    /// Passages to return, 1–20; default 5.
    limit: Option<String>,
}

/// The knowledge base, newest first.
#[utoipa::path(get, path = "/api/v1/knowledge", tag = "ai", params(KnowledgeListQuery),
    responses((status = 200, body = KnowledgeList), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    ApiQuery(q): ApiQuery<KnowledgeListQuery>,
) -> Result<Json<KnowledgeList>, ApiError> {
    let after = match q.cursor.as_deref() {
        None | Some("") => None,
        Some(c) => Some(Cursor::decode(c).ok_or_else(|| field_error("cursor", "is not a cursor from this API"))?),
    };
    let page = PageRequest::new(parse_limit(q.limit.as_deref())?, after);
    let kind = q.kind.as_deref().filter(|k| !k.is_empty());
    let found = app::list(&state.app, &ctx, kind, &page).await?;
    Ok(Json(KnowledgeList { next_cursor: found.next.map(|c| c.encode()), data: found.items }))
}

/// Add to the knowledge base (admins). JSON by `kind` — `faq`: `question`,
/// `answer`; `offer` and `text`: `title`, `body`; `website`: `urls` (one
/// site) and `page_limit` (1–500, default 50; robots.txt is honoured and
/// only that site is read). A document is uploaded as
/// `multipart/form-data` with a `file` field (PDF, DOCX, Markdown, HTML or
/// plain text, at most 20 MiB; 413 when larger, 415 for other types, 422
/// when it cannot be read or holds no text). The answer is 201 with the
/// entry, `status` `queued`; indexing runs in the background.
#[utoipa::path(post, path = "/api/v1/knowledge", tag = "ai",
    request_body(content((NewKnowledge = "application/json"), (DocumentForm = "multipart/form-data"))),
    responses((status = 201, body = KnowledgeEntry, headers(("Location" = String, description = "The entry's URL"))),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody),
              (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    req: Request,
) -> Result<impl IntoResponse, ApiError> {
    let content_type =
        req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").trim().to_ascii_lowercase();
    let entry = if content_type.starts_with("multipart/form-data") {
        let form = Multipart::from_request(req, &state)
            .await
            .map_err(|e| ApiError::bad_request(format!("the form cannot be read: {}", e.body_text())))?;
        let (name, declared, bytes) = read_file(form).await?;
        app::upload(&state.app, &ctx, &name, declared.as_deref(), bytes).await?
    } else {
        let ApiJson(body) = ApiJson::<NewKnowledge>::from_request(req, &state).await?;
        app::create(&state.app, &ctx, &body).await?
    };
    let location = format!("/api/v1/knowledge/{}", entry.id);
    Ok((StatusCode::CREATED, [(header::LOCATION, location), etag(entry.version)], Json(entry)))
}

fn multipart_error(e: MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(ErrorCode::PayloadTooLarge, "a document may be at most 20 MiB")
    } else {
        ApiError::bad_request(format!("the form cannot be read: {}", e.body_text()))
    }
}

/// The `file` field of the form: its name, declared type and bytes (at most
/// the document limit; more is a 413). Any other field is a 422.
async fn read_file(mut form: Multipart) -> Result<(String, Option<String>, Vec<u8>), ApiError> {
    let mut found = None;
    while let Some(mut field) = form.next_field().await.map_err(multipart_error)? {
        match field.name().unwrap_or("") {
            "file" => {
                if found.is_some() {
                    return Err(field_error("file", "is given more than once"));
                }
                let name = field.file_name().unwrap_or("").to_string();
                let declared = field.content_type().map(str::to_string);
                let mut bytes = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
                    if bytes.len() + chunk.len() > kith_app::ai::knowledge::MAX_DOCUMENT_BYTES {
                        return Err(ApiError::new(ErrorCode::PayloadTooLarge, "a document may be at most 20 MiB"));
                    }
                    bytes.extend_from_slice(&chunk);
                }
                found = Some((name, declared, bytes));
            }
            "" => return Err(ApiError::bad_request("every field of the form needs a name")),
            other => return Err(field_error(other, "is not a field of this form")),
        }
    }
    found.ok_or_else(|| field_error("file", "is required"))
}

#[utoipa::path(get, path = "/api/v1/knowledge/{id}", tag = "ai", params(("id" = String, Path)),
    responses((status = 200, body = KnowledgeEntry), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let e = app::get(&state.app, &ctx, parse_id(&id)?).await?;
    Ok(([etag(e.version)], Json(e)))
}

/// Change an entry (admins): the fields of its kind only (`question`,
/// `answer` for an FAQ; `title`, `body` for offers, texts and documents;
/// `urls`, `page_limit` for a website). The entry is indexed again (a
/// website is crawled again); an empty body just re-indexes it.
#[utoipa::path(patch, path = "/api/v1/knowledge/{id}", tag = "ai", request_body = KnowledgePatch,
    params(("id" = String, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = KnowledgeEntry), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 412, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<KnowledgePatch>,
) -> Result<impl IntoResponse, ApiError> {
    let e = app::update(&state.app, &ctx, parse_id(&id)?, &body, if_match(&headers)?).await?;
    Ok(([etag(e.version)], Json(e)))
}

/// Delete an entry and its passages (admins).
#[utoipa::path(delete, path = "/api/v1/knowledge/{id}", tag = "ai", params(("id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    app::delete(&state.app, &ctx, parse_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Try a question: the passages the assistant would use, best first, each
/// with its `confidence` (0–1: the rarity-weighted share of the question's
/// meaningful words the passage contains).
#[utoipa::path(get, path = "/api/v1/knowledge/search", tag = "ai", params(SearchQuery),
    responses((status = 200, body = PassageList), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn search(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    ApiQuery(q): ApiQuery<SearchQuery>,
) -> Result<Json<PassageList>, ApiError> {
    let k = parse_limit(q.limit.as_deref())?.unwrap_or(5) as usize;
    Ok(Json(PassageList { data: retrieval::search(&state.app, &ctx, &q.q, k).await? }))
}
