//! Metering and limits of AI calls (issue #5 §3, §6): every call to a provider is reserved before it is made
//! ([`begin`]), recorded when it ends ([`finish`]) — feature, conversation or record, tokens, cost, latency, the
//! prompt sealed only when the workspace asks — and counted in the month's and day's figures that the usage page
//! reads ([`usage`]).
//!
//! Hard limits hold under concurrency: a reservation is taken in the same atomic row update that compares the
//! month's finished usage plus the calls in flight with the limit (see `kith_store::ai::reserve`), so N callers
//! at once cannot overshoot a message limit at all, nor a token or cost limit by more than about one call. A
//! refused call is recorded too. Crossing a soft limit warns the admins once a month (a notice on the AI pages
//! and an e-mail).
//!
//! Token counts come from the provider's `usage`. When a server leaves it out (Ollama and llama.cpp streams do),
//! they are estimated as one token per four characters of text (plus four per prompt message for the chat
//! template), rounded up, and the call is marked estimated.
//!
//! This module must never let a call reach a provider without a reservation, and never store a prompt in clear.
//! Months and days are UTC.

use super::llm;
use super::settings::{self, need_admin, AiSettings, LimitSet, Limits, Prices};
use crate::{App, AppError, ErrorCode, Result};
use kith_domain::time::{now_ms, UtcDateTime, MINUTE_MS};
use kith_domain::{new_id, Context};
use kith_providers::llm::{ChatMessage, ChatRequest, ChatStream, StreamEvent};
use kith_store::ai::{self as rows, FinishedCall, HardLimits, NewCall, UsageDelta};
use serde::Serialize;
use std::time::Instant;
use uuid::Uuid;

/// A reservation older than this is taken to belong to a process that died mid-call and is released. Longer
/// than any call may take (the streamed call's total timeout is five minutes).
const STALE_MS: i64 = 15 * MINUTE_MS;

/// What a call is about (both optional).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallTarget {
    pub conversation_id: Option<Uuid>,
    /// `(record type, id)`, e.g. `("contact", id)`.
    pub record: Option<(String, Uuid)>,
}

/// A call allowed to start. Hand it to [`finish`] when the call ends; one dropped without is released after
/// [`STALE_MS`] and recorded as abandoned.
#[derive(Debug)]
pub struct Reservation {
    pub call_id: Uuid,
    pub org_id: Uuid,
    pub feature: String,
    started: Instant,
    prices: Prices,
    soft: LimitSet,
    store_prompts: bool,
    /// When the reservation was taken (its month and day count the call).
    at_ms: i64,
}

impl Reservation {
    /// Milliseconds since the reservation was taken.
    pub fn elapsed_ms(&self) -> i64 {
        self.started.elapsed().as_millis() as i64
    }
}

/// Token counts of a call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TokenUsage {
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    /// The provider did not report them: see the module doc for the estimate.
    pub estimated: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallStatus {
    Ok,
    Failed,
}

impl CallStatus {
    fn as_str(self) -> &'static str {
        match self {
            CallStatus::Ok => "ok",
            CallStatus::Failed => "failed",
        }
    }
}

/// How a call ended.
#[derive(Debug, Clone)]
pub struct CallOutcome {
    pub model: String,
    pub usage: TokenUsage,
    pub latency_ms: i64,
    pub status: CallStatus,
    /// For a failed call: what the provider said.
    pub error: Option<String>,
    /// The prompt as sent; stored (sealed) only when the workspace keeps prompts.
    pub prompt: Option<String>,
}

/// Estimated tokens of a text: one per four characters, rounded up.
pub fn estimate_tokens(text: &str) -> i64 {
    (text.chars().count() as i64 + 3) / 4
}

/// Estimated prompt tokens of chat messages: their text plus four per message for the chat template.
pub fn estimate_prompt_tokens(messages: &[ChatMessage]) -> i64 {
    messages.iter().map(|m| estimate_tokens(&m.content) + 4).sum()
}

fn month_of(ms: i64) -> String {
    let t = UtcDateTime::from_ms(ms);
    format!("{:04}-{:02}", t.year, t.month)
}

