//! The OpenAI-compatible HTTP API (`reference/protocols.md` §7): chat completions with and without streaming,
//! embeddings and text-to-speech — the API that OpenAI, Ollama, llama.cpp's server and vLLM share.
//!
//! The client speaks the wire contract and nothing else: it knows no workspace, no feature switch, no metering
//! (those live in `kith_app::ai`). The caller hands it the HTTP client to use, which in Kith is always the
//! SSRF-guarded one, since the base URL is a workspace's own configuration.
//!
//! What differs between servers, and how it is handled:
//! * error bodies: OpenAI's `{"error":{"message","type","code"}}`, llama.cpp's `{"error":{"code":<int>,"message",
//!   "type"}}` and Ollama's `{"error":"<text>"}` all become an [`LlmError`] carrying the provider's own message;
//! * streamed usage: asked for with `stream_options.include_usage`; servers that ignore it end the stream without
//!   one and [`StreamEvent::Finished`] says so (`usage: None`) — the caller estimates;
//! * a stream that stops without `[DONE]` or a finish reason is an error, never a silently short answer.
//!
//! It must never log or return the API key or a prompt: the key travels in the `Authorization` header only, error
//! texts carry no URL, and nothing here writes a log line with request content.

use std::time::Duration;

use base64::Engine as _;
use rand::Rng as _;
use reqwest::header::{HeaderMap, CONTENT_TYPE, RETRY_AFTER};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use url::Url;

/// How long the client waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// A whole non-streamed call (chat, embeddings, speech), connection to last byte.
    pub request: Duration,
    /// A streamed call: until the response headers arrive (the model's time to start).
    pub first_byte: Duration,
    /// A streamed call: the longest silence between two chunks.
    pub idle: Duration,
    /// A streamed call, start to end.
    pub stream_total: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            request: Duration::from_secs(60),
            first_byte: Duration::from_secs(30),
            idle: Duration::from_secs(30),
            stream_total: Duration::from_secs(300),
        }
    }
}

/// Bounded retries with exponential backoff and full jitter, for 429, 5xx, timeouts and connection failures.
/// 4xx other than 429 is never retried (a wrong key or an unknown model will not fix itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts after the first.
    pub max_retries: u32,
    /// The delay before the first retry; doubled for each one after.
    pub base_delay: Duration,
    /// No wait is longer. A `Retry-After` above it is not waited for: the error is returned at once.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { max_retries: 2, base_delay: Duration::from_millis(500), max_delay: Duration::from_secs(20) }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub const NONE: RetryPolicy =
        RetryPolicy { max_retries: 0, base_delay: Duration::from_millis(0), max_delay: Duration::from_millis(0) };

    /// The wait before retry number `retry` (0-based) after `err`, or None when the error must not be retried.
    fn delay(&self, retry: u32, err: &LlmError) -> Option<Duration> {
        if retry >= self.max_retries || !err.is_retryable() {
            return None;
        }
        if let LlmErrorKind::RateLimited { retry_after: Some(after) } = err.kind {
            return (after <= self.max_delay).then_some(after);
        }
        let exp = self.base_delay.saturating_mul(1u32.checked_shl(retry).unwrap_or(u32::MAX)).min(self.max_delay);
        // Full jitter in [exp/2, exp]: callers that failed together do not come back together.
        let ms = exp.as_millis() as u64;
        let jittered = if ms < 2 { ms } else { rand::thread_rng().gen_range(ms / 2..=ms) };
        Some(Duration::from_millis(jittered))
    }
}

/// What went wrong, in the terms a caller acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LlmErrorKind {
    /// No answer in time (connection, first byte, a silent stream, or the whole call).
    Timeout,
    /// HTTP 429. `retry_after` when the server said how long to wait.
    RateLimited { retry_after: Option<Duration> },
    /// HTTP 5xx (or an error event in the middle of a stream).
    Server { status: u16 },
    /// HTTP 4xx other than 429: a wrong key (401/403), an unknown model or path (404), a bad request (400/422).
    Client { status: u16 },
    /// The server answered, but not in the shape of the API (not JSON, no choices, a vector count that does not
    /// match the input…).
    Malformed,
    /// The connection failed or broke, including a stream cut short.
    Transport,
}

