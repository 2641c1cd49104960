//! The generator of the application-coupling article: every `INTERVAL` it
//! appends one random number in 0–32767 (the range of the shell's `$RANDOM`)
//! and a newline to `$DATA_DIR/data`.
//!
//! The article's version is `echo $RANDOM >> data; sleep 2` in a shell loop.
//! This one keeps the file format and the paths, and adds what a workload
//! needs to be watched and stopped cleanly:
//!
//! * **Appends survive restarts.** The file is opened with `O_APPEND` and
//!   created (with its directory) only if missing, so a restarted container
//!   continues the same file in the pod's emptyDir.
//! * **One `write(2)` per line.** The line is formatted first and written
//!   with a single `write` call on the `O_APPEND` descriptor. The kernel
//!   places each such write at the end of the file atomically, so a reader
//!   never sees half a line followed by another writer's line, even with
//!   several generators on one shared volume (the loose coupling over a
//!   PersistentVolumeClaim).
//! * **A size cap.** `MAX_BYTES` keeps an emptyDir from filling the node. At
//!   the cap the generator stops appending: the file keeps its first
//!   `MAX_BYTES` bytes (never more), each skipped number is counted in
//!   `generator_numbers_total{outcome="capped"}`, one warning is logged, and
//!   the service stays live and ready, still serving the file. Truncating or
//!   rotating instead would pull the data from under readers that resume
//!   with `Range` requests. A new pod (a fresh emptyDir) starts over.
//! * **The adapter.** `GET /data` serves the same file over HTTP (with
//!   `Range`, `Last-Modified`, `HEAD`), which is what the article says the
//!   loose coupling over a Service needs: echo then reads `SOURCE_URL`
//!   instead of a shared directory.
//!
//! Readiness follows the writes: it goes down while appending fails (a full
//! or read-only volume) and up again with the next successful append.

use std::fs::{File, OpenOptions};
use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get_service;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use service_kit::{Kit, ServiceArgs};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::services::ServeFile;

/// The file name inside `DATA_DIR`, as in the article.
pub const DATA_FILE: &str = "data";

/// The generator's settings. Every one is a flag and an environment variable.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "generator",
    version,
    about = "Appends a random number (0-32767) to $DATA_DIR/data every INTERVAL; serves the file at GET /data"
)]
pub struct Config {
    #[command(flatten)]
    pub service: ServiceArgs,

    /// Directory of the data file (`data`); created if missing. The
    /// article's path.
    #[arg(long, env = "DATA_DIR", default_value = "/tmp/out")]
    pub data_dir: PathBuf,

    /// Time between two numbers. Accepts `500ms`, `2s`, `1m`.
    #[arg(long, env = "INTERVAL", default_value = "2s", value_parser = humantime::parse_duration)]
    pub interval: Duration,

    /// Size cap of the data file in bytes. A number that would take the file
    /// past it is not written; the generator keeps running and serving. The
    /// default (1 MiB, about four days at one number every 2 s) stays well
    /// inside the manifests' emptyDir sizeLimit.
    #[arg(long, env = "MAX_BYTES", default_value_t = 1024 * 1024)]
    pub max_bytes: u64,
}

/// Why the generator could not start, or stopped serving. It has no
/// request error type: its one route, `GET /data`, is tower-http's
/// ServeFile, and a failed append is logged and counted, not returned.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot create the data directory {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open the data file {path} for appending: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("INTERVAL must be longer than zero")]
    ZeroInterval,
    #[error("serving HTTP failed: {0}")]
    Serve(std::io::Error),
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    outcome: &'static str,
}

/// What one append did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Appended {
    /// The line was written.
    Written,
    /// The file is at its cap; nothing was written.
    Capped,
}

/// The data file, open for appending. Cheap to clone.
#[derive(Debug, Clone)]
struct DataFile {
    path: PathBuf,
    file: Arc<File>,
    max_bytes: u64,
}

impl DataFile {
    /// Create `dir` and `dir/data` if missing and open the file with
    /// `O_APPEND`; an existing file is continued, never truncated.
    fn open(dir: &Path, max_bytes: u64) -> Result<Self, Error> {
        std::fs::create_dir_all(dir).map_err(|source| Error::CreateDir {
            path: dir.to_owned(),
            source,
        })?;
        let path = dir.join(DATA_FILE);
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .open(&path)
            .map_err(|source| Error::Open {
                path: path.clone(),
                source,
            })?;
        Ok(Self {
            path,
            file: Arc::new(file),
            max_bytes,
        })
    }

    fn path(&self) -> &Path {
        &self.path
    }

