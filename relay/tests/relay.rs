//! Black-box tests of the relay over real HTTP on 127.0.0.1: against the real
//! sink, and against a small recording server where a test needs to see the
//! exact bytes or make the far end misbehave.

#![allow(clippy::unwrap_used)] // in tests, a panic is the failure report

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use message_chain::{LogFileArgs, Upstream};
use service_kit::ServiceArgs;
use service_kit::test_server::{TestServer, closed_port};
use tokio::net::TcpListener;

/// A relay under test, forwarding to `sink_url`, with its log file in a
/// fresh directory, and a method for each request the tests make.
struct TestApp {
    server: TestServer<relay::Error>,
    log_dir: tempfile::TempDir,
    client: reqwest::Client,
}

impl TestApp {
    async fn spawn(sink_url: &str) -> Self {
        let log_dir = tempfile::tempdir().unwrap();
        let config = relay::Config {
            service: ServiceArgs::for_tests(),
            sink_url: Upstream::parse(sink_url).unwrap(),
            sink_timeout: Duration::from_millis(500),
            sink_connect_timeout: Duration::from_millis(500),
            sink_idle_timeout: Duration::from_secs(2),
            log: LogFileArgs {
                log_dir: log_dir.path().to_owned(),
                log_fsync: false,
            },
        };
        let server =
            TestServer::start(|listener, shutdown| relay::run(listener, config, shutdown)).await;
        Self {
            server,
            log_dir,
            client: reqwest::Client::new(),
        }
    }

