//! The one error shape of the API: `{"error": {"code", "message", "fields"?}}`,
//! with the HTTP status decided by the stable code.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use kith_app::error::FieldError;
use kith_app::{AppError, ErrorCode};
use serde::Serialize;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code (see docs/errors.md).
    pub code: String,
    /// Human-readable explanation; may change between versions.
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<FieldErrorOut>>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FieldErrorOut {
    pub field: String,
    pub message: String,
}

/// An error on its way out of a JSON handler.
#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub fields: Vec<FieldError>,
    pub retry_after_s: Option<u64>,
}

pub fn status_of(code: ErrorCode) -> StatusCode {
    use ErrorCode::*;
    match code {
        ValidationFailed => StatusCode::UNPROCESSABLE_ENTITY,
        NotFound => StatusCode::NOT_FOUND,
        Forbidden | SignupClosed => StatusCode::FORBIDDEN,
        Unauthenticated | InvalidCredentials | MfaRequired | InvalidMfaCode => StatusCode::UNAUTHORIZED,
        TooManyAttempts | RateLimited => StatusCode::TOO_MANY_REQUESTS,
        EmailTaken | AlreadyMember | AlreadyExists | LastOwner | InUse | IdempotencyInProgress | ContactOptedOut => {
            StatusCode::CONFLICT
        }
        StaleVersion => StatusCode::PRECONDITION_FAILED,
        InvitationInvalid | TokenInvalid => StatusCode::GONE,
        IdempotencyKeyReused | WhatsappWindowClosed => StatusCode::UNPROCESSABLE_ENTITY,
        PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        AiFeatureDisabled | AiNotConfigured | AttachmentSent => StatusCode::CONFLICT,
        AiLimitReached => StatusCode::TOO_MANY_REQUESTS,
        AiProviderFailed => StatusCode::BAD_GATEWAY,
        Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError { code, message: message.into(), fields: Vec::new(), retry_after_s: None }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::ValidationFailed, message)
    }

    pub fn not_found() -> ApiError {
        ApiError::new(ErrorCode::NotFound, "not found")
    }
}

impl From<AppError> for ApiError {
    fn from(err: AppError) -> Self {
        let code = err.code();
        if code == ErrorCode::Internal {
            // Full cause chain to the log; a bland message to the client.
            let mut chain = err.to_string();
            let mut source = std::error::Error::source(&err);
            while let Some(s) = source {
                chain.push_str(": ");
                chain.push_str(&s.to_string());
                source = s.source();
            }
            tracing::error!(error = %chain, "internal error");
        }
        let retry_after_s = match &err {
            AppError::TooManyAttempts { retry_after_s } => Some(*retry_after_s),
            _ => None,
        };
        let fields = match &err {
            AppError::Validation(f) => f.clone(),
            _ => Vec::new(),
        };
        ApiError { code, message: err.to_string(), fields, retry_after_s }
    }
}

impl ApiError {
    /// The error as the JSON body clients see (also one item of a batch answer).
    pub fn detail(&self) -> ErrorDetail {
        ErrorDetail {
            code: self.code.as_str().to_string(),
            message: self.message.clone(),
            fields: (!self.fields.is_empty()).then(|| {
                self.fields
                    .iter()
                    .map(|f| FieldErrorOut { field: f.field.clone(), message: f.message.clone() })
                    .collect()
            }),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = status_of(self.code);
        let body = ErrorBody { error: self.detail() };
        let mut resp = (status, axum::Json(body)).into_response();
        if let Some(s) = self.retry_after_s {
            resp.headers_mut().insert("retry-after", HeaderValue::from(s));
        }
        resp
    }
}
