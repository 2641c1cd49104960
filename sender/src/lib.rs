//! The sender: tier 1 of the message chain (the *Kubernetes Case Study* article's shell loop).
//!
//! Every `SEND_INTERVAL` it POSTs `Message sent from <ip> on <date>` as
//! `text/plain` to `RELAY_URL` and prints, like the seed's script,
//! `********  Sending <message>` and then the relay's reply. Each message
//! carries a fresh `x-request-id` that the relay passes on, so one message
//! can be followed through the structured logs of all three tiers.
//!
//! Unlike `curl` in a `while true` loop, a relay that is down or slow does
//! not stall or kill the sender: each request has a timeout, failures are
//! logged, and the pause between attempts doubles (up to `MAX_BACKOFF`)
//! until the relay answers again. The sender also serves `/healthz`,
//! `/readyz` and `/metrics` on `PORT`, so Kubernetes can probe it and
//! Prometheus can count what it sent.

use std::future::Future;
use std::io::Write;
use std::net::IpAddr;
use std::time::Duration;

use axum::Router;
use message_chain::Upstream;
use message_chain::timestamp;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use service_kit::{Kit, ServiceArgs};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The sender's settings. Every one is a flag and an environment variable.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "sender",
    version,
    about = "Tier 1 of the message chain: posts a message to the relay every few seconds"
)]
pub struct Config {
    #[command(flatten)]
    pub service: ServiceArgs,

    /// Where to send messages. The seed's scheme-less form
    /// (`relay-svc/relay.php`) means http://. Outside a cluster, several URLs
    /// separated by commas are used in turn (a stand-in for a Service).
    #[arg(long, env = "RELAY_URL", default_value = "relay-svc/relay.php", value_parser = Upstream::parse)]
    pub relay_url: Upstream,

    /// Pause between messages. Accepts `500ms`, `5s`, `1m`.
    #[arg(long, env = "SEND_INTERVAL", default_value = "5s", value_parser = humantime::parse_duration)]
    pub send_interval: Duration,

    /// How long one request to the relay may take.
    #[arg(long, env = "REQUEST_TIMEOUT", default_value = "5s", value_parser = humantime::parse_duration)]
    pub request_timeout: Duration,

    /// Longest pause between attempts while the relay keeps failing.
    #[arg(long, env = "MAX_BACKOFF", default_value = "60s", value_parser = humantime::parse_duration)]
    pub max_backoff: Duration,

    /// Stop after this many messages were delivered, and exit 0 (for smoke
    /// tests). Unset: send forever.
    #[arg(long, env = "MESSAGE_COUNT")]
    pub message_count: Option<u64>,
}

/// Why the sender could not start or stopped serving its probes. `run`
/// returns it. A message that was not delivered is not one of these (see
/// [`SendError`]): the sender logs it and tries again.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot build the HTTP client: {0}")]
    Client(reqwest::Error),
    #[error("serving HTTP failed: {0}")]
    Serve(std::io::Error),
    #[error("the HTTP server task failed: {0}")]
    ServerTask(#[from] tokio::task::JoinError),
}

/// Why one message was not delivered.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("relay did not answer within {0:?}")]
    Timeout(Duration),
    #[error("relay unreachable: {0}")]
    Unreachable(reqwest::Error),
    #[error("relay answered {status}: {body}")]
    Status {
        status: reqwest::StatusCode,
        body: String,
    },
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    outcome: &'static str,
}

/// Shared state of one sender instance.
#[derive(Debug, Clone)]
pub struct AppState {
    kit: Kit,
    client: reqwest::Client,
    relay_url: Upstream,
    request_timeout: Duration,
    pod_ip: IpAddr,
    sent: Family<Outcome, Counter>,
}

impl AppState {
    pub fn new(config: &Config) -> Result<Self, Error> {
        // No connection reuse, like the seed's curl: one message every few
        // seconds gains nothing from keep-alive, and a fresh connection per
        // message lets kube-proxy (which balances connections, not requests)
        // pick a relay pod for each message.
        let mut client = reqwest::Client::builder().pool_max_idle_per_host(0);
        if !config.service.bind.is_unspecified() {
            // See the relay: a specific bind address is this instance's identity.
            client = client.local_address(config.service.bind);
        }
        let sent = Family::<Outcome, Counter>::default();
        let kit = Kit::new(true, |registry| {
            registry.register("sender_messages", "Messages sent, by outcome", sent.clone());
        });
        Ok(Self {
            kit,
            client: client.build().map_err(Error::Client)?,
            relay_url: config.relay_url.clone(),
            request_timeout: config.request_timeout,
            pod_ip: config.service.pod_ip(),
            sent,
        })
    }

    /// The message text, as the seed formats it.
    pub fn message(&self) -> String {
        format!(
            "Message sent from {} on {}",
            self.pod_ip,
            timestamp::unix_date(chrono::Utc::now())
        )
    }

