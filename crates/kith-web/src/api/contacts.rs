//! `/api/v1/contacts`: people the workspace deals with. What a caller may see
//! and change is decided by kith-app (roles and record visibility); a contact
//! the caller may not see answers 404, exactly like one that does not exist.

use super::dto::ContactList;
use super::records::{self, CompanyParam, RecordListParams};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{etag, if_match, parse_id, ApiJson, RequestOrigin};
use crate::state::WebState;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use kith_app::crm::contacts::{self as app, Contact, ContactInput};
use kith_app::Context;
use kith_domain::crm::RecordType;

/// Contacts the caller may see, newest change first by default.
///
/// Custom fields filter as `cf.<key>=<value>` (equals; text without regard to
/// case) and `cf.<key>.gt=<n>` / `cf.<key>.lt=<n>` (number, currency amount
/// and date fields). An unknown tag name gives an empty list; an unknown
/// parameter or custom-field key is a 422.
#[utoipa::path(get, path = "/api/v1/contacts", tag = "contacts", params(RecordListParams, CompanyParam),
    responses((status = 200, body = ContactList), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    RawQuery(raw): RawQuery,
) -> Result<Json<ContactList>, ApiError> {
    let q = records::parse(&state.app, &ctx, raw.as_deref(), RecordType::Contact).await?;
    if let Some((sort, page)) = &q.sorted {
        let page = app::list_sorted(&state.app, &ctx, &q.filter, sort, page).await?;
        return Ok(Json(ContactList { next_cursor: page.next.map(|c| c.encode()), data: page.items }));
    }
    let page = app::list(&state.app, &ctx, &q.filter, q.sort, &q.page).await?;
    Ok(Json(ContactList::from_page(page, |c| c)))
}

/// Create a contact. It needs a name, an e-mail address or a phone number;
/// phones are stored in E.164 (what was typed is kept as `raw`).
#[utoipa::path(post, path = "/api/v1/contacts", tag = "contacts", request_body = ContactInput,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = Contact), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    ApiJson(body): ApiJson<ContactInput>,
) -> Result<impl IntoResponse, ApiError> {
    let contact = app::create(&state.app, &ctx, &body).await?;
    Ok((StatusCode::CREATED, [etag(contact.version)], Json(contact)))
}

#[utoipa::path(get, path = "/api/v1/contacts/{id}", tag = "contacts", params(("id" = String, Path)),
    responses((status = 200, body = Contact), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let contact = app::get(&state.app, &ctx, parse_id(&id)?).await?;
    Ok(([etag(contact.version)], Json(contact)))
}

/// Change a contact: fields left out keep their value; `tags` replaces the
/// tags; `custom` merges (`null` clears a field). Send `If-Match` with the
/// ETag you read.
#[utoipa::path(patch, path = "/api/v1/contacts/{id}", tag = "contacts", request_body = ContactInput,
    params(("id" = String, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = Contact), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 412, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<ContactInput>,
) -> Result<impl IntoResponse, ApiError> {
    let id = parse_id(&id)?;
    let contact = app::update(&state.app, &ctx, id, &body, if_match(&headers)?).await?;
    Ok(([etag(contact.version)], Json(contact)))
}

/// Delete a contact with its tags, custom values, notes and timeline.
#[utoipa::path(delete, path = "/api/v1/contacts/{id}", tag = "contacts", params(("id" = String, Path)),
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

/// Duplicates of a contact the caller may see: one `data` list.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct DuplicateList {
    pub data: Vec<kith_app::crm::duplicates::Duplicate>,
}

/// Contacts that look like the same person: a shared e-mail (any case), a
/// shared phone, or the same name at the same company. Only contacts the
/// caller may see are considered.
#[utoipa::path(get, path = "/api/v1/contacts/{id}/duplicates", tag = "contacts", params(("id" = String, Path)),
    responses((status = 200, body = DuplicateList), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn duplicates(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Path(id): Path<String>,
) -> Result<Json<DuplicateList>, ApiError> {
    let data = kith_app::crm::duplicates::of_contact(&state.app, &ctx, parse_id(&id)?).await?;
    Ok(Json(DuplicateList { data }))
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeInput {
    /// The contact folded into this one; it no longer exists afterwards.
    pub other_id: uuid::Uuid,
}

/// Merge another contact into this one. Every note, task, activity, tag,
/// deal link and timeline entry of the other moves here; empty fields are
/// filled from it; e-mails, phones and addresses are united. Recorded in the
/// audit trail. `If-Match` guards this contact's version.
#[utoipa::path(post, path = "/api/v1/contacts/{id}/merge", tag = "contacts", request_body = MergeInput,
    params(("id" = String, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = Contact), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 412, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn merge(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    RequestOrigin(origin): RequestOrigin,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<MergeInput>,
) -> Result<impl IntoResponse, ApiError> {
    let id = parse_id(&id)?;
    let contact =
        kith_app::crm::duplicates::merge(&state.app, &ctx, id, body.other_id, if_match(&headers)?, &origin).await?;
    Ok(([etag(contact.version)], Json(contact)))
}
