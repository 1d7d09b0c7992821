//! The workspace's LLM client: [`kith_providers::llm::LlmClient`] on the app's SSRF-guarded HTTP client, pointed
//! at the endpoint an admin configured, and the admin's "test connection" call.
//!
//! It must never build a client on any other HTTP client (the base URL is a workspace's input), and never send
//! anything by itself: callers go through [`super::metering`], which checks the feature switch and the limits
//! and records the call.

use super::metering::{self, CallTarget};
use super::settings::{self, need_admin, AiSettings};
use crate::{App, AppError, ErrorCode, Result};
use kith_domain::Context;
use kith_providers::llm::{ChatMessage, ChatRequest, LlmClient, RetryPolicy, Timeouts};
use serde::Serialize;
use uuid::Uuid;

/// The metering feature name of the connection test.
pub const FEATURE_TEST: &str = "test";

/// The workspace's client, or None when no endpoint is configured. The base URL is checked against the SSRF
/// rules here too (an IP-literal host never reaches the guarded resolver), so a private address fails unless the
/// operator set `KITH_ALLOW_PRIVATE_NETWORKS=true`.
pub async fn client(app: &App, org_id: Uuid, s: &AiSettings) -> Result<Option<LlmClient>> {
    let Some(endpoint) = s.endpoint.as_ref() else {
        return Ok(None);
    };
    app.outbound().check_url(&endpoint.base_url).map_err(|e| {
        tracing::warn!(%org_id, error = %e, "AI endpoint refused by the outbound guard");
        AppError::Ai(ErrorCode::AiProviderFailed, format!("the AI endpoint's address is not allowed: {e}"))
    })?;
    let client = LlmClient::new(
        app.outbound().http().clone(),
        &endpoint.base_url,
        endpoint.api_key.clone(),
        Timeouts::default(),
    )
    .map_err(|e| AppError::Ai(ErrorCode::AiProviderFailed, e.to_string()))?;
    Ok(Some(client.with_retry(RetryPolicy::default())))
}

/// What the connection test found.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TestResult {
    pub ok: bool,
    pub model: String,
    /// The model's answer (a word or two).
    pub reply: String,
    pub latency_ms: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    /// The endpoint did not report usage; the counts are estimates.
    pub estimated: bool,
    pub call_id: Uuid,
}

/// A tiny chat call to check the endpoint, key and chat model (admins only; metered as feature `test`). The
/// endpoint's own error comes back as `ai_provider_failed` with the provider's message.
pub async fn test_connection(app: &App, ctx: &Context) -> Result<TestResult> {
    need_admin(ctx)?;
    let s = settings::load(app, ctx.org_id).await?;
    let model = s.require_endpoint()?.chat_model.clone();
    let mut req = ChatRequest::new(model.clone(), vec![ChatMessage::user("Reply with the single word: ok")]);
    req.max_tokens = Some(5);
    req.temperature = Some(0.0);
    let started = std::time::Instant::now();
    let out = metering::chat(app, ctx.org_id, FEATURE_TEST, CallTarget::default(), &s, req).await?;
    Ok(TestResult {
        ok: true,
        model,
        reply: out.content.trim().chars().take(200).collect(),
        latency_ms: started.elapsed().as_millis() as i64,
        prompt_tokens: out.usage.prompt_tokens,
        completion_tokens: out.usage.completion_tokens,
        estimated: out.estimated,
        call_id: out.call_id,
    })
}