fn limit_refusal(limit: &LimitSet, m: &rows::MonthRow) -> String {
    let tokens = m.prompt_tokens + m.completion_tokens;
    let mut parts = Vec::new();
    if let Some(l) = limit.messages {
        parts.push(format!("{} of {l} messages", m.messages + m.in_flight));
    }
    if let Some(l) = limit.tokens {
        parts.push(format!("{tokens} of {l} tokens"));
    }
    if let Some(l) = limit.cost_micros {
        parts.push(format!("cost {} of {l} micro-units", m.cost_micros));
    }
    format!(
        "this workspace reached its monthly AI limit ({}); an admin can raise it in the AI settings",
        parts.join(", ")
    )
}

/// Reserve a call of `feature` under the workspace's hard limits (reads the settings).
pub async fn begin(app: &App, org_id: Uuid, feature: &str, target: CallTarget) -> Result<Reservation> {
    let s = settings::load(app, org_id).await?;
    begin_with(app, org_id, feature, target, &s).await
}

/// [`begin`] with settings the caller already loaded. Fails with `ai_limit_reached` (and records the refusal)
/// when a hard limit is reached, counting the calls in flight.
pub async fn begin_with(
    app: &App,
    org_id: Uuid,
    feature: &str,
    target: CallTarget,
    s: &AiSettings,
) -> Result<Reservation> {
    let now = now_ms();
    let month = month_of(now);
    let hard = s.limits.hard;
    let call_id = new_id();
    let (record_type, record_id) = match target.record {
        Some((t, id)) => (Some(t), Some(id)),
        None => (None, None),
    };
    let mut call = NewCall {
        id: call_id,
        org_id,
        feature: feature.to_string(),
        conversation_id: target.conversation_id,
        record_type,
        record_id,
        status: "pending".into(),
        error: None,
        month: month.clone(),
        reserved_tokens: 0,
        reserved_cost: 0,
        created_ms: now,
    };
    let mut tx = app.db().begin().await?;
    rows::release_stale(&mut tx, org_id, now - STALE_MS, now).await?;
    let current = rows::month_tx(&mut tx, org_id, &month).await?.unwrap_or_default();
    // Each call in flight holds the month's average call against token and cost limits.
    if current.messages > 0 {
        call.reserved_tokens = (current.prompt_tokens + current.completion_tokens) / current.messages;
        call.reserved_cost = current.cost_micros / current.messages;
    }
    let limits = HardLimits { messages: hard.messages, tokens: hard.tokens, cost_micros: hard.cost_micros };
    if rows::reserve(&mut tx, org_id, &month, limits, call.reserved_tokens, call.reserved_cost, now).await? {
        rows::insert_call(&mut tx, &call).await?;
        tx.commit().await?;
        return Ok(Reservation {
            call_id,
            org_id,
            feature: feature.to_string(),
            started: Instant::now(),
            prices: s.prices,
            soft: s.limits.soft,
            store_prompts: s.store_prompts,
            at_ms: now,
        });
    }
    let m = rows::month_tx(&mut tx, org_id, &month).await?.unwrap_or_default();
    let message = limit_refusal(&hard, &m);
    call.status = "refused".into();
    call.error = Some(message.clone());
    call.reserved_tokens = 0;
    call.reserved_cost = 0;
    rows::insert_call(&mut tx, &call).await?;
    rows::count_refused(&mut tx, org_id, &month, now).await?;
    tx.commit().await?;
    tracing::info!(%org_id, feature, "AI call refused: hard limit reached");
    Err(AppError::Ai(ErrorCode::AiLimitReached, message))
}

