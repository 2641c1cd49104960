//! The tools API: `/api/tools` and `/api/tools/{id}`.
//!
//! | Method | Path              | Answer                                   |
//! |--------|-------------------|------------------------------------------|
//! | GET    | `/api/tools`      | 200 `{items, total, offset, limit}`      |
//! | POST   | `/api/tools`      | 201 the stored tool, `Location` header   |
//! | GET    | `/api/tools/{id}` | 200 the tool                             |
//! | PUT    | `/api/tools/{id}` | 200 the tool with all fields replaced    |
//! | DELETE | `/api/tools/{id}` | 204                                      |
//!
//! `GET /api/tools` takes `q` (case-insensitive substring of name,
//! description or a tag), `limit` (1 to 100, default 20) and `offset`.
//! An id that is not 24 hex digits is answered like an unknown id, 404: ids
//! are opaque to clients, and either way the URL names no tool.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::Value;

use crate::AppState;
use crate::error::ApiError;
use crate::store::{DEFAULT_LIMIT, ListQuery, MAX_LIMIT, MAX_OFFSET, ToolId, parse_id};
use crate::tool::{FieldError, Tool, validate};

/// Longest search text, in characters.
pub const MAX_QUERY: usize = 200;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/tools", get(list).post(create))
        .route("/api/tools/{id}", get(show).put(update).delete(remove))
        // Anything else, API or not, is a JSON 404 (the page is the only
        // non-API route, and a JSON body does a browser no harm).
        .fallback(no_route)
}

/// The raw query string. Numbers arrive as text so that a bad one is
/// answered with our error naming the parameter, not a generic rejection.
#[derive(Debug, Deserialize)]
pub(crate) struct ListParams {
    q: Option<String>,
    limit: Option<String>,
    offset: Option<String>,
}

fn list_query(params: ListParams) -> Result<ListQuery, FieldError> {
    let search = params.q.unwrap_or_default();
    let search = search.trim();
    if search.chars().count() > MAX_QUERY {
        return Err(FieldError::new(
            "q",
            format!("q must be at most {MAX_QUERY} characters"),
        ));
    }
    if search.chars().any(char::is_control) {
        return Err(FieldError::new(
            "q",
            "q must not contain control characters",
        ));
    }
    let number = |name: &str, raw: Option<String>, default: u64, min: u64, max: u64| {
        let Some(raw) = raw else { return Ok(default) };
        raw.trim()
            .parse::<u64>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| {
                FieldError::new(
                    name,
                    format!("{name} must be a whole number from {min} to {max}"),
                )
            })
    };
    Ok(ListQuery {
        search: search.to_lowercase(),
        limit: number("limit", params.limit, DEFAULT_LIMIT, 1, MAX_LIMIT)?,
        offset: number("offset", params.offset, 0, 0, MAX_OFFSET)?,
    })
}

fn tool_id(raw: &str) -> Result<ToolId, ApiError> {
    parse_id(raw).ok_or(ApiError::NotFound)
}

async fn list(
    State(state): State<AppState>,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(params) = params?;
    let query = list_query(params)?;
    let page = state.store.list(&query).await?;
    Ok(Json(page).into_response())
}

async fn create(
    State(state): State<AppState>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body?;
    let fields = validate(body)?;
    let tool = state.store.create(fields).await?;
    let location = HeaderValue::from_str(&format!("/api/tools/{}", tool.id)).ok();
    let mut response = (StatusCode::CREATED, Json(tool)).into_response();
    if let Some(location) = location {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Tool>, ApiError> {
    let id = tool_id(&id)?;
    let tool = state.store.get(id).await?.ok_or(ApiError::NotFound)?;
    Ok(Json(tool))
}

async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<Tool>, ApiError> {
    // The body is checked first: a bad body is a 400 whether or not the id
    // exists, which is what a client fixing its request wants to hear.
    let Json(body) = body?;
    let fields = validate(body)?;
    let id = tool_id(&id)?;
    let tool = state
        .store
        .update(id, fields)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(tool))
}

async fn remove(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = tool_id(&id)?;
    if state.store.delete(id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
}

async fn no_route() -> ApiError {
    ApiError::NoRoute
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(q: Option<&str>, limit: Option<&str>, offset: Option<&str>) -> ListParams {
        ListParams {
            q: q.map(str::to_owned),
            limit: limit.map(str::to_owned),
            offset: offset.map(str::to_owned),
        }
    }

    #[test]
    fn defaults_and_bounds() {
        let query = list_query(params(None, None, None)).unwrap();
        assert_eq!(
            (query.search.as_str(), query.limit, query.offset),
            ("", 20, 0)
        );
        let query = list_query(params(Some(" GraF "), Some("100"), Some("40"))).unwrap();
        assert_eq!(
            (query.search.as_str(), query.limit, query.offset),
            ("graf", 100, 40)
        );
        for (limit, offset, field) in [
            (Some("0"), None, "limit"),
            (Some("101"), None, "limit"),
            (Some("ten"), None, "limit"),
            (Some("-1"), None, "limit"),
            (None, Some("-1"), "offset"),
            (None, Some("100001"), "offset"),
        ] {
            let err = list_query(params(None, limit, offset)).unwrap_err();
            assert_eq!(err.field.as_deref(), Some(field));
        }
        let long = "x".repeat(MAX_QUERY + 1);
        assert_eq!(
            list_query(params(Some(&long), None, None))
                .unwrap_err()
                .field
                .as_deref(),
            Some("q")
        );
        assert_eq!(
            list_query(params(Some("a\u{1f}b"), None, None))
                .unwrap_err()
                .field
                .as_deref(),
            Some("q")
        );
    }
}