    /// POST a message to `/relay.php`, as the sender does.
    async fn relay(&self, body: impl Into<reqwest::Body>) -> reqwest::Response {
        self.client
            .post(self.server.url("/relay.php"))
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// POST a message to `path` as the sender does, with a request id.
    async fn relay_with_request_id(&self, path: &str, body: &str, id: &str) -> reqwest::Response {
        self.client
            .post(self.server.url(path))
            .header("content-type", "text/plain")
            .header("x-request-id", id)
            .body(body.to_owned())
            .send()
            .await
            .unwrap()
    }

    /// `GET /metrics`.
    async fn metrics(&self) -> String {
        let res = self
            .client
            .get(self.server.url("/metrics"))
            .send()
            .await
            .unwrap();
        res.text().await.unwrap()
    }

    /// The lines of this relay's log file, `Relay_127.0.0.1.txt`.
    fn logged(&self) -> Vec<String> {
        lines(&self.log_dir.path().join("Relay_127.0.0.1.txt"))
    }
}

/// The real sink, as the far end.
async fn start_sink(log_dir: &Path) -> TestServer<sink::Error> {
    let config = sink::Config {
        service: ServiceArgs::for_tests(),
        log: LogFileArgs {
            log_dir: log_dir.to_owned(),
            log_fsync: false,
        },
        recent_messages: 10,
    };
    TestServer::start(|listener, shutdown| sink::run(listener, config, shutdown)).await
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// What a recording far end saw.
#[derive(Debug, Default)]
struct Seen {
    bodies: Vec<Bytes>,
    request_ids: Vec<Option<String>>,
}

/// A stand-in sink that records requests, waits `delay`, then answers
/// `status` with `reply`. Returns its address and what it saw.
async fn recording_sink(
    delay: Duration,
    status: StatusCode,
    reply: &'static str,
) -> (String, Arc<Mutex<Seen>>) {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let record = seen.clone();
    let app = Router::new().route(
        "/sink.php",
        post(move |headers: HeaderMap, body: Bytes| {
            let record = record.clone();
            async move {
                {
                    let mut seen = record.lock().unwrap();
                    seen.bodies.push(body);
                    seen.request_ids.push(
                        headers
                            .get("x-request-id")
                            .map(|v| v.to_str().unwrap().to_owned()),
                    );
                }
                tokio::time::sleep(delay).await;
                (status, reply)
            }
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("{addr}/sink.php"), seen)
}

#[tokio::test]
async fn relays_to_the_sink_and_returns_its_reply() {
    let sink_dir = tempfile::tempdir().unwrap();
    let sink = start_sink(sink_dir.path()).await;
    // The seed's scheme-less URL form.
    let relay = TestApp::spawn(&format!("{}/sink.php", sink.addr)).await;
    let message = "Message sent from 10.0.0.7 on Sat Nov 21 21:40:50 UTC 2026";

    for path in ["/relay.php", "/"] {
        let res = relay
            .relay_with_request_id(path, message, "trace-me-42")
            .await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["x-request-id"], "trace-me-42");
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain")
        );
        assert_eq!(res.text().await.unwrap(), "Logged message from 127.0.0.1");
    }

    let relay_lines = relay.logged();
    assert_eq!(relay_lines.len(), 2);
    for line in &relay_lines {
        assert!(line.starts_with("Relaying from 127.0.0.1 at "), "{line}");
        assert!(line.ends_with(&format!(" : {message}")), "{line}");
    }
    assert_eq!(lines(&sink_dir.path().join("Sink_127.0.0.1.txt")).len(), 2);

    // The request id reached the sink.
    let json: serde_json::Value = reqwest::get(sink.url("/messages"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(json["latest"][0]["request_id"], "trace-me-42");
    assert_eq!(json["latest"][1]["request_id"], "trace-me-42");
}

#[tokio::test]
async fn forwards_bytes_exactly_and_propagates_a_request_id() {
    let (sink_url, seen) = recording_sink(Duration::ZERO, StatusCode::OK, "ok").await;
    let relay = TestApp::spawn(&sink_url).await;
    let raw: &[u8] = b"bytes \xff\xfe\x00 and a\nnewline";
    let res = relay.relay(raw.to_vec()).await;
    assert_eq!(res.status(), 200);
    // No id given: the relay made one, echoed it, and passed it on.
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(!id.is_empty());
    let seen = seen.lock().unwrap();
    assert_eq!(seen.bodies, vec![Bytes::from_static(raw)]);
    assert_eq!(seen.request_ids, vec![Some(id)]);
    // ...while the log line is lossy, escaped, and one line.
    let logged = relay.logged();
    assert_eq!(logged.len(), 1);
    assert!(
        logged[0].ends_with(" : bytes \u{fffd}\u{fffd}\\u{0} and a\\nnewline"),
        "{}",
        logged[0]
    );
}

#[tokio::test]
async fn sink_down_is_502_within_a_second() {
    let relay = TestApp::spawn(&format!("http://{}/sink.php", closed_port().await)).await;
    let start = Instant::now();
    let res = relay.relay("hi").await;
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(res.status(), 502);
    assert_eq!(res.text().await.unwrap(), "sink unreachable\n");
}

#[tokio::test]
async fn slow_sink_is_504() {
    let (sink_url, _) = recording_sink(Duration::from_secs(3), StatusCode::OK, "late").await;
    let relay = TestApp::spawn(&sink_url).await;
    let start = Instant::now();
    let res = relay.relay("hi").await;
    assert_eq!(res.status(), 504);
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(res.text().await.unwrap(), "sink did not answer in time\n");
}

#[tokio::test]
async fn sink_error_is_502_with_the_reason() {
    let (sink_url, _) =
        recording_sink(Duration::ZERO, StatusCode::INTERNAL_SERVER_ERROR, "boom").await;
    let relay = TestApp::spawn(&sink_url).await;
    let res = relay.relay("hi").await;
    assert_eq!(res.status(), 502);
    assert_eq!(
        res.text().await.unwrap(),
        "sink answered 500 Internal Server Error\n"
    );
}

#[tokio::test]
async fn oversized_body_is_413_and_not_forwarded() {
    let (sink_url, seen) = recording_sink(Duration::ZERO, StatusCode::OK, "ok").await;
    let relay = TestApp::spawn(&sink_url).await;
    let res = relay.relay(vec![b'x'; 64 * 1024 + 1]).await;
    assert_eq!(res.status(), 413);
    assert!(seen.lock().unwrap().bodies.is_empty());
    assert!(relay.logged().is_empty());
    // One byte less is a message like any other.
    assert_eq!(relay.relay(vec![b'x'; 64 * 1024]).await.status(), 200);
    assert_eq!(seen.lock().unwrap().bodies.len(), 1);
}

#[tokio::test]
async fn oversized_sink_reply_is_502() {
    let big: &'static str = "y".repeat(64 * 1024 + 1).leak();
    let (sink_url, _) = recording_sink(Duration::ZERO, StatusCode::OK, big).await;
    let relay = TestApp::spawn(&sink_url).await;
    let res = relay.relay("hi").await;
    assert_eq!(res.status(), 502);
    assert_eq!(
        res.text().await.unwrap(),
        format!("sink reply larger than {} bytes\n", 64 * 1024)
    );
}

#[tokio::test]
async fn the_relays_metric_counts_outcomes() {
    let (ok_url, _) = recording_sink(Duration::ZERO, StatusCode::OK, "ok").await;
    let relay = TestApp::spawn(&format!("{ok_url},{}", closed_port().await)).await;
    for _ in 0..4 {
        relay.relay("hi").await;
    }
    let text = relay.metrics().await;
    assert!(
        text.contains(r#"relay_messages_total{outcome="relayed"} 2"#),
        "{text}"
    );
    assert!(
        text.contains(r#"relay_messages_total{outcome="sink_unreachable"} 2"#),
        "{text}"
    );
}

#[tokio::test]
async fn several_sink_urls_are_used_in_turn() {
    let (a, seen_a) = recording_sink(Duration::ZERO, StatusCode::OK, "a").await;
    let (b, seen_b) = recording_sink(Duration::ZERO, StatusCode::OK, "b").await;
    let relay = TestApp::spawn(&format!("{a},{b}")).await;
    let mut replies = Vec::new();
    for _ in 0..4 {
        replies.push(relay.relay("m").await.text().await.unwrap());
    }
    assert_eq!(replies, ["a", "b", "a", "b"]);
    assert_eq!(seen_a.lock().unwrap().bodies.len(), 2);
    assert_eq!(seen_b.lock().unwrap().bodies.len(), 2);
}

#[tokio::test]
async fn unusable_log_dir_fails_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let not_a_dir = dir.path().join("file");
    std::fs::write(&not_a_dir, "").unwrap();
    let config = relay::Config {
        service: ServiceArgs::for_tests(),
        sink_url: Upstream::parse("sink-svc/sink.php").unwrap(),
        sink_timeout: Duration::from_secs(1),
        sink_connect_timeout: Duration::from_secs(1),
        sink_idle_timeout: Duration::from_secs(1),
        log: LogFileArgs {
            log_dir: not_a_dir,
            log_fsync: false,
        },
    };
    let err = relay::AppState::new(&config).unwrap_err();
    assert!(
        err.to_string().contains("cannot create log directory"),
        "{err}"
    );
}
