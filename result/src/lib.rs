//! The result service: the two options' percentages and the vote count,
//! live (a drop-in for example-voting-app's Node `result`).
//!
//! ## One query per tick, for every viewer
//!
//! The original runs `SELECT vote, COUNT(id) AS count FROM votes GROUP BY
//! vote` once a second and broadcasts the answer over socket.io. We keep the
//! query and the shape: one background task (the *tallier*) runs it every
//! REFRESH_INTERVAL and publishes the [`Tally`] on a
//! [`tokio::sync::watch`] channel. Every viewer's server-sent-event stream
//! and the JSON endpoint read that channel, so the database load is one
//! query per tick whether nobody or a thousand people are watching, and a
//! viewer is only sent something when the tally changed.
//!
//! * `GET /` is the page, rendered with the current tally (so it is right
//!   even without JavaScript); `result.js` then follows `GET /events`.
//! * `GET /events` is a `text/event-stream` of `tally` events.
//! * `GET /api/results` is the same tally as JSON.
//!
//! A missing `votes` table (no worker has run yet) is an empty tally; any
//! other database failure keeps the last tally, marks it `stale` and takes
//! readiness down until a query succeeds again.

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use askama::Template;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures_util::Stream;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use serde::Serialize;
use service_kit::{Kit, ServiceArgs};
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use voting_contract::{PgArgs, TALLY_QUERY};

/// The result service's settings. Every one is a flag and an environment
/// variable.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "result",
    version,
    about = "The voting app's live result page over PostgreSQL table `votes` (drop-in for example-voting-app's result)"
)]
pub struct Config {
    #[command(flatten)]
    pub service: ServiceArgs,

    #[command(flatten)]
    pub pg: PgArgs,

    /// The first option's name (votes `a`).
    #[arg(long, env = "OPTION_A", default_value = "Cats")]
    pub option_a: String,

    /// The second option's name (votes `b`).
    #[arg(long, env = "OPTION_B", default_value = "Dogs")]
    pub option_b: String,

    /// How often the tally is queried (once for all viewers). The original
    /// polls once a second.
    #[arg(long, env = "REFRESH_INTERVAL", default_value = "1s", value_parser = humantime::parse_duration)]
    pub refresh_interval: Duration,
}

impl Config {
    /// Defaults for tests: loopback, an ephemeral port, the given database,
    /// a fast tick.
    pub fn for_tests(database_url: &str) -> Self {
        Self {
            service: ServiceArgs::for_tests(),
            pg: PgArgs::for_tests(database_url),
            option_a: "Cats".into(),
            option_b: "Dogs".into(),
            refresh_interval: Duration::from_millis(200),
        }
    }
}

/// Why the service could not start, or stopped serving. The one request
/// error is a page that did not render (`PageError`).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    DatabaseUrl(#[from] voting_contract::pg::BadUrl),
    #[error("serving HTTP failed: {0}")]
    Serve(std::io::Error),
}

/// The counts, as the page, the events and `/api/results` show them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tally {
    pub a: i64,
    pub b: i64,
    pub total: i64,
    /// Percentages as the original computes them: 50/50 with no votes.
    pub percent_a: f64,
    pub percent_b: f64,
    /// True while the database cannot be read: the counts are the last
    /// ones known.
    pub stale: bool,
}

impl Tally {
    /// The tally of `a` and `b` votes.
    pub fn new(a: i64, b: i64) -> Self {
        let total = a + b;
        let (percent_a, percent_b) = if total == 0 {
            (50.0, 50.0)
        } else {
            let pa = a as f64 * 100.0 / total as f64;
            (pa, 100.0 - pa)
        };
        Self {
            a,
            b,
            total,
            percent_a,
            percent_b,
            stale: false,
        }
    }

    fn percent_a_text(&self) -> String {
        format!("{:.0}%", self.percent_a)
    }

    fn percent_b_text(&self) -> String {
        format!("{:.0}%", self.percent_b)
    }

    fn total_text(&self) -> String {
        match self.total {
            0 => "No votes yet".into(),
            1 => "1 vote".into(),
            n => format!("{n} votes"),
        }
    }
}

#[derive(Template)]
#[template(path = "index.html")]
struct Page<'a> {
    option_a: &'a str,
    option_b: &'a str,
    tally: &'a Tally,
    /// Which pod served the page.
    pod: &'a str,
}

voting_contract::service_metrics! {
    /// The result service's own metrics, beside the HTTP ones.
    struct ResultMetrics {
        /// Tally queries run (one per tick, shared by all viewers)
        queries: Counter = "result_tally_queries",
        /// Tally queries that failed
        query_errors: Counter = "result_tally_query_errors",
        /// Open live-update (server-sent event) streams
        viewers: Gauge = "result_viewers",
    }
}

/// Shared state of one result instance.
#[derive(Debug, Clone)]
pub struct AppState {
    kit: Kit,
    tally: watch::Receiver<Tally>,
    options: std::sync::Arc<(String, String)>,
    stop: CancellationToken,
    metrics: ResultMetrics,
}

impl AppState {
    /// State that shows what `tally` publishes and ends the event streams
    /// when `stop` is cancelled; not ready until the first query succeeds.
    pub fn new(config: &Config, tally: watch::Receiver<Tally>, stop: CancellationToken) -> Self {
        let metrics = ResultMetrics::default();
        Self {
            kit: Kit::new(false, |registry| metrics.register(registry)),
            tally,
            options: std::sync::Arc::new((config.option_a.clone(), config.option_b.clone())),
            stop,
            metrics,
        }
    }
}

