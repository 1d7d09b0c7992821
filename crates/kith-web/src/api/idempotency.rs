//! The HTTP side of `Idempotency-Key` (the rules live in kith-app): buffer
//! the body, ask whether to run or replay, and store what was answered.
//! Multipart uploads are streamed, so they cannot carry a key (422).

use crate::api::MAX_BODY_BYTES;
use crate::error::ApiError;
use crate::state::WebState;
use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use kith_app::idempotency::{self, Begin};
use kith_app::{Context, ErrorCode};
use serde::{Deserialize, Serialize};

/// What a replay needs besides the status: the body and the version header.
#[derive(Serialize, Deserialize)]
struct Stored {
    etag: Option<String>,
    body: String,
}

pub async fn layer(State(state): State<WebState>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST {
        return next.run(req).await;
    }
    let Some(key) = req.headers().get("idempotency-key").map(|v| v.to_str().unwrap_or("\u{0}").to_string()) else {
        return next.run(req).await;
    };
    let Some(ctx) = req.extensions().get::<Context>().cloned() else {
        return next.run(req).await;
    };
    if is_multipart(&req) {
        // An upload (up to 512 MiB) is streamed to storage, never held: there is
        // no body to fingerprint or replay. Refusing the key is honest; ignoring
        // it would let a client believe a retry is safe when it is not.
        let message = "is not supported on multipart uploads (the body is streamed, not kept); \
                       list what was created before retrying";
        return ApiError::from(kith_app::AppError::field("Idempotency-Key", message)).into_response();
    }
    let path = req.uri().path().to_string();
    let (parts, body) = req.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_BODY_BYTES).await else {
        return ApiError::new(ErrorCode::PayloadTooLarge, "the request body is too large").into_response();
    };
    let claim = match idempotency::begin(&state.app, &ctx, &path, &key, &bytes).await {
        Ok(Begin::Run(claim)) => claim,
        Ok(Begin::Replay { status, response }) => return replay(status, &response),
        Err(e) => return ApiError::from(e).into_response(),
    };

    let resp = next.run(Request::from_parts(parts, Body::from(bytes))).await;
    let status = resp.status();
    if status.is_server_error() {
        if let Err(e) = idempotency::release(&state.app, &claim).await {
            tracing::error!(error = %e, "could not release an idempotency key");
        }
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let body = to_bytes(body, 16 * MAX_BODY_BYTES).await.unwrap_or_default();
    let stored = Stored {
        etag: parts.headers.get("etag").and_then(|v| v.to_str().ok()).map(str::to_string),
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    let plain = serde_json::to_vec(&stored).unwrap_or_default();
    if let Err(e) = idempotency::finish(&state.app, &claim, status.as_u16(), &plain).await {
        tracing::error!(error = %e, "could not store an idempotent response");
    }
    Response::from_parts(parts, Body::from(body))
}

fn is_multipart(req: &Request) -> bool {
    let content_type = req.headers().get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    content_type.is_some_and(|t| t.trim_start().to_ascii_lowercase().starts_with("multipart/"))
}

fn replay(status: u16, plain: &[u8]) -> Response {
    let Ok(stored) = serde_json::from_slice::<Stored>(plain) else {
        return ApiError::new(ErrorCode::Internal, "stored response is unreadable").into_response();
    };
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let mut resp = (status, [(axum::http::header::CONTENT_TYPE, "application/json")], stored.body).into_response();
    resp.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    if let Some(etag) = stored.etag.and_then(|e| HeaderValue::from_str(&e).ok()) {
        resp.headers_mut().insert("etag", etag);
    }
    resp
}