/// Record how a reserved call ended and count it. Finishing the same reservation twice records it once.
pub async fn finish(app: &App, reservation: Reservation, outcome: CallOutcome) -> Result<()> {
    let r = reservation;
    let org_id = r.org_id;
    let usage = outcome.usage;
    let cost = r.prices.cost(usage.prompt_tokens, usage.completion_tokens);
    let prompt = match (&outcome.prompt, r.store_prompts) {
        (Some(p), true) => {
            Some(app.keyring().seal(app.db(), org_id, "ai_calls", "prompt", r.call_id, p.as_bytes()).await?)
        }
        _ => None,
    };
    let error = outcome.error.map(|e| e.chars().take(1000).collect::<String>());
    let finished = FinishedCall {
        id: r.call_id,
        org_id,
        model: outcome.model.chars().take(200).collect(),
        prompt_tokens: usage.prompt_tokens.max(0),
        completion_tokens: usage.completion_tokens.max(0),
        tokens_estimated: usage.estimated,
        cost_micros: cost,
        latency_ms: outcome.latency_ms.max(0),
        status: outcome.status.as_str().into(),
        error,
        prompt,
    };
    let ok = outcome.status == CallStatus::Ok;
    let delta = UsageDelta {
        messages: i64::from(ok),
        prompt_tokens: finished.prompt_tokens,
        completion_tokens: finished.completion_tokens,
        cost_micros: cost,
        estimated: i64::from(usage.estimated),
        failed: i64::from(!ok),
    };
    let now = now_ms();
    let day = UtcDateTime::from_ms(r.at_ms).date();
    let mut tx = app.db().begin().await?;
    let Some((month, rt, rc, held)) = rows::finish_call(&mut tx, &finished).await? else {
        return Ok(());
    };
    rows::add_usage(&mut tx, org_id, &month, &day, delta, held.then_some((rt, rc)), now).await?;
    if !r.soft.is_empty() {
        if let Some(m) = rows::month_tx(&mut tx, org_id, &month).await? {
            let tokens = m.prompt_tokens + m.completion_tokens;
            if m.soft_warned_ms.is_none()
                && r.soft.reached(m.messages, tokens, m.cost_micros)
                && rows::mark_soft_warned(&mut tx, org_id, &month, now).await?
            {
                warn_admins(app, &mut tx, org_id, &month, &r.soft, &m).await?;
            }
        }
    }
    tx.commit().await?;
    Ok(())
}

async fn warn_admins(
    app: &App,
    tx: &mut kith_store::Tx,
    org_id: Uuid,
    month: &str,
    soft: &LimitSet,
    m: &rows::MonthRow,
) -> Result<()> {
    let tokens = m.prompt_tokens + m.completion_tokens;
    let mut lines = Vec::new();
    if let Some(l) = soft.messages {
        lines.push(format!("- messages: {} (soft limit {l})", m.messages));
    }
    if let Some(l) = soft.tokens {
        lines.push(format!("- tokens: {tokens} (soft limit {l})"));
    }
    if let Some(l) = soft.cost_micros {
        lines.push(format!("- cost: {} micro-units (soft limit {l})", m.cost_micros));
    }
    let url = format!("{}/settings/ai/usage?month={month}", app.settings().public_url);
    let text = format!(
        "Your workspace's AI usage for {month} crossed a soft limit:\n\n{}\n\nAI features keep working until a hard \
         limit is reached. See the usage page: {url}\n",
        lines.join("\n")
    );
    let subject = format!("Kith: AI usage for {month} crossed a soft limit");
    for to in rows::admin_emails(tx, org_id).await? {
        crate::mail::queue(app, tx, &to, &subject, &text).await?;
    }
    tracing::info!(%org_id, month, "AI soft limit crossed; admins warned");
    Ok(())
}

/// The answer of a metered chat call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatOutcome {
    pub content: String,
    pub finish_reason: Option<String>,
    pub usage: TokenUsage,
    /// Same as `usage.estimated`.
    pub estimated: bool,
    pub call_id: Uuid,
}

fn prompt_text(messages: &[ChatMessage]) -> String {
    let role = |m: &ChatMessage| serde_json::to_value(m.role).ok().and_then(|v| v.as_str().map(str::to_string));
    messages
        .iter()
        .map(|m| format!("[{}]\n{}", role(m).unwrap_or_default(), m.content))
        .collect::<Vec<_>>()
        .join("\n\n")
}

fn provider_failed(e: &kith_providers::llm::LlmError) -> AppError {
    AppError::Ai(ErrorCode::AiProviderFailed, e.to_string())
}

/// Check the feature switch and the endpoint, fill in the model, and build the client.
async fn prepare(
    app: &App,
    org_id: Uuid,
    feature: &str,
    s: &AiSettings,
    req: &mut ChatRequest,
) -> Result<kith_providers::llm::LlmClient> {
    s.require(feature)?;
    let endpoint = s.require_endpoint()?;
    if req.model.trim().is_empty() {
        req.model = endpoint.chat_model.clone();
    }
    llm::client(app, org_id, s)
        .await?
        .ok_or_else(|| AppError::Ai(ErrorCode::AiNotConfigured, "no AI endpoint is configured".into()))
}

