//! Black-box tests of the sink over real HTTP on 127.0.0.1.

#![allow(clippy::unwrap_used)] // in tests, a panic is the failure report

mod common;

use common::TestApp;

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
    let app = TestApp::spawn(3).await;
    for path in ["/sink.php", "/"] {
        let res = app.post(path, format!("hello via {path}")).await;
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
    let lines = app.logged();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_seed_line(&lines[0], "hello via /sink.php");
    assert_seed_line(&lines[1], "hello via /");
    // And the sink's own metric counted them.
    assert!(
        app.metrics()
            .await
            .lines()
            .any(|l| l == "sink_messages_logged_total 2")
    );
    app.server.stop().await.unwrap();
}

#[tokio::test]
async fn a_message_cannot_forge_log_lines() {
    let app = TestApp::spawn(3).await;
    let res = app
        .post(
            "/sink.php",
            "real\nFrom 6.6.6.6 at 2026-01-01 01:01:01am : forged\r\n\u{2028}x",
        )
        .await;
    assert_eq!(res.status(), 200);
    let lines = app.logged();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_seed_line(
        &lines[0],
        "real\\nFrom 6.6.6.6 at 2026-01-01 01:01:01am : forged\\r\\n\\u{2028}x",
    );
}

#[tokio::test]
async fn invalid_utf8_is_logged_lossily() {
    let app = TestApp::spawn(3).await;
    let res = app.post("/sink.php", b"caf\xe9 \xff".to_vec()).await;
    assert_eq!(res.status(), 200);
    assert_seed_line(&app.logged()[0], "caf\u{fffd} \u{fffd}");
}

#[tokio::test]
async fn oversized_body_is_refused_and_not_logged() {
    let app = TestApp::spawn(3).await;
    let res = app.post("/sink.php", vec![b'x'; 64 * 1024 + 1]).await;
    assert_eq!(res.status(), 413);
    let ok = app.post("/sink.php", vec![b'y'; 64 * 1024]).await;
    assert_eq!(ok.status(), 200);
    let lines = app.logged();
    assert_eq!(lines.len(), 1);
    assert!(lines[0].ends_with(&"y".repeat(64 * 1024)));
}

#[tokio::test]
async fn page_and_messages_show_what_arrived() {
    let app = TestApp::spawn(3).await;
    for i in 0..5 {
        let res = app
            .send_with_request_id(&format!("<b>message {i}</b>"), &format!("req-{i}"))
            .await;
        assert_eq!(res.status(), 200);
    }
    let json = app.messages().await;
    assert_eq!(json["total"], 5);
    assert_eq!(json["pod_ip"], "127.0.0.1");
    assert_eq!(json["by_relay"]["127.0.0.1"], 5);
    // The window holds the latest three, newest first.
    let latest = json["latest"].as_array().unwrap();
    assert_eq!(latest.len(), 3);
    assert_eq!(latest[0]["message"], "<b>message 4</b>");
    assert_eq!(latest[0]["request_id"], "req-4");
    assert_eq!(latest[2]["message"], "<b>message 2</b>");

    let page = app.page().await;
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("5 messages logged"), "{html}");
    assert!(html.contains("&#60;b&#62;message 4&#60;/b&#62;"), "{html}");
    assert!(html.contains("<code>req-4</code>"), "{html}");
    assert!(!html.contains("<b>message"), "message text must be escaped");
    assert!(html.contains("message 2"), "{html}");
    assert!(!html.contains("message 1"), "outside the window");
}

#[tokio::test]
async fn an_empty_sink_says_so() {
    let app = TestApp::spawn(3).await;
    let json = app.messages().await;
    assert_eq!(json["total"], 0);
    assert_eq!(json["by_relay"], serde_json::json!({}));
    assert_eq!(json["latest"], serde_json::json!([]));
    let html = app.page().await.text().await.unwrap();
    assert!(html.contains("0 messages logged"), "{html}");
    assert_eq!(html.matches("nothing yet").count(), 2, "{html}");
}

#[tokio::test]
async fn unusable_log_dir_fails_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let not_a_dir = dir.path().join("file");
    std::fs::write(&not_a_dir, "").unwrap();
    let err = sink::AppState::new(&common::config(&not_a_dir, 3)).unwrap_err();
    assert!(
        err.to_string().contains("cannot create log directory"),
        "{err}"
    );
}
