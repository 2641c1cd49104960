//! The worker: moves votes from the Redis list `votes` into PostgreSQL, one
//! row per voter, the latest vote winning (a drop-in for
//! example-voting-app's .NET worker).
//!
//! ## The delivery guarantee
//!
//! The original pops a vote (`LPOP`, polled every 100 ms) and then writes
//! it; if PostgreSQL is down at that moment, the vote is gone. Here a vote
//! leaves Redis only after PostgreSQL has it:
//!
//! 1. `BLMOVE votes → votes:processing` blocks until a vote arrives (no
//!    polling) and moves it, atomically, to a processing list; up to
//!    BATCH_SIZE - 1 more follow in one pipelined round trip.
//! 2. The processing list is written to PostgreSQL in one upsert.
//! 3. Only then is the processing list deleted.
//!
//! A crash, a lost connection or a PostgreSQL outage anywhere in between
//! leaves the votes in the processing list, and the next round (or the next
//! worker process) starts by writing whatever is there. Delivery is
//! therefore *at least once*; and because the write is an idempotent upsert
//! and the processing list is always finished before newer votes are taken,
//! a repeated batch leaves the table exactly as one delivery would: every
//! vote applied once, in order. That holds for one worker per processing
//! list; the manifests run one replica, as the classic does, with the
//! `Recreate` strategy so two never overlap. Votes that cannot be stored
//! at all (not JSON, a vote other than `a`/`b`, an id over 255 characters)
//! are logged, counted and dropped, so one bad entry cannot block the queue.
//!
//! ## Reconnecting
//!
//! Redis is reached through a [`redis::aio::ConnectionManager`] (it
//! reconnects by itself) and PostgreSQL through a lazy pool (every attempt
//! after an outage opens a fresh connection). Failed rounds are retried with
//! a backoff from 100 ms doubling to 5 s; `/readyz` is 200 only while both
//! answer, and `/metrics` counts votes processed and shows the queue length.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use axum::Router;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use service_kit::{Kit, ServiceArgs};
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use voting_contract::{CREATE_TABLE, Choice, PgArgs, RedisArgs, Vote};

/// The worker's settings. Every one is a flag and an environment variable.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "worker",
    version,
    about = "The voting app's worker: Redis list `votes` to PostgreSQL table `votes` (drop-in for example-voting-app's worker)"
)]
pub struct Config {
    #[command(flatten)]
    pub service: ServiceArgs,

    #[command(flatten)]
    pub redis: RedisArgs,

    #[command(flatten)]
    pub pg: PgArgs,

    /// The list a batch waits in until PostgreSQL has it. Default: the votes
    /// list's name plus `:processing`. Each worker needs its own.
    #[arg(long, env = "PROCESSING_LIST")]
    pub processing_list: Option<String>,

    /// Most votes taken from Redis and written to PostgreSQL at once. Big
    /// batches make a backlog drain fast (one round trip and one statement
    /// per batch); a lone vote is still written at once.
    #[arg(long, env = "BATCH_SIZE", default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub batch_size: u32,

    /// How long one blocking pop waits for a vote before the worker looks
    /// around (shutdown, queue length) and waits again.
    #[arg(long, env = "BLOCK_TIMEOUT", default_value = "1s", value_parser = humantime::parse_duration)]
    pub block_timeout: Duration,
}

impl Config {
    /// Defaults for tests: Redis on 127.0.0.1:6379 with the given list,
    /// PostgreSQL at `database_url`.
    pub fn for_tests(votes_list: &str, database_url: &str) -> Self {
        Self {
            service: ServiceArgs::for_tests(),
            redis: RedisArgs::for_tests(votes_list),
            pg: PgArgs::for_tests(database_url),
            processing_list: None,
            batch_size: 500,
            block_timeout: Duration::from_millis(500),
        }
    }

    fn processing_list(&self) -> String {
        self.processing_list
            .clone()
            .unwrap_or_else(|| format!("{}:processing", self.redis.votes_list))
    }
}

/// Why the worker could not start, or stopped serving its probes. Failures
/// while working (a `RoundError`) are retried, never fatal; the worker
/// handles no requests of its own, so it has no request error type.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("REDIS_HOST/REDIS_PORT do not make a valid Redis URL: {0}")]
    RedisUrl(redis::RedisError),
    #[error(transparent)]
    DatabaseUrl(#[from] voting_contract::pg::BadUrl),
    #[error("serving HTTP failed: {0}")]
    Serve(std::io::Error),
}

/// Why a round failed (it is retried).
#[derive(Debug, thiserror::Error)]
enum RoundError {
    #[error("Redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] sqlx::Error),
}

