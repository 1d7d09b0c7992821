//! The one error type of the use cases, and its table of stable codes.
//! Clients match on the code; the message is for people and may change.

use kith_store::StoreError;
use thiserror::Error;

/// Stable machine-readable codes. Never rename one; add new ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    ValidationFailed,
    NotFound,
    Forbidden,
    Unauthenticated,
    InvalidCredentials,
    MfaRequired,
    InvalidMfaCode,
    TooManyAttempts,
    RateLimited,
    SignupClosed,
    EmailTaken,
    AlreadyMember,
    AlreadyExists,
    LastOwner,
    InUse,
    StaleVersion,
    InvitationInvalid,
    TokenInvalid,
    IdempotencyKeyReused,
    IdempotencyInProgress,
    PayloadTooLarge,
    UnsupportedMediaType,
    MethodNotAllowed,
    ContactOptedOut,
    WhatsappWindowClosed,
    AiFeatureDisabled,
    AiNotConfigured,
    AiLimitReached,
    AiProviderFailed,
    AttachmentSent,
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::ValidationFailed => "validation_failed",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::InvalidCredentials => "invalid_credentials",
            ErrorCode::MfaRequired => "mfa_required",
            ErrorCode::InvalidMfaCode => "invalid_mfa_code",
            ErrorCode::TooManyAttempts => "too_many_attempts",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::SignupClosed => "signup_closed",
            ErrorCode::EmailTaken => "email_taken",
            ErrorCode::AlreadyMember => "already_member",
            ErrorCode::AlreadyExists => "already_exists",
            ErrorCode::LastOwner => "last_owner",
            ErrorCode::InUse => "in_use",
            ErrorCode::StaleVersion => "stale_version",
            ErrorCode::InvitationInvalid => "invitation_invalid",
            ErrorCode::TokenInvalid => "token_invalid",
            ErrorCode::IdempotencyKeyReused => "idempotency_key_reused",
            ErrorCode::IdempotencyInProgress => "idempotency_in_progress",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::ContactOptedOut => "contact_opted_out",
            ErrorCode::WhatsappWindowClosed => "whatsapp_window_closed",
            ErrorCode::AiFeatureDisabled => "ai_feature_disabled",
            ErrorCode::AiNotConfigured => "ai_not_configured",
            ErrorCode::AiLimitReached => "ai_limit_reached",
            ErrorCode::AiProviderFailed => "ai_provider_failed",
            ErrorCode::AttachmentSent => "attachment_sent",
            ErrorCode::Internal => "internal",
        }
    }

    /// Every code, for the documentation table and its test.
    pub const ALL: [ErrorCode; 31] = [
        ErrorCode::ValidationFailed,
        ErrorCode::NotFound,
        ErrorCode::Forbidden,
        ErrorCode::Unauthenticated,
        ErrorCode::InvalidCredentials,
        ErrorCode::MfaRequired,
        ErrorCode::InvalidMfaCode,
        ErrorCode::TooManyAttempts,
        ErrorCode::RateLimited,
        ErrorCode::SignupClosed,
        ErrorCode::EmailTaken,
        ErrorCode::AlreadyMember,
        ErrorCode::AlreadyExists,
        ErrorCode::LastOwner,
        ErrorCode::InUse,
        ErrorCode::StaleVersion,
        ErrorCode::InvitationInvalid,
        ErrorCode::TokenInvalid,
        ErrorCode::IdempotencyKeyReused,
        ErrorCode::IdempotencyInProgress,
        ErrorCode::PayloadTooLarge,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::MethodNotAllowed,
        ErrorCode::ContactOptedOut,
        ErrorCode::WhatsappWindowClosed,
        ErrorCode::AiFeatureDisabled,
        ErrorCode::AiNotConfigured,
        ErrorCode::AiLimitReached,
        ErrorCode::AiProviderFailed,
        ErrorCode::AttachmentSent,
        ErrorCode::Internal,
    ];
}

/// A field that failed validation, and why (in words for the user).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

#[derive(Debug, Error)]
pub enum AppError {
    #[error("some fields are invalid")]
    Validation(Vec<FieldError>),
    #[error("not found")]
    NotFound,
    #[error("you do not have permission to do that")]
    Forbidden,
    #[error("sign in first")]
    Unauthenticated,
    #[error("wrong e-mail or password")]
    InvalidCredentials,
    #[error("enter the code from your authenticator app")]
    MfaRequired,
    #[error("that code is not valid")]
    InvalidMfaCode,
    #[error("too many attempts; try again in {retry_after_s} s")]
    TooManyAttempts { retry_after_s: u64 },
    #[error("{1}")]
    Conflict(ErrorCode, &'static str),
    #[error("the record changed since you read it; reload and try again")]
    StaleVersion,
    #[error("this invitation is no longer valid")]
    InvitationInvalid,
    #[error("this link is invalid or has expired")]
    TokenInvalid,
    #[error("sign-up is by invitation only")]
    SignupClosed,
    #[error("internal error")]
    Store(#[from] StoreError),
    #[error("internal error")]
    Crypto(#[from] kith_crypto::CryptoError),
    /// An AI feature could not run (disabled, not configured, over a hard
    /// limit, or the workspace's endpoint failed); the message says which.
    #[error("{1}")]
    Ai(ErrorCode, String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    pub fn code(&self) -> ErrorCode {
        match self {
            AppError::Validation(_) => ErrorCode::ValidationFailed,
            AppError::NotFound => ErrorCode::NotFound,
            AppError::Forbidden => ErrorCode::Forbidden,
            AppError::Unauthenticated => ErrorCode::Unauthenticated,
            AppError::InvalidCredentials => ErrorCode::InvalidCredentials,
            AppError::MfaRequired => ErrorCode::MfaRequired,
            AppError::InvalidMfaCode => ErrorCode::InvalidMfaCode,
            AppError::TooManyAttempts { .. } => ErrorCode::TooManyAttempts,
            AppError::Conflict(code, _) => *code,
            AppError::StaleVersion => ErrorCode::StaleVersion,
            AppError::InvitationInvalid => ErrorCode::InvitationInvalid,
            AppError::TokenInvalid => ErrorCode::TokenInvalid,
            AppError::SignupClosed => ErrorCode::SignupClosed,
            AppError::Ai(code, _) => *code,
            AppError::Store(_) | AppError::Crypto(_) | AppError::Internal(_) => ErrorCode::Internal,
        }
    }

    /// One invalid field.
    pub fn field(field: &str, message: impl Into<String>) -> AppError {
        AppError::Validation(vec![FieldError { field: field.into(), message: message.into() }])
    }
}

/// Collects field errors so a form can show all of them at once.
#[derive(Default)]
pub struct Validator(Vec<FieldError>);

impl Validator {
    pub fn check<T>(&mut self, field: &str, result: Result<T, impl Into<String>>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(m) => {
                self.0.push(FieldError { field: field.into(), message: m.into() });
                None
            }
        }
    }

    pub fn finish(self) -> Result<(), AppError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(AppError::Validation(self.0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorCode;

    #[test]
    fn every_code_is_documented_once_and_unique() {
        let doc = include_str!("../../../docs/errors.md");
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            assert!(seen.insert(code.as_str()), "duplicate code {}", code.as_str());
            assert!(doc.contains(&format!("| `{}` |", code.as_str())), "docs/errors.md lacks {}", code.as_str());
        }
    }
}
