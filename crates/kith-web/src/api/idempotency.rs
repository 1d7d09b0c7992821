//! `Idempotency-Key` on POST: scoped to workspace + credential + method +
//! path. A replay returns the first response; the same key with another body
//! is 422; a duplicate while the first is still running is 409. Stored
//! responses are sealed like any other copy of workspace data.

use crate::api::MAX_BODY_BYTES;
use crate::error::ApiError;
use crate::state::WebState;
use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use kith_app::{Context, ErrorCode};
use kith_store::idempotency::{self, IdemScope};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Serialize, Deserialize)]
struct Stored {
    status: u16,
    etag: Option<String>,
    body: String,
}

pub async fn layer(State(state): State<WebState>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST {
        return next.run(req).await;
    }
    let Some(key) = req.headers().get("idempotency-key").map(|v| v.to_str().map(str::to_string)) else {
        return next.run(req).await;
    };
    let key = match key {
        Ok(k) if !k.is_empty() && k.len() <= 255 => k,
        _ => return ApiError::bad_request("Idempotency-Key must be 1–255 visible ASCII characters").into_response(),
    };
    let Some(ctx) = req.extensions().get::<Context>().cloned() else {
        return next.run(req).await;
    };
    let path = req.uri().path().to_string();
    let (parts, body) = req.into_parts();
    let bytes = match to_bytes(body, MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(_) => return ApiError::new(ErrorCode::PayloadTooLarge, "the request body is too large").into_response(),
    };
    let request_hash = kith_crypto::sha256(&bytes);
    let scope = IdemScope {
        org_id: ctx.org_id,
        credential_id: ctx.actor.credential.id(),
        method: "POST",
        path: &path,
        key: &key,
    };
    let row_id = seal_row_id(&scope);
    let db = state.app.db();
    let now = kith_domain::time::now_ms();

    match idempotency::reserve(db, &scope, &request_hash, now).await {
        Err(e) => return ApiError::from(kith_app::AppError::from(e)).into_response(),
        Ok(Some(existing)) => {
            if existing.request_hash != request_hash {
                return ApiError::new(
                    ErrorCode::IdempotencyKeyReused,
                    "this Idempotency-Key was used with a different request body",
                )
                .into_response();
            }
            let (Some(_), Some(sealed)) = (existing.status_code, existing.response) else {
                return ApiError::new(
                    ErrorCode::IdempotencyInProgress,
                    "a request with this Idempotency-Key is still running",
                )
                .into_response();
            };
            return match state.app.keyring().open(db, ctx.org_id, "idempotency_keys", "response", row_id, &sealed).await
            {
                Ok(plain) => replay(&plain),
                Err(e) => ApiError::from(e).into_response(),
            };
        }
        Ok(None) => {}
    }

    let resp = next.run(Request::from_parts(parts, Body::from(bytes))).await;
    let status = resp.status();
    if status.is_server_error() {
        let _ = idempotency::release(db, &scope).await;
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let body = to_bytes(body, 16 * MAX_BODY_BYTES).await.unwrap_or_default();
    let stored = Stored {
        status: status.as_u16(),
        etag: parts.headers.get("etag").and_then(|v| v.to_str().ok()).map(str::to_string),
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    let plain = serde_json::to_vec(&stored).unwrap_or_default();
    match state.app.keyring().seal(db, ctx.org_id, "idempotency_keys", "response", row_id, &plain).await {
        Ok(sealed) => {
            if let Err(e) = idempotency::finish(db, &scope, status.as_u16() as i64, &sealed).await {
                tracing::error!(error = %e, "could not store idempotent response");
            }
        }
        Err(e) => tracing::error!(error = %e, "could not seal idempotent response"),
    }
    Response::from_parts(parts, Body::from(body))
}

/// Sealed responses are bound to a row id derived from the key's scope.
fn seal_row_id(s: &IdemScope<'_>) -> Uuid {
    let mut data = Vec::new();
    for part in [s.credential_id.as_bytes().as_slice(), s.method.as_bytes(), s.path.as_bytes(), s.key.as_bytes()] {
        data.extend_from_slice(&(part.len() as u32).to_be_bytes());
        data.extend_from_slice(part);
    }
    let hash = kith_crypto::sha256(&data);
    Uuid::from_bytes(hash[..16].try_into().expect("16 bytes"))
}

fn replay(plain: &[u8]) -> Response {
    let Ok(stored) = serde_json::from_slice::<Stored>(plain) else {
        return ApiError::new(ErrorCode::Internal, "stored response is unreadable").into_response();
    };
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let mut resp = (status, [(axum::http::header::CONTENT_TYPE, "application/json")], stored.body).into_response();
    resp.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    if let Some(etag) = stored.etag.and_then(|e| HeaderValue::from_str(&e).ok()) {
        resp.headers_mut().insert("etag", etag);
    }
    resp
}
