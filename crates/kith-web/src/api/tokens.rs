use super::dto::{TokenCreate, TokenList, TokenOut};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{parse_id, ApiJson, ListQuery, RequestOrigin};
use crate::state::WebState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::{Extension, Json};
use kith_app::Context;

/// The caller's API tokens in this workspace (secrets are never shown again).
#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens", params(ListQuery),
    responses((status = 200, body = TokenList), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Query(q): Query<ListQuery>,
) -> Result<Json<TokenList>, ApiError> {
    let page = kith_app::tokens::list(&state.app, &ctx, &q.page()?).await?;
    Ok(Json(TokenList::from_page(page, TokenOut::from)))
}

/// Create a token; the secret is in this answer only.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", request_body = TokenCreate,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = TokenOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    RequestOrigin(origin): RequestOrigin,
    ApiJson(body): ApiJson<TokenCreate>,
) -> Result<impl IntoResponse, ApiError> {
    let (row, secret) = kith_app::tokens::create(&state.app, &ctx, &body.name, body.scope, &origin).await?;
    let mut out = TokenOut::from(row);
    out.token = Some(secret);
    Ok((StatusCode::CREATED, Json(out)))
}

#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "tokens", params(("id" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn revoke(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    RequestOrigin(origin): RequestOrigin,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    kith_app::tokens::revoke(&state.app, &ctx, parse_id(&id)?, &origin).await?;
    Ok(StatusCode::NO_CONTENT)
}
