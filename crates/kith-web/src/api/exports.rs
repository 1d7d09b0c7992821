//! Exports over the API. `GET /api/v1/{contacts,companies,deals}/export`
//! streams what the matching list shows (same filters) as CSV, JSON or
//! vCard; `/api/v1/exports` queues a whole-workspace ZIP archive and hands
//! it out when done. What goes in, and who may start or download what, is
//! kith-app's decision.
//!
//! Bodies are streamed as kith-app reads them, page by page and chunk by
//! chunk: this module must never collect an export in memory. The first
//! chunk is read before the status is sent, so a failure there is a proper
//! error answer; a failure later can only cut the file short (the
//! connection is closed mid-body, so a client never mistakes it for a
//! complete file).

use super::records::{self, CompanyParam, DealParams};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{field_error, parse_id, ApiJson, ApiQuery, ListQuery, RequestOrigin};
use crate::state::WebState;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use kith_app::crm::exports::{self as app, Download, Export, ViewExport, ViewFormat};
use kith_app::{AppError, Context};
use kith_domain::crm::RecordType;
use kith_domain::time::{now_ms, UtcDateTime};
use serde::{Deserialize, Serialize};
use std::future::Future;

/// The parameters of a view export (this only describes them in the
/// OpenAPI document): a list's filters, without paging.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ExportViewParams {
    /// `csv` (default), `json`, or `vcard` (contacts only).
    format: Option<String>,
    /// `-updated_at` (default), `updated_at`, `-created_at` or `created_at`.
    sort: Option<String>,
    /// Tag names, repeated or comma-separated; a record must carry all of them.
    tag: Option<Vec<String>>,
    /// A user id, or `me`.
    owner: Option<String>,
    /// Only records changed at or after this time (ms since 1970).
    updated_since: Option<i64>,
}

/// Split the export's own `format` off the query; the rest is a list query.
/// `limit` and `cursor` are refused: an export has every matching record.
fn split_query(raw: Option<&str>) -> Result<(ViewFormat, String), ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or(""))
        .map_err(|e| ApiError::bad_request(format!("invalid query: {e}")))?;
    let mut format = None;
    let mut rest = Vec::with_capacity(pairs.len());
    for (name, value) in pairs {
        match name.as_str() {
            "format" if format.is_some() => return Err(field_error("format", "is given more than once")),
            "format" => format = Some(value),
            "limit" | "cursor" => {
                return Err(field_error(&name, "is not a parameter of an export: it has every matching record"))
            }
            _ => rest.push((name, value)),
        }
    }
    let format = match format.as_deref() {
        None | Some("") => ViewFormat::Csv,
        Some(f) => ViewFormat::parse(f).ok_or_else(|| field_error("format", "must be csv, json or vcard"))?,
    };
    let rest = serde_urlencoded::to_string(&rest).map_err(|e| ApiError::bad_request(format!("invalid query: {e}")))?;
    Ok((format, rest))
}

/// A body that pulls chunks from `source` with `next` as the client reads.
fn streamed<S, F, Fut>(first: Option<Vec<u8>>, source: S, next: F) -> Body
where
    S: Send + 'static,
    F: Fn(S) -> Fut + Copy + Send + 'static,
    Fut: Future<Output = (kith_app::Result<Option<Vec<u8>>>, S)> + Send + 'static,
{
    let stream = futures_util::stream::unfold((first, Some(source)), move |(first, source)| async move {
        if let Some(bytes) = first {
            return Some((Ok(Bytes::from(bytes)), (None, source)));
        }
        let (read, source) = next(source?).await;
        match read {
            Ok(Some(bytes)) => Some((Ok(Bytes::from(bytes)), (None, Some(source)))),
            Ok(None) => None,
            Err(e) => {
                tracing::error!(error = %e, detail = ?e, "an export stopped part way");
                Some((Err(std::io::Error::other("the export stopped part way")), (None, None)))
            }
        }
    });
    Body::from_stream(stream)
}

