//! `/api/v1/activities`: calls, meetings and e-mails logged against a record.
//! They are listed on the record's timeline (`/api/v1/{contacts|companies|
//! deals}/{id}/timeline`); an activity on a record the caller may not see
//! answers 404.

use crate::error::{ApiError, ErrorBody};
use crate::extract::{etag, if_match, parse_id, ApiJson};
use crate::state::WebState;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use kith_app::crm::activities::{self as app, Activity, ActivityInput};
use kith_app::Context;

/// Log an activity (`kind`, `subject`, `record_type` and `record_id` are
/// required); `occurred_at_ms` defaults to now.
#[utoipa::path(post, path = "/api/v1/activities", tag = "activities", request_body = ActivityInput,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = Activity), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    ApiJson(body): ApiJson<ActivityInput>,
) -> Result<impl IntoResponse, ApiError> {
    let activity = app::create(&state.app, &ctx, &body).await?;
    Ok((StatusCode::CREATED, [etag(activity.version)], Json(activity)))
}

#[utoipa::path(get, path = "/api/v1/activities/{id}", tag = "activities", params(("id" = String, Path)),
    responses((status = 200, body = Activity), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let activity = app::get(&state.app, &ctx, parse_id(&id)?).await?;
    Ok(([etag(activity.version)], Json(activity)))
}

/// Change an activity; it never moves to another record. Send `If-Match`
/// with the ETag you read.
#[utoipa::path(patch, path = "/api/v1/activities/{id}", tag = "activities", request_body = ActivityInput,
    params(("id" = String, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = Activity), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 412, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<ActivityInput>,
) -> Result<impl IntoResponse, ApiError> {
    let id = parse_id(&id)?;
    let activity = app::update(&state.app, &ctx, id, &body, if_match(&headers)?).await?;
    Ok(([etag(activity.version)], Json(activity)))
}

/// Delete an activity (whoever logged it, or an admin).
#[utoipa::path(delete, path = "/api/v1/activities/{id}", tag = "activities", params(("id" = String, Path)),
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