voting_contract::service_metrics! {
    /// The worker's own metrics, beside the HTTP ones.
    struct WorkerMetrics {
        /// Votes written to PostgreSQL (a re-delivered batch counts again)
        processed: Counter = "worker_votes_processed",
        /// Entries in the votes list that were not a storable vote, dropped
        invalid: Counter = "worker_votes_invalid",
        /// Batches written to PostgreSQL
        batches: Counter = "worker_batches",
        /// Votes waiting in the Redis list at the last look
        queue_length: Gauge = "worker_queue_length",
        /// Rounds that failed on Redis (retried)
        redis_errors: Counter = "worker_redis_errors",
        /// Rounds that failed on PostgreSQL (retried)
        postgres_errors: Counter = "worker_postgres_errors",
    }
}

/// What the worker's HTTP side serves from (probes and metrics), shared
/// with the work loop that keeps readiness and the metrics up to date.
#[derive(Debug, Clone)]
pub struct AppState {
    kit: Kit,
    metrics: WorkerMetrics,
}

impl AppState {
    /// Not ready until the first round reached Redis and PostgreSQL.
    pub fn new() -> Self {
        let metrics = WorkerMetrics::default();
        Self {
            kit: Kit::new(false, |registry| metrics.register(registry)),
            metrics,
        }
    }
}

impl Default for AppState {
    fn default() -> Self {
        Self::new()
    }
}

/// The worker's HTTP side: the standard probes and metrics, no routes of
/// its own.
pub fn app(state: AppState) -> Router {
    state.kit.wrap(Router::new())
}

/// Work and serve probes until `shutdown`, then finish the round in hand
/// and exit. A batch not yet in PostgreSQL stays in the processing list.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    redis::Client::open(config.redis.url()).map_err(Error::RedisUrl)?;
    let pool = config.pg.lazy_pool()?;
    let state = AppState::new();
    tracing::info!(
        redis = %config.redis.url(),
        postgres = %config.pg.display(),
        votes = %config.redis.votes_list,
        processing = %config.processing_list(),
        "worker starting"
    );
    let stop = CancellationToken::new();
    let worker = Worker {
        votes: config.redis.votes_list.clone(),
        processing: config.processing_list(),
        batch_size: config.batch_size,
        block_timeout: config.block_timeout,
        redis_args: config.redis.clone(),
        pool,
        state: state.clone(),
        stop: stop.clone(),
        table_ready: false,
    };
    let kit = state.kit.clone();
    let grace = config.service.shutdown_grace;
    kit.serve_with_task(listener, app(state), grace, shutdown, stop, worker.work())
        .await
        .map_err(Error::Serve)
}

struct Worker {
    votes: String,
    processing: String,
    batch_size: u32,
    block_timeout: Duration,
    redis_args: RedisArgs,
    pool: PgPool,
    state: AppState,
    stop: CancellationToken,
    table_ready: bool,
}

/// What a round did.
enum Round {
    /// Nothing arrived within the block timeout.
    Idle,
    /// Votes moved into the processing list (written in the next round).
    Moved,
    /// A batch written to PostgreSQL.
    Wrote,
}