/// A failed call. `message` is the provider's own message when its error body had one (OpenAI, Ollama and
/// llama.cpp shapes), otherwise a description of what happened; it never contains the URL or the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.describe())]
pub struct LlmError {
    pub kind: LlmErrorKind,
    pub message: String,
    /// The provider's `error.type` (OpenAI, llama.cpp), e.g. `invalid_request_error`.
    pub provider_type: Option<String>,
    /// The provider's `error.code` (a string for OpenAI, a number for llama.cpp), e.g. `model_not_found`.
    pub provider_code: Option<String>,
}

impl LlmError {
    fn new(kind: LlmErrorKind, message: impl Into<String>) -> Self {
        LlmError { kind, message: message.into(), provider_type: None, provider_code: None }
    }

    /// Whether a later attempt may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.kind,
            LlmErrorKind::Timeout
                | LlmErrorKind::RateLimited { .. }
                | LlmErrorKind::Server { .. }
                | LlmErrorKind::Transport
        )
    }

    /// The HTTP status behind the error, if there was one.
    pub fn status(&self) -> Option<u16> {
        match self.kind {
            LlmErrorKind::RateLimited { .. } => Some(429),
            LlmErrorKind::Server { status } | LlmErrorKind::Client { status } => Some(status),
            _ => None,
        }
    }

    fn describe(&self) -> String {
        let what = match self.kind {
            LlmErrorKind::Timeout => "the AI endpoint did not answer in time".to_string(),
            LlmErrorKind::RateLimited { retry_after: Some(d) } => {
                format!("the AI endpoint is rate limiting (retry after {} s)", d.as_secs_f64().ceil() as u64)
            }
            LlmErrorKind::RateLimited { retry_after: None } => "the AI endpoint is rate limiting".to_string(),
            LlmErrorKind::Server { status } => format!("the AI endpoint failed (HTTP {status})"),
            LlmErrorKind::Client { status } => format!("the AI endpoint refused the request (HTTP {status})"),
            LlmErrorKind::Malformed => "the AI endpoint's answer is not valid".to_string(),
            LlmErrorKind::Transport => "could not reach the AI endpoint".to_string(),
        };
        if self.message.is_empty() {
            what
        } else {
            format!("{what}: {}", self.message)
        }
    }
}

/// Who says a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChatRole {
    System,
    User,
    Assistant,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: ChatRole,
    pub content: String,
}

impl ChatMessage {
    pub fn system(content: impl Into<String>) -> Self {
        ChatMessage { role: ChatRole::System, content: content.into() }
    }
    pub fn user(content: impl Into<String>) -> Self {
        ChatMessage { role: ChatRole::User, content: content.into() }
    }
    pub fn assistant(content: impl Into<String>) -> Self {
        ChatMessage { role: ChatRole::Assistant, content: content.into() }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ChatRequest {
    pub model: String,
    pub messages: Vec<ChatMessage>,
    pub temperature: Option<f32>,
    /// Sent as `max_tokens`, which OpenAI, Ollama, llama.cpp and vLLM all accept.
    pub max_tokens: Option<u32>,
}

impl ChatRequest {
    /// A request with the server's default temperature and length.
    pub fn new(model: impl Into<String>, messages: Vec<ChatMessage>) -> Self {
        ChatRequest { model: model.into(), messages, temperature: None, max_tokens: None }
    }
}

/// Token counts as the provider reported them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Usage {
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatResponse {
    pub content: String,
    /// `stop`, `length`, `content_filter`… as the server said it.
    pub finish_reason: Option<String>,
    /// None when the server sent no `usage` (the caller estimates).
    pub usage: Option<Usage>,
}

/// One step of a streamed answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEvent {
    /// The next piece of text.
    Delta(String),
    /// The end. `usage` is None when the server did not send one (Ollama, llama.cpp without `include_usage`).
    Finished { finish_reason: Option<String>, usage: Option<Usage> },
}

/// Synthesised speech.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Speech {
    pub audio: Vec<u8>,
    /// As the server labelled it (`audio/mpeg` when it did not).
    pub content_type: String,
}

/// A client for one OpenAI-compatible endpoint. Cheap to clone.
#[derive(Clone)]
pub struct LlmClient {
    http: reqwest::Client,
    base: Url,
    api_key: Option<String>,
    timeouts: Timeouts,
    retry: RetryPolicy,
}

