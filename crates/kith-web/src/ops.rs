//! Operations endpoints: liveness, readiness, metrics.

use crate::state::WebState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

pub fn routes() -> Router<WebState> {
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz)).route("/metrics", get(metrics))
}

/// The process answers.
async fn healthz() -> impl IntoResponse {
    (StatusCode::OK, axum::Json(serde_json::json!({"status": "ok"})))
}

/// The database answers and every migration is applied.
async fn readyz(State(state): State<WebState>) -> impl IntoResponse {
    match state.app.db().ready().await {
        Ok(true) => (StatusCode::OK, axum::Json(serde_json::json!({"status": "ready"}))),
        Ok(false) => (StatusCode::SERVICE_UNAVAILABLE, axum::Json(serde_json::json!({"status": "migrations pending"}))),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, axum::Json(serde_json::json!({"status": "database unavailable"})))
        }
    }
}

async fn metrics(State(state): State<WebState>) -> impl IntoResponse {
    let rss = resident_memory_bytes().unwrap_or(0) as f64;
    let body = state.metrics.render(&[("kith_process_resident_memory_bytes", "Resident memory of the process.", rss)]);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}

fn resident_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
