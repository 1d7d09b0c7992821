use super::dto::{InvitationCreate, InvitationList, InvitationOut, MemberList, MemberOut, MemberUpdate};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{etag, if_match, parse_id, ApiJson, ListQuery, RequestOrigin};
use crate::state::WebState;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use kith_app::Context;

/// Members of the workspace.
#[utoipa::path(get, path = "/api/v1/members", tag = "members", params(ListQuery),
    responses((status = 200, body = MemberList), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Query(q): Query<ListQuery>,
) -> Result<Json<MemberList>, ApiError> {
    let page = kith_app::members::list(&state.app, &ctx, &q.page()?).await?;
    Ok(Json(MemberList::from_page(page, MemberOut::from)))
}

#[utoipa::path(get, path = "/api/v1/members/{user_id}", tag = "members", params(("user_id" = String, Path)),
    responses((status = 200, body = MemberOut), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Path(user_id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let m = kith_app::members::get(&state.app, &ctx, parse_id(&user_id)?).await?;
    Ok(([etag(m.version)], Json(MemberOut::from(m))))
}

/// Change a member's role (admins; only owners grant or change owner).
#[utoipa::path(patch, path = "/api/v1/members/{user_id}", tag = "members", request_body = MemberUpdate,
    params(("user_id" = String, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = MemberOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 412, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    RequestOrigin(origin): RequestOrigin,
    Path(user_id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<MemberUpdate>,
) -> Result<impl IntoResponse, ApiError> {
    let user_id = parse_id(&user_id)?;
    let m = kith_app::members::change_role(&state.app, &ctx, user_id, body.role, if_match(&headers)?, &origin).await?;
    Ok(([etag(m.version)], Json(MemberOut::from(m))))
}

/// Remove a member, or leave (your own user id). The last owner cannot.
#[utoipa::path(delete, path = "/api/v1/members/{user_id}", tag = "members", params(("user_id" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn remove(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    RequestOrigin(origin): RequestOrigin,
    Path(user_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    kith_app::members::remove(&state.app, &ctx, parse_id(&user_id)?, &origin).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Open invitations (admins).
#[utoipa::path(get, path = "/api/v1/invitations", tag = "invitations", params(ListQuery),
    responses((status = 200, body = InvitationList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_invitations(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Query(q): Query<ListQuery>,
) -> Result<Json<InvitationList>, ApiError> {
    let page = kith_app::invitations::list(&state.app, &ctx, &q.page()?).await?;
    Ok(Json(InvitationList::from_page(page, InvitationOut::from)))
}

/// Invite someone by e-mail; the answer carries the link to send them.
#[utoipa::path(post, path = "/api/v1/invitations", tag = "invitations", request_body = InvitationCreate,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = InvitationOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn invite(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    RequestOrigin(origin): RequestOrigin,
    ApiJson(body): ApiJson<InvitationCreate>,
) -> Result<impl IntoResponse, ApiError> {
    let invited = kith_app::invitations::create(&state.app, &ctx, &body.email, body.role, &origin).await?;
    let mut out = InvitationOut::from(invited.invitation);
    out.link = Some(invited.link);
    Ok((StatusCode::CREATED, Json(out)))
}

#[utoipa::path(get, path = "/api/v1/invitations/{id}", tag = "invitations", params(("id" = String, Path)),
    responses((status = 200, body = InvitationOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_invitation(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Path(id): Path<String>,
) -> Result<Json<InvitationOut>, ApiError> {
    let inv = kith_app::invitations::get(&state.app, &ctx, parse_id(&id)?).await?;
    Ok(Json(InvitationOut::from(inv)))
}

/// Revoke an open invitation; its link stops working.
#[utoipa::path(delete, path = "/api/v1/invitations/{id}", tag = "invitations", params(("id" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn revoke_invitation(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    RequestOrigin(origin): RequestOrigin,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    kith_app::invitations::revoke(&state.app, &ctx, parse_id(&id)?, &origin).await?;
    Ok(StatusCode::NO_CONTENT)
}
