//! kith-web: the HTTP edge. `/api/v1` (JSON), `/hooks` (providers), `/` (server-rendered HTML),
//! `/healthz`, `/readyz`, `/metrics`, and the middleware around them.
//!
//! Handlers parse, call one kith-app function and render. This crate never
//! touches SQL and never decides permissions: it maps [`kith_app::AppError`]
//! to HTTP and nothing more.

pub mod api;
mod assets;
pub mod error;
mod events;
mod extract;
mod headers;
mod hooks;
pub mod metrics;
mod ops;
mod ratelimit;
pub mod state;
mod ui;

pub use state::{WebConfig, WebState};

use axum::Router;
use std::future::Future;
use tokio::net::TcpListener;

/// The whole application as one router.
pub fn router(state: WebState) -> Router {
    Router::new()
        .merge(ops::routes())
        .nest("/api/v1", api::routes(state.clone()))
        .merge(hooks::routes())
        // Signed, short-lived links to outbound media (providers fetch them; no session).
        .route("/files/{org_id}/{id}", axum::routing::get(api::attachments::capability))
        .merge(ui::routes(state.clone()))
        .merge(assets::routes())
        .layer(axum::middleware::from_fn_with_state(state.clone(), headers::edge))
        .with_state(state)
}

/// Serve until `shutdown` resolves; in-flight requests finish first (event
/// streams are told to end).
pub async fn serve(
    listener: TcpListener,
    state: WebState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let closing = state.closing.clone();
    let shutdown = async move {
        shutdown.await;
        closing.send_replace(true);
    };
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}
