//! The middleware stack every service's router gets.
//!
//! From the outside in: a request id is taken from `x-request-id` or made
//! up, a tracing span carrying it wraps the request (so every log line of the
//! request, errors included, names it), the id is echoed on the response, the
//! response names the pod that served it (`x-served-by`, unless a handler
//! already set it: a proxy passes on the name of the pod behind it), and
//! the request is counted and timed. The probe and metrics routes are added
//! outside that stack so that kubelet and Prometheus polling every few
//! seconds do not flood the logs.
//!
//! The access line (`"message":"response"`, with status and latency) is
//! logged at `info` for what someone reading the logs must see: server
//! errors (at `warn`), client errors, and requests slower than
//! [`SLOW_REQUEST`]. A fast success is logged at `debug` only
//! (`RUST_LOG=debug` shows every request): successes are counted in
//! `http_requests_total` and timed in `http_request_duration_seconds`, and
//! formatting a JSON line for each of them was the largest single cost of a
//! request in the message chain (about 23,000 instructions of the relay's
//! 156,000, and a quarter of the sink's; BENCHMARKS.md).

use std::time::Duration;

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Response};
use axum::routing::get;
use tower::ServiceBuilder;

use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use tracing::{Level, Span};

use crate::{Metrics, Readiness, health, metrics};

/// The header that carries a request id from tier to tier.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The response header that names the pod which served a request, so that a
/// page (and `curl -i`) shows the load spreading over replicas.
pub const SERVED_BY: HeaderName = HeaderName::from_static("x-served-by");

/// What a service keeps in its state to get probes, metrics and the
/// middleware stack. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Kit {
    pub readiness: Readiness,
    pub metrics: Metrics,
}

impl Kit {
    /// A kit whose readiness starts as given, with the service's own metrics
    /// registered by `register`.
    pub fn new(
        ready: bool,
        register: impl FnOnce(&mut prometheus_client::registry::Registry),
    ) -> Self {
        Self {
            readiness: Readiness::new(ready),
            metrics: Metrics::new(register),
        }
    }

    /// Serve `app` (already [`Kit::wrap`]ped) on `listener` until
    /// `shutdown`, lowering this kit's readiness when the drain starts; see
    /// [`crate::serve`].
    pub async fn serve(
        &self,
        listener: tokio::net::TcpListener,
        app: Router,
        grace: Duration,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        crate::serve(listener, app, self.readiness.clone(), grace, shutdown).await
    }

    /// Wrap a service's routes with the standard stack and add `/healthz`,
    /// `/readyz` and `/metrics`.
    pub fn wrap(&self, routes: Router) -> Router {
        let layers = ServiceBuilder::new()
            .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(make_span)
                    .on_request(())
                    .on_response(on_response)
                    .on_failure(()),
            )
            .layer(PropagateRequestIdLayer::new(REQUEST_ID))
            .layer(SetResponseHeaderLayer::if_not_present(
                SERVED_BY,
                HeaderValue::from_str(crate::net::instance_name())
                    .unwrap_or(HeaderValue::from_static("unknown")),
            ))
            .layer(axum::middleware::from_fn_with_state(
                self.metrics.clone(),
                metrics::track,
            ));
        routes
            .layer(layers)
            .merge(health::routes(self.readiness.clone()))
            .route(
                "/metrics",
                get(metrics::metrics_handler).with_state(self.metrics.clone()),
            )
    }
}

/// The request id of an incoming request, if it has one.
pub fn request_id(headers: &HeaderMap) -> Option<&str> {
    headers.get(REQUEST_ID).and_then(|v| v.to_str().ok())
}

fn make_span(req: &Request) -> Span {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or(req.uri().path(), MatchedPath::as_str);
    tracing::info_span!(
        "request",
        method = %req.method(),
        route,
        request_id = request_id(req.headers()).unwrap_or(""),
    )
}

/// A success slower than this is logged at `info`, as errors are.
pub const SLOW_REQUEST: Duration = Duration::from_millis(500);

fn on_response<B>(res: &Response<B>, latency: Duration, _span: &Span) {
    let status = res.status().as_u16();
    let latency_ms = latency.as_secs_f64() * 1000.0;
    if res.status().is_server_error() {
        tracing::event!(Level::WARN, status, latency_ms, "response");
    } else if res.status().is_client_error() || latency > SLOW_REQUEST {
        tracing::event!(Level::INFO, status, latency_ms, "response");
    } else {
        tracing::event!(Level::DEBUG, status, latency_ms, "response");
    }
}
