//! Bearer-token authentication and per-token rate limiting.

use crate::error::ApiError;
use crate::state::WebState;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use kith_app::ErrorCode;

pub async fn require_token(State(state): State<WebState>, mut req: Request, next: Next) -> Response {
    let secret = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(|s| s.trim().to_string());
    let Some(secret) = secret else {
        return unauthenticated("send an API token: Authorization: Bearer <token>");
    };
    let (ctx, me) = match kith_app::tokens::authenticate_with_me(&state.app, &secret).await {
        Ok(Some(found)) => found,
        Ok(None) => return unauthenticated("the API token is unknown or revoked"),
        Err(e) => return ApiError::from(e).into_response(),
    };
    if let Err(retry_after_s) = state.limiter.check(ctx.actor.credential.id()) {
        let mut err = ApiError::new(ErrorCode::RateLimited, "too many requests for this token; slow down");
        err.retry_after_s = Some(retry_after_s);
        return err.into_response();
    }
    req.extensions_mut().insert(ctx);
    // `/me` answers from this; nothing else reads it.
    req.extensions_mut().insert(me);
    next.run(req).await
}

fn unauthenticated(message: &str) -> Response {
    let mut resp = ApiError::new(ErrorCode::Unauthenticated, message).into_response();
    resp.headers_mut().insert("www-authenticate", axum::http::HeaderValue::from_static("Bearer"));
    resp
}
