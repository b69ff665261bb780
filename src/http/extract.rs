//! Request extractors that fail with the API's error shape instead of
//! axum's plain-text rejections.
//!
//! Owns: authentication of a request and reading its JSON body. May not
//! touch: what the body means — `wire::input` parses it.

use super::ApiError;
use crate::domain::Error;
use crate::state::AppState;
use crate::users::Session;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde_json::Value;

/// The authenticated caller (`Authorization: Bearer <token>`).
pub struct Auth(pub Session);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or(Error::Unauthorized("missing Authorization header"))?;
        let token = header
            .strip_prefix("Bearer ")
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(Error::Unauthorized("expected `Authorization: Bearer <token>`"))?;
        let session = state.users.authenticate(token).await?;
        // The request's span (`http::request_span`) names the user from here on.
        tracing::Span::current().record("user", session.user_id.0);
        Ok(Auth(session))
    }
}

/// A JSON body as a [`Value`]; the handler parses it into domain types.
pub struct JsonBody(pub Value);

impl FromRequest<AppState> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        match axum::Json::<Value>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(JsonBody(v)),
            Err(JsonRejection::BytesRejection(r))
                if r.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE =>
            {
                Err(Error::TooLarge("request body is too large".into()).into())
            }
            Err(JsonRejection::MissingJsonContentType(_)) => {
                Err(Error::invalid("expected `Content-Type: application/json`").into())
            }
            Err(e) => Err(Error::invalid(format!("malformed JSON body: {}", e.body_text())).into()),
        }
    }
}
