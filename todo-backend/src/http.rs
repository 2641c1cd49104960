//! HTTP in front of the schema, shaped like the original's.
//!
//! * `POST /graphql` takes `{"query","operationName","variables"}` (or an
//!   array of them, a batch, which graphql-java's servlet also took, or a
//!   raw query with `Content-Type: application/graphql`).
//! * `GET /graphql?query=...` runs queries; mutations over GET are refused
//!   (405) so a link or an `<img>` cannot change the board. Without a
//!   `query` it serves GraphiQL, an explorer for people with a browser.
//! * GraphQL results are HTTP 200 with `application/json;charset=UTF-8`,
//!   errors included, as the original answered. Only what is not a GraphQL
//!   request at all (unparsable JSON: 400, too large: 413) or arrives before
//!   the database schema is in place (503) gets another status.
//! * Every response carries the original's CORS headers, and any `OPTIONS`
//!   request is a successful preflight: the browser calls the backend from
//!   the frontend's origin, exactly as with the original.
//! * `/actuator/health` and its `liveness` / `readiness` groups answer in
//!   Spring Boot's JSON, so probes written for the original keep working
//!   next to service-kit's `/healthz` and `/readyz`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_graphql::http::GraphiQLSource;
use async_graphql::parser::types::{DocumentOperations, OperationType};
use async_graphql::{BatchRequest, Request};
use axum::Router;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, RawQuery, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use serde_json::json;
use service_kit::Kit;

use crate::schema::{TodoSchema, coerce_numeric_strings};

/// The original's content type for GraphQL results.
pub const JSON_UTF8: &str = "application/json;charset=UTF-8";

/// The original's CORS headers, on every response. One addition: the
/// browser may also read `X-Served-By` (which backend pod answered; see
/// `service_kit::http::SERVED_BY`), so that the board can show both
/// replicas at work when it calls the backend directly. A header the
/// original frontend never reads changes nothing for it.
pub const CORS_HEADERS: [(&str, &str); 5] = [
    ("access-control-allow-origin", "*"),
    (
        "access-control-allow-methods",
        "POST, GET, PUT, OPTIONS, DELETE, PATCH",
    ),
    ("access-control-max-age", "3600"),
    (
        "access-control-allow-headers",
        "Origin, X-Requested-With, Content-Type, Accept",
    ),
    ("access-control-expose-headers", "Location, X-Served-By"),
];

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    pub schema: TodoSchema,
    pub kit: Kit,
    /// Set once the migrations ran; before that no query can work.
    pub schema_ready: Arc<AtomicBool>,
    pub max_body_bytes: usize,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}

/// The backend's router: service routes wrapped in service-kit's stack,
/// with CORS around everything (probes and 404s included).
pub fn app(state: AppState) -> Router {
    let kit = state.kit.clone();
    let limit = state.max_body_bytes;
    let routes = Router::new()
        .route("/graphql", get(graphql_get).post(graphql_post))
        .route("/actuator/health", get(actuator_health))
        .route("/actuator/health/liveness", get(actuator_liveness))
        .route("/actuator/health/readiness", get(actuator_readiness))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state);
    kit.wrap(routes)
        .fallback(|| async { StatusCode::NOT_FOUND })
        .layer(axum::middleware::from_fn(cors))
}