impl std::fmt::Debug for LlmClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("LlmClient").field("base", &self.base.as_str()).field("timeouts", &self.timeouts).finish()
    }
}

impl LlmClient {
    /// `base_url` is the API root that `chat/completions` hangs off, e.g. `https://api.openai.com/v1` or
    /// `http://localhost:11434/v1`. It must be http or https without credentials.
    pub fn new(
        http: reqwest::Client,
        base_url: &str,
        api_key: Option<String>,
        timeouts: Timeouts,
    ) -> Result<Self, LlmError> {
        let base = parse_base(base_url)?;
        let api_key = api_key.filter(|k| !k.trim().is_empty());
        Ok(LlmClient { http, base, api_key, timeouts, retry: RetryPolicy::default() })
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn base_url(&self) -> &str {
        self.base.as_str()
    }

    fn url(&self, path: &[&str]) -> Url {
        let mut url = self.base.clone();
        {
            let mut segs = url.path_segments_mut().expect("checked: the base URL can take a path");
            segs.pop_if_empty();
            segs.extend(path);
        }
        url
    }

    fn post(&self, path: &[&str], body: &Value, timeout: Duration) -> reqwest::RequestBuilder {
        let mut req = self.http.post(self.url(path)).timeout(timeout).json(body);
        if let Some(key) = &self.api_key {
            req = req.bearer_auth(key);
        }
        req
    }

    /// Runs `attempt` under the retry policy.
    async fn retrying<T, F, Fut>(&self, mut attempt: F) -> Result<T, LlmError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, LlmError>>,
    {
        let mut retry = 0;
        loop {
            match attempt().await {
                Ok(v) => return Ok(v),
                Err(e) => match self.retry.delay(retry, &e) {
                    Some(wait) => {
                        tracing::debug!(kind = ?e.kind, retry, wait_ms = wait.as_millis() as u64, "AI call retried");
                        tokio::time::sleep(wait).await;
                        retry += 1;
                    }
                    None => return Err(e),
                },
            }
        }
    }

    /// A POST whose whole body is read, as bytes with the content type; non-2xx becomes an error.
    async fn call(&self, path: &[&str], body: &Value) -> Result<(Vec<u8>, Option<String>), LlmError> {
        self.retrying(|| async {
            let resp = self.post(path, body, self.timeouts.request).send().await.map_err(transport)?;
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            let bytes = resp.bytes().await.map_err(transport)?;
            if !(200..300).contains(&status) {
                return Err(http_error(status, &headers, &bytes));
            }
            let ctype = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_string);
            Ok((bytes.to_vec(), ctype))
        })
        .await
    }

    /// `POST chat/completions` without streaming.
    pub async fn chat(&self, req: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let body = chat_body(req, false);
        let (bytes, _) = self.call(&["chat", "completions"], &body).await?;
        parse_chat(&bytes)
    }

