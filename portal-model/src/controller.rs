//! `GET /controller/{file}`: the Controller's assets, fetched over the
//! pod's localhost and served from the page's own origin.
//!
//! The portal article's lesson is that containers in one pod talk over
//! `localhost`. The Model already reaches MongoDB that way; here it reaches
//! the Controller the same way, so the browser needs only the Model's
//! address. Loading the script from a second NodePort (30100) broke behind
//! `kubectl port-forward`, `minikube service`, an Ingress, or any setup
//! where the browser's host name and ports are not the node's.
//!
//! This is a narrow forwarder, not a general proxy:
//!
//! * only `GET`/`HEAD` of one path segment (`portal.js`, `portal.css`; the
//!   Controller answers 404 for the rest), with `if-none-match` (so the
//!   browser's revalidation still gets a bodiless 304) and `x-request-id`;
//! * the Controller's status and its `content-type`, `etag` and
//!   `cache-control` pass through; the reply is capped
//!   (`CONTROLLER_MAX_REPLY_BYTES`), connecting may take
//!   `CONTROLLER_CONNECT_TIMEOUT` and the whole fetch `CONTROLLER_TIMEOUT`:
//!   a Controller that is down is a 502 and a slow one a 504, which the
//!   page's bootstrap reports as a failed script load.

use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use service_kit::client::{ReadError, read_capped};
use url::Url;

/// The path prefix the page loads the Controller's files from.
pub const PREFIX: &str = "/controller";

/// Headers of the Controller's reply that reach the browser.
const PASSED_BACK: [header::HeaderName; 3] =
    [header::CONTENT_TYPE, header::ETAG, header::CACHE_CONTROL];

/// One pooled client to the Controller and the limits of a fetch.
#[derive(Debug, Clone)]
pub struct ControllerProxy {
    client: reqwest::Client,
    upstream: Url,
    timeout: Duration,
    max_reply_bytes: usize,
}

impl ControllerProxy {
    /// A forwarder to the Controller at `upstream` (its base URL). Fails
    /// only if the HTTP client cannot be built (a start-up error).
    pub fn new(
        upstream: Url,
        connect_timeout: Duration,
        timeout: Duration,
        max_reply_bytes: usize,
    ) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            client,
            upstream,
            timeout,
            max_reply_bytes,
        })
    }

    /// `/controller/{file}`, served by this forwarder.
    pub fn routes(self) -> Router {
        Router::new()
            .route(&format!("{PREFIX}/{{file}}"), get(fetch))
            .with_state(self)
    }

    fn url_of(&self, file: &str) -> Url {
        let mut url = self.upstream.clone();
        let base = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("{base}/{file}"));
        url
    }
}

/// Why a fetch from the Controller failed; the details go to the log.
#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    #[error("portal-controller is unreachable from portal-model")]
    Unreachable(#[source] reqwest::Error),
    #[error("portal-controller did not answer in time")]
    Timeout(#[source] reqwest::Error),
    #[error("portal-controller's reply is larger than {0} bytes")]
    ReplyTooLarge(usize),
}

impl IntoResponse for ControllerError {
    fn into_response(self) -> Response {
        let status = match self {
            ControllerError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            ControllerError::Unreachable(_) | ControllerError::ReplyTooLarge(_) => {
                StatusCode::BAD_GATEWAY
            }
        };
        let detail = std::error::Error::source(&self).map(ToString::to_string);
        tracing::warn!(error = %self, detail, "fetching from portal-controller failed");
        (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("{self}\n"),
        )
            .into_response()
    }
}

fn classify(err: reqwest::Error) -> ControllerError {
    if err.is_timeout() && !err.is_connect() {
        ControllerError::Timeout(err)
    } else {
        ControllerError::Unreachable(err)
    }
}

async fn fetch(
    State(proxy): State<ControllerProxy>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ControllerError> {
    let mut request = proxy.client.get(proxy.url_of(&file)).timeout(proxy.timeout);
    for name in [header::IF_NONE_MATCH, service_kit::http::REQUEST_ID] {
        if let Some(value) = headers.get(&name) {
            request = request.header(name, value);
        }
    }
    let reply = request.send().await.map_err(classify)?;
    let status = reply.status();
    let passed_back: Vec<_> = PASSED_BACK
        .into_iter()
        .filter_map(|name| Some((name.clone(), reply.headers().get(&name)?.clone())))
        .collect();
    let body = read_capped(reply, proxy.max_reply_bytes)
        .await
        .map_err(|e| match e {
            ReadError::TooLarge(limit) => ControllerError::ReplyTooLarge(limit),
            ReadError::Read(e) => classify(e),
        })?;
    let mut response = (status, body).into_response();
    for (name, value) in passed_back {
        response.headers_mut().insert(name, value);
    }
    response.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(response)
}
