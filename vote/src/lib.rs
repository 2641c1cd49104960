//! The vote service: a page with two options, and every vote pushed to
//! Redis for the worker (a drop-in for example-voting-app's Python `vote`).
//!
//! `GET /` shows OPTION_A and OPTION_B and names the instance that served
//! it ("Processed by container ID …"), so with several replicas behind the
//! `vote` Service a reload shows the load balancing. `POST /` with
//! `vote=a` or `vote=b` appends `{"voter_id":"…","vote":"a"}` to the Redis
//! list `votes` (`RPUSH`, the original's format; see [`voting_contract`])
//! and shows the page again with the voter's choice marked. Anything else
//! is a 400: a typo'd form must not become a third option in the tally.
//!
//! ## Who is voting
//!
//! A `voter_id` cookie identifies the browser: taken from the request, or
//! made up (64 random bits in hex, like the original) and set on the
//! response. The worker keeps one row per voter id, so voting again changes
//! the vote instead of adding one.
//!
//! ## When Redis is down
//!
//! The page still renders (it needs nothing from Redis), but a vote gets a
//! 503 page saying it was not recorded: a vote is only confirmed once Redis
//! has it. A background task pings Redis every second and keeps `/readyz`
//! in step, so Kubernetes stops sending traffic to a replica that cannot
//! record votes and sends it again once Redis is back. The connection is a
//! [`redis::aio::ConnectionManager`], which reconnects by itself.

mod page;

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use prometheus_client::metrics::counter::Counter;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use service_kit::{Kit, ServiceArgs};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use voting_contract::{Choice, RedisArgs, Vote};

/// The vote service's settings. Every one is a flag and an environment
/// variable.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "vote",
    version,
    about = "The voting app's vote page: pushes votes to the Redis list `votes` (drop-in for example-voting-app's vote)"
)]
pub struct Config {
    #[command(flatten)]
    pub service: ServiceArgs,

    #[command(flatten)]
    pub redis: RedisArgs,

    /// The first option's name, shown on the page (the vote is sent as `a`).
    #[arg(long, env = "OPTION_A", default_value = "Cats")]
    pub option_a: String,

    /// The second option's name (sent as `b`).
    #[arg(long, env = "OPTION_B", default_value = "Dogs")]
    pub option_b: String,

    /// The name the page shows as "container ID". Container runtimes and
    /// Kubernetes set HOSTNAME (the container id, the pod name); without it
    /// the kernel's host name is used.
    #[arg(long, env = "HOSTNAME")]
    pub instance: Option<String>,
}

impl Config {
    /// Defaults for tests: loopback, an ephemeral port, Redis on
    /// 127.0.0.1:6379 with the given list.
    pub fn for_tests(votes_list: &str) -> Self {
        Self {
            service: ServiceArgs::for_tests(),
            redis: RedisArgs::for_tests(votes_list),
            option_a: "Cats".into(),
            option_b: "Dogs".into(),
            instance: Some("vote-test".into()),
        }
    }

    fn instance_name(&self) -> String {
        self.instance
            .clone()
            .filter(|name| !name.trim().is_empty())
            .or_else(|| {
                std::fs::read_to_string("/proc/sys/kernel/hostname")
                    .ok()
                    .map(|name| name.trim().to_owned())
            })
            .unwrap_or_else(|| "unknown".into())
    }
}

/// Why the service could not start, or stopped serving. Errors while
/// handling a vote are [`VoteError`]s: they become responses.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("REDIS_HOST/REDIS_PORT do not make a valid Redis URL: {0}")]
    RedisUrl(redis::RedisError),
    #[error("serving HTTP failed: {0}")]
    Serve(std::io::Error),
}

/// Why a vote was not recorded.
#[derive(Debug, thiserror::Error)]
enum VoteError {
    #[error("the form's vote is not `a` or `b`")]
    Invalid,
    #[error("no connection to Redis yet")]
    NoRedis,
    #[error("Redis RPUSH failed: {0}")]
    Redis(#[from] redis::RedisError),
}

/// Shared state of one vote instance.
#[derive(Clone)]
pub struct AppState {
    kit: Kit,
    max_body_bytes: usize,
    page: Arc<page::PageInfo>,
    votes_list: String,
    // Set by the keeper task once connected; the manager reconnects by
    // itself from then on. A std Mutex: held only to clone the handle out,
    // never across an await.
    redis: Arc<Mutex<Option<ConnectionManager>>>,
    metrics: VoteMetrics,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("votes_list", &self.votes_list)
            .finish_non_exhaustive()
    }
}

voting_contract::service_metrics! {
    /// The vote service's own metrics, beside the HTTP ones.
    struct VoteMetrics {
        /// Votes pushed to Redis
        accepted: Counter = "vote_votes_accepted",
        /// Vote requests whose value was not a or b (400)
        rejected: Counter = "vote_votes_rejected",
        /// Votes not recorded because Redis could not be reached (503)
        failed: Counter = "vote_votes_failed",
    }
}

impl AppState {
    /// State with no Redis connection yet (not ready until the keeper task
    /// connects).
    pub fn new(config: &Config) -> Self {
        let metrics = VoteMetrics::default();
        Self {
            kit: Kit::new(false, |registry| metrics.register(registry)),
            max_body_bytes: config.service.max_body_bytes,
            page: Arc::new(page::PageInfo {
                option_a: config.option_a.clone(),
                option_b: config.option_b.clone(),
                hostname: config.instance_name(),
            }),
            votes_list: config.redis.votes_list.clone(),
            redis: Arc::new(Mutex::new(None)),
            metrics,
        }
    }

