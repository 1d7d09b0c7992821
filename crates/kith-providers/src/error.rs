use serde::{Deserialize, Serialize};

/// Why a provider call did not result in a sent message. The variant tells the caller what to do next:
/// wait and retry, retry with backoff, or give up and show the reason.
///
/// Display strings never contain credentials (tokens travel in headers, or, for Telegram, in the URL path that is
/// never printed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
pub enum SendError {
    /// The provider throttled us (HTTP 429 or a provider rate-limit code). Retry after the given delay when known.
    #[error("rate limited by the provider{}", retry_after_text(.retry_after_ms))]
    RateLimited { retry_after_ms: Option<i64> },
    /// A failure that may pass: 5xx, timeouts, connection errors. Retry with backoff.
    #[error("transient provider failure: {0}")]
    Transient(String),
    /// The provider refused the request for a reason that a retry will not fix (4xx other than 429, e.g. Twilio
    /// 21211 invalid number, Meta 131047 outside the 24-hour window). `code` is the provider's own code.
    #[error("provider refused the request ({code}): {message}")]
    Permanent { code: String, message: String },
}

fn retry_after_text(ms: &Option<i64>) -> String {
    match ms {
        Some(ms) => format!(" (retry after {ms} ms)"),
        None => String::new(),
    }
}

impl SendError {
    /// Whether a later attempt may succeed.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, SendError::Permanent { .. })
    }

    pub(crate) fn permanent(code: impl Into<String>, message: impl Into<String>) -> Self {
        SendError::Permanent { code: code.into(), message: message.into() }
    }
}

/// A webhook payload that does not have the provider's documented shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
pub enum ParseError {
    #[error("payload is not valid JSON: {0}")]
    Json(String),
    #[error("missing field `{0}`")]
    MissingField(String),
    #[error("field `{field}` is invalid: {reason}")]
    InvalidField { field: String, reason: String },
}

impl ParseError {
    pub(crate) fn missing(field: &str) -> Self {
        ParseError::MissingField(field.to_string())
    }

    pub(crate) fn invalid(field: &str, reason: impl Into<String>) -> Self {
        ParseError::InvalidField { field: field.to_string(), reason: reason.into() }
    }
}
