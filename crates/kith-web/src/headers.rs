//! The edge middleware every response passes: request id, security headers,
//! metrics and one access-log line (path only: query strings may hold secrets).

use crate::state::WebState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use std::time::Instant;
use tracing::Instrument;

/// No inline script or style, nothing from other origins, no framing.
pub const CSP: &str =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; \
connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

pub async fn edge(State(state): State<WebState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.len() <= 64 && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_string());
    let path = req.uri().path().to_string();
    // Log the route template, not the path: paths carry secrets (invitation,
    // reset and confirmation links).
    let logged = route.clone().unwrap_or_else(|| "unmatched".into());
    let span = tracing::info_span!("request", id = %request_id, method = %method, route = %logged);

    let mut resp = next.run(req).instrument(span.clone()).await;

    let h = resp.headers_mut();
    h.insert("x-request-id", HeaderValue::from_str(&request_id).unwrap_or(HeaderValue::from_static("invalid")));
    h.insert("content-security-policy", HeaderValue::from_static(CSP));
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    h.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    h.insert("permissions-policy", HeaderValue::from_static("camera=(), microphone=(), geolocation=(), payment=()"));
    if state.config.secure_cookies {
        h.insert("strict-transport-security", HeaderValue::from_static("max-age=31536000; includeSubDomains"));
    }
    if !h.contains_key("cache-control") {
        h.insert("cache-control", HeaderValue::from_static("no-store"));
    }

    let status = resp.status().as_u16();
    let elapsed = started.elapsed();
    let route = route.unwrap_or_else(|| if status == 404 { "unmatched".into() } else { path.clone() });
    if method != Method::OPTIONS {
        state.metrics.observe(method.as_str(), &route, status, elapsed);
    }
    span.in_scope(|| tracing::info!(status, elapsed_ms = elapsed.as_secs_f64() * 1000.0, "handled"));
    resp
}
