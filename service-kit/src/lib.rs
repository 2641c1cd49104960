//! What every workload in this repository repeats, written once.
//!
//! Each binary in the workspace is a small HTTP service meant to run in a
//! Kubernetes pod. They all need the same plumbing, and a learner should read
//! it in one place rather than seven:
//!
//! * [`config`]: the settings every service shares (`PORT`, `BIND_ADDR`,
//!   `SHUTDOWN_GRACE`, `MAX_BODY_BYTES`, `LOG_FORMAT`), as a clap struct to
//!   `#[command(flatten)]`, and the `healthcheck` subcommand that container
//!   health checks call.
//! * [`describe`]: the `describe` subcommand, which prints the port and
//!   paths a binary serves for the manifest checker.
//! * [`telemetry`]: one `tracing` subscriber, JSON or human-readable.
//! * [`health`]: `/healthz` and `/readyz` backed by a readiness flag.
//! * [`metrics`]: a Prometheus registry, HTTP request metrics, `/metrics`.
//! * [`http`]: the middleware stack (request ids, tracing, metrics) and
//!   [`http::Kit`], the handle a service keeps in its state.
//! * [`shutdown`]: SIGTERM/Ctrl-C handling and the bounded drain behind
//!   [`Kit::serve`] and [`Kit::serve_with_task`].
//! * [`net`] and [`svc_url`]: the pod's own IP and name, and the seeds'
//!   scheme-less service URLs (`relay-svc/relay.php`).
//! * [`assets`] (feature `assets`): files embedded in a binary, served
//!   with ETags and 304s.
//! * [`client`] (feature `client`): read an upstream's reply with a size cap.
//! * `test_server` and `testing` (feature `testing`, for
//!   dev-dependencies only): start a service in-process on 127.0.0.1:0, or
//!   its binary as a child process; drive headless Chromium over WebDriver.
//!
//! What only some services share lives next to them, not here (the message
//! chain's log files are in the `message-chain` crate).
//!
//! # The shape of a service
//!
//! Every service crate is a library with a thin `main`, laid out the same
//! way, so that reading one teaches all of them and tests drive the very
//! code that runs in the cluster. From the outside in:
//!
//! 1. **Config.** `pub struct Config`, `#[derive(clap::Parser)]`, with
//!    `#[command(flatten)] pub service: ServiceArgs` and one documented
//!    field per setting, each a flag and an environment variable
//!    (`#[arg(long, env = "SINK_URL")]`). `--help` is the reference. Values
//!    are parsed and checked here (`value_parser`), so a bad setting stops
//!    the process at start-up, not at the first request. The shared
//!    settings keep their names everywhere: the body cap is
//!    `config.service.max_body_bytes` and, in a state, `max_body_bytes`.
//! 2. **State.** `pub struct AppState`, `Clone`, cheap to clone (handles
//!    and `Arc`s), with **private fields**: handlers are its only readers.
//!    It is built from the config by `AppState::new(&config)` (or
//!    `AppState::connect(&config).await` when that needs I/O), which opens
//!    what the service needs (files, pools, clients), makes the [`Kit`]
//!    with the service's own metrics ([`Kit::new`]), and fails with the
//!    start-up error. The kit is one of its fields.
//! 3. **Routes.** `pub fn app(state: AppState) -> Router`: the service's
//!    routes with their state and `DefaultBodyLimit::max(max_body_bytes)`,
//!    wrapped by [`Kit::wrap`] (request ids, tracing, metrics, probes).
//!    Tests may call it directly.
//! 4. **Run.** `pub async fn run(listener, config, shutdown) -> Result<(),
//!    Error>`: builds the state, then serves it with the kit's
//!    [`Kit::serve`] (readiness drops and in-flight requests drain when
//!    `shutdown` completes):
//!
//!    ```text
//!    let state = AppState::new(&config)?;
//!    let kit = state.kit.clone();
//!    kit.serve(listener, app(state), config.service.shutdown_grace, shutdown)
//!        .await
//!        .map_err(Error::Serve)
//!    ```
//!
//!    Tests hand it `127.0.0.1:0` and a shutdown future they control
//!    (`test_server::TestServer`, feature `testing`).
//!
//!    A service that also works in the background (the worker's queue,
//!    the generator's appends, a loop that keeps readiness in step with a
//!    database) serves with [`Kit::serve_with_task`] instead. The task
//!    watches a `CancellationToken` (tokio-util); at shutdown the kit
//!    cancels it, lowers readiness for good (the task cannot raise it
//!    again), drains, and waits for the task to return:
//!
//!    ```text
//!    let state = AppState::new(&config)?;
//!    let stop = CancellationToken::new();
//!    let task = keep_redis(state.clone(), stop.clone());
//!    let kit = state.kit.clone();
//!    kit.serve_with_task(listener, app(state), config.service.shutdown_grace, shutdown, stop, task)
//!        .await
//!        .map_err(Error::Serve)
//!    ```
//!
//!    The sender is the one exception: its loop ends the service by itself
//!    after MESSAGE_COUNT messages, so it stops its server rather than the
//!    other way round.
//! 5. **Main.** `main.rs` parses the config and calls [`run_main`], which
//!    answers the `healthcheck` subcommand, sets up telemetry, binds the
//!    listener and turns an error into exit code 1:
//!
//!    ```text
//!    #[tokio::main]
//!    async fn main() -> ExitCode {
//!        let config = relay::Config::parse();
//!        let service = config.service.clone();
//!        service_kit::run_main("relay", &service, |listener| {
//!            relay::run(listener, config, service_kit::shutdown_signal())
//!        })
//!        .await
//!    }
//!    ```
//!
//! Two kinds of errors, two types (`thiserror` enums):
//!
//! * `Error`: why the service could not start or stopped serving (a bad
//!   directory, a client that cannot be built, the listener failing). `run`
//!   returns it; [`run_main`] logs it and exits 1. It never becomes an HTTP
//!   response.
//! * a request error (`RequestError`, or named for the API: `ApiError`):
//!   what a handler can return. It implements `IntoResponse` with one
//!   `status()` match, logs the detail inside the request span and sends
//!   the client a short reason, never internal details. It has only
//!   variants some handler can return.
//!
//! The probes (`/healthz`, `/readyz`) and `/metrics` come from
//! [`Kit::wrap`] and are tested here, once; a service's tests cover its own
//! routes and its own metrics.

#[cfg(feature = "assets")]
pub mod assets;
#[cfg(feature = "client")]
pub mod client;
pub mod config;
pub mod describe;
pub mod health;
pub mod healthcheck;
pub mod http;
mod log_buffer;
pub mod metrics;
pub mod net;
pub mod shutdown;
pub mod svc_url;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod test_server;
#[cfg(feature = "testing")]
pub mod testing;

mod entry;

pub use config::{Command, LogFormat, ServiceArgs};
pub use entry::run_main;
pub use health::Readiness;
pub use http::Kit;
pub use metrics::Metrics;
pub use shutdown::{serve, shutdown_signal};