/// One metered chat call: the feature must be on and an endpoint configured; the call is reserved under the
/// hard limits, made, and recorded. The endpoint's failure becomes `ai_provider_failed` with its message.
pub async fn chat(
    app: &App,
    org_id: Uuid,
    feature: &str,
    target: CallTarget,
    s: &AiSettings,
    mut req: ChatRequest,
) -> Result<ChatOutcome> {
    let client = prepare(app, org_id, feature, s, &mut req).await?;
    let reservation = begin_with(app, org_id, feature, target, s).await?;
    let call_id = reservation.call_id;
    let prompt = Some(prompt_text(&req.messages));
    let result = client.chat(&req).await;
    let latency_ms = reservation.elapsed_ms();
    match result {
        Ok(answer) => {
            let usage = match answer.usage {
                Some(u) => TokenUsage {
                    prompt_tokens: u.prompt_tokens,
                    completion_tokens: u.completion_tokens,
                    estimated: false,
                },
                None => TokenUsage {
                    prompt_tokens: estimate_prompt_tokens(&req.messages),
                    completion_tokens: estimate_tokens(&answer.content),
                    estimated: true,
                },
            };
            let outcome = CallOutcome {
                model: req.model.clone(),
                usage,
                latency_ms,
                status: CallStatus::Ok,
                error: None,
                prompt,
            };
            finish(app, reservation, outcome).await?;
            Ok(ChatOutcome {
                content: answer.content,
                finish_reason: answer.finish_reason,
                usage,
                estimated: usage.estimated,
                call_id,
            })
        }
        Err(e) => {
            let outcome = CallOutcome {
                model: req.model.clone(),
                usage: TokenUsage::default(),
                latency_ms,
                status: CallStatus::Failed,
                error: Some(e.to_string()),
                prompt,
            };
            finish(app, reservation, outcome).await?;
            tracing::warn!(%org_id, feature, kind = ?e.kind, "AI call failed");
            Err(provider_failed(&e))
        }
    }
}

/// A metered streamed chat answer: read it with [`MeteredStream::next`]. The call is recorded when the stream
/// ends, fails, or is dropped unfinished (then as failed, with the text that had arrived estimated).
pub struct MeteredStream {
    app: App,
    inner: ChatStream,
    reservation: Option<Reservation>,
    model: String,
    prompt_estimate: i64,
    prompt: Option<String>,
    text: String,
    outcome: Option<ChatOutcome>,
}

impl std::fmt::Debug for MeteredStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeteredStream").field("model", &self.model).finish_non_exhaustive()
    }
}

impl MeteredStream {
    /// The call's id.
    pub fn call_id(&self) -> Option<Uuid> {
        self.reservation.as_ref().map(|r| r.call_id).or(self.outcome.as_ref().map(|o| o.call_id))
    }

    /// The next piece of text; None at the end (the call is then recorded and [`MeteredStream::outcome`] is set).
    /// An error (`ai_provider_failed`) ends the stream; the call is recorded as failed.
    pub async fn next(&mut self) -> Option<Result<String>> {
        self.reservation.as_ref()?;
        match self.inner.next().await {
            Some(Ok(StreamEvent::Delta(d))) => {
                self.text.push_str(&d);
                Some(Ok(d))
            }
            Some(Ok(StreamEvent::Finished { finish_reason, usage })) => {
                let usage = match usage {
                    Some(u) => TokenUsage {
                        prompt_tokens: u.prompt_tokens,
                        completion_tokens: u.completion_tokens,
                        estimated: false,
                    },
                    None => self.estimated_usage(),
                };
                let r = self.reservation.take().expect("checked above");
                let call_id = r.call_id;
                let outcome = CallOutcome {
                    model: self.model.clone(),
                    usage,
                    latency_ms: r.elapsed_ms(),
                    status: CallStatus::Ok,
                    error: None,
                    prompt: self.prompt.take(),
                };
                if let Err(e) = finish(&self.app, r, outcome).await {
                    return Some(Err(e));
                }
                self.outcome = Some(ChatOutcome {
                    content: std::mem::take(&mut self.text),
                    finish_reason,
                    usage,
                    estimated: usage.estimated,
                    call_id,
                });
                None
            }
            Some(Err(e)) => {
                let r = self.reservation.take().expect("checked above");
                let outcome = CallOutcome {
                    model: self.model.clone(),
                    usage: self.estimated_usage(),
                    latency_ms: r.elapsed_ms(),
                    status: CallStatus::Failed,
                    error: Some(e.to_string()),
                    prompt: self.prompt.take(),
                };
                if let Err(fe) = finish(&self.app, r, outcome).await {
                    return Some(Err(fe));
                }
                Some(Err(provider_failed(&e)))
            }
            None => None,
        }
    }

