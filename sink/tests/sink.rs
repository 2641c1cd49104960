//! Black-box tests of the sink over real HTTP on 127.0.0.1.

#![allow(clippy::unwrap_used)] // in tests, a panic is the failure report

use std::path::Path;

use service_kit::ServiceArgs;
use service_kit::applog::LogFileArgs;
use service_kit::test_server::TestServer;

fn config(log_dir: &Path) -> sink::Config {
    sink::Config {
        service: ServiceArgs::for_tests(),
        log: LogFileArgs {
            log_dir: log_dir.to_owned(),
            log_fsync: false,
        },
        recent_messages: 3,
    }
}

async fn start(log_dir: &Path) -> TestServer<sink::Error> {
    let config = config(log_dir);
    TestServer::start(|listener, shutdown| sink::run(listener, config, shutdown)).await
}

fn log_lines(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join("Sink_127.0.0.1.txt")).unwrap_or_default();
    text.lines().map(str::to_owned).collect()
}

/// `From 127.0.0.1 at 2026-11-21 09:40:50pm : <message>`
fn assert_seed_line(line: &str, message: &str) {
    let rest = line
        .strip_prefix("From 127.0.0.1 at ")
        .unwrap_or_else(|| panic!("prefix: {line}"));
    let (date, msg) = rest.split_once(" : ").unwrap();
    assert_eq!(msg, message);
    assert_eq!(date.len(), "2026-11-21 09:40:50pm".len(), "{date}");
    assert!(date.ends_with("am") || date.ends_with("pm"), "{date}");
    assert_eq!(&date[4..5], "-");
    assert_eq!(&date[10..11], " ");
}

#[tokio::test]
async fn logs_each_message_then_replies() {
    let dir = tempfile::tempdir().unwrap();
    let sink = start(dir.path()).await;
    let client = reqwest::Client::new();

    for path in ["/sink.php", "/"] {
        let res = client
            .post(sink.url(path))
            .body(format!("hello via {path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain")
        );
        assert_eq!(res.text().await.unwrap(), "Logged message from 127.0.0.1");
    }
    // A 200 means the line is already in the file: no waiting.
    let lines = log_lines(dir.path());
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_seed_line(&lines[0], "hello via /sink.php");
    assert_seed_line(&lines[1], "hello via /");
    sink.stop().await.unwrap();
}

#[tokio::test]
async fn a_message_cannot_forge_log_lines() {
    let dir = tempfile::tempdir().unwrap();
    let sink = start(dir.path()).await;
    let res = reqwest::Client::new()
        .post(sink.url("/sink.php"))
        .body("real\nFrom 6.6.6.6 at 2026-01-01 01:01:01am : forged\r\n\u{2028}x")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let lines = log_lines(dir.path());
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_seed_line(
        &lines[0],
        "real\\nFrom 6.6.6.6 at 2026-01-01 01:01:01am : forged\\r\\n\\u{2028}x",
    );
}

#[tokio::test]
async fn invalid_utf8_is_logged_lossily() {
    let dir = tempfile::tempdir().unwrap();
    let sink = start(dir.path()).await;
    let res = reqwest::Client::new()
        .post(sink.url("/sink.php"))
        .body(b"caf\xe9 \xff".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_seed_line(&log_lines(dir.path())[0], "caf\u{fffd} \u{fffd}");
}

#[tokio::test]
async fn oversized_body_is_refused_and_not_logged() {
    let dir = tempfile::tempdir().unwrap();
    let sink = start(dir.path()).await;
    let res = reqwest::Client::new()
        .post(sink.url("/sink.php"))
        .body(vec![b'x'; 64 * 1024 + 1])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    let ok = reqwest::Client::new()
        .post(sink.url("/sink.php"))
        .body(vec![b'y'; 64 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let lines = log_lines(dir.path());
    assert_eq!(lines.len(), 1);
    assert!(lines[0].ends_with(&"y".repeat(64 * 1024)));
}

#[tokio::test]
async fn page_and_messages_show_what_arrived() {
    let dir = tempfile::tempdir().unwrap();
    let sink = start(dir.path()).await;
    let client = reqwest::Client::new();
    for i in 0..5 {
        client
            .post(sink.url("/sink.php"))
            .header("x-request-id", format!("req-{i}"))
            .body(format!("<b>message {i}</b>"))
            .send()
            .await
            .unwrap();
    }
    let json: serde_json::Value = client
        .get(sink.url("/messages"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(json["total"], 5);
    assert_eq!(json["pod_ip"], "127.0.0.1");
    assert_eq!(json["by_sender"]["127.0.0.1"], 5);
    // The window holds the latest three, newest first.
    let latest = json["latest"].as_array().unwrap();
    assert_eq!(latest.len(), 3);
    assert_eq!(latest[0]["message"], "<b>message 4</b>");
    assert_eq!(latest[0]["request_id"], "req-4");
    assert_eq!(latest[2]["message"], "<b>message 2</b>");

    let page = client.get(sink.url("/")).send().await.unwrap();
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("5 messages logged"), "{html}");
    assert!(html.contains("&lt;b&gt;message 4&lt;/b&gt;"));
    assert!(!html.contains("<b>message"), "message text must be escaped");
    assert!(!html.contains("message 1"), "outside the window");
}

#[tokio::test]
async fn probes_and_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let sink = start(dir.path()).await;
    let client = reqwest::Client::new();
    assert_eq!(
        client
            .get(sink.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        client
            .get(sink.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    for _ in 0..3 {
        client
            .post(sink.url("/sink.php"))
            .body("m")
            .send()
            .await
            .unwrap();
    }
    let res = client.get(sink.url("/metrics")).send().await.unwrap();
    let text = res.text().await.unwrap();
    assert!(
        text.contains(r#"http_requests_total{method="POST",route="/sink.php",status="200"} 3"#),
        "{text}"
    );
    assert!(text.contains("sink_messages_logged_total 3"), "{text}");
}

#[tokio::test]
async fn unusable_log_dir_fails_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let not_a_dir = dir.path().join("file");
    std::fs::write(&not_a_dir, "").unwrap();
    let err = sink::AppState::new(&config(&not_a_dir)).unwrap_err();
    assert!(
        err.to_string().contains("cannot create log directory"),
        "{err}"
    );
}
