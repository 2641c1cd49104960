//! todo-backend: the to-do app's GraphQL service (the to-do article's
//! `to-do-app-backend`), a drop-in for the original Spring Boot service.
//!
//! * [`schema`]: the GraphQL schema with the original's names and errors.
//! * [`homepage`]: the frontend's homepage query answered straight from
//!   the rows, without the generic executor (the same JSON, a few times
//!   faster).
//! * [`extensions`]: the schema's extensions: numeric strings accepted as
//!   `Int`, as the original did, and every GraphQL error logged.
//! * [`store`]: lists and items in MySQL or SQLite, positions kept
//!   contiguous with transactions and row locks, so two replicas can serve
//!   the same board.
//! * [`http`]: `/graphql` (POST, GET, and an explorer for browsers), the
//!   original's CORS headers, Spring-style `/actuator/health`.
//! * [`config`]: the seed's `DB_*` settings or `DATABASE_URL`, else SQLite.
//!
//! The database may be down when the service starts (in the seed, MySQL and
//! the backend start together): [`run`] serves at once, keeps `/readyz` at
//! 503, and a supervisor task connects with backoff, applies the embedded
//! migrations, then marks the service ready. It keeps checking: if the
//! database goes away later, readiness drops until it is back, and the
//! connection pool replaces dead connections, so no restart is needed.

pub mod config;
pub mod extensions;
pub mod homepage;
pub mod http;
pub mod schema;
pub mod store;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use service_kit::{Kit, Readiness};
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use config::Config;
use config::ConfigError;
use store::{Store, StoreError};

/// Why the backend could not start or stopped serving. Request errors are
/// [`http::RequestError`] and GraphQL errors, never this.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("bad database settings: {0}")]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("serving HTTP failed: {0}")]
    Serve(std::io::Error),
}

/// First retry delay after a failed database check, and the cap the delay
/// doubles up to. Capped low so a database that comes back is noticed
/// within seconds, high enough not to hammer one that is restarting.
const RETRY_MIN: Duration = Duration::from_millis(250);
const RETRY_MAX: Duration = Duration::from_secs(5);
/// How often a healthy database is checked again.
const CHECK_EVERY: Duration = Duration::from_secs(5);
/// Longest the first connection plus migrations may take before it counts
/// as a failure and is retried.
const MIGRATE_TIMEOUT: Duration = Duration::from_secs(60);

/// Serve the backend on `listener` until `shutdown` completes.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let target = config.db_target()?;
    tracing::info!(
        database = %target.display,
        pool_size = config.db_pool_size,
        "database settings"
    );

    let queries = Counter::default();
    let kit = Kit::new(false, |registry| {
        registry.register(
            "todo_sql_queries",
            "SQL statements sent to the database (BEGIN and COMMIT included)",
            queries.clone(),
        );
    });
    let store = Store::connect_lazy(
        &target,
        config.db_pool_size,
        config.db_acquire_timeout,
        queries,
    )?;
    let schema_ready = Arc::new(AtomicBool::new(false));

    let (stop_tx, stop_rx) = watch::channel(false);
    let supervisor = tokio::spawn(supervise(
        store.clone(),
        kit.readiness.clone(),
        schema_ready.clone(),
        stop_rx,
    ));

    let app = http::app(http::AppState::new(
        schema::build(store.clone()),
        store.clone(),
        kit.clone(),
        schema_ready,
        config.service.max_body_bytes,
    ));
    let shutdown = async move {
        shutdown.await;
        // Stop the supervisor first so it cannot raise readiness again
        // while the server drains.
        let _ = stop_tx.send(true);
    };
    let served = kit
        .serve(listener, app, config.service.shutdown_grace, shutdown)
        .await;
    // Not `Kit::serve_with_task`, which waits for its task to end: a
    // supervisor in the middle of a ping or a migration against a database
    // that does not answer would hold the exit for up to MIGRATE_TIMEOUT
    // (60 s), past any pod's grace period. It was told to stop when the
    // drain began, so it can no longer raise readiness; aborting it now
    // only cuts such a wait short.
    supervisor.abort();
    store.close().await;
    served.map_err(Error::Serve)
}

/// Connect, migrate, and keep readiness in step with the database; see the
/// crate docs.
async fn supervise(
    store: Store,
    readiness: Readiness,
    schema_ready: Arc<AtomicBool>,
    mut stop: watch::Receiver<bool>,
) {
    let mut delay = RETRY_MIN;
    let mut failures: u32 = 0;
    loop {
        // Only logged: a String is all the error needs to be.
        let check = async {
            if schema_ready.load(Ordering::Relaxed) {
                store.ping().await.map_err(|err| err.to_string())
            } else {
                store.ping().await.map_err(|err| err.to_string())?;
                store.migrate().await.map_err(|err| err.to_string())?;
                schema_ready.store(true, Ordering::Relaxed);
                tracing::info!("database reachable, migrations applied");
                Ok(())
            }
        };
        let result = tokio::time::timeout(MIGRATE_TIMEOUT, check).await;
        if *stop.borrow() {
            return;
        }
        let wait = match result {
            Ok(Ok(())) => {
                if failures > 0 || !readiness.is_ready() {
                    tracing::info!(after_failures = failures, "database ok, ready");
                }
                readiness.set(true);
                failures = 0;
                delay = RETRY_MIN;
                CHECK_EVERY
            }
            failed => {
                readiness.set(false);
                failures += 1;
                let error = match failed {
                    Ok(Err(err)) => err,
                    _ => "timed out".to_owned(),
                };
                // Every failure while it is new, then one line in ten.
                if failures <= 3 || failures % 10 == 0 {
                    tracing::warn!(%error, failures, retry_in = ?delay, "database not available, not ready");
                }
                let wait = delay;
                delay = (delay * 2).min(RETRY_MAX);
                wait
            }
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
    }
}
