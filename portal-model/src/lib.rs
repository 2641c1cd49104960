//! The tool portal's Model and View: a team's catalogue of tools.
//!
//! The portal article puts three containers in one pod: this one (the
//! Model, which owns the data, and the View, the page a browser loads
//! first), the Controller (portal-controller, which serves the page's
//! JavaScript) and MongoDB. They reach each other over `localhost`; a
//! NodePort Service exposes this service on 30000 (and, for the direct
//! mode, the Controller on 30100).
//!
//! * [`view`]: `GET /`, the HTML page, and where the page loads the
//!   Controller from (`CONTROLLER_MODE`, `CONTROLLER_URL`, `CONTROLLER_PORT`).
//! * [`controller`]: `GET /controller/{file}`, the Controller's files
//!   fetched over the pod's localhost (`CONTROLLER_MODE=proxy`, the default),
//!   so the browser needs only this service's address.
//! * [`api`]: the JSON API for tools under `/api/tools`.
//! * [`tool`]: what a tool is and how a request body is validated.
//! * [`store`]: MongoDB (`STORE=mongo`, the default, as in the pod) or this
//!   process's memory (`STORE=memory`, for running with nothing else
//!   installed), with identical behavior.
//! * [`error`]: the API's error type and its JSON error body.
//!
//! Start-up never waits for MongoDB: the server listens at once with
//! `/readyz` answering 503, and becomes ready when MongoDB first answers
//! (see [`store::mongo`]).

pub mod api;
pub mod controller;
pub mod error;
pub mod store;
pub mod tool;
pub mod view;

use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use secrecy::SecretString;
use service_kit::{Kit, ServiceArgs};
use tokio::net::TcpListener;
use url::Url;

pub use error::ApiError;
pub use store::{MemoryStore, MongoStore, Store};
pub use view::View;

/// Which store keeps the tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StoreKind {
    /// MongoDB at MONGO_URL: the pod's MongoDB container.
    Mongo,
    /// This process's memory: no MongoDB needed, tools are lost on exit.
    Memory,
}

/// portal-model's configuration. Every setting is a flag and an environment
/// variable; `--help` lists them all.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "portal-model",
    version,
    about = "The tool portal's Model and View: the page at / and the tools JSON API at /api/tools, backed by MongoDB or memory."
)]
pub struct Config {
    #[command(flatten)]
    pub service: ServiceArgs,

    /// Where tools are kept: `mongo` (MONGO_URL) or `memory` (this process
    /// only, lost when it stops; for running without MongoDB).
    #[arg(long, env = "STORE", value_enum, default_value_t = StoreKind::Mongo)]
    pub store: StoreKind,

