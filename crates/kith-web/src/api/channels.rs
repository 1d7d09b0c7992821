//! `/api/v1/channels`: inbox channels. Admins connect, change and disconnect
//! them; every member may list them. Credentials go in and never come out:
//! answers show the non-secret settings and the names of the secrets set.

use crate::error::{ApiError, ErrorBody};
use crate::extract::{etag, if_match, parse_id, ApiJson, ListQuery};
use crate::state::WebState;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use kith_app::inbox::channels::{self as app, Channel, ChannelPatch, NewChannel};
use kith_app::inbox::events::{self, InboundEventInfo};
use kith_app::inbox::outbound::{self, FailedSend};
use kith_app::Context;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelList {
    pub data: Vec<Channel>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FailedSendList {
    pub data: Vec<FailedSend>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InboundEventList {
    pub data: Vec<InboundEventInfo>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/channels", tag = "inbox",
    responses((status = 200, body = ChannelList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
) -> Result<Json<ChannelList>, ApiError> {
    Ok(Json(ChannelList { data: app::list(&state.app, &ctx).await? }))
}

/// Connect a channel. `config` by kind — `twilio_sms`: `account_sid`,
/// `auth_token`, and `from` or `messaging_service_sid`; `whatsapp`:
/// `phone_number_id`, `access_token`, `app_secret`, `verify_token`;
/// `messenger`: `page_id`, `page_access_token`, `app_secret`, `verify_token`;
/// `instagram`: `instagram_account_id` (and optionally `page_id`),
/// `page_access_token`, `app_secret`, `verify_token`; `telegram`: `bot_token`;
/// `viber`: `auth_token` (optionally `sender_name`); `email`: `address`,
/// `imap_host`, `imap_port`, `smtp_host`, `smtp_port`, `username`, `password`.
/// Any kind may set `help_text` (the reply to HELP/INFO) and `rate_limits`
/// (`{"per_second": 5, "recipient_interval_seconds": 6}`, overriding the
/// kind's defaults: Twilio long code 1/s, toll-free 3/s, short code 30/s,
/// Messaging Service 1/s; WhatsApp 80/s and 1 per 6 s to one person;
/// Messenger/Instagram 10/s; Telegram 30/s and 1/s per chat; Viber 10/s;
/// e-mail unlimited). Telegram and Viber
/// webhooks are registered with the provider before this answers.
#[utoipa::path(post, path = "/api/v1/channels", tag = "inbox", request_body = NewChannel,
    responses((status = 201, body = Channel), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    ApiJson(body): ApiJson<NewChannel>,
) -> Result<impl IntoResponse, ApiError> {
    let c = app::create(&state.app, &ctx, &body).await?;
    Ok((StatusCode::CREATED, [etag(c.version)], Json(c)))
}

#[utoipa::path(get, path = "/api/v1/channels/{id}", tag = "inbox", params(("id" = String, Path)),
    responses((status = 200, body = Channel), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let c = app::get(&state.app, &ctx, parse_id(&id)?).await?;
    Ok(([etag(c.version)], Json(c)))
}

/// Rename, set the AI mode, or replace some settings (the others keep their value).
#[utoipa::path(patch, path = "/api/v1/channels/{id}", tag = "inbox", request_body = ChannelPatch,
    params(("id" = String, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = Channel), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 412, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<ChannelPatch>,
) -> Result<impl IntoResponse, ApiError> {
    let c = app::update(&state.app, &ctx, parse_id(&id)?, &body, if_match(&headers)?).await?;
    Ok(([etag(c.version)], Json(c)))
}

/// Disconnect: the stored credentials are deleted at once and the channel's
/// webhooks are refused; its conversations stay.
#[utoipa::path(delete, path = "/api/v1/channels/{id}", tag = "inbox", params(("id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    app::delete(&state.app, &ctx, parse_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The raw inbound event log of a channel, newest first (admins; no content).
#[utoipa::path(get, path = "/api/v1/channels/{id}/events", tag = "inbox", params(("id" = String, Path), ListQuery),
    responses((status = 200, body = InboundEventList), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn events(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Path(id): Path<String>,
    Query(q): Query<ListQuery>,
) -> Result<Json<InboundEventList>, ApiError> {
    let page = events::list(&state.app, &ctx, parse_id(&id)?, &q.page()?).await?;
    Ok(Json(InboundEventList { next_cursor: page.next.map(|c| c.encode()), data: page.items }))
}

/// Process an event again (processing is idempotent: an event already
/// processed changes nothing).
#[utoipa::path(post, path = "/api/v1/channels/{id}/events/{event_id}/replay", tag = "inbox",
    params(("id" = String, Path), ("event_id" = String, Path)),
    responses((status = 202, body = InboundEventInfo), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn replay_event(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Path((id, event_id)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let e = events::replay(&state.app, &ctx, parse_id(&id)?, parse_id(&event_id)?).await?;
    Ok((StatusCode::ACCEPTED, Json(e)))
}

/// Sends of a channel that failed before the provider took them (retries
/// exhausted, refused by the provider, channel or consent changed), newest
/// first (admins; no content).
#[utoipa::path(get, path = "/api/v1/channels/{id}/failed-sends", tag = "inbox", params(("id" = String, Path), ListQuery),
    responses((status = 200, body = FailedSendList), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn failed_sends(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Path(id): Path<String>,
    Query(q): Query<ListQuery>,
) -> Result<Json<FailedSendList>, ApiError> {
    let page = outbound::failed_sends(&state.app, &ctx, parse_id(&id)?, &q.page()?).await?;
    Ok(Json(FailedSendList { next_cursor: page.next.map(|c| c.encode()), data: page.items }))
}

/// Queue a failed send again with a fresh set of attempts (admins).
/// Refused with `contact_opted_out` when the contact opted out meanwhile.
#[utoipa::path(post, path = "/api/v1/channels/{id}/failed-sends/{message_id}/retry", tag = "inbox",
    params(("id" = String, Path), ("message_id" = String, Path)),
    responses((status = 202, body = FailedSend), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn retry_failed_send(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Path((id, message_id)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let f = outbound::retry_failed(&state.app, &ctx, parse_id(&id)?, parse_id(&message_id)?).await?;
    Ok((StatusCode::ACCEPTED, Json(f)))
}
