//! `/api/v1/conversations`: the shared inbox. A conversation is visible to
//! whoever may see its contact; other workspaces' ids are simply not found.

use crate::error::{ApiError, ErrorBody};
use crate::extract::{etag, field_error, if_match, parse_id, ApiJson, ApiQuery, ListQuery};
use crate::state::WebState;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use kith_app::inbox::conversations::{self as app, Conversation, ConversationPatch, ConversationQuery, NewNote};
use kith_app::inbox::messages::{self, Message};
use kith_app::inbox::outbound::{self, OutboundMessage};
use kith_app::Context;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationList {
    pub data: Vec<Conversation>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MessageList {
    pub data: Vec<Message>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConversationListQuery {
    /// `open`, `pending`, `snoozed`, `resolved` or `all` (default).
    status: Option<String>,
    /// A member's id, `me` or `unassigned`.
    assignee: Option<String>,
    /// A channel id.
    channel: Option<String>,
    /// A label.
    label: Option<String>,
    /// A contact id.
    contact: Option<String>,
    /// Page size, 1–200 (larger values are clamped to 200); default 50.
    limit: Option<String>,
    /// The `next_cursor` of the previous page (with the same filters).
    cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MessageListQuery {
    /// `desc` (newest first, default) or `asc` (oldest first).
    order: Option<String>,
    /// Page size, 1–200 (larger values are clamped to 200); default 50.
    limit: Option<String>,
    /// The `next_cursor` of the previous page (with the same order).
    cursor: Option<String>,
}

fn optional_id(raw: Option<&str>, field: &str) -> Result<Option<Uuid>, ApiError> {
    match raw {
        None | Some("") => Ok(None),
        Some(s) => Uuid::try_parse(s).map(Some).map_err(|_| field_error(field, "is not an id")),
    }
}

/// Conversations, most recent activity first.
#[utoipa::path(get, path = "/api/v1/conversations", tag = "inbox", params(ConversationListQuery),
    responses((status = 200, body = ConversationList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    ApiQuery(q): ApiQuery<ConversationListQuery>,
) -> Result<Json<ConversationList>, ApiError> {
    let page = ListQuery { limit: q.limit.clone(), cursor: q.cursor.clone() }.page()?;
    let query = ConversationQuery {
        status: q.status.clone(),
        assignee: q.assignee.clone(),
        channel_id: optional_id(q.channel.as_deref(), "channel")?,
        label: q.label.clone(),
        contact_id: optional_id(q.contact.as_deref(), "contact")?,
    };
    let page = app::list(&state.app, &ctx, &query, &page).await?;
    Ok(Json(ConversationList { next_cursor: page.next.map(|c| c.encode()), data: page.items }))
}

#[utoipa::path(get, path = "/api/v1/conversations/{id}", tag = "inbox", params(("id" = String, Path)),
    responses((status = 200, body = Conversation), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let c = app::get(&state.app, &ctx, parse_id(&id)?).await?;
    Ok(([etag(c.version)], Json(c)))
}

/// Status (`snoozed` needs `snoozed_until_ms`), assignment to a member and/or
/// a team, labels.
#[utoipa::path(patch, path = "/api/v1/conversations/{id}", tag = "inbox", request_body = ConversationPatch,
    params(("id" = String, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = Conversation), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 412, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<ConversationPatch>,
) -> Result<impl IntoResponse, ApiError> {
    let c = app::update(&state.app, &ctx, parse_id(&id)?, &body, if_match(&headers)?).await?;
    Ok(([etag(c.version)], Json(c)))
}

/// Messages and notes, bodies included.
#[utoipa::path(get, path = "/api/v1/conversations/{id}/messages", tag = "inbox",
    params(("id" = String, Path), MessageListQuery),
    responses((status = 200, body = MessageList), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn messages(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<MessageListQuery>,
) -> Result<Json<MessageList>, ApiError> {
    let ascending = match q.order.as_deref() {
        None | Some("") | Some("desc") => false,
        Some("asc") => true,
        Some(_) => return Err(field_error("order", "must be asc or desc")),
    };
    let page = ListQuery { limit: q.limit.clone(), cursor: q.cursor.clone() }.page()?;
    let page = messages::list(&state.app, &ctx, parse_id(&id)?, ascending, &page).await?;
    Ok(Json(MessageList { next_cursor: page.next.map(|c| c.encode()), data: page.items }))
}

/// Reply to the contact: stored `queued` and sent by a background job.
/// Give exactly one of `body`, `canned_response_id` (rendered for the
/// contact) or `template` (WhatsApp channels). Refused with
/// `contact_opted_out` (409, nothing queued) after the contact opted out on
/// this kind of channel, and with `whatsapp_window_closed` (422) for a
/// free-form WhatsApp message more than 24 hours after the contact's last
/// message. `origin: automated|bulk` messages that are not replies are held
/// by quiet hours (08:00–21:00 where the contact is; see `hold_until_ms`).
/// Send an `Idempotency-Key` so a retried request sends once.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/messages", tag = "inbox", request_body = OutboundMessage,
    params(("id" = String, Path), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 202, body = Message), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn send(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<OutboundMessage>,
) -> Result<impl IntoResponse, ApiError> {
    let m = outbound::send(&state.app, &ctx, parse_id(&id)?, &body).await?;
    Ok((StatusCode::ACCEPTED, Json(m)))
}

/// A private note for the team (never sent); `@member-email` in the body and
/// `mentions` (member ids) are recorded.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/notes", tag = "inbox", request_body = NewNote,
    params(("id" = String, Path)),
    responses((status = 201, body = Message), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn add_note(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NewNote>,
) -> Result<impl IntoResponse, ApiError> {
    let m = app::add_note(&state.app, &ctx, parse_id(&id)?, &body).await?;
    Ok((StatusCode::CREATED, Json(m)))
}

/// Mark the conversation read (for the caller only).
#[utoipa::path(post, path = "/api/v1/conversations/{id}/read", tag = "inbox", params(("id" = String, Path)),
    responses((status = 200, body = Conversation), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn mark_read(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Path(id): Path<String>,
) -> Result<Json<Conversation>, ApiError> {
    Ok(Json(app::mark_read(&state.app, &ctx, parse_id(&id)?).await?))
}