    /// The whole answer and its usage, once [`MeteredStream::next`] returned None.
    pub fn outcome(&self) -> Option<&ChatOutcome> {
        self.outcome.as_ref()
    }

    fn estimated_usage(&self) -> TokenUsage {
        TokenUsage {
            prompt_tokens: self.prompt_estimate,
            completion_tokens: estimate_tokens(&self.text),
            estimated: true,
        }
    }
}

impl Drop for MeteredStream {
    fn drop(&mut self) {
        let Some(r) = self.reservation.take() else { return };
        let outcome = CallOutcome {
            model: self.model.clone(),
            usage: self.estimated_usage(),
            latency_ms: r.elapsed_ms(),
            status: CallStatus::Failed,
            error: Some("the reader stopped before the answer ended".into()),
            prompt: self.prompt.take(),
        };
        let app = self.app.clone();
        // Without a runtime the reservation is released as abandoned later.
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                if let Err(e) = finish(&app, r, outcome).await {
                    tracing::warn!(error = %e, "could not record an abandoned AI stream");
                }
            });
        }
    }
}

/// A metered streamed chat call (see [`chat`]); opening failures are recorded and returned at once.
pub async fn chat_stream(
    app: &App,
    org_id: Uuid,
    feature: &str,
    target: CallTarget,
    s: &AiSettings,
    mut req: ChatRequest,
) -> Result<MeteredStream> {
    let client = prepare(app, org_id, feature, s, &mut req).await?;
    let reservation = begin_with(app, org_id, feature, target, s).await?;
    let prompt = Some(prompt_text(&req.messages));
    let prompt_estimate = estimate_prompt_tokens(&req.messages);
    match client.chat_stream(&req).await {
        Ok(inner) => Ok(MeteredStream {
            app: app.clone(),
            inner,
            reservation: Some(reservation),
            model: req.model,
            prompt_estimate,
            prompt,
            text: String::new(),
            outcome: None,
        }),
        Err(e) => {
            let outcome = CallOutcome {
                model: req.model.clone(),
                usage: TokenUsage::default(),
                latency_ms: reservation.elapsed_ms(),
                status: CallStatus::Failed,
                error: Some(e.to_string()),
                prompt,
            };
            finish(app, reservation, outcome).await?;
            Err(provider_failed(&e))
        }
    }
}

/// Vectors from a metered embeddings call.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbedOutcome {
    pub vectors: Vec<Vec<f32>>,
    pub model: String,
    pub usage: TokenUsage,
    pub call_id: Uuid,
}

/// A metered embeddings call with the workspace's embedding model, under the feature that asked. Without an
/// embedding model: `ai_not_configured`.
pub async fn embed(
    app: &App,
    org_id: Uuid,
    feature: &str,
    target: CallTarget,
    s: &AiSettings,
    inputs: &[String],
) -> Result<EmbedOutcome> {
    s.require(feature)?;
    let model = s.embedding_model().map(str::to_string).ok_or_else(|| {
        AppError::Ai(ErrorCode::AiNotConfigured, "no embedding model is configured for this workspace".into())
    })?;
    let client = llm::client(app, org_id, s)
        .await?
        .ok_or_else(|| AppError::Ai(ErrorCode::AiNotConfigured, "no AI endpoint is configured".into()))?;
    let reservation = begin_with(app, org_id, feature, target, s).await?;
    let call_id = reservation.call_id;
    let result = client.embed(&model, inputs).await;
    let latency_ms = reservation.elapsed_ms();
    match result {
        Ok((vectors, usage)) => {
            let usage = match usage {
                Some(u) => TokenUsage { prompt_tokens: u.prompt_tokens, completion_tokens: 0, estimated: false },
                None => TokenUsage {
                    prompt_tokens: inputs.iter().map(|i| estimate_tokens(i)).sum(),
                    completion_tokens: 0,
                    estimated: true,
                },
            };
            let outcome = CallOutcome {
                model: model.clone(),
                usage,
                latency_ms,
                status: CallStatus::Ok,
                error: None,
                prompt: None,
            };
            finish(app, reservation, outcome).await?;
            Ok(EmbedOutcome { vectors, model, usage, call_id })
        }
        Err(e) => {
            let outcome = CallOutcome {
                model,
                usage: TokenUsage::default(),
                latency_ms,
                status: CallStatus::Failed,
                error: Some(e.to_string()),
                prompt: None,
            };
            finish(app, reservation, outcome).await?;
            Err(provider_failed(&e))
        }
    }
}

