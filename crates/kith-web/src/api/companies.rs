//! `/api/v1/companies`: organisations contacts work for. Access is decided by
//! kith-app exactly as for contacts: a company the caller may not see answers
//! 404, like one that does not exist.

use super::dto::CompanyList;
use super::records::{self, RecordListParams};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{etag, if_match, parse_id, ApiJson, RequestOrigin};
use crate::state::WebState;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use kith_app::crm::companies::{self as app, Company, CompanyInput};
use kith_app::Context;
use kith_domain::crm::RecordType;

/// Companies the caller may see, newest change first by default.
///
/// Custom fields filter as `cf.<key>=<value>` (equals; text without regard to
/// case) and `cf.<key>.gt=<n>` / `cf.<key>.lt=<n>` (number, currency amount
/// and date fields). An unknown tag name gives an empty list; an unknown
/// parameter or custom-field key is a 422.
#[utoipa::path(get, path = "/api/v1/companies", tag = "companies", params(RecordListParams),
    responses((status = 200, body = CompanyList), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    RawQuery(raw): RawQuery,
) -> Result<Json<CompanyList>, ApiError> {
    let q = records::parse(&state.app, &ctx, raw.as_deref(), RecordType::Company).await?;
    if let Some((sort, page)) = &q.sorted {
        let page = app::list_sorted(&state.app, &ctx, &q.filter, sort, page).await?;
        return Ok(Json(CompanyList { next_cursor: page.next.map(|c| c.encode()), data: page.items }));
    }
    let page = app::list(&state.app, &ctx, &q.filter, q.sort, &q.page).await?;
    Ok(Json(CompanyList::from_page(page, |c| c)))
}

/// Create a company. It needs a name; `domain` may be given as a URL (its
/// host is kept).
#[utoipa::path(post, path = "/api/v1/companies", tag = "companies", request_body = CompanyInput,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = Company), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    ApiJson(body): ApiJson<CompanyInput>,
) -> Result<impl IntoResponse, ApiError> {
    let company = app::create(&state.app, &ctx, &body).await?;
    Ok((StatusCode::CREATED, [etag(company.version)], Json(company)))
}

#[utoipa::path(get, path = "/api/v1/companies/{id}", tag = "companies", params(("id" = String, Path)),
    responses((status = 200, body = Company), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let company = app::get(&state.app, &ctx, parse_id(&id)?).await?;
    Ok(([etag(company.version)], Json(company)))
}

/// Change a company: fields left out keep their value; `tags` replaces the
/// tags; `custom` merges (`null` clears a field). Send `If-Match` with the
/// ETag you read.
#[utoipa::path(patch, path = "/api/v1/companies/{id}", tag = "companies", request_body = CompanyInput,
    params(("id" = String, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = Company), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 412, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CompanyInput>,
) -> Result<impl IntoResponse, ApiError> {
    let id = parse_id(&id)?;
    let company = app::update(&state.app, &ctx, id, &body, if_match(&headers)?).await?;
    Ok(([etag(company.version)], Json(company)))
}

/// Delete a company with its tags, custom values, notes and timeline; its
/// contacts stay, without a company.
#[utoipa::path(delete, path = "/api/v1/companies/{id}", tag = "companies", params(("id" = String, Path)),
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
