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
use service_kit::ServiceArgs;
use service_kit::applog::LogFileArgs;
use service_kit::test_server::TestServer;
use tokio::net::TcpListener;

fn relay_config(log_dir: &Path, sink_url: &str) -> relay::Config {
    relay::Config {
        service: ServiceArgs::for_tests(),
        sink_url: service_kit::svc_url::Upstream::parse(sink_url).unwrap(),
        sink_timeout: Duration::from_millis(500),
        sink_connect_timeout: Duration::from_millis(500),
        sink_idle_timeout: Duration::from_secs(2),
        log: LogFileArgs {
            log_dir: log_dir.to_owned(),
            log_fsync: false,
        },
    }
}

async fn start_relay(log_dir: &Path, sink_url: &str) -> TestServer<relay::Error> {
    let config = relay_config(log_dir, sink_url);
    TestServer::start(|listener, shutdown| relay::run(listener, config, shutdown)).await
}

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
    let dir = tempfile::tempdir().unwrap();
    let sink = start_sink(&dir.path().join("sink")).await;
    // The seed's scheme-less URL form.
    let relay = start_relay(
        &dir.path().join("relay"),
        &format!("{}/sink.php", sink.addr),
    )
    .await;
    let client = reqwest::Client::new();

    for path in ["/relay.php", "/"] {
        let res = client
            .post(relay.url(path))
            .header("content-type", "text/plain")
            .header("x-request-id", "trace-me-42")
            .body("Message sent from 10.0.0.7 on Sat Nov 21 21:40:50 UTC 2026")
            .send()
            .await
            .unwrap();
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

    let relay_lines = lines(&dir.path().join("relay/Relay_127.0.0.1.txt"));
    assert_eq!(relay_lines.len(), 2);
    for line in &relay_lines {
        assert!(line.starts_with("Relaying from 127.0.0.1 at "), "{line}");
        assert!(
            line.ends_with(" : Message sent from 10.0.0.7 on Sat Nov 21 21:40:50 UTC 2026"),
            "{line}"
        );
    }
    assert_eq!(lines(&dir.path().join("sink/Sink_127.0.0.1.txt")).len(), 2);

    // The request id reached the sink.
    let json: serde_json::Value = client
        .get(sink.url("/messages"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(json["latest"][0]["request_id"], "trace-me-42");
}

#[tokio::test]
async fn forwards_bytes_exactly_and_propagates_a_request_id() {
    let dir = tempfile::tempdir().unwrap();
    let (sink_url, seen) = recording_sink(Duration::ZERO, StatusCode::OK, "ok").await;
    let relay = start_relay(dir.path(), &sink_url).await;
    let raw: &[u8] = b"bytes \xff\xfe\x00 and a\nnewline";
    let res = reqwest::Client::new()
        .post(relay.url("/relay.php"))
        .body(raw.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // No id given: the relay made one, echoed it, and passed it on.
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(!id.is_empty());
    let seen = seen.lock().unwrap();
    assert_eq!(seen.bodies, vec![Bytes::from_static(raw)]);
    assert_eq!(seen.request_ids, vec![Some(id)]);
    // ...while the log line is lossy, escaped, and one line.
    let logged = lines(&dir.path().join("Relay_127.0.0.1.txt"));
    assert_eq!(logged.len(), 1);
    assert!(
        logged[0].ends_with(" : bytes \u{fffd}\u{fffd}\\u{0} and a\\nnewline"),
        "{}",
        logged[0]
    );
}

#[tokio::test]
async fn sink_down_is_502_within_a_second() {
    let dir = tempfile::tempdir().unwrap();
    // A port that was free a moment ago and has no listener now.
    let closed = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let relay = start_relay(dir.path(), &format!("http://{closed}/sink.php")).await;
    let start = Instant::now();
    let res = reqwest::Client::new()
        .post(relay.url("/relay.php"))
        .body("hi")
        .send()
        .await
        .unwrap();
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
    let dir = tempfile::tempdir().unwrap();
    let (sink_url, _) = recording_sink(Duration::from_secs(3), StatusCode::OK, "late").await;
    let relay = start_relay(dir.path(), &sink_url).await;
    let start = Instant::now();
    let res = reqwest::Client::new()
        .post(relay.url("/relay.php"))
        .body("hi")
        .send()
        .await
        .unwrap();
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
    let dir = tempfile::tempdir().unwrap();
    let (sink_url, _) =
        recording_sink(Duration::ZERO, StatusCode::INTERNAL_SERVER_ERROR, "boom").await;
    let relay = start_relay(dir.path(), &sink_url).await;
    let res = reqwest::Client::new()
        .post(relay.url("/relay.php"))
        .body("hi")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 502);
    assert_eq!(
        res.text().await.unwrap(),
        "sink answered 500 Internal Server Error\n"
    );
}

#[tokio::test]
async fn oversized_body_is_413_and_not_forwarded() {
    let dir = tempfile::tempdir().unwrap();
    let (sink_url, seen) = recording_sink(Duration::ZERO, StatusCode::OK, "ok").await;
    let relay = start_relay(dir.path(), &sink_url).await;
    let res = reqwest::Client::new()
        .post(relay.url("/relay.php"))
        .body(vec![b'x'; 64 * 1024 + 1])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    assert!(seen.lock().unwrap().bodies.is_empty());
    assert!(lines(&dir.path().join("Relay_127.0.0.1.txt")).is_empty());
}

#[tokio::test]
async fn metrics_count_outcomes() {
    let dir = tempfile::tempdir().unwrap();
    let closed = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let relay = start_relay(dir.path(), &closed.to_string()).await;
    let client = reqwest::Client::new();
    for _ in 0..2 {
        client
            .post(relay.url("/relay.php"))
            .body("hi")
            .send()
            .await
            .unwrap();
    }
    let text = client
        .get(relay.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(r#"relay_messages_total{outcome="sink_unreachable"} 2"#),
        "{text}"
    );
    assert!(
        text.contains(r#"http_requests_total{method="POST",route="/relay.php",status="502"} 2"#),
        "{text}"
    );
}

#[tokio::test]
async fn several_sink_urls_are_used_in_turn() {
    let dir = tempfile::tempdir().unwrap();
    let (a, seen_a) = recording_sink(Duration::ZERO, StatusCode::OK, "a").await;
    let (b, seen_b) = recording_sink(Duration::ZERO, StatusCode::OK, "b").await;
    let relay = start_relay(dir.path(), &format!("{a},{b}")).await;
    let client = reqwest::Client::new();
    let mut replies = Vec::new();
    for _ in 0..4 {
        let res = client
            .post(relay.url("/relay.php"))
            .body("m")
            .send()
            .await
            .unwrap();
        replies.push(res.text().await.unwrap());
    }
    assert_eq!(replies, ["a", "b", "a", "b"]);
    assert_eq!(seen_a.lock().unwrap().bodies.len(), 2);
    assert_eq!(seen_b.lock().unwrap().bodies.len(), 2);
}
