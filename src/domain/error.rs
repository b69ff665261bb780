//! The domain error: what went wrong, in words a client can act on.
//!
//! Transports map it once each: `http::error` to an HTTP status, and
//! `realtime::handlers` (through `wire`) to a Socket.IO error payload. Lower
//! layers convert their own errors into it where they are defined (storage
//! failures in `store`). Internal causes are logged where they happen and
//! never reach a client.

use std::fmt;

/// The stable, documented error codes of the public API (`docs/API.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    Unauthorized,
    Forbidden,
    AccountDisabled,
    Invalid,
    NotFound,
    Conflict,
    TooLarge,
    QuotaExceeded,
    RateLimited,
    Unavailable,
    Internal,
}

impl ErrorCode {
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
    Unauthorized(&'static str),
    #[error("{0}")]
    Forbidden(&'static str),
    /// Right password, but an administrator disabled the account.
    #[error("this account is disabled")]
    AccountDisabled,
    #[error("{0}")]
    Invalid(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    TooLarge(String),
    /// A per-user storage quota would be passed.
    #[error("{0}")]
    QuotaExceeded(String),
    #[error("too many requests, slow down")]
    RateLimited,
    /// The server, or a service it depends on, cannot do it now.
    #[error("{0}")]
    Unavailable(&'static str),
    /// The cause has already been logged; clients only see "internal error".
    #[error("internal error")]
    Internal,
}

impl Error {
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

    pub fn invalid(msg: impl Into<String>) -> Self {
        Error::Invalid(msg.into())
    }
}
