//! `/api/v1/deals`: values moving through the stages of a pipeline, and the
//! board (kanban) of one pipeline. Access is decided by kith-app exactly as
//! for contacts: a deal the caller may not see answers 404.

use super::dto::DealList;
use super::records::{self, DealParams, RecordListParams};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{etag, field_error, if_match, parse_id, ApiJson, ApiQuery, RequestOrigin};
use crate::state::WebState;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use kith_app::crm::deals::{self as app, Board, Deal, DealInput};
use kith_app::Context;
use kith_domain::crm::RecordType;
use serde::Deserialize;
use uuid::Uuid;

/// Deals the caller may see, newest change first by default.
///
/// Custom fields filter as `cf.<key>=<value>` (equals; text without regard to
/// case) and `cf.<key>.gt=<n>` / `cf.<key>.lt=<n>` (number, currency amount
/// and date fields). An unknown tag name gives an empty list; an unknown
/// parameter or custom-field key is a 422.
#[utoipa::path(get, path = "/api/v1/deals", tag = "deals", params(RecordListParams, DealParams),
    responses((status = 200, body = DealList), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    RawQuery(raw): RawQuery,
) -> Result<Json<DealList>, ApiError> {
    let q = records::parse(&state.app, &ctx, raw.as_deref(), RecordType::Deal).await?;
    if let Some((sort, page)) = &q.sorted {
        let page = app::list_sorted(&state.app, &ctx, &q.filter, sort, page).await?;
        return Ok(Json(DealList { next_cursor: page.next.map(|c| c.encode()), data: page.items }));
    }
    let page = app::list(&state.app, &ctx, &q.filter, q.sort, &q.page).await?;
    Ok(Json(DealList::from_page(page, |d| d)))
}

/// Create a deal. It needs a title; without `pipeline_id` it goes to the
/// workspace's first pipeline (made on first use), without `stage_id` to the
/// pipeline's first stage. `value_minor` is in minor units (cents).
#[utoipa::path(post, path = "/api/v1/deals", tag = "deals", request_body = DealInput,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = Deal), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    ApiJson(body): ApiJson<DealInput>,
) -> Result<impl IntoResponse, ApiError> {
    let deal = app::create(&state.app, &ctx, &body).await?;
    Ok((StatusCode::CREATED, [etag(deal.version)], Json(deal)))
}

#[utoipa::path(get, path = "/api/v1/deals/{id}", tag = "deals", params(("id" = String, Path)),
    responses((status = 200, body = Deal), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let deal = app::get(&state.app, &ctx, parse_id(&id)?).await?;
    Ok(([etag(deal.version)], Json(deal)))
}

/// Change a deal: fields left out keep their value; `contact_ids` and `tags`
/// replace; `custom` merges (`null` clears a field). A new `stage_id` moves
/// the deal (recorded on its timeline). Send `If-Match` with the ETag you read.
#[utoipa::path(patch, path = "/api/v1/deals/{id}", tag = "deals", request_body = DealInput,
    params(("id" = String, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = Deal), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 412, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<DealInput>,
) -> Result<impl IntoResponse, ApiError> {
    let id = parse_id(&id)?;
    let deal = app::update(&state.app, &ctx, id, &body, if_match(&headers)?).await?;
    Ok(([etag(deal.version)], Json(deal)))
}

/// Delete a deal with its tags, custom values, notes and timeline.
#[utoipa::path(delete, path = "/api/v1/deals/{id}", tag = "deals", params(("id" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    RequestOrigin(origin): RequestOrigin,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    app::delete(&state.app, &ctx, parse_id(&id)?, &origin).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BoardQuery {
    /// A pipeline id; default: the workspace's first pipeline.
    pipeline: Option<String>,
}

/// The board of one pipeline: a column per stage with the count and totals
/// (per currency) of the open deals the caller may see, and the most recently
/// changed of them as cards (at most 200 per column).
#[utoipa::path(get, path = "/api/v1/deals/board", tag = "deals", params(BoardQuery),
    responses((status = 200, body = Board), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn board(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    ApiQuery(q): ApiQuery<BoardQuery>,
) -> Result<Json<Board>, ApiError> {
    let pipeline = match q.pipeline.as_deref() {
        None | Some("") => None,
        Some(p) => Some(Uuid::try_parse(p).map_err(|_| field_error("pipeline", "must be a pipeline id"))?),
    };
    Ok(Json(app::board(&state.app, &ctx, pipeline).await?))
}
