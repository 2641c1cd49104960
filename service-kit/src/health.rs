//! Liveness and readiness.
//!
//! `/healthz` answers 200 as long as the process can serve HTTP at all: a
//! failing liveness probe makes Kubernetes restart the container, so it must
//! not depend on anything outside the process. `/readyz` answers 200 only
//! while the [`Readiness`] flag is up: a service lowers it while a dependency
//! is missing, and [`crate::serve`] lowers it at shutdown, so the pod leaves
//! its Services' endpoints before it stops accepting connections.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;

/// A shared readiness flag. Cloning shares the flag.
#[derive(Debug, Clone)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    /// A flag that starts in the given state.
    pub fn new(ready: bool) -> Self {
        Self(Arc::new(AtomicBool::new(ready)))
    }

    pub fn set(&self, ready: bool) {
        self.0.store(ready, Ordering::Relaxed);
    }

    pub fn is_ready(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// `GET /healthz` and `GET /readyz`.
pub fn routes(readiness: Readiness) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .with_state(readiness)
}

async fn readyz(State(readiness): State<Readiness>) -> (StatusCode, &'static str) {
    if readiness.is_ready() {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
    }
}
