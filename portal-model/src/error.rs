//! The one error type of the API, and how it becomes a response.
//!
//! Every error answers with a JSON body `{"error": "...", "field": "..."}`
//! (`field` only when one field is to blame), which the UI shows as is. So
//! the message is always written for the person using the portal; what went
//! wrong inside (a driver error, say) is logged in the request's span and
//! never sent.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::store::StoreError;
use crate::tool::FieldError;

/// Everything an API call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request breaks a rule: 400.
    #[error("{}", .0.message)]
    Invalid(FieldError),
    /// The body is not JSON: 400.
    #[error("the request body is not valid JSON")]
    BadJson,
    /// The body is not labelled JSON: 415. Requiring `Content-Type:
    /// application/json` also means a cross-site HTML form cannot post to
    /// the API: browsers only send that type cross-origin after a CORS
    /// preflight, which this service never approves.
    #[error("the request body must be JSON, sent with Content-Type: application/json")]
    NotJson,
    /// The body is over the limit: 413.
    #[error("the request body is too large")]
    TooLarge,
    /// No such tool, or an id that cannot name one: 404.
    #[error("no tool with that id")]
    NotFound,
    /// No such route: 404.
    #[error("no such route")]
    NoRoute,
    /// The store cannot be reached: 503.
    #[error("the tool database is unavailable right now; try again in a moment")]
    Unavailable(#[source] StoreError),
    /// A bug or misconfiguration: 500.
    #[error("internal error")]
    Internal(#[source] StoreError),
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(_) => ApiError::Unavailable(err),
            StoreError::Mongo(_) => ApiError::Internal(err),
        }
    }
}

impl From<FieldError> for ApiError {
    fn from(err: FieldError) -> Self {
        ApiError::Invalid(err)
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => ApiError::NotJson,
            // axum reports a body over DefaultBodyLimit as 413.
            other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::TooLarge,
            _ => ApiError::BadJson,
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(_: QueryRejection) -> Self {
        ApiError::Invalid(FieldError::body(
            "the query string is malformed; expected q, limit and offset",
        ))
    }
}

impl ApiError {
    pub fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Invalid(_) | ApiError::BadJson => StatusCode::BAD_REQUEST,
            ApiError::NotJson => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::NotFound | ApiError::NoRoute => StatusCode::NOT_FOUND,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status_code();
        // Runs inside the request's span, so these lines carry its id.
        match &self {
            ApiError::Unavailable(source) => tracing::warn!(error = %source, "store unavailable"),
            ApiError::Internal(source) => tracing::error!(error = %source, "internal error"),
            _ => {}
        }
        let body = match &self {
            ApiError::Invalid(FieldError {
                field: Some(field),
                message,
            }) => json!({ "error": message, "field": field }),
            other => json!({ "error": other.to_string() }),
        };
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            // MongoDB is usually back within seconds (a container restart).
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        response
    }
}
