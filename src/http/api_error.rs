//! The domain error as an HTTP response: one status per code, body
//! `{"error":{"code","message"}}`.
//!
//! Owns: the status of each error code. May not touch: which error a request
//! gets — the services decide.

use crate::domain::{Error, ErrorCode};
use crate::wire::ErrorBody;
use crate::wire::replies::ErrorReply;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// A domain error on its way out over HTTP.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        Self(e)
    }
}

pub fn status(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorCode::Forbidden | ErrorCode::AccountDisabled => StatusCode::FORBIDDEN,
        ErrorCode::Invalid => StatusCode::BAD_REQUEST,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::Conflict => StatusCode::CONFLICT,
        ErrorCode::TooLarge | ErrorCode::QuotaExceeded => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorReply { error: ErrorBody::new(&self.0) };
        (status(self.0.code()), Json(body)).into_response()
    }
}
