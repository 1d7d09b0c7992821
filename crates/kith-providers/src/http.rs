//! Plumbing shared by the provider clients: building endpoint URLs under an operator-configured base, sending a
//! request and reading the status, `Retry-After` and body, and turning transport failures into [`SendError`]s
//! whose text carries no URL (Telegram's bot token is part of the URL path).

use std::error::Error as _;

use reqwest::header::{HeaderMap, RETRY_AFTER};
use url::Url;

use crate::SendError;

/// `base` with `segments` appended as path segments (each one percent-encoded, so an id can never add a path
/// level). A trailing slash on the base is ignored.
pub(crate) fn endpoint(base: &str, segments: &[&str]) -> Result<Url, SendError> {
    let mut url = Url::parse(base.trim())
        .map_err(|e| SendError::permanent("invalid_base_url", format!("the provider base URL is invalid: {e}")))?;
    url.set_fragment(None);
    {
        let mut path = url
            .path_segments_mut()
            .map_err(|_| SendError::permanent("invalid_base_url", "the provider base URL cannot take a path"))?;
        path.pop_if_empty();
        path.extend(segments);
    }
    Ok(url)
}

/// A response read to the end.
pub(crate) struct RawResponse {
    pub status: u16,
    pub retry_after_ms: Option<i64>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The start of the body as text, for error messages.
    pub fn snippet(&self) -> String {
        const MAX: usize = 200;
        let text = String::from_utf8_lossy(&self.body);
        let text = text.trim();
        match text.char_indices().nth(MAX) {
            Some((i, _)) => format!("{}…", &text[..i]),
            None => text.to_string(),
        }
    }

    /// The error for a non-2xx response whose body did not say more: 429 → rate limited, 5xx (and the odd 408) →
    /// transient, anything else → permanent with code `http_<status>`.
    pub fn generic_error(&self) -> SendError {
        match self.status {
            429 => SendError::RateLimited { retry_after_ms: self.retry_after_ms },
            408 | 500..=599 => SendError::Transient(format!("HTTP {}: {}", self.status, self.snippet())),
            s => SendError::permanent(format!("http_{s}"), format!("HTTP {s}: {}", self.snippet())),
        }
    }
}

/// Send `req` and read the whole response.
pub(crate) async fn execute(req: reqwest::RequestBuilder) -> Result<RawResponse, SendError> {
    let resp = req.send().await.map_err(transport_error)?;
    let status = resp.status().as_u16();
    let retry_after_ms = retry_after_ms(resp.headers());
    let body = resp.bytes().await.map_err(transport_error)?.to_vec();
    Ok(RawResponse { status, retry_after_ms, body })
}

/// `Retry-After` given in seconds (integer or decimal), in milliseconds. The HTTP-date form is not used by these
/// providers and yields `None`.
pub(crate) fn retry_after_ms(headers: &HeaderMap) -> Option<i64> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    seconds_to_ms(value.parse::<f64>().ok()?)
}

/// Seconds to milliseconds, for finite non-negative values, capped at one day.
pub(crate) fn seconds_to_ms(secs: f64) -> Option<i64> {
    if !secs.is_finite() || secs < 0.0 {
        return None;
    }
    Some((secs.min(86_400.0) * 1000.0).round() as i64)
}

/// A failure before a response was read. The URL is removed from the error first, so the message can be logged.
pub(crate) fn transport_error(err: reqwest::Error) -> SendError {
    let err = err.without_url();
    if err.is_builder() {
        return SendError::permanent("invalid_request", describe(&err));
    }
    SendError::Transient(describe(&err))
}

/// The error and its sources, `: `-separated.
fn describe(err: &reqwest::Error) -> String {
    let mut text = if err.is_timeout() { "timed out: ".to_string() } else { String::new() };
    text.push_str(&err.to_string());
    let mut source = err.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.ends_with(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_appends_encoded_segments() {
        let url = endpoint("http://127.0.0.1:9/base/", &["a b", "x/y", "bot1:AA"]).unwrap();
        assert_eq!(url.as_str(), "http://127.0.0.1:9/base/a%20b/x%2Fy/bot1:AA");
        let url = endpoint("https://graph.facebook.com/v21.0", &["123", "messages"]).unwrap();
        assert_eq!(url.as_str(), "https://graph.facebook.com/v21.0/123/messages");
        assert!(endpoint("not a url", &["x"]).is_err());
        assert!(endpoint("mailto:x@example.com", &["x"]).is_err());
    }

    #[test]
    fn retry_after_forms() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after_ms(&h), None);
        h.insert(RETRY_AFTER, "35".parse().unwrap());
        assert_eq!(retry_after_ms(&h), Some(35_000));
        h.insert(RETRY_AFTER, "1.5".parse().unwrap());
        assert_eq!(retry_after_ms(&h), Some(1_500));
        h.insert(RETRY_AFTER, "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap());
        assert_eq!(retry_after_ms(&h), None);
        h.insert(RETRY_AFTER, "-3".parse().unwrap());
        assert_eq!(retry_after_ms(&h), None);
        assert_eq!(seconds_to_ms(1e30), Some(86_400_000));
    }
}
