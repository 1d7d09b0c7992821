//! `/api/v1/views` (saved list views) and `/api/v1/bulk` (bulk actions as
//! jobs). Rules are kith-app's.

use crate::error::{ApiError, ErrorBody};
use crate::extract::{etag, if_match, parse_id, ApiJson, ApiQuery};
use crate::state::WebState;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use kith_app::crm::bulk::{self, Bulk, BulkInput};
use kith_app::crm::views::{self, View, ViewInput};
use kith_app::Context;
use kith_domain::crm::RecordType;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct ViewList {
    pub data: Vec<View>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ViewListQuery {
    /// `contact`, `company` or `deal`.
    record_type: RecordType,
}

/// The caller's views and the shared ones of one record type, by name.
#[utoipa::path(get, path = "/api/v1/views", tag = "views", params(ViewListQuery),
    responses((status = 200, body = ViewList), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    ApiQuery(q): ApiQuery<ViewListQuery>,
) -> Result<Json<ViewList>, ApiError> {
    Ok(Json(ViewList { data: views::list(&state.app, &ctx, q.record_type).await? }))
}

/// Save a view: a name, the list query string and the columns.
#[utoipa::path(post, path = "/api/v1/views", tag = "views", request_body = ViewInput,
    responses((status = 201, body = View), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    ApiJson(body): ApiJson<ViewInput>,
) -> Result<impl IntoResponse, ApiError> {
    let v = views::create(&state.app, &ctx, &body).await?;
    Ok((StatusCode::CREATED, [etag(v.version)], Json(v)))
}

#[utoipa::path(get, path = "/api/v1/views/{id}", tag = "views", params(("id" = String, Path)),
    responses((status = 200, body = View), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let v = views::get(&state.app, &ctx, parse_id(&id)?).await?;
    Ok(([etag(v.version)], Json(v)))
}

#[utoipa::path(patch, path = "/api/v1/views/{id}", tag = "views", request_body = ViewInput,
    params(("id" = String, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = View), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 412, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<ViewInput>,
) -> Result<impl IntoResponse, ApiError> {
    let v = views::update(&state.app, &ctx, parse_id(&id)?, &body, if_match(&headers)?).await?;
    Ok(([etag(v.version)], Json(v)))
}

#[utoipa::path(delete, path = "/api/v1/views/{id}", tag = "views", params(("id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    views::delete(&state.app, &ctx, parse_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Start a bulk action (tag, untag, assign, delete) on up to 10,000 selected
/// records; it runs as a job. Poll `GET /api/v1/bulk/{id}` for progress.
#[utoipa::path(post, path = "/api/v1/bulk", tag = "bulk", request_body = BulkInput,
    responses((status = 202, body = Bulk), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn start_bulk(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    ApiJson(body): ApiJson<BulkInput>,
) -> Result<impl IntoResponse, ApiError> {
    let b = bulk::start(&state.app, &ctx, &body).await?;
    let location = format!("/api/v1/bulk/{}", b.id);
    Ok((StatusCode::ACCEPTED, [(axum::http::header::LOCATION, location)], Json(b)))
}

#[utoipa::path(get, path = "/api/v1/bulk/{id}", tag = "bulk", params(("id" = String, Path)),
    responses((status = 200, body = Bulk), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get_bulk(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Path(id): Path<String>,
) -> Result<Json<Bulk>, ApiError> {
    Ok(Json(bulk::get(&state.app, &ctx, parse_id(&id)?).await?))
}
