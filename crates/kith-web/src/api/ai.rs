//! `/api/v1/ai`: the workspace's AI settings, the connection test and the month's usage (admins only). The
//! endpoint's API key goes in and never comes out: answers say `api_key_set`.

use crate::error::{ApiError, ErrorBody};
use crate::extract::{etag, if_match, ApiJson};
use crate::state::WebState;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::{Extension, Json};
use kith_app::ai::calls::{self, AiCall};
use kith_app::ai::llm::{self, TestResult};
use kith_app::ai::metering::{self, UsageView};
use kith_app::ai::settings::{self, AiSettingsInput, AiSettingsView};
use kith_app::Context;
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;

#[utoipa::path(get, path = "/api/v1/ai/settings", tag = "ai",
    responses((status = 200, body = AiSettingsView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_settings(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
) -> Result<impl IntoResponse, ApiError> {
    let s = settings::get(&state.app, &ctx).await?;
    Ok(([etag(s.version)], Json(s)))
}

/// Replace the AI settings. Left-out fields take their defaults (every feature off); `endpoint.api_key` sets or
/// replaces the key, leaving it out keeps the stored one, `endpoint.remove_api_key` removes it, and
/// `endpoint: null` removes the endpoint with its key. Send the version you read in `If-Match`.
#[utoipa::path(put, path = "/api/v1/ai/settings", tag = "ai", request_body = AiSettingsInput,
    params(("If-Match" = Option<String>, Header)),
    responses((status = 200, body = AiSettingsView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 412, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_settings(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<AiSettingsInput>,
) -> Result<impl IntoResponse, ApiError> {
    let s = settings::update(&state.app, &ctx, &body, if_match(&headers)?).await?;
    Ok(([etag(s.version)], Json(s)))
}

/// A tiny chat call to the configured endpoint with the chat model (metered as feature `test`). The endpoint's
/// own error comes back as `ai_provider_failed` (502) with its message; no endpoint is `ai_not_configured`.
#[utoipa::path(post, path = "/api/v1/ai/settings/test", tag = "ai",
    responses((status = 200, body = TestResult), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 429, body = ErrorBody), (status = 502, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn test_settings(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
) -> Result<Json<TestResult>, ApiError> {
    Ok(Json(llm::test_connection(&state.app, &ctx).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct UsageQuery {
    /// `YYYY-MM` (UTC); the current month when left out.
    pub month: Option<String>,
}

/// The month's AI usage: successful calls (`messages`), tokens (from the provider's `usage`, or estimated and
/// counted in `estimated_calls`), cost in micro-units, every day of the month, and the limits.
#[utoipa::path(get, path = "/api/v1/ai/usage", tag = "ai", params(UsageQuery),
    responses((status = 200, body = UsageView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn usage(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Query(q): Query<UsageQuery>,
) -> Result<Json<UsageView>, ApiError> {
    Ok(Json(metering::usage(&state.app, &ctx, q.month.as_deref()).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CallsQuery {
    /// `YYYY-MM` (UTC); the current month when left out.
    pub month: Option<String>,
    /// Only calls of this feature (`auto_reply`, `suggestions`, `summaries`, `drafting`, `questions`, `speech`,
    /// `test`, `knowledge`, `related_contacts`).
    pub feature: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1–200 (larger values are clamped to 200); default 50.
    pub limit: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AiCallList {
    pub data: Vec<AiCall>,
    pub next_cursor: Option<String>,
}

/// The month's AI calls, newest first (admins only): feature, the conversation or record, tokens (`estimated`
/// when the provider sent no usage), cost, latency, outcome and time. Never the prompt.
#[utoipa::path(get, path = "/api/v1/ai/calls", tag = "ai", params(CallsQuery),
    responses((status = 200, body = AiCallList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_calls(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    crate::extract::ApiQuery(q): crate::extract::ApiQuery<CallsQuery>,
) -> Result<Json<AiCallList>, ApiError> {
    let page = crate::extract::ListQuery { limit: q.limit, cursor: q.cursor }.page()?;
    let page = calls::list(&state.app, &ctx, q.month.as_deref(), q.feature.as_deref(), &page).await?;
    Ok(Json(AiCallList { data: page.items, next_cursor: page.next.map(|c| c.encode()) }))
}
