use super::dto::{WorkspaceCreate, WorkspaceList, WorkspaceOut, WorkspaceUpdate};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{etag, if_match, parse_id, ApiJson, ListQuery, RequestOrigin};
use crate::state::WebState;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use kith_app::Context;
use kith_domain::Role;

/// Workspaces the caller belongs to.
#[utoipa::path(get, path = "/api/v1/workspaces", tag = "workspaces", params(ListQuery),
    responses((status = 200, body = WorkspaceList), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Query(q): Query<ListQuery>,
) -> Result<Json<WorkspaceList>, ApiError> {
    let page = kith_app::workspaces::list_mine(&state.app, ctx.user_id(), &q.page()?).await?;
    Ok(Json(WorkspaceList::from_page(page, |w| WorkspaceOut {
        id: w.id,
        name: w.name,
        role: Role::parse(&w.role).unwrap_or(Role::Viewer),
        version: w.version,
        created_at_ms: w.created_ms,
        updated_at_ms: w.updated_ms,
    })))
}

/// Create another workspace; the caller becomes its owner.
#[utoipa::path(post, path = "/api/v1/workspaces", tag = "workspaces", request_body = WorkspaceCreate,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replay protection")),
    responses((status = 201, body = WorkspaceOut), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    RequestOrigin(origin): RequestOrigin,
    ApiJson(body): ApiJson<WorkspaceCreate>,
) -> Result<impl IntoResponse, ApiError> {
    let w = kith_app::workspaces::create(&state.app, ctx.user_id(), &body.name, &origin).await?;
    let out = WorkspaceOut {
        id: w.id,
        name: w.name,
        role: Role::Owner,
        version: w.version,
        created_at_ms: w.created_ms,
        updated_at_ms: w.updated_ms,
    };
    Ok((StatusCode::CREATED, [etag(w.version)], Json(out)))
}

/// The token's workspace. Any other id answers 404.
#[utoipa::path(get, path = "/api/v1/workspaces/{id}", tag = "workspaces", params(("id" = String, Path)),
    responses((status = 200, body = WorkspaceOut), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let w = kith_app::workspaces::get(&state.app, &ctx, parse_id(&id)?).await?;
    let version = w.version;
    let out = WorkspaceOut {
        id: w.id,
        name: w.name,
        role: ctx.role,
        version,
        created_at_ms: w.created_ms,
        updated_at_ms: w.updated_ms,
    };
    Ok(([etag(version)], Json(out)))
}

/// Rename the workspace (admins). Send `If-Match` with the ETag you read.
#[utoipa::path(patch, path = "/api/v1/workspaces/{id}", tag = "workspaces", request_body = WorkspaceUpdate,
    params(("id" = String, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = WorkspaceOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
               (status = 404, body = ErrorBody), (status = 412, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    RequestOrigin(origin): RequestOrigin,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<WorkspaceUpdate>,
) -> Result<impl IntoResponse, ApiError> {
    let id = parse_id(&id)?;
    let version = if_match(&headers)?;
    let w = kith_app::workspaces::rename(&state.app, &ctx, id, &body.name, version, &origin).await?;
    let out = WorkspaceOut {
        id: w.id,
        name: w.name,
        role: ctx.role,
        version: w.version,
        created_at_ms: w.created_ms,
        updated_at_ms: w.updated_ms,
    };
    Ok(([etag(w.version)], Json(out)))
}
