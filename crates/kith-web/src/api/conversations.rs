//! `/api/v1/conversations`: the shared inbox. A conversation is visible to
//! whoever may see its contact; other workspaces' ids are simply not found.

use crate::error::{ApiError, ErrorBody};
use crate::extract::{etag, field_error, if_match, parse_id, ApiJson, ApiQuery, ListQuery};
use crate::state::WebState;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event as SseEvent, Sse};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use kith_app::ai::autoreply::{self, AiStatus, OnDemand};
use kith_app::ai::retrieval::Passage;
use kith_app::inbox::conversations::{self as app, Conversation, ConversationPatch, ConversationQuery, NewNote};
use kith_app::inbox::messages::{self, Message};
use kith_app::inbox::outbound::{self, OutboundMessage};
use kith_app::Context;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::convert::Infallible;
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

// ------------------------------------------------------------ the assistant

/// What the assistant did last in the conversation, whether it is paused
/// after a handoff, and its suggested reply (in `suggest` mode).
#[utoipa::path(get, path = "/api/v1/conversations/{id}/ai", tag = "inbox", params(("id" = String, Path)),
    responses((status = 200, body = AiStatus), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn ai_status(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Path(id): Path<String>,
) -> Result<Json<AiStatus>, ApiError> {
    Ok(Json(autoreply::status(&state.app, &ctx, parse_id(&id)?).await?))
}

/// Let the assistant answer again in a conversation it handed to the team.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/ai/resume", tag = "inbox", params(("id" = String, Path)),
    responses((status = 200, body = AiStatus), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn ai_resume(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Path(id): Path<String>,
) -> Result<Json<AiStatus>, ApiError> {
    let id = parse_id(&id)?;
    autoreply::resume(&state.app, &ctx, id).await?;
    Ok(Json(autoreply::status(&state.app, &ctx, id).await?))
}

/// A suggested reply to the customer's latest message, grounded in the
/// knowledge base, streamed as server-sent events: `passages` (what the
/// answer may cite), `delta` (`{"text"}` pieces), then `done`
/// (`{"text", "citations", "mode": "model"|"faq"|"none", "reason"}`; `text`
/// is null when the model declined or nothing matched) or `error`
/// (`{"code", "message"}`). Without an AI endpoint the best FAQ answer is
/// suggested (`mode: "faq"`). Needs the `suggestions` feature.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/suggestion", tag = "inbox", params(("id" = String, Path)),
    responses((status = 200, description = "text/event-stream"), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 429, body = ErrorBody),
              (status = 502, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn suggestion(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    suggestion_stream(&state, &ctx, parse_id(&id)?).await
}

/// The suggestion as server-sent events (the API's and the inbox page's).
pub async fn suggestion_stream(state: &WebState, ctx: &Context, id: Uuid) -> Result<Response, ApiError> {
    let start = autoreply::suggest(&state.app, ctx, id).await?;
    let event = |kind: &str, data: serde_json::Value| SseEvent::default().event(kind).data(data.to_string());
    let cites = |ps: &[Passage]| {
        let list: Vec<_> =
            ps.iter().enumerate().map(|(i, p)| json!({"n": i + 1, "entry_id": p.entry_id, "title": p.title})).collect();
        serde_json::Value::Array(list)
    };
    let events: Vec<SseEvent> = match start {
        OnDemand::Nothing { reason } => {
            vec![event("done", json!({"text": null, "citations": [], "mode": "none", "reason": reason}))]
        }
        OnDemand::Faq { text, passage } => {
            let citation = json!({"entry_id": passage.entry_id, "title": passage.title});
            vec![
                event("passages", cites(std::slice::from_ref(&passage))),
                event("delta", json!({"text": text})),
                event("done", json!({"text": text, "citations": [citation], "mode": "faq", "reason": "faq_match"})),
            ]
        }
        OnDemand::Model { stream, passages } => {
            let first = event("passages", cites(&passages));
            let live = futures_util::stream::unfold(Some((stream, passages, String::new())), move |st| async move {
                let (mut stream, passages, mut text) = st?;
                match stream.next().await {
                    Some(Ok(piece)) => {
                        text.push_str(&piece);
                        let ev = event("delta", json!({"text": piece}));
                        Some((Ok::<_, Infallible>(ev), Some((stream, passages, text))))
                    }
                    Some(Err(e)) => {
                        let ev = event("error", json!({"code": e.code().as_str(), "message": e.to_string()}));
                        Some((Ok(ev), None))
                    }
                    None => {
                        let (answer, citations) = autoreply::finish_suggestion(&text, &passages);
                        let reason = if answer.is_some() { "answered" } else { "model_declined" };
                        let ev = event(
                            "done",
                            json!({"text": answer, "citations": citations, "mode": "model", "reason": reason}),
                        );
                        Some((Ok(ev), None))
                    }
                }
            });
            let head = futures_util::stream::iter([Ok::<_, Infallible>(first)]);
            return Ok(sse_response(futures_util::StreamExt::chain(head, live)));
        }
    };
    Ok(sse_response(futures_util::stream::iter(events.into_iter().map(Ok::<_, Infallible>))))
}

fn sse_response<S>(events: S) -> Response
where
    S: futures_util::Stream<Item = Result<SseEvent, Infallible>> + Send + 'static,
{
    let mut resp = Sse::new(events).into_response();
    let h = resp.headers_mut();
    h.insert("cache-control", HeaderValue::from_static("no-cache, no-transform"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    resp
}