/// Audio from a metered text-to-speech call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpeechOutcome {
    pub audio: Vec<u8>,
    pub content_type: String,
    pub call_id: Uuid,
}

/// A metered text-to-speech call (feature `speech`). Speech returns no usage: the input is metered as estimated
/// prompt tokens. Without a speech model: `ai_not_configured` ("speech is unavailable").
pub async fn speech(app: &App, org_id: Uuid, target: CallTarget, s: &AiSettings, input: &str) -> Result<SpeechOutcome> {
    const FEATURE: &str = "speech";
    s.require(FEATURE)?;
    let endpoint = s.require_endpoint()?;
    let model = endpoint.speech_model.clone().ok_or_else(|| {
        AppError::Ai(ErrorCode::AiNotConfigured, "speech is unavailable: no speech model is configured".into())
    })?;
    let voice = endpoint.speech_voice.clone().unwrap_or_else(|| settings::DEFAULT_SPEECH_VOICE.into());
    let client = llm::client(app, org_id, s)
        .await?
        .ok_or_else(|| AppError::Ai(ErrorCode::AiNotConfigured, "no AI endpoint is configured".into()))?;
    let reservation = begin_with(app, org_id, FEATURE, target, s).await?;
    let call_id = reservation.call_id;
    let result = client.speech(&model, &voice, input).await;
    let latency_ms = reservation.elapsed_ms();
    let usage = TokenUsage { prompt_tokens: estimate_tokens(input), completion_tokens: 0, estimated: true };
    match result {
        Ok(sp) => {
            let outcome = CallOutcome { model, usage, latency_ms, status: CallStatus::Ok, error: None, prompt: None };
            finish(app, reservation, outcome).await?;
            Ok(SpeechOutcome { audio: sp.audio, content_type: sp.content_type, call_id })
        }
        Err(e) => {
            let outcome = CallOutcome {
                model,
                usage: TokenUsage::default(),
                latency_ms,
                status: CallStatus::Failed,
                error: Some(e.to_string()),
                prompt: None,
            };
            finish(app, reservation, outcome).await?;
            Err(provider_failed(&e))
        }
    }
}

/// One day of the usage chart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct UsageDay {
    /// `YYYY-MM-DD` (UTC).
    pub date: String,
    pub messages: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cost_micros: i64,
    /// Calls of the day whose tokens are estimated.
    pub estimated_calls: i64,
}

/// A month's AI usage against the limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct UsageView {
    /// `YYYY-MM` (UTC).
    pub month: String,
    /// Successful calls.
    pub messages: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cost_micros: i64,
    /// Calls whose tokens are estimated (the provider sent no usage).
    pub estimated_calls: i64,
    pub failed_calls: i64,
    /// Calls refused by a hard limit.
    pub refused_calls: i64,
    pub in_flight: i64,
    /// Every day of the month, in order.
    pub days: Vec<UsageDay>,
    pub limits: Limits,
    pub soft_limit_reached: bool,
    pub hard_limit_reached: bool,
    /// When admins were warned about the soft limit this month.
    pub soft_warned_at_ms: Option<i64>,
}

