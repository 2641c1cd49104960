//! What every workload in this repository repeats, written once.
//!
//! Each binary in the workspace is a small HTTP service meant to run in a
//! Kubernetes pod. They all need the same plumbing, and a learner should read
//! it in one place rather than seven:
//!
//! * [`config`]: the settings every service shares (`PORT`, `BIND_ADDR`,
//!   `SHUTDOWN_GRACE`, `LOG_FORMAT`), as a clap struct to `#[command(flatten)]`,
//!   and the `healthcheck` subcommand that container health checks call.
//! * [`telemetry`]: one `tracing` subscriber, JSON or human-readable.
//! * [`health`]: `/healthz` and `/readyz` backed by a readiness flag.
//! * [`metrics`]: a Prometheus registry, HTTP request metrics, `/metrics`.
//! * [`http`]: the middleware stack (request ids, tracing, metrics) and
//!   [`http::Kit`], the handle a service keeps in its state.
//! * [`shutdown`]: SIGTERM/Ctrl-C handling and serving a router with a
//!   bounded drain.
//! * [`applog`]: an append-only, line-oriented log file whose writes are
//!   acknowledged only once they reached the file (the chain's `Relay_*.txt`
//!   and `Sink_*.txt`).
//! * [`net`] and [`svc_url`]: the pod's own IP and the seeds' scheme-less
//!   service URLs (`relay-svc/relay.php`).
//! * [`assets`] (feature `assets`): files embedded in a binary, served
//!   with ETags and 304s.
//! * [`client`] (feature `client`): read an upstream's reply with a size cap.
//! * [`test_server`]: start a service in-process on 127.0.0.1:0 for tests.
//! * [`testing`] (feature `testing`, for dev-dependencies): headless Chromium
//!   driven over WebDriver, for browser tests.

pub mod applog;
#[cfg(feature = "assets")]
pub mod assets;
#[cfg(feature = "client")]
pub mod client;
pub mod config;
pub mod health;
pub mod healthcheck;
pub mod http;
pub mod metrics;
pub mod net;
pub mod shutdown;
pub mod svc_url;
pub mod telemetry;
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
