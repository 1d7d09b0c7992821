//! `/api/v1/pipelines`: the workspace's pipelines and their ordered stages.
//! Everyone reads them; admins shape them.

use super::dto::PipelineList;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{etag, if_match, parse_id, ApiJson};
use crate::state::WebState;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use kith_app::crm::pipelines::{self as app, Pipeline, PipelineInput};
use kith_app::Context;

/// Every pipeline, in position order, each with its stages.
#[utoipa::path(get, path = "/api/v1/pipelines", tag = "pipelines",
    responses((status = 200, body = PipelineList), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
) -> Result<Json<PipelineList>, ApiError> {
    let data = app::list(&state.app, &ctx).await?;
    Ok(Json(PipelineList { data, next_cursor: None }))
}

/// Create a pipeline (admins). It needs a name; without `stages` it gets the
/// default ones (Lead, Qualified, Proposal, Negotiation, Closing).
#[utoipa::path(post, path = "/api/v1/pipelines", tag = "pipelines", request_body = PipelineInput,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = Pipeline), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    ApiJson(body): ApiJson<PipelineInput>,
) -> Result<impl IntoResponse, ApiError> {
    let pipeline = app::create(&state.app, &ctx, &body).await?;
    Ok((StatusCode::CREATED, [etag(pipeline.version)], Json(pipeline)))
}

#[utoipa::path(get, path = "/api/v1/pipelines/{id}", tag = "pipelines", params(("id" = String, Path)),
    responses((status = 200, body = Pipeline), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let pipeline = app::get(&state.app, &ctx, parse_id(&id)?).await?;
    Ok(([etag(pipeline.version)], Json(pipeline)))
}

/// Rename, reorder or reshape a pipeline (admins). `stages` is the full
/// ordered list: a stage with an `id` is kept (and renamed or moved), one
/// without is new, and one left out is removed — a 409 `in_use` while deals
/// are in it. Send `If-Match` with the ETag you read.
#[utoipa::path(patch, path = "/api/v1/pipelines/{id}", tag = "pipelines", request_body = PipelineInput,
    params(("id" = String, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = Pipeline), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 412, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<PipelineInput>,
) -> Result<impl IntoResponse, ApiError> {
    let id = parse_id(&id)?;
    let pipeline = app::update(&state.app, &ctx, id, &body, if_match(&headers)?).await?;
    Ok(([etag(pipeline.version)], Json(pipeline)))
}

/// Delete a pipeline and its stages (admins); a 409 `in_use` while it holds deals.
#[utoipa::path(delete, path = "/api/v1/pipelines/{id}", tag = "pipelines", params(("id" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    app::delete(&state.app, &ctx, parse_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