impl Worker {
    async fn work(mut self) {
        let redis_timeout = self.block_timeout + Duration::from_secs(1);
        let mut redis: Option<ConnectionManager> = None;
        let mut backoff = Duration::from_millis(100);
        let mut failing: Option<String> = None;
        while !self.stop.is_cancelled() {
            let result = match &mut redis {
                Some(conn) => self.round(conn).await,
                None => match self.redis_args.connect(redis_timeout).await {
                    Ok(conn) => {
                        redis = Some(conn);
                        continue;
                    }
                    Err(err) => Err(RoundError::Redis(err)),
                },
            };
            match result {
                Ok(round) => {
                    if let Some(what) = failing.take() {
                        tracing::info!(recovered_from = %what, "working again");
                    }
                    backoff = Duration::from_millis(100);
                    // Idle rounds also prove PostgreSQL is there (see round).
                    // After the shutdown began this is ignored: the kit keeps
                    // readiness down.
                    if matches!(round, Round::Wrote | Round::Idle) {
                        self.state.kit.readiness.set(true);
                    }
                }
                Err(err) => {
                    match &err {
                        RoundError::Redis(_) => {
                            self.state.metrics.redis_errors.inc();
                        }
                        RoundError::Postgres(_) => {
                            self.state.metrics.postgres_errors.inc();
                            self.table_ready = false;
                        }
                    }
                    self.state.kit.readiness.set(false);
                    let what = err.to_string();
                    if failing.as_deref() != Some(what.as_str()) {
                        tracing::warn!(error = %what, retry_in = ?backoff, "round failed, retrying");
                        failing = Some(what);
                    }
                    tokio::select! {
                        () = self.stop.cancelled() => {}
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
        tracing::info!("worker stopped");
    }

    /// One round: finish the processing list if it holds anything, else
    /// wait for new votes and move them there.
    async fn round(&mut self, redis: &mut ConnectionManager) -> Result<Round, RoundError> {
        let pending: Vec<String> = redis.lrange(&self.processing, 0, -1).await?;
        if !pending.is_empty() {
            self.write(&pending).await?;
            // The batch is in PostgreSQL: now, and only now, let it go.
            let _: i64 = redis.del(&self.processing).await?;
            self.state.metrics.batches.inc();
            self.state.metrics.processed.inc_by(pending.len() as u64);
            return Ok(Round::Wrote);
        }

        if !self.table_ready {
            // Also tells readiness whether PostgreSQL is there while idle.
            self.ensure_table().await?;
        }
        let mut blmove = redis::cmd("BLMOVE");
        blmove
            .arg(&self.votes)
            .arg(&self.processing)
            .arg("LEFT")
            .arg("RIGHT")
            .arg(self.block_timeout.as_secs_f64());
        let first: Option<String> = tokio::select! {
            // Cancelled mid-wait, Redis may still have moved a vote: it
            // waits in the processing list for the next start.
            () = self.stop.cancelled() => return Ok(Round::Idle),
            moved = blmove.query_async(redis) => moved?,
        };
        if first.is_some() && self.batch_size > 1 {
            let mut more = redis::pipe();
            for _ in 1..self.batch_size {
                more.cmd("LMOVE")
                    .arg(&self.votes)
                    .arg(&self.processing)
                    .arg("LEFT")
                    .arg("RIGHT")
                    .ignore();
            }
            more.query_async::<()>(redis).await?;
        }
        let waiting: i64 = redis.llen(&self.votes).await?;
        self.state.metrics.queue_length.set(waiting);
        Ok(if first.is_some() {
            Round::Moved
        } else {
            Round::Idle
        })
    }

    async fn ensure_table(&mut self) -> Result<(), sqlx::Error> {
        sqlx::query(CREATE_TABLE).execute(&self.pool).await?;
        self.table_ready = true;
        Ok(())
    }

    /// Write a batch: one upsert, each voter once with their latest vote.
    async fn write(&mut self, batch: &[String]) -> Result<(), sqlx::Error> {
        if !self.table_ready {
            self.ensure_table().await?;
        }
        let (ids, votes) = latest_per_voter(batch, &self.state.metrics.invalid);
        if ids.is_empty() {
            return Ok(());
        }
        // One statement for the whole batch. PostgreSQL refuses to update
        // the same row twice in one INSERT .. ON CONFLICT, which is why
        // latest_per_voter leaves one entry per voter.
        sqlx::query(
            "INSERT INTO votes (id, vote) SELECT * FROM UNNEST($1::varchar[], $2::varchar[]) \
             ON CONFLICT (id) DO UPDATE SET vote = EXCLUDED.vote",
        )
        .bind(&ids)
        .bind(&votes)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

/// The batch as parallel (ids, votes) lists, one entry per voter holding
/// their last vote in the batch; entries that are not storable votes are
/// logged, counted in `invalid` and left out.
fn latest_per_voter(batch: &[String], invalid: &Counter) -> (Vec<String>, Vec<String>) {
    let mut ids: Vec<String> = Vec::with_capacity(batch.len());
    let mut votes: Vec<String> = Vec::with_capacity(batch.len());
    let mut index: HashMap<String, usize> = HashMap::with_capacity(batch.len());
    for raw in batch {
        let vote = match serde_json::from_str::<Vote>(raw) {
            Ok(vote)
                if Choice::parse(&vote.vote).is_some()
                    && !vote.voter_id.is_empty()
                    && vote.voter_id.chars().count() <= 255 =>
            {
                vote
            }
            _ => {
                invalid.inc();
                let shown: String = raw.chars().take(200).collect();
                tracing::warn!(entry = %shown, "not a storable vote, dropped");
                continue;
            }
        };
        match index.get(&vote.voter_id) {
            Some(&i) => votes[i] = vote.vote,
            None => {
                index.insert(vote.voter_id.clone(), ids.len());
                ids.push(vote.voter_id);
                votes.push(vote.vote);
            }
        }
    }
    (ids, votes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_keeps_each_voters_last_vote_and_drops_junk() {
        let invalid = Counter::default();
        let batch: Vec<String> = [
            r#"{"voter_id":"x","vote":"a"}"#,
            r#"{"voter_id":"y","vote":"b"}"#,
            "not json",
            r#"{"voter_id":"x","vote":"b"}"#,
            r#"{"voter_id":"z","vote":"c"}"#,
            r#"{"voter_id":"","vote":"a"}"#,
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        let (ids, votes) = latest_per_voter(&batch, &invalid);
        assert_eq!(ids, ["x", "y"]);
        assert_eq!(votes, ["b", "b"]);
        assert_eq!(invalid.get(), 3);
    }
}
