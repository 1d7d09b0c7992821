//! `GET /events`: live updates as server-sent events, for the browser's
//! inbox (session cookie) and for API clients (bearer token).
//!
//! Each connection listens to the App's event bus and forwards the events of
//! the caller's workspace as `event: message.created` with
//! `data: {"conversation_id":…,"message_id":…}` — ids only: the client reads
//! what changed through the normal endpoints, where permissions apply. A
//! listener that fell behind gets `event: resync` (reload what you show).
//! A comment every 15 s keeps proxies from closing an idle stream; the stream
//! ends when the server shuts down. Nothing here is buffered or compressed
//! (`X-Accel-Buffering: no` tells nginx the same).

use crate::error::ApiError;
use crate::state::WebState;
use crate::ui::UiCtx;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use kith_app::{Context, ErrorCode};
use kith_domain::role::Action;
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::broadcast;

/// How often an idle stream sends a comment.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// What the browser waits before reconnecting after the stream drops.
const RETRY: Duration = Duration::from_secs(3);

fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(|s| s.trim().to_string())
}

fn unauthenticated() -> Response {
    let mut resp =
        ApiError::new(ErrorCode::Unauthenticated, "sign in, or send an API token: Authorization: Bearer <token>")
            .into_response();
    resp.headers_mut().insert("www-authenticate", HeaderValue::from_static("Bearer"));
    resp
}

/// The caller's workspace context: an API token first, else the session.
async fn context(state: &WebState, ui: Option<&UiCtx>, headers: &HeaderMap) -> Result<Context, Response> {
    if let Some(secret) = bearer(headers) {
        return match kith_app::tokens::authenticate(&state.app, &secret).await {
            Ok(Some(ctx)) => {
                if let Err(retry_after_s) = state.limiter.check(ctx.actor.credential.id()) {
                    let mut err = ApiError::new(ErrorCode::RateLimited, "too many requests for this token; slow down");
                    err.retry_after_s = Some(retry_after_s);
                    return Err(err.into_response());
                }
                Ok(ctx)
            }
            Ok(None) => Err(unauthenticated()),
            Err(e) => Err(ApiError::from(e).into_response()),
        };
    }
    let Some(auth) = ui.and_then(|u| u.auth.as_ref()).filter(|a| !a.session.mfa_pending) else {
        return Err(unauthenticated());
    };
    match kith_app::identity::session_context(&state.app, auth, None).await {
        Ok(Some(ctx)) => Ok(ctx),
        Ok(None) => Err(ApiError::new(ErrorCode::NotFound, "you are not a member of any workspace").into_response()),
        Err(e) => Err(ApiError::from(e).into_response()),
    }
}

/// What a resync tells the client: reload what you show.
fn resync() -> SseEvent {
    SseEvent::default().event("resync").data("{}")
}

pub async fn stream(State(state): State<WebState>, ui: Option<Extension<UiCtx>>, headers: HeaderMap) -> Response {
    let ctx = match context(&state, ui.as_ref().map(|e| &e.0), &headers).await {
        Ok(ctx) => ctx,
        Err(resp) => return resp,
    };
    if !ctx.can(Action::ReadRecords) {
        return ApiError::new(ErrorCode::Forbidden, "your role may not read this workspace").into_response();
    }
    let org_id = ctx.org_id;
    let listener = (state.app.events().subscribe(), state.closing.subscribe(), false);
    // The event type lives in kith-infra, which this crate does not name: the
    // listener's state is a tuple whose types are inferred.
    let events = futures_util::stream::unfold(listener, move |(mut rx, mut closing, greeted)| async move {
        if !greeted {
            // Sent at once, so the client knows it is subscribed (and how soon to come back).
            let hello = SseEvent::default().retry(RETRY).comment("connected");
            return Some((Ok::<_, Infallible>(hello), (rx, closing, true)));
        }
        loop {
            let received = tokio::select! {
                _ = closing.wait_for(|c| *c) => return None,
                received = rx.recv() => received,
            };
            let event = match received {
                Ok(e) if e.org_id == org_id => {
                    let data = serde_json::json!({"conversation_id": e.conversation_id, "message_id": e.message_id});
                    SseEvent::default().event(e.kind).data(data.to_string())
                }
                Ok(_) => continue,
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::debug!(missed, "event stream fell behind");
                    resync()
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            };
            return Some((Ok(event), (rx, closing, true)));
        }
    });
    let mut resp = Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE).text("")).into_response();
    let h = resp.headers_mut();
    h.insert("cache-control", HeaderValue::from_static("no-cache, no-transform"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    resp
}