    fn connection(&self) -> Option<ConnectionManager> {
        #[allow(clippy::unwrap_used)] // poisoned only if a holder panicked
        self.redis.lock().unwrap().clone()
    }

    async fn push(&self, vote: &Vote) -> Result<(), VoteError> {
        let mut redis = self.connection().ok_or(VoteError::NoRedis)?;
        let _len: i64 = redis.rpush(&self.votes_list, vote.to_json()).await?;
        Ok(())
    }
}

/// The routes, wrapped in the standard middleware.
pub fn app(state: AppState) -> Router {
    let routes = Router::new()
        .route("/", get(show).post(cast))
        .layer(DefaultBodyLimit::max(state.max_body_bytes))
        .with_state(state.clone());
    state.kit.wrap(routes)
}

/// Serve until `shutdown` completes, then stop the Redis keeper and drain
/// (see [`Kit::serve_with_task`]).
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    // A malformed host is a start-up error; an unreachable one is not.
    redis::Client::open(config.redis.url()).map_err(Error::RedisUrl)?;
    let state = AppState::new(&config);
    let stop = CancellationToken::new();
    let keeper = keep_redis(state.clone(), config.redis.clone(), stop.clone());
    let kit = state.kit.clone();
    let grace = config.service.shutdown_grace;
    kit.serve_with_task(listener, app(state), grace, shutdown, stop, keeper)
        .await
        .map_err(Error::Serve)
}

/// Connect to Redis, then ping it every second, keeping readiness in step.
async fn keep_redis(state: AppState, redis: RedisArgs, stop: CancellationToken) {
    let mut was_up = None;
    loop {
        let up = match state.connection() {
            Some(mut conn) => redis::cmd("PING")
                .query_async::<String>(&mut conn)
                .await
                .map_err(|err| err.to_string()),
            None => match redis.connect(Duration::ZERO).await {
                Ok(conn) => {
                    #[allow(clippy::unwrap_used)] // see AppState::connection
                    state.redis.lock().unwrap().replace(conn);
                    Ok("connected".into())
                }
                Err(err) => Err(err.to_string()),
            },
        };
        // Shutting down: nothing to report (readiness stays down anyway).
        if stop.is_cancelled() {
            return;
        }
        state.kit.readiness.set(up.is_ok());
        if was_up != Some(up.is_ok()) {
            match &up {
                Ok(_) => tracing::info!(redis = %redis.url(), "Redis reachable, ready"),
                Err(err) => {
                    tracing::warn!(redis = %redis.url(), %err, "Redis unreachable, not ready")
                }
            }
            was_up = Some(up.is_ok());
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// The voter's id from the `voter_id` cookie, if it is one we would have
/// made (or the original: hex digits); anything else gets a new id.
fn voter_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|cookies| cookies.split(';'))
        .filter_map(|cookie| cookie.trim().split_once('='))
        .find(|(name, _)| *name == "voter_id")
        .map(|(_, value)| value.to_owned())
        .filter(|id| {
            !id.is_empty()
                && id.len() <= 64
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// 64 random bits in hex, as the original's `hex(random.getrandbits(64))`.
fn new_voter_id() -> String {
    let bytes = uuid::Uuid::new_v4().into_bytes();
    bytes[..8].iter().map(|b| format!("{b:02x}")).collect()
}

fn with_cookie(mut response: Response, voter_id: &str) -> Response {
    // A year, so a voter stays the same voter across browser restarts.
    let cookie = format!("voter_id={voter_id}; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax");
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

async fn show(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let id = voter_id(&headers).unwrap_or_else(new_voter_id);
    with_cookie(state.page.render(None), &id)
}

async fn cast(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let id = voter_id(&headers).unwrap_or_else(new_voter_id);
    let result = async {
        // Exactly one field, `vote`, with `a` or `b`: the original's form.
        let mut fields = url::form_urlencoded::parse(&body);
        let choice = match (fields.next(), fields.next()) {
            (Some((name, value)), None) if name == "vote" => Choice::parse(&value),
            _ => None,
        }
        .ok_or(VoteError::Invalid)?;
        state
            .push(&Vote {
                voter_id: id.clone(),
                vote: choice.as_str().to_owned(),
            })
            .await?;
        Ok::<_, VoteError>(choice)
    }
    .await;
    let response = match result {
        Ok(choice) => {
            state.metrics.accepted.inc();
            tracing::debug!(vote = choice.as_str(), "vote recorded");
            state.page.render(Some(choice))
        }
        Err(VoteError::Invalid) => {
            state.metrics.rejected.inc();
            (
                StatusCode::BAD_REQUEST,
                "a vote is the form field vote=a or vote=b\n",
            )
                .into_response()
        }
        Err(err) => {
            // Logged inside the request span; the voter gets a plain page.
            tracing::error!(error = %err, "vote not recorded");
            state.metrics.failed.inc();
            state.kit.readiness.set(false);
            state.page.unavailable()
        }
    };
    with_cookie(response, &id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cookie(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn voter_id_comes_from_its_cookie_only_when_sane() {
        assert_eq!(
            voter_id(&cookie("theme=dark; voter_id=4f2a9c1e0b7d3a65")),
            Some("4f2a9c1e0b7d3a65".into())
        );
        assert_eq!(voter_id(&cookie("voter_id=")), None);
        assert_eq!(voter_id(&cookie("voter_id=a\"b")), None);
        assert_eq!(
            voter_id(&cookie(&format!("voter_id={}", "a".repeat(65)))),
            None
        );
        assert_eq!(voter_id(&HeaderMap::new()), None);
    }

    #[test]
    fn new_voter_ids_are_16_hex_digits() {
        let id = new_voter_id();
        assert_eq!(id.len(), 16);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(id, new_voter_id());
    }
}
