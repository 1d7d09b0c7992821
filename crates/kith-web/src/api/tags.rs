//! `/api/v1/tags`: the workspace's shared labels. Members create them (also by
//! tagging a record with a new name); admins rename, recolour and delete them.

use super::dto::{TagCreate, TagList, TagUpdate};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{parse_id, parse_limit, ApiJson, ApiQuery};
use crate::state::WebState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::{Extension, Json};
use kith_app::crm::tags::{self as app, Tag};
use kith_app::Context;
use kith_domain::page::DEFAULT_PAGE_LIMIT;
use serde::Deserialize;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TagListQuery {
    /// Page size, 1–200 (larger values are clamped to 200); default 50.
    limit: Option<String>,
    /// The `next_cursor` of the previous page (the last tag name seen).
    cursor: Option<String>,
}

/// Tags in name order.
#[utoipa::path(get, path = "/api/v1/tags", tag = "tags", params(TagListQuery),
    responses((status = 200, body = TagList), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    ApiQuery(q): ApiQuery<TagListQuery>,
) -> Result<Json<TagList>, ApiError> {
    let limit = parse_limit(q.limit.as_deref())?.unwrap_or(DEFAULT_PAGE_LIMIT);
    let after = q.cursor.as_deref().filter(|c| !c.is_empty());
    let (data, next_cursor) = app::list(&state.app, &ctx, after, limit).await?;
    Ok(Json(TagList { data, next_cursor }))
}

/// Create a tag. Names are unique within the workspace, without regard to case.
#[utoipa::path(post, path = "/api/v1/tags", tag = "tags", request_body = TagCreate,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = Tag), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    ApiJson(body): ApiJson<TagCreate>,
) -> Result<impl IntoResponse, ApiError> {
    let tag = app::create(&state.app, &ctx, &body.name, body.color.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(tag)))
}

/// Rename or recolour a tag (admins); every record carrying it follows.
#[utoipa::path(patch, path = "/api/v1/tags/{id}", tag = "tags", request_body = TagUpdate, params(("id" = String, Path)),
    responses((status = 200, body = Tag), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<TagUpdate>,
) -> Result<Json<Tag>, ApiError> {
    let id = parse_id(&id)?;
    Ok(Json(app::update(&state.app, &ctx, id, body.name.as_deref(), body.color.as_deref()).await?))
}

/// Delete a tag (admins); it is taken off every record.
#[utoipa::path(delete, path = "/api/v1/tags/{id}", tag = "tags", params(("id" = String, Path)),
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
