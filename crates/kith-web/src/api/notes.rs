//! `/api/v1/notes`: notes on a contact, company or deal. A private note is
//! seen by its author alone; everyone else gets a 404, as for a note that
//! does not exist. Only the author edits a note.

use super::dto::NoteList;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{etag, field_error, if_match, parse_id, ApiJson, ApiQuery};
use crate::state::WebState;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use kith_app::crm::notes::{self as app, Note, NoteInput};
use kith_app::Context;
use kith_domain::crm::RecordType;
use serde::Deserialize;
use uuid::Uuid;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct NoteListQuery {
    /// Required: `contact`, `company` or `deal`.
    record_type: Option<String>,
    /// Required: the record's id.
    record_id: Option<String>,
}

/// The `record_type` and `record_id` a request names; both are required.
fn record_of(record_type: Option<&str>, record_id: Option<&str>) -> Result<(RecordType, Uuid), ApiError> {
    let record_type = match record_type {
        None | Some("") => return Err(field_error("record_type", "is required")),
        Some(t) => {
            RecordType::parse(t).ok_or_else(|| field_error("record_type", "must be contact, company or deal"))?
        }
    };
    let record_id = match record_id {
        None | Some("") => return Err(field_error("record_id", "is required")),
        Some(id) => Uuid::try_parse(id).map_err(|_| field_error("record_id", "must be a record id"))?,
    };
    Ok((record_type, record_id))
}

/// The notes of one record the caller may read, newest first (at most 200;
/// the record's timeline pages through all of them). A record the caller may
/// not see is a 404.
#[utoipa::path(get, path = "/api/v1/notes", tag = "notes", params(NoteListQuery),
    responses((status = 200, body = NoteList), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    ApiQuery(q): ApiQuery<NoteListQuery>,
) -> Result<Json<NoteList>, ApiError> {
    let (record_type, record_id) = record_of(q.record_type.as_deref(), q.record_id.as_deref())?;
    let data = app::of_record(&state.app, &ctx, record_type, record_id).await?;
    Ok(Json(NoteList { data, next_cursor: None }))
}

/// Add a note to a record (`record_type`, `record_id` and `body` are
/// required). `is_private: true` keeps it to its author.
#[utoipa::path(post, path = "/api/v1/notes", tag = "notes", request_body = NoteInput,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = Note), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    ApiJson(body): ApiJson<NoteInput>,
) -> Result<impl IntoResponse, ApiError> {
    let note = app::create(&state.app, &ctx, &body).await?;
    Ok((StatusCode::CREATED, [etag(note.version)], Json(note)))
}

#[utoipa::path(get, path = "/api/v1/notes/{id}", tag = "notes", params(("id" = String, Path)),
    responses((status = 200, body = Note), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let note = app::get(&state.app, &ctx, parse_id(&id)?).await?;
    Ok(([etag(note.version)], Json(note)))
}

/// Change a note's body or privacy (its author only); a note never moves to
/// another record. Send `If-Match` with the ETag you read.
#[utoipa::path(patch, path = "/api/v1/notes/{id}", tag = "notes", request_body = NoteInput,
    params(("id" = String, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = Note), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 412, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<NoteInput>,
) -> Result<impl IntoResponse, ApiError> {
    let id = parse_id(&id)?;
    let note = app::update(&state.app, &ctx, id, &body, if_match(&headers)?).await?;
    Ok(([etag(note.version)], Json(note)))
}

/// Delete a note (its author, or an admin for a shared note).
#[utoipa::path(delete, path = "/api/v1/notes/{id}", tag = "notes", params(("id" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    app::delete(&state.app, &ctx, parse_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
