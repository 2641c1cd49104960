//! The relay: tier 2 of the message chain (the *Kubernetes Case Study* article's `relay.php`).
//!
//! For each `POST /relay.php` (or `POST /`) it appends
//! `Relaying from <remote-ip> at <date> : <message>` to
//! `$LOG_DIR/Relay_<pod-ip>.txt`, forwards the body byte for byte to
//! `SINK_URL`, and answers with the sink's reply as `text/plain`.
//!
//! Where the seed's PHP would hang or print an empty page, the relay answers
//! quickly with a one-line reason: 502 when the sink cannot be reached or
//! answers with an error, 504 when it is too slow. (The seed also read
//! `$SINK_URL` as a PHP variable instead of calling `getenv`, so it never
//! reached the sink at all; configuration here is parsed and checked at
//! start-up.)
//!
//! Connections to the sink come from one pooled hyper client: under load
//! keep-alive connections are reused, so the relay does not pay a TCP
//! handshake per message; idle ones are closed after `SINK_IDLE_TIMEOUT` so
//! that a quiet relay still spreads its messages over the sink pods. It is
//! hyper-util's plain HTTP/1 client rather than reqwest: the relay needs no
//! redirects, cookies, proxies or TLS (sink URLs are plain `http://`, checked
//! at start-up), and reqwest's redirect support parses the URL again twice
//! per request, about a tenth of the relay's instructions per message
//! (BENCHMARKS.md, "Message chain"). Nothing is buffered without bound:
//! request bodies are capped by `MAX_BODY_BYTES`, the sink's reply by the
//! same cap, and the log writer's queue is bounded.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use message_chain::Upstream;
use message_chain::applog::{self, AppendError, AppendLog, LogFileArgs};
use message_chain::timestamp;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use service_kit::{Kit, ServiceArgs};
use tokio::net::TcpListener;

/// The relay's settings. Every one is a flag and an environment variable.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "relay",
    version,
    about = "Tier 2 of the message chain: logs to Relay_<pod-ip>.txt and forwards to the sink"
)]
pub struct Config {
    #[command(flatten)]
    pub service: ServiceArgs,

    /// Where to forward messages. The seed's scheme-less form
    /// (`sink-svc/sink.php`) means http://. Outside a cluster, several URLs
    /// separated by commas are used in turn (a stand-in for a Service).
    #[arg(long, env = "SINK_URL", default_value = "sink-svc/sink.php", value_parser = Upstream::parse)]
    pub sink_url: Upstream,

    /// How long the sink may take to answer (connect, send, reply) before
    /// the relay gives up with 504.
    #[arg(long, env = "SINK_TIMEOUT", default_value = "5s", value_parser = humantime::parse_duration)]
    pub sink_timeout: Duration,

    /// Keep-alive connections to the sink idle for longer than this are
    /// closed. Under load connections stay busy and are reused; at the
    /// demo's pace (a message every few seconds) each message opens a new
    /// one, so kube-proxy, which balances connections rather than requests,
    /// spreads the messages over the sink pods as in the seed.
    #[arg(long, env = "SINK_IDLE_TIMEOUT", default_value = "2s", value_parser = humantime::parse_duration)]
    pub sink_idle_timeout: Duration,

    /// How long connecting to the sink may take before the relay gives up
    /// with 502.
    #[arg(long, env = "SINK_CONNECT_TIMEOUT", default_value = "1s", value_parser = humantime::parse_duration)]
    pub sink_connect_timeout: Duration,

    #[command(flatten)]
    pub log: LogFileArgs,
}

/// Why the relay could not start or stopped serving. `run` returns it; it
/// never becomes a response.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `LOG_DIR` is unusable: the relay would lose every message.
    #[error("{0}")]
    LogFile(std::io::Error),
    #[error("serving HTTP failed: {0}")]
    Serve(std::io::Error),
}

