use super::dto::{TeamList, TeamMemberList, TeamMemberOut, TeamOut, TeamWrite};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{etag, if_match, parse_id, ApiJson, ListQuery, RequestOrigin};
use crate::state::WebState;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use kith_app::Context;

#[utoipa::path(get, path = "/api/v1/teams", tag = "teams", params(ListQuery),
    responses((status = 200, body = TeamList), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Query(q): Query<ListQuery>,
) -> Result<Json<TeamList>, ApiError> {
    let page = kith_app::teams::list(&state.app, &ctx, &q.page()?).await?;
    Ok(Json(TeamList::from_page(page, TeamOut::from)))
}

/// Create a team (admins). Names are unique within the workspace.
#[utoipa::path(post, path = "/api/v1/teams", tag = "teams", request_body = TeamWrite,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = TeamOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    RequestOrigin(origin): RequestOrigin,
    ApiJson(body): ApiJson<TeamWrite>,
) -> Result<impl IntoResponse, ApiError> {
    let team = kith_app::teams::create(&state.app, &ctx, &body.name, &origin).await?;
    Ok((StatusCode::CREATED, [etag(team.version)], Json(TeamOut::from(team))))
}

#[utoipa::path(get, path = "/api/v1/teams/{id}", tag = "teams", params(("id" = String, Path)),
    responses((status = 200, body = TeamOut), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let team = kith_app::teams::get(&state.app, &ctx, parse_id(&id)?).await?;
    Ok(([etag(team.version)], Json(TeamOut::from(team))))
}

/// Rename a team (admins). Send `If-Match` with the ETag you read.
#[utoipa::path(patch, path = "/api/v1/teams/{id}", tag = "teams", request_body = TeamWrite,
    params(("id" = String, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = TeamOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 412, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    RequestOrigin(origin): RequestOrigin,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<TeamWrite>,
) -> Result<impl IntoResponse, ApiError> {
    let id = parse_id(&id)?;
    let team = kith_app::teams::rename(&state.app, &ctx, id, &body.name, if_match(&headers)?, &origin).await?;
    Ok(([etag(team.version)], Json(TeamOut::from(team))))
}

#[utoipa::path(delete, path = "/api/v1/teams/{id}", tag = "teams", params(("id" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    RequestOrigin(origin): RequestOrigin,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    kith_app::teams::delete(&state.app, &ctx, parse_id(&id)?, &origin).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/teams/{id}/members", tag = "teams", params(("id" = String, Path), ListQuery),
    responses((status = 200, body = TeamMemberList), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_members(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Path(id): Path<String>,
    Query(q): Query<ListQuery>,
) -> Result<Json<TeamMemberList>, ApiError> {
    let id = parse_id(&id)?;
    let page = kith_app::teams::list_members(&state.app, &ctx, id, &q.page()?).await?;
    Ok(Json(TeamMemberList::from_page(page, |m| TeamMemberOut {
        user_id: m.user_id,
        email: m.email,
        name: m.name,
        added_at_ms: m.created_ms,
    })))
}

/// Add a workspace member to a team (idempotent).
#[utoipa::path(put, path = "/api/v1/teams/{id}/members/{user_id}", tag = "teams", params(("id" = String, Path), ("user_id" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn add_member(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    RequestOrigin(origin): RequestOrigin,
    Path((id, user_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    kith_app::teams::add_member(&state.app, &ctx, parse_id(&id)?, parse_id(&user_id)?, &origin).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/api/v1/teams/{id}/members/{user_id}", tag = "teams", params(("id" = String, Path), ("user_id" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn remove_member(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    RequestOrigin(origin): RequestOrigin,
    Path((id, user_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    kith_app::teams::remove_member(&state.app, &ctx, parse_id(&id)?, parse_id(&user_id)?, &origin).await?;
    Ok(StatusCode::NO_CONTENT)
}
