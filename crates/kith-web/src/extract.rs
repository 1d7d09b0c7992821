//! Request parsing shared by API and UI handlers: JSON bodies with our error
//! shape, ids in paths, pagination, `If-Match`, and where a request came from.

use crate::error::ApiError;
use crate::state::WebState;
use axum::extract::rejection::{JsonDataError, JsonRejection};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use kith_app::audit::Origin;
use kith_app::error::FieldError;
use kith_app::ErrorCode;
use kith_domain::page::{Cursor, PageRequest};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::net::SocketAddr;
use uuid::Uuid;

/// `axum::Json`, but every rejection speaks our error shape.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => Err(match rejection {
                JsonRejection::MissingJsonContentType(_) => ApiError::new(
                    ErrorCode::UnsupportedMediaType,
                    "send a JSON body with Content-Type: application/json",
                ),
                JsonRejection::BytesRejection(r) if r.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                    ApiError::new(ErrorCode::PayloadTooLarge, "the request body is too large")
                }
                JsonRejection::JsonDataError(e) => json_data_error(&e),
                JsonRejection::JsonSyntaxError(_) => ApiError::bad_request("the body is not valid JSON"),
                other => ApiError::bad_request(other.body_text()),
            }),
        }
    }
}

/// A body that is JSON but not the expected shape (unknown field, wrong type,
/// missing field): a 422 naming the field by its path, e.g. `emails[0].value`.
fn json_data_error(rejection: &JsonDataError) -> ApiError {
    // axum keeps serde's error (with the path) as the source of its rejection.
    let mut source = std::error::Error::source(rejection);
    while let Some(err) = source {
        if let Some(e) = err.downcast_ref::<serde_path_to_error::Error<serde_json::Error>>() {
            let inner = e.inner();
            let text = inner.to_string();
            // Line and column mean little to an API client; the path says where.
            let position = format!(" at line {} column {}", inner.line(), inner.column());
            let message = text.strip_suffix(&position).unwrap_or(&text).to_string();
            let path = e.path().to_string();
            return match (path.as_str(), named_field(&message, "missing field `")) {
                (".", None) => ApiError::bad_request(format!("invalid body: {message}")),
                (".", Some(f)) => invalid_field(f, message),
                (p, Some(f)) => invalid_field(format!("{p}.{f}"), message),
                (p, None) => invalid_field(p.to_string(), message),
            };
        }
        source = err.source();
    }
    ApiError::bad_request(format!("invalid body: {}", rejection.body_text()))
}

/// The name serde quotes after `prefix` (`unknown field `x``, `missing field `x``).
fn named_field(message: &str, prefix: &str) -> Option<String> {
    message.strip_prefix(prefix)?.split('`').next().map(str::to_string)
}

fn invalid_field(field: String, message: String) -> ApiError {
    ApiError {
        code: ErrorCode::ValidationFailed,
        message: format!("invalid field {field}: {message}"),
        fields: vec![FieldError { field, message }],
        retry_after_s: None,
    }
}

/// `axum::extract::Query`, but a malformed value or an unknown parameter is
/// our 422 (a typo in a filter must not silently widen a list).
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        serde_urlencoded::from_str(parts.uri.query().unwrap_or("")).map(ApiQuery).map_err(|e| {
            let message = e.to_string();
            match named_field(&message, "unknown field `") {
                Some(field) => invalid_field(field, "is not a parameter of this endpoint".into()),
                None => ApiError::bad_request(format!("invalid query: {message}")),
            }
        })
    }
}

/// An id from the path. Anything that is not a UUID is simply not found.
pub fn parse_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::try_parse(raw).map_err(|_| ApiError::not_found())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Page size, 1–200 (larger values are clamped to 200); default 50.
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl ListQuery {
    pub fn page(&self) -> Result<PageRequest, ApiError> {
        let limit = parse_limit(self.limit.as_deref())?;
        let after = match self.cursor.as_deref() {
            None | Some("") => None,
            Some(c) => Some(Cursor::decode(c).ok_or_else(|| field_error("cursor", "is not a cursor from this API"))?),
        };
        Ok(PageRequest::new(limit, after))
    }
}

/// The `limit` query parameter; absent or empty means the default.
pub fn parse_limit(raw: Option<&str>) -> Result<Option<u32>, ApiError> {
    match raw {
        None | Some("") => Ok(None),
        Some(s) => s
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 1)
            .map(|n| Some(n.min(u32::MAX as i64) as u32))
            .ok_or_else(|| field_error("limit", "must be a whole number of at least 1")),
    }
}

pub fn field_error(field: &str, message: &str) -> ApiError {
    kith_app::AppError::field(field, message).into()
}

/// `If-Match: "3"` or `W/"3"` → Some(3). A malformed header is a 412 (never
/// silently ignored: the client asked for a condition).
pub fn if_match(headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    let Some(raw) = headers.get("if-match") else {
        return Ok(None);
    };
    let text = raw.to_str().unwrap_or("").trim();
    if text == "*" {
        return Ok(None);
    }
    let unquoted = text.trim_start_matches("W/").trim_matches('"');
    unquoted
        .parse::<i64>()
        .map(Some)
        .map_err(|_| ApiError::new(ErrorCode::StaleVersion, "If-Match does not match the current version"))
}

pub fn etag(version: i64) -> (axum::http::HeaderName, String) {
    (axum::http::header::ETAG, format!("\"{version}\""))
}

/// The client's address and user agent, for the audit trail and throttling.
pub struct RequestOrigin(pub Origin);

impl FromRequestParts<WebState> for RequestOrigin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, Self::Rejection> {
        Ok(RequestOrigin(origin_of(parts, state.config.trust_forwarded_for)))
    }
}

pub fn origin_of(parts: &Parts, trust_forwarded_for: bool) -> Origin {
    let forwarded = trust_forwarded_for
        .then(|| parts.headers.get("x-forwarded-for")?.to_str().ok()?.split(',').next().map(|s| s.trim().to_string()))
        .flatten();
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string());
    let user_agent =
        parts.headers.get("user-agent").and_then(|v| v.to_str().ok()).map(|s| s.chars().take(300).collect());
    Origin { ip: forwarded.or(peer), user_agent }
}