    /// MongoDB connection string (used with STORE=mongo). May hold
    /// credentials: it is never logged or shown. `mongodb+srv://` is not
    /// supported (built without a DNS resolver).
    #[arg(
        long,
        env = "MONGO_URL",
        default_value = "mongodb://localhost:27017",
        value_parser = parse_secret,
        hide_env_values = true
    )]
    pub mongo_url: SecretString,

    /// MongoDB database name; tools go into its `tools` collection.
    #[arg(long, env = "MONGO_DB", default_value = "portal")]
    pub mongo_db: String,

    /// How long one API call waits for a reachable MongoDB before answering
    /// 503. Accepts `500ms`, `3s`.
    #[arg(long, env = "MONGO_TIMEOUT", default_value = "3s", value_parser = humantime_duration)]
    pub mongo_timeout: Duration,

    /// `proxy`: the page loads the Controller's files from `/controller/`
    /// on its own origin, and this service fetches them from
    /// CONTROLLER_UPSTREAM (one browser address per app). `direct`: the
    /// browser fetches them from the Controller itself (CONTROLLER_URL, or
    /// the page's host on CONTROLLER_PORT), as in the portal article.
    #[arg(long, env = "CONTROLLER_MODE", value_enum, default_value_t = ControllerMode::Proxy)]
    pub controller_mode: ControllerMode,

    /// With CONTROLLER_MODE=proxy: where this service reaches the
    /// Controller. In the pod it is another container, so localhost.
    #[arg(long, env = "CONTROLLER_UPSTREAM", default_value = "http://localhost:8081", value_parser = parse_upstream)]
    pub controller_upstream: Url,

    /// With CONTROLLER_MODE=proxy: how long connecting to the Controller may
    /// take (502 after).
    #[arg(long, env = "CONTROLLER_CONNECT_TIMEOUT", default_value = "1s", value_parser = humantime_duration)]
    pub controller_connect_timeout: Duration,

    /// With CONTROLLER_MODE=proxy: how long one fetch from the Controller
    /// may take in all (504 after).
    #[arg(long, env = "CONTROLLER_TIMEOUT", default_value = "5s", value_parser = humantime_duration)]
    pub controller_timeout: Duration,

    /// With CONTROLLER_MODE=proxy: the largest file passed on from the
    /// Controller, in bytes (502 above). Its two files are a few KiB.
    #[arg(long, env = "CONTROLLER_MAX_REPLY_BYTES", default_value_t = 1024 * 1024)]
    pub controller_max_reply_bytes: usize,

    /// With CONTROLLER_MODE=direct: base URL the browser loads portal.js and
    /// portal.css from. Unset: the page's own scheme and host name with
    /// port CONTROLLER_PORT, computed in the browser.
    #[arg(long, env = "CONTROLLER_URL", value_parser = parse_controller_url)]
    pub controller_url: Option<Url>,

    /// With CONTROLLER_MODE=direct and CONTROLLER_URL unset: port of the
    /// Controller on the page's host. 8081 matches portal-controller's
    /// default for local runs; in the cluster, the Controller's nodePort
    /// (30100).
    #[arg(long, env = "CONTROLLER_PORT", default_value_t = 8081)]
    pub controller_port: u16,
}

/// Who fetches the Controller's files: this service, or the browser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ControllerMode {
    /// From `/controller/` on the page's origin, forwarded over localhost.
    Proxy,
    /// From the Controller's own address (the article's design).
    Direct,
}

fn parse_upstream(raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw.trim()).map_err(|e| format!("not an absolute URL: {e}"))?;
    if url.scheme() != "http" || url.host_str().is_none() {
        return Err(
            "must be an http:// URL with a host (the pod's network is plain HTTP)".to_owned(),
        );
    }
    Ok(url)
}

fn parse_secret(raw: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(raw.to_owned()))
}

fn humantime_duration(raw: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(raw).map_err(|e| e.to_string())?;
    if duration.is_zero() {
        return Err("must be more than zero".to_owned());
    }
    Ok(duration)
}

fn parse_controller_url(raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw.trim()).map_err(|e| format!("not an absolute URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err("must be an http:// or https:// URL with a host".to_owned());
    }
    Ok(url)
}

impl Config {
    /// Defaults for tests: loopback, an ephemeral port, the memory store.
    pub fn for_tests() -> Self {
        Self {
            service: ServiceArgs::for_tests(),
            store: StoreKind::Memory,
            mongo_url: SecretString::from("mongodb://127.0.0.1:27017"),
            mongo_db: "portal".to_owned(),
            mongo_timeout: Duration::from_secs(2),
            controller_mode: ControllerMode::Proxy,
            controller_upstream: Url::parse("http://127.0.0.1:8081")
                .unwrap_or_else(|_| unreachable!("a literal, valid URL")),
            controller_connect_timeout: Duration::from_secs(1),
            controller_timeout: Duration::from_secs(5),
            controller_max_reply_bytes: 1024 * 1024,
            controller_url: None,
            controller_port: 8081,
        }
    }
}