/// Add the CORS headers; answer preflights without going further.
async fn cors(req: axum::extract::Request, next: Next) -> Response {
    let mut response = if req.method() == Method::OPTIONS {
        StatusCode::OK.into_response()
    } else {
        next.run(req).await
    };
    let headers = response.headers_mut();
    for (name, value) in CORS_HEADERS {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    response
}

fn json_response(status: StatusCode, body: &impl serde::Serialize) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (
            status,
            [(header::CONTENT_TYPE, HeaderValue::from_static(JSON_UTF8))],
            bytes,
        )
            .into_response(),
        Err(err) => {
            tracing::error!(%err, "cannot serialize a response");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// A spec-shaped error result with a non-200 status.
fn error_response(status: StatusCode, message: &str) -> Response {
    json_response(
        status,
        &json!({ "data": null, "errors": [{ "message": message }] }),
    )
}

fn not_ready() -> Response {
    error_response(StatusCode::SERVICE_UNAVAILABLE, "Database unavailable")
}

async fn graphql_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) => return error_response(rejection.status(), &rejection.body_text()),
    };
    if !state.schema_ready.load(Ordering::Relaxed) {
        return not_ready();
    }
    let is_raw_graphql = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/graphql"));
    let batch = if is_raw_graphql {
        BatchRequest::Single(Request::new(String::from_utf8_lossy(&body)))
    } else {
        match serde_json::from_slice::<BatchRequest>(&body) {
            Ok(batch) => batch,
            Err(err) => {
                return error_response(
                    StatusCode::BAD_REQUEST,
                    &format!("The request body is not a GraphQL request: {err}"),
                );
            }
        }
    };
    let batch = match batch {
        BatchRequest::Single(mut request) => {
            coerce_numeric_strings(&mut request);
            BatchRequest::Single(request)
        }
        BatchRequest::Batch(mut requests) => {
            requests.iter_mut().for_each(coerce_numeric_strings);
            BatchRequest::Batch(requests)
        }
    };
    json_response(StatusCode::OK, &state.schema.execute_batch(batch).await)
}

async fn graphql_get(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Response {
    let raw = raw.unwrap_or_default();
    let has_query = url::form_urlencoded::parse(raw.as_bytes()).any(|(key, _)| key == "query");
    if !has_query {
        return Html(
            GraphiQLSource::build()
                .endpoint("/graphql")
                .title("to-do GraphQL")
                .finish(),
        )
        .into_response();
    }
    let mut request = match async_graphql::http::parse_query_string(&raw) {
        Ok(request) => request,
        Err(err) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                &format!("Bad GraphQL GET request: {err}"),
            );
        }
    };
    if is_mutation(&request) {
        return error_response(
            StatusCode::METHOD_NOT_ALLOWED,
            "Mutations are not allowed over GET; use POST",
        );
    }
    if !state.schema_ready.load(Ordering::Relaxed) {
        return not_ready();
    }
    coerce_numeric_strings(&mut request);
    json_response(StatusCode::OK, &state.schema.execute(request).await)
}

/// Whether the operation a request would run is a mutation. A query that
/// does not parse is left to the executor, which reports the syntax error.
fn is_mutation(request: &Request) -> bool {
    let Ok(document) = async_graphql::parser::parse_query(&request.query) else {
        return false;
    };
    let is = |ty: OperationType| ty == OperationType::Mutation;
    match &document.operations {
        DocumentOperations::Single(op) => is(op.node.ty),
        DocumentOperations::Multiple(ops) => match &request.operation_name {
            Some(name) => ops.get(name.as_str()).is_some_and(|op| is(op.node.ty)),
            None => ops.values().any(|op| is(op.node.ty)),
        },
    }
}

/// Spring Boot's `{"status":"UP"}` / `{"status":"DOWN"}` (503).
fn spring_health(up: bool, db: Option<bool>) -> Response {
    let status = |up: bool| if up { "UP" } else { "DOWN" };
    let mut body = json!({ "status": status(up) });
    if let Some(db) = db {
        body["components"] = json!({ "db": { "status": status(db) } });
    }
    let code = if up {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    json_response(code, &body)
}

async fn actuator_health(State(state): State<AppState>) -> Response {
    let ready = state.kit.readiness.is_ready();
    spring_health(ready, Some(ready))
}

async fn actuator_liveness() -> Response {
    spring_health(true, None)
}

async fn actuator_readiness(State(state): State<AppState>) -> Response {
    spring_health(state.kit.readiness.is_ready(), None)
}
