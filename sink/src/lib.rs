//! The sink: tier 3 of the message chain (the *Kubernetes Case Study* article's `sink.php`).
//!
//! It accepts a plain-text message on `POST /sink.php` (or `POST /`), appends
//! `From <remote-ip> at <date> : <message>` to `$LOG_DIR/Sink_<pod-ip>.txt`
//! and answers `Logged message from <remote-ip>`. The answer is sent only
//! after the line is in the file (see [`message_chain::applog`]), so a 200
//! means the message is recorded.
//!
//! For learners it also keeps the latest messages in memory and shows them,
//! with a count per relay (`by_relay`: the address each message came from),
//! on `GET /` (HTML) and `GET /messages` (JSON): with three sink replicas
//! behind `sink-svc`, each page shows its share of the traffic and which
//! relay pods sent it.

mod board;
mod page;

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use message_chain::applog::{self, AppendError, AppendLog, LogFileArgs};
use message_chain::timestamp;
use prometheus_client::metrics::counter::Counter;
use service_kit::{Kit, ServiceArgs};
use tokio::net::TcpListener;

pub use board::{Board, Received, Snapshot};

/// The sink's settings. Every one is a flag and an environment variable.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "sink",
    version,
    about = "Tier 3 of the message chain: logs messages to Sink_<pod-ip>.txt"
)]
pub struct Config {
    #[command(flatten)]
    pub service: ServiceArgs,

    #[command(flatten)]
    pub log: LogFileArgs,

    /// How many of the latest messages the page and /messages keep.
    #[arg(long, env = "RECENT_MESSAGES", default_value_t = 50)]
    pub recent_messages: usize,
}

/// Why the sink could not start or stopped serving. `run` returns it; it
/// never becomes a response.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `LOG_DIR` is unusable: the sink would lose every message.
    #[error("{0}")]
    LogFile(std::io::Error),
    #[error("serving HTTP failed: {0}")]
    Serve(std::io::Error),
}

/// Why one message was not recorded: the only way a request fails (a body
/// over the cap is refused by axum before any handler runs).
#[derive(Debug, thiserror::Error)]
enum RequestError {
    #[error(transparent)]
    Log(#[from] AppendError),
}

impl IntoResponse for RequestError {
    fn into_response(self) -> Response {
        // Log the detail inside the request span; tell the client one line.
        tracing::error!(error = %self, "request failed");
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "could not record the message\n",
        )
            .into_response()
    }
}

/// Shared state of one sink instance.
#[derive(Debug, Clone)]
pub struct AppState {
    kit: Kit,
    log: AppendLog,
    board: Arc<Mutex<Board>>,
    pod_ip: IpAddr,
    logged: Counter,
    max_body_bytes: usize,
}

impl AppState {
    /// Open the log file (failing now if `LOG_DIR` is unusable) and set up
    /// metrics.
    pub fn new(config: &Config) -> Result<Self, Error> {
        let pod_ip = config.service.pod_ip();
        let log = config.log.open("Sink", pod_ip).map_err(Error::LogFile)?;
        let logged = Counter::default();
        let kit = Kit::new(true, |registry| {
            registry.register(
                "sink_messages_logged",
                "Messages written to the log file",
                logged.clone(),
            );
        });
        tracing::info!(file = %log.path().display(), %pod_ip, "sink log file open");
        Ok(Self {
            kit,
            log,
            board: Arc::new(Mutex::new(Board::new(config.recent_messages))),
            pod_ip,
            logged,
            max_body_bytes: config.service.max_body_bytes,
        })
    }

    fn snapshot(&self) -> Snapshot {
        // A std Mutex is right here: the critical sections are a few
        // pointer moves and never span an `.await` (see mini-redis' db.rs).
        #[allow(clippy::unwrap_used)] // poisoned only if a holder panicked; nothing sane to do then
        self.board.lock().unwrap().snapshot(self.pod_ip)
    }
}

/// The sink's routes, wrapped in the standard middleware.
pub fn app(state: AppState) -> Router {
    let routes = Router::new()
        .route("/sink.php", post(receive))
        .route("/", post(receive).get(page))
        .route("/messages", get(messages))
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

async fn receive(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, RequestError> {
    let from = peer.ip().to_canonical();
    let now = chrono::Utc::now();
    let message = applog::escape(&body);
    state
        .log
        .append(format!(
            "From {from} at {} : {message}",
            timestamp::php(now)
        ))
        .await?;
    state.logged.inc();

    let request_id = service_kit::http::request_id(&headers).map(str::to_owned);
    tracing::debug!(%from, bytes = body.len(), "message logged");
    #[allow(clippy::unwrap_used)] // see AppState::snapshot
    state.board.lock().unwrap().record(Received {
        at: now,
        from,
        message,
        request_id,
    });

    Ok((
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("Logged message from {from}"),
    )
        .into_response())
}

async fn page(State(state): State<AppState>) -> Response {
    page::render(&state.snapshot())
}

async fn messages(State(state): State<AppState>) -> Json<Snapshot> {
    Json(state.snapshot())
}
