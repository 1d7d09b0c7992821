//! `/api/v1/canned-responses`: the workspace's reply texts with
//! `{{variables}}`. Members read them; members who may write records
//! create, change and delete them. A body with an unknown variable is
//! refused when it is saved (`validation_failed` on `body`).

use crate::error::{ApiError, ErrorBody};
use crate::extract::{etag, if_match, parse_id, ApiJson, ListQuery};
use crate::state::WebState;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use kith_app::inbox::canned::{self as app, CannedResponse, CannedResponsePatch, NewCannedResponse};
use kith_app::Context;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct CannedResponseList {
    pub data: Vec<CannedResponse>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// Canned responses, newest first.
#[utoipa::path(get, path = "/api/v1/canned-responses", tag = "inbox", params(ListQuery),
    responses((status = 200, body = CannedResponseList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Query(q): Query<ListQuery>,
) -> Result<Json<CannedResponseList>, ApiError> {
    let page = app::list(&state.app, &ctx, &q.page()?).await?;
    Ok(Json(CannedResponseList { next_cursor: page.next.map(|c| c.encode()), data: page.items }))
}

/// Save a canned response. Variables: `contact.first_name`,
/// `contact.last_name`, `contact.full_name`, `contact.email`,
/// `contact.phone`, `agent.name`, `agent.first_name`, `workspace.name`,
/// written `{{contact.first_name}}`, optionally with a fallback for an
/// empty value: `{{contact.first_name|there}}`.
#[utoipa::path(post, path = "/api/v1/canned-responses", tag = "inbox", request_body = NewCannedResponse,
    responses((status = 201, body = CannedResponse), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    ApiJson(body): ApiJson<NewCannedResponse>,
) -> Result<impl IntoResponse, ApiError> {
    let c = app::create(&state.app, &ctx, &body).await?;
    Ok((StatusCode::CREATED, [etag(c.version)], Json(c)))
}

#[utoipa::path(get, path = "/api/v1/canned-responses/{id}", tag = "inbox", params(("id" = String, Path)),
    responses((status = 200, body = CannedResponse), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let c = app::get(&state.app, &ctx, parse_id(&id)?).await?;
    Ok(([etag(c.version)], Json(c)))
}

/// Rename or rewrite a canned response.
#[utoipa::path(patch, path = "/api/v1/canned-responses/{id}", tag = "inbox", request_body = CannedResponsePatch,
    params(("id" = String, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = CannedResponse), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 412, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CannedResponsePatch>,
) -> Result<impl IntoResponse, ApiError> {
    let c = app::update(&state.app, &ctx, parse_id(&id)?, &body, if_match(&headers)?).await?;
    Ok(([etag(c.version)], Json(c)))
}

#[utoipa::path(delete, path = "/api/v1/canned-responses/{id}", tag = "inbox", params(("id" = String, Path)),
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