    /// Send one message; returns the relay's reply.
    pub async fn send(&self, message: String, request_id: &str) -> Result<String, SendError> {
        let result = self.try_send(message, request_id).await;
        let outcome = if result.is_ok() {
            "delivered"
        } else {
            "failed"
        };
        self.sent.get_or_create(&Outcome { outcome }).inc();
        result
    }

    async fn try_send(&self, message: String, request_id: &str) -> Result<String, SendError> {
        let response = self
            .client
            .post(self.relay_url.next_url().clone())
            .timeout(self.request_timeout)
            .header(reqwest::header::CONTENT_TYPE, "text/plain")
            .header(service_kit::http::REQUEST_ID, request_id)
            .body(message)
            .send()
            .await
            .map_err(|e| self.classify(e))?;
        let status = response.status();
        let body = response.text().await.map_err(|e| self.classify(e))?;
        if status.is_success() {
            Ok(body)
        } else {
            Err(SendError::Status {
                status,
                body: body.trim_end().to_owned(),
            })
        }
    }

    fn classify(&self, err: reqwest::Error) -> SendError {
        if err.is_timeout() && !err.is_connect() {
            SendError::Timeout(self.request_timeout)
        } else {
            SendError::Unreachable(err)
        }
    }
}

/// The sender's HTTP side: probes and metrics only.
pub fn app(state: AppState) -> Router {
    state.kit.wrap(Router::new())
}

/// Send messages until `MESSAGE_COUNT` are delivered or `shutdown`
/// completes, writing the transcript to `out`; meanwhile serve probes and
/// metrics on `listener`. A message in flight at shutdown is finished (it
/// is bounded by `REQUEST_TIMEOUT`), then the process can exit 0.
///
/// This is the service shape's `run` with one more argument: where the
/// transcript goes (stdout in `main`, a buffer in tests).
pub async fn run(
    listener: TcpListener,
    config: Config,
    out: Box<dyn Write + Send>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let state = AppState::new(&config)?;
    let stop = CancellationToken::new();
    let server = tokio::spawn({
        let kit = state.kit.clone();
        let app = app(state.clone());
        let grace = config.service.shutdown_grace;
        let stopped = stop.clone().cancelled_owned();
        async move { kit.serve(listener, app, grace, stopped).await }
    });

    let sending = send_loop(&state, &config, out, &stop);
    tokio::pin!(sending);
    tokio::select! {
        () = &mut sending => {}
        () = shutdown => {
            stop.cancel();
            sending.await;
        }
    }
    stop.cancel();
    server.await?.map_err(Error::Serve)
}

async fn send_loop(
    state: &AppState,
    config: &Config,
    mut out: Box<dyn Write + Send>,
    stop: &CancellationToken,
) {
    tracing::info!(relay = %config.relay_url, interval = ?config.send_interval, pod_ip = %state.pod_ip, "sending");
    let mut delivered = 0u64;
    let mut failures = 0u32;
    while !stop.is_cancelled() {
        let message = state.message();
        let request_id = uuid::Uuid::new_v4().to_string();
        // The transcript is a few short lines every few seconds: a blocking
        // write to stdout is harmless here.
        let _ = writeln!(out, "********  Sending {message}");
        match state.send(message, &request_id).await {
            Ok(reply) => {
                let _ = writeln!(out, "{reply}");
                tracing::info!(request_id, reply, "delivered");
                delivered += 1;
                failures = 0;
            }
            Err(err) => {
                let _ = writeln!(out, "!! not delivered: {err}");
                tracing::warn!(request_id, error = %err, "not delivered");
                failures = failures.saturating_add(1);
            }
        }
        let _ = out.flush();
        if config.message_count.is_some_and(|n| delivered >= n) {
            tracing::info!(delivered, "MESSAGE_COUNT reached, stopping");
            return;
        }
        let pause = backoff(config.send_interval, config.max_backoff, failures);
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = stop.cancelled() => {}
        }
    }
}

/// The pause before the next attempt: the interval while things work, then
/// doubling with each consecutive failure, capped at `max` (but never
/// shorter than the interval).
pub fn backoff(interval: Duration, max: Duration, failures: u32) -> Duration {
    let doubled = interval.saturating_mul(2u32.saturating_pow(failures.min(16)));
    doubled.min(max.max(interval))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_then_caps() {
        let s = Duration::from_secs;
        assert_eq!(backoff(s(5), s(60), 0), s(5));
        assert_eq!(backoff(s(5), s(60), 1), s(10));
        assert_eq!(backoff(s(5), s(60), 3), s(40));
        assert_eq!(backoff(s(5), s(60), 4), s(60));
        assert_eq!(backoff(s(5), s(60), u32::MAX), s(60));
        assert_eq!(backoff(s(90), s(60), 2), s(90));
    }
}
