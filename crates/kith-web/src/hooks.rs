//! `/hooks`: provider webhooks. Outside sessions, CSRF and API tokens: each
//! request proves itself with the signature of the channel named in its URL.
//! The body is read raw (signatures cover the exact bytes), capped per
//! provider, and handed to kith-app, which verifies, stores and only then
//! lets this answer 2xx. Nothing here logs bodies, tokens or signatures.

use crate::error::ApiError;
use crate::extract::parse_id;
use crate::state::WebState;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, OriginalUri, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use kith_app::inbox::ingest;
use kith_app::ErrorCode;
use std::collections::HashMap;

pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/hooks/twilio/{channel_id}", post(twilio).layer(DefaultBodyLimit::max(ingest::TWILIO_MAX_BODY)))
        .route(
            "/hooks/meta/{channel_id}",
            axum::routing::get(meta_handshake).post(meta).layer(DefaultBodyLimit::max(ingest::META_MAX_BODY)),
        )
        .route("/hooks/telegram/{channel_id}", post(telegram).layer(DefaultBodyLimit::max(ingest::TELEGRAM_MAX_BODY)))
        .route("/hooks/viber/{channel_id}", post(viber).layer(DefaultBodyLimit::max(ingest::VIBER_MAX_BODY)))
}

/// The raw body, or a clean 413 when it is over the provider's limit.
fn body_of(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(ErrorCode::PayloadTooLarge, "the body is larger than this provider's webhooks can be")
        } else {
            ApiError::bad_request("the body could not be read")
        }
    })
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Empty TwiML: "received, no reply".
const EMPTY_TWIML: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>";

async fn twilio(
    State(state): State<WebState>,
    Path(channel_id): Path<String>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let channel_id = parse_id(&channel_id)?;
    let body = body_of(body)?;
    // Twilio signs the URL it called: the server's public base URL + path + query.
    let path_and_query = uri.path_and_query().map(|p| p.as_str()).unwrap_or_else(|| uri.path());
    let full_url = format!("{}{}", state.app.settings().public_url, path_and_query);
    ingest::twilio(&state.app, channel_id, &full_url, &body, header_str(&headers, "x-twilio-signature")).await?;
    Ok(([(header::CONTENT_TYPE, "text/xml; charset=utf-8")], EMPTY_TWIML).into_response())
}

async fn meta_handshake(
    State(state): State<WebState>,
    Path(channel_id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let channel_id = parse_id(&channel_id)?;
    let get = |k: &str| q.get(k).map(String::as_str).unwrap_or("");
    let challenge =
        ingest::meta_handshake(&state.app, channel_id, get("hub.mode"), get("hub.verify_token"), get("hub.challenge"))
            .await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], challenge).into_response())
}

async fn meta(
    State(state): State<WebState>,
    Path(channel_id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, ApiError> {
    let channel_id = parse_id(&channel_id)?;
    let body = body_of(body)?;
    ingest::meta(&state.app, channel_id, &body, header_str(&headers, "x-hub-signature-256")).await?;
    Ok(StatusCode::OK)
}

async fn telegram(
    State(state): State<WebState>,
    Path(channel_id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, ApiError> {
    let channel_id = parse_id(&channel_id)?;
    let body = body_of(body)?;
    let secret = header_str(&headers, provider_headers::TELEGRAM_SECRET);
    ingest::telegram(&state.app, channel_id, &body, secret).await?;
    Ok(StatusCode::OK)
}

async fn viber(
    State(state): State<WebState>,
    Path(channel_id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, ApiError> {
    let channel_id = parse_id(&channel_id)?;
    let body = body_of(body)?;
    ingest::viber(&state.app, channel_id, &body, header_str(&headers, provider_headers::VIBER_SIGNATURE)).await?;
    Ok(StatusCode::OK)
}

/// Header names the providers use (lower case, as HTTP/1 parsers give them).
mod provider_headers {
    pub const TELEGRAM_SECRET: &str = "x-telegram-bot-api-secret-token";
    pub const VIBER_SIGNATURE: &str = "x-viber-content-signature";
}
