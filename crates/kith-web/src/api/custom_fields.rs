//! `/api/v1/custom-fields`: the workspace's own fields per record type,
//! managed by admins. Key, kind and record type are fixed once created.

use super::dto::CustomFieldList;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{etag, field_error, if_match, parse_id, ApiJson, ApiQuery};
use crate::state::WebState;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use kith_app::crm::custom_fields::{self as app, CustomField, CustomFieldInput};
use kith_app::Context;
use kith_domain::crm::RecordType;
use serde::Deserialize;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CustomFieldListQuery {
    /// Required: `contact`, `company` or `deal`.
    record_type: Option<String>,
}

/// The fields of one record type, in display order.
#[utoipa::path(get, path = "/api/v1/custom-fields", tag = "custom-fields", params(CustomFieldListQuery),
    responses((status = 200, body = CustomFieldList), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    ApiQuery(q): ApiQuery<CustomFieldListQuery>,
) -> Result<Json<CustomFieldList>, ApiError> {
    let record_type = match q.record_type.as_deref() {
        None | Some("") => return Err(field_error("record_type", "is required")),
        Some(t) => {
            RecordType::parse(t).ok_or_else(|| field_error("record_type", "must be contact, company or deal"))?
        }
    };
    let data = app::list(&state.app, &ctx, record_type).await?;
    Ok(Json(CustomFieldList { data, next_cursor: None }))
}

/// Define a field (admins). `options` are required for `select` and
/// `multi_select` and not allowed otherwise.
#[utoipa::path(post, path = "/api/v1/custom-fields", tag = "custom-fields", request_body = CustomFieldInput,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = CustomField), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    ApiJson(body): ApiJson<CustomFieldInput>,
) -> Result<impl IntoResponse, ApiError> {
    let field = app::create(&state.app, &ctx, &body).await?;
    Ok((StatusCode::CREATED, [etag(field.version)], Json(field)))
}

#[utoipa::path(get, path = "/api/v1/custom-fields/{id}", tag = "custom-fields", params(("id" = String, Path)),
    responses((status = 200, body = CustomField), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let field = app::get(&state.app, &ctx, parse_id(&id)?).await?;
    Ok(([etag(field.version)], Json(field)))
}

/// Change a field's label, options, `required` flag or position (admins).
/// Sending a different `key`, `kind` or `record_type` is a 422. Send
/// `If-Match` with the ETag you read.
#[utoipa::path(patch, path = "/api/v1/custom-fields/{id}", tag = "custom-fields", request_body = CustomFieldInput,
    params(("id" = String, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = CustomField), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 412, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CustomFieldInput>,
) -> Result<impl IntoResponse, ApiError> {
    let id = parse_id(&id)?;
    let field = app::update(&state.app, &ctx, id, &body, if_match(&headers)?).await?;
    Ok(([etag(field.version)], Json(field)))
}

/// Delete a field and every value stored in it (admins).
#[utoipa::path(delete, path = "/api/v1/custom-fields/{id}", tag = "custom-fields", params(("id" = String, Path)),
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