    /// `POST chat/completions` with `stream: true` and `stream_options.include_usage`. Retries happen only while
    /// opening the stream; once text has flowed, a failure is returned from [`ChatStream::next`].
    pub async fn chat_stream(&self, req: &ChatRequest) -> Result<ChatStream, LlmError> {
        let body = chat_body(req, true);
        let started = tokio::time::Instant::now();
        let resp = self
            .retrying(|| async {
                let send = self.post(&["chat", "completions"], &body, self.timeouts.stream_total).send();
                let resp = match tokio::time::timeout(self.timeouts.first_byte, send).await {
                    Ok(r) => r.map_err(transport)?,
                    Err(_) => return Err(LlmError::new(LlmErrorKind::Timeout, "no answer before the first byte")),
                };
                let status = resp.status().as_u16();
                if !(200..300).contains(&status) {
                    let headers = resp.headers().clone();
                    let bytes = match tokio::time::timeout(self.timeouts.idle, resp.bytes()).await {
                        Ok(b) => b.map_err(transport)?,
                        Err(_) => return Err(LlmError::new(LlmErrorKind::Timeout, "the error body did not arrive")),
                    };
                    return Err(http_error(status, &headers, &bytes));
                }
                Ok(resp)
            })
            .await?;
        let event_stream = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().starts_with("text/event-stream"));
        Ok(ChatStream {
            resp: Some(resp),
            event_stream,
            buf: Vec::new(),
            raw: Vec::new(),
            data: String::new(),
            pending: std::collections::VecDeque::new(),
            usage: None,
            finish_reason: None,
            done: false,
            idle: self.timeouts.idle,
            deadline: started + self.timeouts.stream_total,
        })
    }

    /// `POST embeddings` for several inputs at once; one vector per input, in input order.
    pub async fn embed(&self, model: &str, inputs: &[String]) -> Result<(Vec<Vec<f32>>, Option<Usage>), LlmError> {
        if inputs.is_empty() {
            return Ok((Vec::new(), None));
        }
        let body = json!({ "model": model, "input": inputs, "encoding_format": "float" });
        let (bytes, _) = self.call(&["embeddings"], &body).await?;
        parse_embeddings(&bytes, inputs.len())
    }

    /// `POST audio/speech` (MP3). Servers without text-to-speech answer 404, which comes back as a client error.
    pub async fn speech(&self, model: &str, voice: &str, input: &str) -> Result<Speech, LlmError> {
        let body = json!({ "model": model, "voice": voice, "input": input, "response_format": "mp3" });
        let (audio, ctype) = self.call(&["audio", "speech"], &body).await?;
        if audio.is_empty() {
            return Err(LlmError::new(LlmErrorKind::Malformed, "the speech answer is empty"));
        }
        let content_type = ctype.unwrap_or_else(|| "audio/mpeg".into());
        if content_type.starts_with("application/json") {
            // A 200 carrying an error object (some proxies do this).
            return Err(error_from_body(LlmErrorKind::Malformed, &audio));
        }
        Ok(Speech { audio, content_type })
    }
}