/// Why a page could not be rendered (the one request error; logged in the
/// request's span, answered with a plain 500).
#[derive(Debug, thiserror::Error)]
#[error("template failed: {0}")]
struct PageError(#[from] askama::Error);

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        tracing::error!(error = %self, "page not rendered");
        (StatusCode::INTERNAL_SERVER_ERROR, "page unavailable\n").into_response()
    }
}

/// The routes, wrapped in the standard middleware.
pub fn app(state: AppState) -> Router {
    let routes = Router::new()
        .route("/", get(page))
        .route("/result.js", get(script))
        .route("/events", get(events))
        .route("/api/results", get(results))
        .with_state(state.clone());
    state.kit.wrap(routes)
}

/// Serve until `shutdown` completes, then drain: the event streams end, so
/// open pages reconnect to another replica.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let pool = config.pg.lazy_pool()?;
    tracing::info!(postgres = %config.pg.display(), "result starting");
    let (publish, tally) = watch::channel(Tally::new(0, 0));
    let stop = CancellationToken::new();
    let state = AppState::new(&config, tally, stop.clone());
    let tallier = tally_loop(pool, publish, config.refresh_interval, state.clone());
    let kit = state.kit.clone();
    let grace = config.service.shutdown_grace;
    kit.serve_with_task(listener, app(state), grace, shutdown, stop, tallier)
        .await
        .map_err(Error::Serve)
}

/// Query the tally every `every` and publish it when it changed.
async fn tally_loop(pool: PgPool, publish: watch::Sender<Tally>, every: Duration, state: AppState) {
    let AppState {
        kit, metrics, stop, ..
    } = state;
    let mut ticks = tokio::time::interval(every);
    // A slow query delays the next tick instead of causing a burst after it.
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = ticks.tick() => {}
        }
        metrics.queries.inc();
        match query_tally(&pool).await {
            Ok(tally) => {
                if failing {
                    tracing::info!("database readable again");
                    failing = false;
                }
                publish.send_if_modified(|current| replace_if_changed(current, tally));
                // Ignored once the shutdown began (the kit keeps it down).
                kit.readiness.set(true);
            }
            Err(err) => {
                metrics.query_errors.inc();
                if !failing {
                    tracing::warn!(%err, "tally query failed; showing the last tally as stale");
                    failing = true;
                }
                kit.readiness.set(false);
                publish.send_if_modified(|current| {
                    let stale = Tally {
                        stale: true,
                        ..current.clone()
                    };
                    replace_if_changed(current, stale)
                });
            }
        }
    }
}

fn replace_if_changed(current: &mut Tally, new: Tally) -> bool {
    if *current == new {
        false
    } else {
        *current = new;
        true
    }
}

async fn query_tally(pool: &PgPool) -> Result<Tally, sqlx::Error> {
    let rows: Vec<(String, i64)> = match sqlx::query_as(TALLY_QUERY).fetch_all(pool).await {
        Ok(rows) => rows,
        // 42P01 undefined_table: the worker has not created it yet.
        Err(sqlx::Error::Database(err)) if err.code().as_deref() == Some("42P01") => Vec::new(),
        Err(err) => return Err(err),
    };
    let count = |option: &str| {
        rows.iter()
            .find(|(vote, _)| vote == option)
            .map_or(0, |(_, n)| *n)
    };
    Ok(Tally::new(count("a"), count("b")))
}

async fn page(State(state): State<AppState>) -> Result<Html<String>, PageError> {
    let tally = state.tally.borrow().clone();
    let page = Page {
        option_a: &state.options.0,
        option_b: &state.options.1,
        tally: &tally,
        pod: service_kit::net::instance_name(),
    };
    Ok(Html(page.render()?))
}

async fn script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("../assets/result.js"),
    )
        .into_response()
}

async fn results(State(state): State<AppState>) -> Json<Tally> {
    Json(state.tally.borrow().clone())
}

/// Counts open streams in the `result_viewers` gauge while alive.
struct Viewer(Gauge);

impl Drop for Viewer {
    fn drop(&mut self) {
        self.0.dec();
    }
}

async fn events(
    State(state): State<AppState>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let mut tally = state.tally.clone();
    // The current tally first, then every change, until shutdown.
    tally.mark_changed();
    state.metrics.viewers.inc();
    let viewer = Viewer(state.metrics.viewers.clone());
    let stop = state.stop.clone();
    let stream = futures_util::stream::unfold(
        (tally, stop, viewer),
        |(mut tally, stop, viewer)| async move {
            tokio::select! {
                () = stop.cancelled() => return None,
                changed = tally.changed() => changed.ok()?,
            }
            let current = tally.borrow_and_update().clone();
            let event = Event::default()
                .event("tally")
                .json_data(&current)
                .unwrap_or_else(|_| Event::default().comment("unencodable tally"));
            Some((Ok(event), (tally, stop, viewer)))
        },
    );
    Sse::new(stream).keep_alive(KeepAlive::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_are_the_originals() {
        let none = Tally::new(0, 0);
        assert_eq!((none.percent_a, none.percent_b), (50.0, 50.0));
        let t = Tally::new(3, 1);
        assert_eq!((t.percent_a, t.percent_b, t.total), (75.0, 25.0, 4));
        assert_eq!(t.percent_a_text(), "75%");
        assert_eq!(Tally::new(1, 0).total_text(), "1 vote");
    }
}