/// Why portal-model could not start or stopped serving. Request errors
/// are [`ApiError`] (and the Controller forwarder's own), never this.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    MongoConfig(#[from] store::mongo::ConfigError),
    #[error("cannot build the HTTP client for the Controller: {0}")]
    Client(#[from] reqwest::Error),
    #[error(transparent)]
    View(#[from] view::RenderError),
    #[error("serving HTTP failed: {0}")]
    Serve(#[from] std::io::Error),
}

/// What every handler can reach. Cheap to clone; built by
/// [`AppState::new`] from the configuration.
#[derive(Debug, Clone)]
pub struct AppState {
    store: Store,
    view: View,
    kit: Kit,
    /// Largest request body accepted, in bytes (413 above).
    max_body_bytes: usize,
    /// Set with CONTROLLER_MODE=proxy: serves `/controller/{file}`.
    controller: Option<controller::ControllerProxy>,
}

impl AppState {
    /// The store, the page and the Controller forwarder `config` asks for.
    /// Not ready until the store is: memory at once, MongoDB when it
    /// answers (a background task raises readiness then).
    pub async fn new(config: &Config) -> Result<Self, Error> {
        let kit = Kit::new(false, |_| {});
        let store = open_store(config, &kit).await?;
        let (view, controller) = match (config.controller_mode, &config.controller_url) {
            (ControllerMode::Proxy, _) => {
                tracing::info!(
                    upstream = %config.controller_upstream,
                    "CONTROLLER_MODE=proxy: the page loads the Controller from {}/ here",
                    controller::PREFIX
                );
                let proxy = controller::ControllerProxy::new(
                    config.controller_upstream.clone(),
                    config.controller_connect_timeout,
                    config.controller_timeout,
                    config.controller_max_reply_bytes,
                )?;
                (
                    View::new(Some(controller::PREFIX), config.controller_port)?,
                    Some(proxy),
                )
            }
            (ControllerMode::Direct, Some(url)) => {
                tracing::info!(%url, "CONTROLLER_MODE=direct: the page loads the Controller from CONTROLLER_URL");
                (View::new(Some(url.as_str()), config.controller_port)?, None)
            }
            (ControllerMode::Direct, None) => {
                tracing::info!(
                    port = config.controller_port,
                    "CONTROLLER_MODE=direct: the page loads the Controller from its own host name, port CONTROLLER_PORT"
                );
                (View::new(None, config.controller_port)?, None)
            }
        };
        Ok(Self {
            store,
            view,
            kit,
            max_body_bytes: config.service.max_body_bytes,
            controller,
        })
    }
}

/// The API and the page, wrapped in the standard stack (request ids,
/// tracing, metrics, probes).
pub fn app(state: AppState) -> Router {
    let mut routes = Router::new()
        .merge(view::routes())
        .merge(api::routes())
        .layer(DefaultBodyLimit::max(state.max_body_bytes))
        .with_state(state.clone());
    if let Some(controller) = state.controller.clone() {
        routes = routes.merge(controller.routes());
    }
    state.kit.wrap(routes)
}

/// Set up the store `config` asks for. For MongoDB, also start the
/// background task that raises `kit`'s readiness once MongoDB answers.
async fn open_store(config: &Config, kit: &Kit) -> Result<Store, Error> {
    match config.store {
        StoreKind::Memory => {
            tracing::warn!(
                "STORE=memory: tools are kept in this process's memory only and are LOST when it stops; set STORE=mongo for MongoDB"
            );
            kit.readiness.set(true);
            Ok(Store::Memory(MemoryStore::new()))
        }
        StoreKind::Mongo => {
            let mongo =
                MongoStore::connect(&config.mongo_url, &config.mongo_db, config.mongo_timeout)
                    .await?;
            tracing::info!(database = %config.mongo_db, "STORE=mongo: tools are kept in MongoDB");
            tokio::spawn(mongo.clone().wait_until_reachable(kit.readiness.clone()));
            Ok(Store::Mongo(mongo))
        }
    }
}

/// Serve portal-model on `listener` until `shutdown` completes.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let state = AppState::new(&config).await?;
    let kit = state.kit.clone();
    kit.serve(
        listener,
        app(state),
        config.service.shutdown_grace,
        shutdown,
    )
    .await?;
    Ok(())
}