fn parse_base(base_url: &str) -> Result<Url, LlmError> {
    let url = Url::parse(base_url.trim())
        .map_err(|e| LlmError::new(LlmErrorKind::Client { status: 0 }, format!("the base URL is invalid: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() || url.host().is_none() {
        return Err(LlmError::new(LlmErrorKind::Client { status: 0 }, "the base URL must be an http(s) URL"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(LlmError::new(LlmErrorKind::Client { status: 0 }, "the base URL must not carry credentials"));
    }
    Ok(url)
}

fn chat_body(req: &ChatRequest, stream: bool) -> Value {
    let mut body = json!({ "model": req.model, "messages": req.messages, "stream": stream });
    if let Some(t) = req.temperature {
        body["temperature"] = json!(t);
    }
    if let Some(m) = req.max_tokens {
        body["max_tokens"] = json!(m);
    }
    if stream {
        body["stream_options"] = json!({ "include_usage": true });
    }
    body
}

fn transport(err: reqwest::Error) -> LlmError {
    let err = err.without_url();
    if err.is_timeout() {
        return LlmError::new(LlmErrorKind::Timeout, "");
    }
    let mut text = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.ends_with(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    LlmError::new(LlmErrorKind::Transport, text)
}

/// `Retry-After` in seconds, or OpenAI's `retry-after-ms`.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let num = |name: &str| headers.get(name)?.to_str().ok()?.trim().parse::<f64>().ok().filter(|v| v.is_finite());
    if let Some(ms) = num("retry-after-ms").filter(|v| *v >= 0.0) {
        return Some(Duration::from_millis(ms.min(86_400_000.0) as u64));
    }
    let secs = num(RETRY_AFTER.as_str()).filter(|v| *v >= 0.0)?;
    Some(Duration::from_secs_f64(secs.min(86_400.0)))
}

fn http_error(status: u16, headers: &HeaderMap, body: &[u8]) -> LlmError {
    let kind = match status {
        429 => LlmErrorKind::RateLimited { retry_after: retry_after(headers) },
        408 => LlmErrorKind::Timeout,
        500..=599 => LlmErrorKind::Server { status },
        s => LlmErrorKind::Client { status: s },
    };
    error_from_body(kind, body)
}

/// The provider's message from any of the three error shapes, else the start of the body.
fn error_from_body(kind: LlmErrorKind, body: &[u8]) -> LlmError {
    let mut err = LlmError::new(kind, snippet(body));
    if let Some(e) = serde_json::from_slice::<Value>(body).ok().as_ref().and_then(|v| v.get("error")) {
        match e {
            // Ollama.
            Value::String(s) => err.message = s.clone(),
            // OpenAI and llama.cpp.
            Value::Object(o) => {
                if let Some(m) = o.get("message").and_then(Value::as_str) {
                    err.message = m.to_string();
                }
                err.provider_type = o.get("type").and_then(Value::as_str).map(str::to_string);
                err.provider_code = match o.get("code") {
                    Some(Value::String(s)) => Some(s.clone()),
                    Some(Value::Number(n)) => Some(n.to_string()),
                    _ => None,
                };
            }
            _ => {}
        }
    }
    err
}

fn snippet(body: &[u8]) -> String {
    const MAX: usize = 300;
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

fn malformed(what: impl Into<String>) -> LlmError {
    LlmError::new(LlmErrorKind::Malformed, what)
}

fn parse_usage(v: Option<&Value>) -> Option<Usage> {
    let u = v?.as_object()?;
    let prompt = u.get("prompt_tokens").and_then(Value::as_i64)?;
    let completion = u.get("completion_tokens").and_then(Value::as_i64).unwrap_or(0);
    (prompt >= 0 && completion >= 0).then_some(Usage { prompt_tokens: prompt, completion_tokens: completion })
}

fn parse_chat(body: &[u8]) -> Result<ChatResponse, LlmError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| malformed(format!("not JSON ({e})")))?;
    if v.get("error").is_some_and(|e| !e.is_null()) {
        return Err(error_from_body(LlmErrorKind::Malformed, body));
    }
    let choice = v
        .get("choices")
        .and_then(Value::as_array)
        .and_then(|c| c.first())
        .ok_or_else(|| malformed("the answer has no choices"))?;
    let message = choice.get("message").ok_or_else(|| malformed("the choice has no message"))?;
    let content = match message.get("content") {
        Some(Value::String(s)) => s.clone(),
        // A refusal or a tool call carries no text.
        Some(Value::Null) | None => String::new(),
        Some(_) => return Err(malformed("the message content is not text")),
    };
    Ok(ChatResponse {
        content,
        finish_reason: choice.get("finish_reason").and_then(Value::as_str).map(str::to_string),
        usage: parse_usage(v.get("usage")),
    })
}

fn parse_embeddings(body: &[u8], expected: usize) -> Result<(Vec<Vec<f32>>, Option<Usage>), LlmError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| malformed(format!("not JSON ({e})")))?;
    let data = v.get("data").and_then(Value::as_array).ok_or_else(|| malformed("the answer has no data"))?;
    let mut out: Vec<Option<Vec<f32>>> = vec![None; expected];
    for (pos, item) in data.iter().enumerate() {
        let index = item.get("index").and_then(Value::as_u64).map(|i| i as usize).unwrap_or(pos);
        let slot = out.get_mut(index).ok_or_else(|| malformed(format!("embedding index {index} is out of range")))?;
        let vector = match item.get("embedding") {
            Some(Value::Array(xs)) => xs
                .iter()
                .map(|x| x.as_f64().map(|f| f as f32))
                .collect::<Option<Vec<f32>>>()
                .ok_or_else(|| malformed("an embedding holds something other than numbers"))?,
            // `encoding_format: base64`, little-endian f32, for servers that send it regardless.
            Some(Value::String(b64)) => {
                let raw = base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .map_err(|_| malformed("an embedding is not valid base64"))?;
                if raw.len() % 4 != 0 {
                    return Err(malformed("a base64 embedding is not a float32 array"));
                }
                raw.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
            }
            _ => return Err(malformed("an item has no embedding")),
        };
        if vector.is_empty() {
            return Err(malformed("an embedding is empty"));
        }
        *slot = Some(vector);
    }
    let vectors = out
        .into_iter()
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| malformed(format!("expected {expected} embeddings, got {}", data.len())))?;
    let dim = vectors[0].len();
    if vectors.iter().any(|v| v.len() != dim) {
        return Err(malformed("the embeddings differ in length"));
    }
    let usage = v.get("usage").and_then(|u| {
        let prompt = u.get("prompt_tokens").and_then(Value::as_i64)?;
        Some(Usage { prompt_tokens: prompt, completion_tokens: 0 })
    });
    Ok((vectors, usage))
}

