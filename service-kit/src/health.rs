//! Liveness and readiness.
//!
//! `/healthz` answers 200 as long as the process can serve HTTP at all: a
//! failing liveness probe makes Kubernetes restart the container, so it must
//! not depend on anything outside the process. `/readyz` answers 200 only
//! while the [`Readiness`] flag is up: a service lowers it while a dependency
//! is missing, and [`crate::serve`] lowers it at shutdown, so the pod leaves
//! its Services' endpoints before it stops accepting connections.
//!
//! Lowered at shutdown, the flag stays down ([`Readiness::lower_for_good`]):
//! a background task that was in the middle of a check when the shutdown
//! began may still finish it and call `set(true)`, and that must not put a
//! draining pod back into its Services. So a task needs no "am I stopping?"
//! test before it raises the flag.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;

/// A shared readiness flag. Cloning shares the flag.
#[derive(Debug, Clone)]
pub struct Readiness(Arc<AtomicU8>);

// The flag's three states. One atomic for all three, so that "raise unless
// shutting down" is a single compare-and-swap: with a separate "shutting
// down" flag, a `set(true)` could read it just before the shutdown and
// store just after.
const NOT_READY: u8 = 0;
const READY: u8 = 1;
const SHUT_DOWN: u8 = 2;

impl Readiness {
    /// A flag that starts in the given state.
    pub fn new(ready: bool) -> Self {
        Self(Arc::new(AtomicU8::new(if ready {
            READY
        } else {
            NOT_READY
        })))
    }

    /// Raise or lower the flag; ignored once the shutdown has lowered it
    /// for good.
    pub fn set(&self, ready: bool) {
        let new = if ready { READY } else { NOT_READY };
        // `Err` means the flag is SHUT_DOWN: it stays so.
        let _ = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |now| {
                (now != SHUT_DOWN).then_some(new)
            });
    }

    /// Lower the flag and keep it down: the service is shutting down.
    /// [`crate::serve`] calls it when the drain starts.
    pub fn lower_for_good(&self) {
        self.0.store(SHUT_DOWN, Ordering::Relaxed);
    }

    pub fn is_ready(&self) -> bool {
        self.0.load(Ordering::Relaxed) == READY
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn once_lowered_for_good_the_flag_stays_down() {
        let readiness = Readiness::new(false);
        readiness.set(true);
        assert!(readiness.is_ready());
        readiness.lower_for_good();
        assert!(!readiness.is_ready());
        readiness.set(true);
        assert!(!readiness.is_ready());
        assert!(!readiness.clone().is_ready());
    }
}