/// `YYYY-MM` → (year, month), for months from 2000 to 9999.
pub fn parse_month(s: &str) -> Option<(i64, u32)> {
    let (y, m) = s.trim().split_once('-')?;
    if y.len() != 4 || m.len() != 2 {
        return None;
    }
    let (y, m): (i64, u32) = (y.parse().ok()?, m.parse().ok()?);
    ((2000..=9999).contains(&y) && (1..=12).contains(&m)).then_some((y, m))
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// The month's figures (admins only; `month` = `YYYY-MM`, None for the current one). Reads one month row and at
/// most 31 day rows: never work proportional to the workspace's calls.
pub async fn usage(app: &App, ctx: &Context, month: Option<&str>) -> Result<UsageView> {
    need_admin(ctx)?;
    let month = match month.map(str::trim).filter(|m| !m.is_empty()) {
        None => month_of(now_ms()),
        Some(m) => {
            let (y, mo) = parse_month(m).ok_or_else(|| AppError::field("month", "must be a month YYYY-MM"))?;
            format!("{y:04}-{mo:02}")
        }
    };
    let (y, mo) = parse_month(&month).expect("formatted above");
    let s = settings::load(app, ctx.org_id).await?;
    let m = rows::month(app.db(), ctx.org_id, &month).await?.unwrap_or_default();
    let stored = rows::days(app.db(), ctx.org_id, &month).await?;
    let days = (1..=days_in_month(y, mo))
        .map(|d| {
            let date = format!("{month}-{d:02}");
            match stored.iter().find(|r| r.day == date) {
                Some(r) => UsageDay {
                    date,
                    messages: r.messages,
                    prompt_tokens: r.prompt_tokens,
                    completion_tokens: r.completion_tokens,
                    cost_micros: r.cost_micros,
                    estimated_calls: r.estimated_calls,
                },
                None => UsageDay {
                    date,
                    messages: 0,
                    prompt_tokens: 0,
                    completion_tokens: 0,
                    cost_micros: 0,
                    estimated_calls: 0,
                },
            }
        })
        .collect();
    let tokens = m.prompt_tokens + m.completion_tokens;
    Ok(UsageView {
        soft_limit_reached: s.limits.soft.reached(m.messages, tokens, m.cost_micros),
        hard_limit_reached: s.limits.hard.reached(m.messages, tokens, m.cost_micros),
        month,
        messages: m.messages,
        prompt_tokens: m.prompt_tokens,
        completion_tokens: m.completion_tokens,
        cost_micros: m.cost_micros,
        estimated_calls: m.estimated_calls,
        failed_calls: m.failed_calls,
        refused_calls: m.refused_calls,
        in_flight: m.in_flight,
        days,
        limits: s.limits,
        soft_warned_at_ms: m.soft_warned_ms,
    })
}

/// The current UTC month, `YYYY-MM`.
pub fn current_month() -> String {
    month_of(now_ms())
}

/// The month before and after `month` (for the usage page's navigation).
pub fn adjacent_months(month: &str) -> Option<(String, String)> {
    let (y, m) = parse_month(month)?;
    let prev = if m == 1 { (y - 1, 12) } else { (y, m - 1) };
    let next = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    Some((format!("{:04}-{:02}", prev.0, prev.1), format!("{:04}-{:02}", next.0, next.1)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kith_domain::time::DAY_MS;

    #[test]
    fn months_and_estimates() {
        assert_eq!(parse_month("2026-02"), Some((2026, 2)));
        for bad in ["2026-13", "2026-2", "26-02", "2026/02", "", "1999-12"] {
            assert_eq!(parse_month(bad), None, "{bad}");
        }
        assert_eq!(days_in_month(2024, 2), 29);
        assert_eq!(days_in_month(2100, 2), 28);
        assert_eq!(adjacent_months("2026-01"), Some(("2025-12".into(), "2026-02".into())));
        assert_eq!(estimate_tokens(""), 0);
        assert_eq!(estimate_tokens("abcd"), 1);
        assert_eq!(estimate_tokens("abcde"), 2);
        assert_eq!(month_of(DAY_MS * 31), "1970-02");
        let p = Prices { prompt_micros_per_million: 150_000, completion_micros_per_million: 600_000 };
        assert_eq!(p.cost(1_000_000, 0), 150_000);
        assert_eq!(p.cost(1, 1), 1, "a priced call is never free");
        assert_eq!(Prices::default().cost(5000, 5000), 0);
    }
}
