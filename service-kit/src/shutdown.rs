//! Graceful shutdown that Kubernetes can rely on.
//!
//! When a pod is deleted, the kubelet sends SIGTERM and, in parallel, the pod
//! is removed from its Services' endpoints. [`serve`] reacts to the shutdown
//! signal in three steps:
//!
//! 1. readiness goes down, so `/readyz` answers 503 to anyone still asking;
//! 2. the listener stops accepting new connections, idle keep-alive
//!    connections are closed;
//! 3. in-flight requests get up to the grace period to finish, then the
//!    server returns and `main` exits 0.
//!
//! The grace period must be shorter than the pod's
//! `terminationGracePeriodSeconds`, or the kubelet's SIGKILL comes first.
//!
//! ## A service that also works in the background
//!
//! Some services do more than answer requests: the worker moves votes, the
//! generator appends numbers, others keep readiness in step with a
//! database. [`Kit::serve_with_task`] runs such a task next to the server,
//! and the shutdown becomes:
//!
//! 1. the task's [`CancellationToken`] is cancelled, so it stops at its next
//!    wait (handlers holding the same token, such as the result page's event
//!    streams, end too); readiness goes down for good, so the task cannot
//!    raise it again by finishing a last check;
//! 2. the server drains as above, while the task finishes what it holds
//!    (a write, a round);
//! 3. once both are done, `run` returns. The task is awaited without a
//!    time limit: it must return promptly once cancelled, each wait inside
//!    it bounded by its own timeout.
//!
//! If serving fails instead, the task is stopped and awaited the same way
//! before the error is returned.

use std::future::{Future, IntoFuture};
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use crate::{Kit, Readiness};

/// Completes on SIGTERM (what Kubernetes and container runtimes send) or
/// Ctrl-C (a terminal).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(%err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(err) => {
                tracing::error!(%err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();

    tokio::select! {
        () = ctrl_c => tracing::info!("Ctrl-C received, shutting down"),
        () = terminate => tracing::info!("SIGTERM received, shutting down"),
    }
}

/// Serve `app` on `listener` until `shutdown` completes, then drain as
/// described in the module docs. Handlers can read the peer address with
/// `ConnectInfo<SocketAddr>`.
///
/// Services call it through [`crate::Kit::serve`], which passes the kit's
/// own readiness flag (the one `/readyz` reports), so the two cannot
/// disagree.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    readiness: Readiness,
    grace: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "listening");

    // TCP_NODELAY on every accepted connection. A response whose head and
    // body leave in separate writes (a streamed file, as echo's `/data`)
    // otherwise waits for the client's delayed ACK under Nagle's algorithm:
    // about 40 ms per request on a kept-alive connection.
    let listener = listener.tap_io(|tcp| {
        if let Err(err) = tcp.set_nodelay(true) {
            tracing::debug!(%err, "cannot set TCP_NODELAY on an accepted connection");
        }
    });
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        // An error means the sender was dropped: treat it as "stop" too.
        let _ = stop_rx.await;
    })
    .into_future();
    tokio::pin!(server);

    tokio::select! {
        result = &mut server => return result,
        () = shutdown => {}
    }

    readiness.lower_for_good();
    let _ = stop_tx.send(());
    match tokio::time::timeout(grace, server).await {
        Ok(result) => {
            tracing::info!("drained, exiting");
            result
        }
        Err(_) => {
            tracing::warn!(grace = ?grace, "grace period over with requests still in flight, exiting anyway");
            Ok(())
        }
    }
}

impl Kit {
    /// Serve `app` like [`Kit::serve`] while `task` runs in the background;
    /// at shutdown, cancel `stop`, drain, and wait for `task` to return (the
    /// sequence is in the [module docs](crate::shutdown)). `task` watches
    /// `stop` (or a clone of it) and returns soon after it is cancelled.
    ///
    /// The token is the caller's, not made here, so that handlers can hold
    /// it too: the result service's event streams end on it.
    pub async fn serve_with_task(
        &self,
        listener: TcpListener,
        app: Router,
        grace: Duration,
        shutdown: impl Future<Output = ()> + Send + 'static,
        stop: CancellationToken,
        task: impl Future<Output = ()> + Send + 'static,
    ) -> io::Result<()> {
        // Spawned, not joined into this future: on the multi-threaded
        // runtime the task's work runs beside the requests, not between
        // them.
        let task = tokio::spawn(task);
        let served = self
            .serve(listener, app, grace, {
                let stop = stop.clone();
                async move {
                    shutdown.await;
                    stop.cancel();
                }
            })
            .await;
        // Also when serving failed: the task must not outlive `run`.
        stop.cancel();
        if let Err(err) = task.await {
            // A panic has been printed by the panic hook already; the
            // serving result is what `run` reports.
            tracing::error!(%err, "the background task panicked");
        }
        served
    }
}