    /// Append `number` and a newline with one `write(2)`, unless that would
    /// take the file past the cap.
    ///
    /// The size is read from the file itself (`fstat`) rather than counted
    /// here, so other writers on a shared volume are taken into account. Two
    /// generators racing at the cap can each add one line after the other's
    /// check; with one writer (every coupling but the shared PVC scaled up)
    /// the cap is exact.
    fn append(&self, number: u16) -> std::io::Result<Appended> {
        let line = format!("{number}\n");
        let len = self.file.metadata()?.len();
        if len + line.len() as u64 > self.max_bytes {
            return Ok(Appended::Capped);
        }
        // `write`, not `write_all`: `write_all` may split the line into
        // several system calls after a short write. On a regular file a
        // short write only happens when the disk is full, and then half a
        // number must not be left behind silently.
        let written = (&*self.file).write(line.as_bytes())?;
        if written != line.len() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::WriteZero,
                format!("short write: {written} of {} bytes", line.len()),
            ));
        }
        Ok(Appended::Written)
    }
}

/// One random number in the range of the shell's `$RANDOM`.
fn random_number() -> u16 {
    fastrand::u16(0..=32767)
}

/// Shared state of one generator instance.
#[derive(Debug, Clone)]
pub struct AppState {
    kit: Kit,
    data: DataFile,
    numbers: Family<Outcome, Counter>,
    file_bytes: Gauge,
}

impl AppState {
    /// Open the data file (failing now if `DATA_DIR` is unusable).
    pub fn new(config: &Config) -> Result<Self, Error> {
        if config.interval.is_zero() {
            return Err(Error::ZeroInterval);
        }
        let data = DataFile::open(&config.data_dir, config.max_bytes)?;
        let numbers = Family::<Outcome, Counter>::default();
        let file_bytes = Gauge::default();
        let kit = Kit::new(true, |registry| {
            registry.register(
                "generator_numbers",
                "Numbers generated, by outcome (written, capped, failed)",
                numbers.clone(),
            );
            registry.register(
                "generator_file_bytes",
                "Size of the data file after the last append",
                file_bytes.clone(),
            );
        });
        tracing::info!(
            file = %data.path().display(),
            interval = %humantime::format_duration(config.interval),
            max_bytes = config.max_bytes,
            pod_ip = %config.service.pod_ip(),
            "generator ready"
        );
        Ok(Self {
            kit,
            data,
            numbers,
            file_bytes,
        })
    }

    /// One tick: append a number, update readiness and metrics.
    fn tick(&self, warned_at_cap: &mut bool) {
        // A tiny append to a local file: done inline on the runtime thread,
        // which is cheaper than a hop to the blocking pool every 2 s.
        let outcome = match self.data.append(random_number()) {
            Ok(Appended::Written) => {
                self.kit.readiness.set(true);
                "written"
            }
            Ok(Appended::Capped) => {
                if !*warned_at_cap {
                    *warned_at_cap = true;
                    tracing::warn!(
                        file = %self.data.path().display(),
                        max_bytes = self.data.max_bytes,
                        "data file reached MAX_BYTES; no more numbers are appended"
                    );
                }
                self.kit.readiness.set(true);
                "capped"
            }
            Err(err) => {
                tracing::error!(file = %self.data.path().display(), %err, "cannot append");
                self.kit.readiness.set(false);
                "failed"
            }
        };
        self.numbers.get_or_create(&Outcome { outcome }).inc();
        if let Ok(meta) = std::fs::metadata(self.data.path()) {
            self.file_bytes
                .set(i64::try_from(meta.len()).unwrap_or(i64::MAX));
        }
    }
}

/// The generator's routes: `GET /data` (the adapter for the loose
/// coupling), wrapped in the standard middleware.
pub fn app(state: AppState) -> Router {
    let routes = Router::new().route("/data", get_service(ServeFile::new(state.data.path())));
    state.kit.wrap(routes)
}

/// Append every `interval` and serve HTTP until `shutdown` completes, then
/// stop appending and drain (see [`Kit::serve_with_task`]).
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let state = AppState::new(&config)?;
    let stop = CancellationToken::new();
    let appending = append_every(state.clone(), config.interval, stop.clone());
    let (kit, grace) = (state.kit.clone(), config.service.shutdown_grace);
    kit.serve_with_task(listener, app(state), grace, shutdown, stop, appending)
        .await
        .map_err(Error::Serve)
}

/// Append a number every `interval` until `stop` is cancelled. The shutdown
/// cancels it as soon as it starts: a line is either fully written or not
/// at all (an append is one synchronous write), and none is started once
/// SIGTERM arrived.
async fn append_every(state: AppState, interval: Duration, stop: CancellationToken) {
    let mut ticks = tokio::time::interval(interval);
    // After a stall, keep the pace instead of writing a burst.
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut warned_at_cap = false;
    loop {
        tokio::select! {
            // Checked first: a tick that is due when the shutdown starts
            // is not written.
            biased;
            () = stop.cancelled() => break,
            _ = ticks.tick() => state.tick(&mut warned_at_cap),
        }
    }
}
