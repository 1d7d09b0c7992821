//! `/api/v1/{contacts|companies|deals}/{id}/timeline`: what happened on a
//! record (notes, tasks, activities, stage changes), newest first. A record
//! the caller may not see is a 404; other people's private notes are left out.

use super::dto::TimelineList;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{parse_id, ApiQuery, ListQuery};
use crate::state::WebState;
use axum::extract::{Path, State};
use axum::{Extension, Json};
use kith_app::crm::timeline;
use kith_app::Context;
use kith_domain::crm::RecordType;
use serde::Deserialize;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TimelineQuery {
    /// Page size, 1–200 (larger values are clamped to 200); default 50.
    limit: Option<String>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

async fn page(
    state: &WebState,
    ctx: &Context,
    record_type: RecordType,
    id: &str,
    q: TimelineQuery,
) -> Result<Json<TimelineList>, ApiError> {
    let id = parse_id(id)?;
    let req = ListQuery { limit: q.limit, cursor: q.cursor }.page()?;
    let found = timeline::page(&state.app, ctx, record_type, id, &req).await?;
    Ok(Json(TimelineList::from_page(found, |i| i)))
}

#[utoipa::path(get, path = "/api/v1/contacts/{id}/timeline", tag = "timeline",
    params(("id" = String, Path), TimelineQuery),
    responses((status = 200, body = TimelineList), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn contact(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<TimelineQuery>,
) -> Result<Json<TimelineList>, ApiError> {
    page(&state, &ctx, RecordType::Contact, &id, q).await
}

#[utoipa::path(get, path = "/api/v1/companies/{id}/timeline", tag = "timeline",
    params(("id" = String, Path), TimelineQuery),
    responses((status = 200, body = TimelineList), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn company(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<TimelineQuery>,
) -> Result<Json<TimelineList>, ApiError> {
    page(&state, &ctx, RecordType::Company, &id, q).await
}

/// Also every stage change, with the names of both stages.
#[utoipa::path(get, path = "/api/v1/deals/{id}/timeline", tag = "timeline",
    params(("id" = String, Path), TimelineQuery),
    responses((status = 200, body = TimelineList), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn deal(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<TimelineQuery>,
) -> Result<Json<TimelineList>, ApiError> {
    page(&state, &ctx, RecordType::Deal, &id, q).await
}