/// A streamed chat answer, read with [`ChatStream::next`] until it yields [`StreamEvent::Finished`] (then None).
pub struct ChatStream {
    resp: Option<reqwest::Response>,
    /// A server that ignored `stream: true` answers with one JSON body instead.
    event_stream: bool,
    buf: Vec<u8>,
    /// The whole body of a non-SSE answer.
    raw: Vec<u8>,
    /// `data:` lines of the event being read.
    data: String,
    pending: std::collections::VecDeque<StreamEvent>,
    usage: Option<Usage>,
    finish_reason: Option<String>,
    done: bool,
    idle: Duration,
    deadline: tokio::time::Instant,
}

impl std::fmt::Debug for ChatStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatStream").field("done", &self.done).finish_non_exhaustive()
    }
}

impl ChatStream {
    /// The next piece of the answer; `Some(Finished)` once at the end, then None. An error ends the stream.
    pub async fn next(&mut self) -> Option<Result<StreamEvent, LlmError>> {
        loop {
            if let Some(ev) = self.pending.pop_front() {
                return Some(Ok(ev));
            }
            if self.done {
                return None;
            }
            match self.read_more().await {
                Ok(()) => {}
                Err(e) => {
                    self.done = true;
                    self.resp = None;
                    return Some(Err(e));
                }
            }
        }
    }