fn attachment(content_type: &str, file_name: &str, body: Body) -> Response {
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_str(content_type).expect("a valid content type"));
    let disposition = format!("attachment; filename=\"{file_name}\"");
    h.insert(header::CONTENT_DISPOSITION, HeaderValue::from_str(&disposition).expect("an ASCII file name"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

async fn view(
    state: WebState,
    ctx: Context,
    raw: Option<String>,
    record_type: RecordType,
) -> Result<Response, ApiError> {
    let (format, rest) = split_query(raw.as_deref())?;
    let q = records::parse(&state.app, &ctx, Some(&rest), record_type).await?;
    if q.sorted.is_some() {
        let message = "an export is sorted by -updated_at, updated_at, -created_at or created_at";
        return Err(kith_app::AppError::field("sort", message).into());
    }
    let mut export = app::export_view(&state.app, &ctx, record_type, q.filter, q.sort, format).await?;
    let first = export.next_chunk().await?;
    let body = streamed(first, export, |mut e: ViewExport| async move {
        let read = e.next_chunk().await;
        (read, e)
    });
    let name = format!("{}-{}.{}", app::plural(record_type), UtcDateTime::from_ms(now_ms()).date(), format.extension());
    Ok(attachment(format.content_type(), &name, body))
}

/// Every contact the list would show with these filters, as one file: CSV
/// (spreadsheet-safe: cells that would run as formulas start with `'`),
/// a JSON array of contact objects, or vCard 4.0.
#[utoipa::path(get, path = "/api/v1/contacts/export", tag = "exports", params(ExportViewParams, CompanyParam),
    responses((status = 200, description = "The file, streamed, as an attachment",
                content((String = "text/csv"), (Vec<kith_app::crm::contacts::Contact> = "application/json"),
                        (String = "text/vcard"))),
              (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn contacts(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    view(state, ctx, raw, RecordType::Contact).await
}

/// Every company the list would show with these filters, as CSV or JSON
/// (`format=vcard` is a 422).
#[utoipa::path(get, path = "/api/v1/companies/export", tag = "exports", params(ExportViewParams),
    responses((status = 200, description = "The file, streamed, as an attachment",
                content((String = "text/csv"), (Vec<kith_app::crm::companies::Company> = "application/json"))),
              (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn companies(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    view(state, ctx, raw, RecordType::Company).await
}

/// Every deal the list would show with these filters, as CSV or JSON
/// (`format=vcard` is a 422). Values are in minor units.
#[utoipa::path(get, path = "/api/v1/deals/export", tag = "exports", params(ExportViewParams, DealParams),
    responses((status = 200, description = "The file, streamed, as an attachment",
                content((String = "text/csv"), (Vec<kith_app::crm::deals::Deal> = "application/json"))),
              (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn deals(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    view(state, ctx, raw, RecordType::Deal).await
}

#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportScope {
    /// Everything the requester may see.
    Workspace,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportRequest {
    pub scope: ExportScope,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ExportList {
    pub data: Vec<Export>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// Queue a ZIP archive of everything you may see in the workspace
/// (admins and owners): contacts, companies and deals as JSON and CSV,
/// notes (with their text), tasks, pipelines and tags. Answers 202; poll
/// the export until `status` is `done`, then download it. Only you can
/// download it; it is deleted after seven days.
#[utoipa::path(post, path = "/api/v1/exports", tag = "exports", request_body = ExportRequest,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 202, body = Export, headers(("Location" = String, description = "The export's URL"))),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    RequestOrigin(origin): RequestOrigin,
    ApiJson(body): ApiJson<ExportRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let ExportScope::Workspace = body.scope;
    let export = app::start_workspace_export(&state.app, &ctx, &origin).await?;
    let location = format!("/api/v1/exports/{}", export.id);
    Ok((StatusCode::ACCEPTED, [(header::LOCATION, location)], Json(export)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExportListQuery {
    /// Page size, 1–200 (larger values are clamped to 200); default 50.
    limit: Option<String>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// Exports, newest first: all of the workspace's for admins and owners,
/// your own for everyone else.
#[utoipa::path(get, path = "/api/v1/exports", tag = "exports", params(ExportListQuery),
    responses((status = 200, body = ExportList), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    ApiQuery(q): ApiQuery<ExportListQuery>,
) -> Result<Json<ExportList>, ApiError> {
    let page = ListQuery { limit: q.limit, cursor: q.cursor }.page()?;
    let found = app::list_exports(&state.app, &ctx, &page).await?;
    Ok(Json(ExportList { next_cursor: found.next.map(|c| c.encode()), data: found.items }))
}

/// One export: `status` is `queued`, `running`, `done` or `failed` (then
/// `error` says why); `records` and `file_bytes` grow as it is written.
#[utoipa::path(get, path = "/api/v1/exports/{id}", tag = "exports", params(("id" = String, Path)),
    responses((status = 200, body = Export), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Path(id): Path<String>,
) -> Result<Json<Export>, ApiError> {
    Ok(Json(app::get_export(&state.app, &ctx, parse_id(&id)?).await?))
}

/// The finished archive (`application/zip`). Only whoever asked for it may
/// download it, while they are an admin or owner: it holds their personal
/// records and private notes. 409 until `status` is `done`.
#[utoipa::path(get, path = "/api/v1/exports/{id}/download", tag = "exports", params(("id" = String, Path)),
    responses((status = 200, description = "The ZIP archive, streamed, as an attachment",
                content((String = "application/zip"))),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn download(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    RequestOrigin(origin): RequestOrigin,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let mut file = app::download(&state.app, &ctx, parse_id(&id)?, &origin).await?;
    let first = file.next_chunk().await?;
    if first.is_none() && file.export.file_bytes > 0 {
        // Purged between the lookup and the read.
        return Err(AppError::NotFound.into());
    }
    let (bytes, created) = (file.export.file_bytes, file.export.created_at_ms);
    let body = streamed(first, file, |mut f: Download| async move {
        let read = f.next_chunk().await;
        (read, f)
    });
    let name = format!("kith-export-{}.zip", UtcDateTime::from_ms(created).date());
    let mut resp = attachment("application/zip", &name, body);
    resp.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from(bytes));
    Ok(resp)
}