/// Why one message was not relayed. Each becomes a status and a one-line
/// plain-text reason. (A body over the cap is refused by axum with 413
/// before the handler runs.)
#[derive(Debug, thiserror::Error)]
enum RequestError {
    #[error(transparent)]
    Log(#[from] AppendError),
    #[error("sink unreachable")]
    SinkUnreachable(#[source] BoxError),
    #[error("sink did not answer in time")]
    SinkTimeout,
    #[error("sink answered {0}")]
    SinkStatus(StatusCode),
    #[error("sink reply larger than {0} bytes")]
    SinkReplyTooLarge(usize),
}

impl RequestError {
    fn status(&self) -> StatusCode {
        match self {
            RequestError::Log(_) => StatusCode::INTERNAL_SERVER_ERROR,
            RequestError::SinkTimeout => StatusCode::GATEWAY_TIMEOUT,
            RequestError::SinkUnreachable(_)
            | RequestError::SinkStatus(_)
            | RequestError::SinkReplyTooLarge(_) => StatusCode::BAD_GATEWAY,
        }
    }

    /// The metrics label for this failure.
    fn outcome(&self) -> &'static str {
        match self {
            RequestError::Log(_) => "log_failed",
            RequestError::SinkTimeout => "sink_timeout",
            RequestError::SinkUnreachable(_) => "sink_unreachable",
            RequestError::SinkStatus(_) => "sink_error",
            RequestError::SinkReplyTooLarge(_) => "sink_reply_too_large",
        }
    }
}

impl IntoResponse for RequestError {
    fn into_response(self) -> Response {
        let status = self.status();
        // The full error chain goes to the log, inside the request span.
        let detail = std::error::Error::source(&self).map(ToString::to_string);
        tracing::warn!(error = %self, detail, "relay failed");
        let reason = if status == StatusCode::INTERNAL_SERVER_ERROR {
            "relay could not record the message".to_owned()
        } else {
            self.to_string()
        };
        (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("{reason}\n"),
        )
            .into_response()
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The pooled client the relay talks to the sink with.
type SinkClient = Client<HttpConnector, Full<Bytes>>;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    outcome: &'static str,
}

/// Shared state of one relay instance.
#[derive(Debug, Clone)]
pub struct AppState {
    kit: Kit,
    log: AppendLog,
    client: SinkClient,
    sink_url: Upstream,
    sink_timeout: Duration,
    /// Caps both the request body and the sink's reply.
    max_body_bytes: usize,
    relayed: Family<Outcome, Counter>,
}

impl AppState {
    /// Open the log file (failing now if `LOG_DIR` is unusable) and build
    /// the pooled client.
    pub fn new(config: &Config) -> Result<Self, Error> {
        let pod_ip = config.service.pod_ip();
        let log = config.log.open("Relay", pod_ip).map_err(Error::LogFile)?;
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(config.sink_connect_timeout));
        connector.set_nodelay(true);
        if !config.service.bind.is_unspecified() {
            // Bound to a specific address (the local run gives each instance
            // its own loopback address): speak from it too, so the sink sees
            // which relay called, as it sees pod IPs in a cluster.
            connector.set_local_address(Some(config.service.bind));
        }
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(config.sink_idle_timeout)
            // The timer is what closes idle connections in the background;
            // without it they would only be dropped when next checked out.
            .pool_timer(TokioTimer::new())
            .build(connector);
        let relayed = Family::<Outcome, Counter>::default();
        let kit = Kit::new(true, |registry| {
            registry.register(
                "relay_messages",
                "Messages relayed, by outcome",
                relayed.clone(),
            );
        });
        tracing::info!(file = %log.path().display(), sink = %config.sink_url, %pod_ip, "relay ready");
        Ok(Self {
            kit,
            log,
            client,
            sink_url: config.sink_url.clone(),
            sink_timeout: config.sink_timeout,
            max_body_bytes: config.service.max_body_bytes,
            relayed,
        })
    }
}

/// The relay's routes, wrapped in the standard middleware.
pub fn app(state: AppState) -> Router {
    let routes = Router::new()
        .route("/relay.php", post(relay))
        .route("/", post(relay))
        .layer(DefaultBodyLimit::max(state.max_body_bytes))
        .with_state(state.clone());
    state.kit.wrap(routes)
}

/// Serve until `shutdown` completes, then drain (see [`service_kit::Kit::serve`]).
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let state = AppState::new(&config)?;
    let kit = state.kit.clone();
    kit.serve(
        listener,
        app(state),
        config.service.shutdown_grace,
        shutdown,
    )
    .await
    .map_err(Error::Serve)
}

async fn relay(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, RequestError> {
    let from = peer.ip().to_canonical();
    // Every attempt is counted by outcome, a failed log write included.
    let result = log_and_forward(&state, from, &headers, body).await;
    let outcome = match &result {
        Ok(_) => "relayed",
        Err(err) => err.outcome(),
    };
    state.relayed.get_or_create(&Outcome { outcome }).inc();
    let reply = result?;
    // The access line (status, latency, request id) comes from the trace
    // layer; this one is for debugging only.
    tracing::debug!(%from, "message relayed");
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], reply).into_response())
}

/// Log the message, then pass it on. A message the relay could not record
/// is not forwarded: the file is the relay's record of what passed through,
/// and a 500 tells the sender to try again.
async fn log_and_forward(
    state: &AppState,
    from: IpAddr,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Bytes, RequestError> {
    let line = format!(
        "Relaying from {from} at {} : {}",
        timestamp::php(chrono::Utc::now()),
        applog::escape(&body)
    );
    state.log.append(line).await?;
    forward(state, headers, body).await
}

/// POST `body` to the sink and return its reply body. `SINK_TIMEOUT`
/// bounds the whole exchange, connecting, sending and reading the reply.
async fn forward(
    state: &AppState,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Bytes, RequestError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .cloned()
        .unwrap_or_else(|| HeaderValue::from_static("text/plain"));
    let mut request = http::Request::post(state.sink_url.next_uri().clone())
        .header(header::CONTENT_TYPE, content_type);
    if let Some(id) = headers.get(service_kit::http::REQUEST_ID) {
        request = request.header(service_kit::http::REQUEST_ID, id);
    }
    let request = request
        .body(Full::new(body))
        // The parts are a parsed URI and header values copied from a
        // request axum accepted: building cannot fail.
        .map_err(|e| RequestError::SinkUnreachable(e.into()))?;
    let exchange = async {
        let response = state
            .client
            .request(request)
            .await
            .map_err(|e| RequestError::SinkUnreachable(e.into()))?;
        if !response.status().is_success() {
            return Err(RequestError::SinkStatus(response.status()));
        }
        // Read the reply with a cap: a misbehaving sink must not make us
        // buffer without bound. `Limited` refuses a declared length over the
        // cap at once and a longer body as soon as it passes it.
        let limit = state.max_body_bytes;
        match Limited::new(response.into_body(), limit).collect().await {
            Ok(reply) => Ok(reply.to_bytes()),
            Err(err) if err.is::<LengthLimitError>() => Err(RequestError::SinkReplyTooLarge(limit)),
            Err(err) => Err(RequestError::SinkUnreachable(err)),
        }
    };
    tokio::time::timeout(state.sink_timeout, exchange)
        .await
        .unwrap_or(Err(RequestError::SinkTimeout))
}
