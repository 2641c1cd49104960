//! `POST /graphql` on the page's own origin, forwarded to todo-backend.
//!
//! Why: in a cluster the backend's Service name (`SERVER_URI`) resolves
//! only inside the cluster. When the browser called it directly, as the
//! seed's Angular frontend did, the page needed a second address the
//! *browser* could reach (a second NodePort, `localhost:30301`), which
//! breaks behind `kubectl port-forward`, `minikube service`, an Ingress, or
//! any node address but `localhost`. Forwarding here means one address per
//! app: wherever the page came from, its GraphQL calls go back there.
//!
//! The forwarder is deliberately narrow, not a general reverse proxy:
//!
//! * only `POST /graphql`, with the request's `content-type`, `accept` and
//!   `x-request-id` (so one id follows a click through both services' logs);
//!   no cookies or other headers travel, as none are needed;
//! * the request body is capped by `MAX_BODY_BYTES` (axum's body limit,
//!   413 above it) and the backend's reply by `GRAPHQL_MAX_REPLY_BYTES`, so
//!   a misbehaving backend cannot make the frontend buffer without bound;
//! * connecting may take `SERVER_CONNECT_TIMEOUT` and the whole exchange
//!   `SERVER_TIMEOUT`: an unreachable backend is a 502 and a slow one a 504
//!   within those bounds, never a hung page;
//! * the backend's status and body pass through unchanged (GraphQL errors
//!   are the backend's to report), and so does `x-served-by`, the name of
//!   the backend pod that answered, which the board shows. The frontend's own failures answer in
//!   GraphQL's error shape, `{"errors":[{"message": ...}]}`, which the page
//!   already shows; the backend's address stays in the log, not the reply.

use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use service_kit::client::{ReadError, read_capped};
use service_kit::http::SERVED_BY;
use url::Url;

/// The headers of a browser's request that are passed to the backend.
const FORWARDED: [header::HeaderName; 3] = [
    header::CONTENT_TYPE,
    header::ACCEPT,
    service_kit::http::REQUEST_ID,
];

/// The forwarder's state: one pooled client (keep-alive connections to the
/// backend's Service are reused across requests) and its limits.
#[derive(Debug, Clone)]
pub struct Forwarder {
    client: reqwest::Client,
    target: Url,
    timeout: Duration,
    max_reply_bytes: usize,
}

impl Forwarder {
    /// A forwarder to `target`. Fails only if the HTTP client cannot be
    /// built (a start-up error).
    pub fn new(
        target: Url,
        connect_timeout: Duration,
        timeout: Duration,
        max_reply_bytes: usize,
    ) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .tcp_nodelay(true)
            // Never follow a redirect from the backend: the reply goes back
            // to the browser as it is.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            client,
            target,
            timeout,
            max_reply_bytes,
        })
    }

    async fn forward(&self, headers: &HeaderMap, body: Bytes) -> Result<Response, ProxyError> {
        let mut request = self
            .client
            .post(self.target.clone())
            .timeout(self.timeout)
            .body(body);
        for name in FORWARDED {
            if let Some(value) = headers.get(&name) {
                request = request.header(name, value);
            }
        }
        let reply = request.send().await.map_err(classify)?;
        let status = reply.status();
        let content_type = reply
            .headers()
            .get(header::CONTENT_TYPE)
            .cloned()
            .unwrap_or_else(|| HeaderValue::from_static("application/json"));
        let served_by = reply.headers().get(SERVED_BY).cloned();
        let body = read_capped(reply, self.max_reply_bytes)
            .await
            .map_err(|e| match e {
                ReadError::TooLarge(limit) => ProxyError::ReplyTooLarge(limit),
                ReadError::Read(e) => classify(e),
            })?;
        let mut response = (
            status,
            [
                (header::CONTENT_TYPE, content_type),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
            body,
        )
            .into_response();
        // service-kit's layer only names this pod where no name is set yet.
        if let Some(pod) = served_by {
            response.headers_mut().insert(SERVED_BY, pod);
        }
        Ok(response)
    }
}

/// Why a forwarded request failed. Each becomes 502 or 504 with a message
/// meant for the page; the details (address, cause) go to the log.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error(
        "todo-backend is unreachable from todo-frontend (is it running, and is SERVER_URI right?)"
    )]
    Unreachable(#[source] reqwest::Error),
    #[error("todo-backend did not answer in time")]
    Timeout(#[source] reqwest::Error),
    #[error("todo-backend's reply is larger than {0} bytes")]
    ReplyTooLarge(usize),
}

impl IntoResponse for ProxyError {
    fn into_response(self) -> Response {
        let status = match self {
            ProxyError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            ProxyError::Unreachable(_) | ProxyError::ReplyTooLarge(_) => StatusCode::BAD_GATEWAY,
        };
        let detail = std::error::Error::source(&self).map(ToString::to_string);
        tracing::warn!(error = %self, detail, "forwarding to todo-backend failed");
        let body = serde_json::json!({ "errors": [{ "message": self.to_string() }] });
        (status, axum::Json(body)).into_response()
    }
}

/// A connect failure (refused, no route, DNS, connect timeout) means the
/// backend is unreachable: 502. Any other timeout means it is too slow: 504.
fn classify(err: reqwest::Error) -> ProxyError {
    if err.is_timeout() && !err.is_connect() {
        ProxyError::Timeout(err)
    } else {
        ProxyError::Unreachable(err)
    }
}

/// The `POST /graphql` handler.
pub(crate) async fn graphql(
    State(forwarder): State<Forwarder>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ProxyError> {
    forwarder.forward(&headers, body).await
}
