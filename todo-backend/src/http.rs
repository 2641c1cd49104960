//! HTTP in front of the schema, shaped like the original's.
//!
//! * `POST /graphql` takes `{"query","operationName","variables"}` (or an
//!   array of them, a batch, which graphql-java's servlet also took, or a
//!   raw query with `Content-Type: application/graphql`).
//! * `GET /graphql?query=...` runs queries; mutations over GET are refused
//!   (405) so a link or an `<img>` cannot change the board. Without a
//!   `query` it serves a small query page for people with a browser
//!   (`assets/explorer.html`): a box for the query, one for the variables,
//!   a Run button that posts to `/graphql`, and the result. It is compiled
//!   into the binary and loads nothing from elsewhere, so it works with no
//!   network (GraphiQL, which async-graphql offers, loads its code from a
//!   CDN).
//! * The frontend's homepage query is answered by [`crate::homepage`]
//!   when it recognises it, and by the schema otherwise; the JSON is the
//!   same either way.
//! * GraphQL results are HTTP 200 with `application/json;charset=UTF-8`,
//!   errors included, as the original answered. Only what is not a GraphQL
//!   request at all (unparsable JSON: 400, too large: 413) or arrives before
//!   the database schema is in place (503) gets another status: those are
//!   the [`RequestError`]s.
//! * Every response carries the original's CORS headers, and any `OPTIONS`
//!   request is a successful preflight: the browser calls the backend from
//!   the frontend's origin, exactly as with the original.
//! * `/actuator/health` and its `liveness` / `readiness` groups answer in
//!   Spring Boot's JSON, so probes written for the original keep working
//!   next to service-kit's `/healthz` and `/readyz`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

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

use crate::homepage;
use crate::schema::TodoSchema;
use crate::store::Store;

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

/// The built-in query page served at `GET /graphql`; see the module docs.
const EXPLORER_HTML: &str = include_str!("../assets/explorer.html");

/// The query page may run its own inline script and style and talk to this
/// origin, nothing else: no external script can load even by mistake.
const EXPLORER_CSP: &str = "default-src 'none'; script-src 'unsafe-inline'; \
     style-src 'unsafe-inline'; img-src data:; connect-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// What the handlers share; built by [`AppState::new`].
#[derive(Clone)]
pub struct AppState {
    schema: TodoSchema,
    /// The schema's store, for the homepage fast path.
    store: Store,
    kit: Kit,
    /// Set once the migrations ran; before that no query can work.
    schema_ready: Arc<AtomicBool>,
    max_body_bytes: usize,
}

impl AppState {
    /// The state of a backend serving `schema` (built around `store`), with probes and metrics in
    /// `kit`; `schema_ready` is raised once the migrations ran.
    pub fn new(
        schema: TodoSchema,
        store: Store,
        kit: Kit,
        schema_ready: Arc<AtomicBool>,
        max_body_bytes: usize,
    ) -> Self {
        Self {
            schema,
            store,
            kit,
            schema_ready,
            max_body_bytes,
        }
    }
}

/// Why an HTTP request to `/graphql` is not run as GraphQL at all. Each
/// answers with its status and a spec-shaped body, `{"data": null,
/// "errors": [{"message": ...}]}`, which GraphQL clients show.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// The body could not be read: too large (413) or cut off (400).
    #[error("{}", .0.body_text())]
    Body(#[from] BytesRejection),
    #[error("The request body is not a GraphQL request: {0}")]
    NotGraphql(#[from] serde_json::Error),
    #[error("Bad GraphQL GET request: {0}")]
    BadQueryString(#[from] async_graphql::ParseRequestError),
    #[error("Mutations are not allowed over GET; use POST")]
    MutationOverGet,
    /// The migrations have not run yet (the database was never reached).
    #[error("Database unavailable")]
    NotReady,
}

impl RequestError {
    fn status(&self) -> StatusCode {
        match self {
            RequestError::Body(rejection) => rejection.status(),
            RequestError::NotGraphql(_) | RequestError::BadQueryString(_) => {
                StatusCode::BAD_REQUEST
            }
            RequestError::MutationOverGet => StatusCode::METHOD_NOT_ALLOWED,
            RequestError::NotReady => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl IntoResponse for RequestError {
    fn into_response(self) -> Response {
        json_response(
            self.status(),
            &json!({ "data": null, "errors": [{ "message": self.to_string() }] }),
        )
    }
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

async fn graphql_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, RequestError> {
    let body = body?;
    if !state.schema_ready.load(Ordering::Relaxed) {
        return Err(RequestError::NotReady);
    }
    let is_raw_graphql = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/graphql"));
    let batch = if is_raw_graphql {
        BatchRequest::Single(Request::new(String::from_utf8_lossy(&body)))
    } else {
        serde_json::from_slice::<BatchRequest>(&body)?
    };
    if let BatchRequest::Single(request) = &batch {
        if let Some(body) = homepage_answer(&state, request).await {
            return Ok(body);
        }
    }
    Ok(json_response(
        StatusCode::OK,
        &state.schema.execute_batch(batch).await,
    ))
}

/// The homepage fast path's response, if it recognises `request` and the
/// database answers; otherwise `None`, and the schema runs the request
/// (and reports any database error the way it always has).
async fn homepage_answer(state: &AppState, request: &Request) -> Option<Response> {
    let plan = homepage::Plan::for_request(request)?;
    match plan.answer(&state.store).await {
        Ok(body) => Some(
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, HeaderValue::from_static(JSON_UTF8))],
                body,
            )
                .into_response(),
        ),
        Err(err) => {
            tracing::debug!(%err, "homepage fast path failed; the schema answers instead");
            None
        }
    }
}

async fn graphql_get(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, RequestError> {
    let raw = raw.unwrap_or_default();
    let has_query = url::form_urlencoded::parse(raw.as_bytes()).any(|(key, _)| key == "query");
    if !has_query {
        return Ok((
            [(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(EXPLORER_CSP),
            )],
            Html(EXPLORER_HTML),
        )
            .into_response());
    }
    let request = async_graphql::http::parse_query_string(&raw)?;
    if is_mutation(&request) {
        return Err(RequestError::MutationOverGet);
    }
    if !state.schema_ready.load(Ordering::Relaxed) {
        return Err(RequestError::NotReady);
    }
    if let Some(body) = homepage_answer(&state, &request).await {
        return Ok(body);
    }
    Ok(json_response(
        StatusCode::OK,
        &state.schema.execute(request).await,
    ))
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
