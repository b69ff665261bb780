//! The domain error: what went wrong, in words a client can act on.
//!
//! Transports map it once each: `http::error` to an HTTP status, and
//! `realtime::handlers` (through `wire`) to a Socket.IO error payload. Lower
//! layers convert their own errors into it where they are defined (storage
//! failures in `store`). Internal causes are logged where they happen and
//! never reach a client.
//!
//! Owns: [`Error`] and [`ErrorCode`]. May not touch: anything outside
//! `domain`.

use std::fmt;

/// The stable, documented error codes of the public API (`docs/API.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// No or a bad token (HTTP 401).
    Unauthorized,
    /// Authenticated, but not allowed (403).
    Forbidden,
    /// Right password, disabled account (403).
    AccountDisabled,
    /// Malformed or out-of-range input (400).
    Invalid,
    /// No such thing, or not visible to the caller (404).
    NotFound,
    /// Clashes with what exists (409).
    Conflict,
    /// Over a size limit (413).
    TooLarge,
    /// Over the per-user media quota (413).
    QuotaExceeded,
    /// Too many requests or events (429).
    RateLimited,
    /// Cannot be done now, e.g. shutting down (503); worth retrying.
    Unavailable,
    /// A fault of the server (500); the cause is logged, not sent.
    Internal,
}

impl ErrorCode {
    /// The code as the API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::AccountDisabled => "account_disabled",
            ErrorCode::Invalid => "invalid",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::QuotaExceeded => "quota_exceeded",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every failure a domain service can report.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    /// Not authenticated; says why (missing, expired, revoked token).
    Unauthorized(&'static str),
    #[error("{0}")]
    /// Not allowed; says what.
    Forbidden(&'static str),
    /// Right password, but an administrator disabled the account.
    #[error("this account is disabled")]
    AccountDisabled,
    #[error("{0}")]
    /// Bad input; names the field.
    Invalid(String),
    #[error("{0} not found")]
    /// What was not found (`conversation`, `message`, …).
    NotFound(&'static str),
    #[error("{0}")]
    /// What clashes.
    Conflict(String),
    #[error("{0}")]
    /// What is too large, and the limit.
    TooLarge(String),
    /// A per-user storage quota would be passed.
    #[error("{0}")]
    QuotaExceeded(String),
    #[error("too many requests, slow down")]
    /// Slow down.
    RateLimited,
    /// The server, or a service it depends on, cannot do it now.
    #[error("{0}")]
    Unavailable(&'static str),
    /// The cause has already been logged; clients only see "internal error".
    #[error("internal error")]
    Internal,
}

impl Error {
    /// The code clients branch on.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Unauthorized(_) => ErrorCode::Unauthorized,
            Error::Forbidden(_) => ErrorCode::Forbidden,
            Error::AccountDisabled => ErrorCode::AccountDisabled,
            Error::Invalid(_) => ErrorCode::Invalid,
            Error::NotFound(_) => ErrorCode::NotFound,
            Error::Conflict(_) => ErrorCode::Conflict,
            Error::TooLarge(_) => ErrorCode::TooLarge,
            Error::QuotaExceeded(_) => ErrorCode::QuotaExceeded,
            Error::RateLimited => ErrorCode::RateLimited,
            Error::Unavailable(_) => ErrorCode::Unavailable,
            Error::Internal => ErrorCode::Internal,
        }
    }

    /// An `invalid` error with this message.
    pub fn invalid(msg: impl Into<String>) -> Self {
        Error::Invalid(msg.into())
    }
}