    /// Reads one chunk from the network and turns complete events into `pending`.
    async fn read_more(&mut self) -> Result<(), LlmError> {
        let Some(resp) = self.resp.as_mut() else {
            self.done = true;
            return Ok(());
        };
        let now = tokio::time::Instant::now();
        if now >= self.deadline {
            return Err(LlmError::new(LlmErrorKind::Timeout, "the answer took too long"));
        }
        let wait = self.idle.min(self.deadline - now);
        let chunk = match tokio::time::timeout(wait, resp.chunk()).await {
            Err(_) => return Err(LlmError::new(LlmErrorKind::Timeout, "the stream went silent")),
            Ok(Err(e)) => {
                let mut err = transport(e);
                if err.kind == LlmErrorKind::Transport {
                    err.message = format!("the stream was cut short ({})", err.message);
                }
                return Err(err);
            }
            Ok(Ok(c)) => c,
        };
        let Some(chunk) = chunk else {
            return self.at_end();
        };
        if !self.event_stream {
            self.raw.extend_from_slice(&chunk);
            return Ok(());
        }
        self.buf.extend_from_slice(&chunk);
        while let Some(nl) = self.buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.buf.drain(..=nl).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\n', '\r']);
            self.line(line)?;
            if self.done {
                break;
            }
        }
        Ok(())
    }

    fn line(&mut self, line: &str) -> Result<(), LlmError> {
        if line.is_empty() {
            let data = std::mem::take(&mut self.data);
            return if data.is_empty() { Ok(()) } else { self.event(&data) };
        }
        if line.starts_with(':') {
            return Ok(());
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        if field == "data" {
            if !self.data.is_empty() {
                self.data.push('\n');
            }
            self.data.push_str(value);
        }
        Ok(())
    }

    fn event(&mut self, data: &str) -> Result<(), LlmError> {
        if data.trim() == "[DONE]" {
            self.finish();
            return Ok(());
        }
        let v: Value =
            serde_json::from_str(data).map_err(|e| malformed(format!("a stream event is not JSON ({e})")))?;
        if let Some(e) = v.get("error").filter(|e| !e.is_null()) {
            let status = e.get("code").and_then(Value::as_u64).filter(|c| (400..600).contains(c)).unwrap_or(500);
            let kind = match status {
                429 => LlmErrorKind::RateLimited { retry_after: None },
                500..=599 => LlmErrorKind::Server { status: status as u16 },
                s => LlmErrorKind::Client { status: s as u16 },
            };
            return Err(error_from_body(kind, data.as_bytes()));
        }
        if let Some(u) = parse_usage(v.get("usage")) {
            self.usage = Some(u);
        }
        let choices = match v.get("choices") {
            Some(Value::Array(c)) => c.as_slice(),
            Some(Value::Null) | None => &[],
            Some(_) => return Err(malformed("a stream event's choices are not a list")),
        };
        if let Some(choice) = choices.first() {
            if let Some(text) = choice.get("delta").and_then(|d| d.get("content")).and_then(Value::as_str) {
                if !text.is_empty() {
                    self.pending.push_back(StreamEvent::Delta(text.to_string()));
                }
            }
            if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
                self.finish_reason = Some(reason.to_string());
            }
        }
        Ok(())
    }

    fn finish(&mut self) {
        self.done = true;
        self.resp = None;
        self.pending.push_back(StreamEvent::Finished { finish_reason: self.finish_reason.take(), usage: self.usage });
    }

    fn at_end(&mut self) -> Result<(), LlmError> {
        if !self.event_stream {
            // The server ignored `stream`: one ordinary answer, handed out as one delta.
            let answer = parse_chat(&self.raw)?;
            if !answer.content.is_empty() {
                self.pending.push_back(StreamEvent::Delta(answer.content));
            }
            self.finish_reason = answer.finish_reason;
            self.usage = answer.usage;
            self.finish();
            return Ok(());
        }
        // An event not followed by a blank line.
        let data = std::mem::take(&mut self.data);
        if !data.is_empty() {
            self.event(&data)?;
            if self.done {
                return Ok(());
            }
        }
        if self.finish_reason.is_some() {
            // Finished properly but without `[DONE]`: accepted.
            self.finish();
            Ok(())
        } else {
            Err(LlmError::new(LlmErrorKind::Transport, "the stream was cut short before the answer ended"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_jitters_and_stops() {
        let p =
            RetryPolicy { max_retries: 3, base_delay: Duration::from_millis(100), max_delay: Duration::from_secs(1) };
        let server = LlmError::new(LlmErrorKind::Server { status: 502 }, "");
        for retry in 0..3 {
            let d = p.delay(retry, &server).unwrap();
            let exp = 100u64 << retry;
            assert!(d >= Duration::from_millis(exp / 2) && d <= Duration::from_millis(exp), "{retry}: {d:?}");
        }
        assert_eq!(p.delay(3, &server), None, "bounded");
        assert_eq!(p.delay(0, &LlmError::new(LlmErrorKind::Client { status: 401 }, "")), None, "never a 4xx");
        let limited = LlmError::new(LlmErrorKind::RateLimited { retry_after: Some(Duration::from_millis(700)) }, "");
        assert_eq!(p.delay(0, &limited), Some(Duration::from_millis(700)), "Retry-After is honoured");
        let too_long = LlmError::new(LlmErrorKind::RateLimited { retry_after: Some(Duration::from_secs(60)) }, "");
        assert_eq!(p.delay(0, &too_long), None, "a wait above the cap is not waited for");
    }

    #[test]
    fn error_shapes() {
        let openai = br#"{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#;
        let e = error_from_body(LlmErrorKind::Client { status: 401 }, openai);
        assert_eq!(e.message, "Incorrect API key provided");
        assert_eq!(e.provider_code.as_deref(), Some("invalid_api_key"));
        assert_eq!(e.provider_type.as_deref(), Some("invalid_request_error"));
        let llama = br#"{"error":{"code":503,"message":"Loading model","type":"unavailable_error"}}"#;
        let e = error_from_body(LlmErrorKind::Server { status: 503 }, llama);
        assert_eq!((e.message.as_str(), e.provider_code.as_deref()), ("Loading model", Some("503")));
        let ollama = br#"{"error":"model \"llama9\" not found, try pulling it first"}"#;
        let e = error_from_body(LlmErrorKind::Client { status: 404 }, ollama);
        assert_eq!(e.message, "model \"llama9\" not found, try pulling it first");
        let html = b"<html>Bad Gateway</html>";
        assert_eq!(error_from_body(LlmErrorKind::Server { status: 502 }, html).message, "<html>Bad Gateway</html>");
    }

    #[test]
    fn base_urls() {
        assert!(parse_base("http://127.0.0.1:11434/v1").is_ok());
        assert!(parse_base("ftp://x/v1").is_err());
        assert!(parse_base("https://user:pw@api.example.com/v1").is_err());
        assert!(parse_base("not a url").is_err());
    }
}
