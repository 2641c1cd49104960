//! MongoDB missing at start, and lost later.
//!
//! Each test gets its own nx-27017 on its own port, because these tests stop
//! and start the server.

mod support;

use std::time::Duration;

use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::{Value, json};
use support::mongo::{MongoServer, free_port, unique_db};
use support::{Backend, TestApp};

fn config_for_port(port: u16) -> portal_model::Config {
    let mut config = support::config(Backend::Memory);
    config.store = portal_model::StoreKind::Mongo;
    config.mongo_url = SecretString::from(format!("mongodb://127.0.0.1:{port}"));
    config.mongo_db = unique_db();
    config.mongo_timeout = Duration::from_millis(700);
    config
}

/// Assert a 503 with a JSON message a person can act on.
async fn assert_unavailable(response: reqwest::Response) {
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "5");
    let body: Value = response.json().await.expect("a JSON body");
    let message = body["error"].as_str().expect("an error message");
    assert!(message.contains("database is unavailable"), "{message}");
    // Driver internals stay in the log.
    assert!(!message.contains("127.0.0.1"), "{message}");
}

async fn assert_api_unavailable(app: &TestApp) {
    assert_unavailable(app.get("/api/tools").await).await;
    assert_unavailable(
        app.post_json(
            "/api/tools",
            &json!({ "name": "a", "url": "https://x.example" }),
        )
        .await,
    )
    .await;
    assert_unavailable(app.get("/api/tools/65a1b2c3d4e5f60718293a4b").await).await;
    assert_unavailable(app.delete("/api/tools/65a1b2c3d4e5f60718293a4b").await).await;
}

#[tokio::test]
async fn starts_without_mongo_and_becomes_ready_when_it_answers() {
    let port = free_port();
    let app = support::spawn_with(config_for_port(port)).await;

    // Up and serving, but not ready; the API says why.
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.readyz().await, 503);
    assert_api_unavailable(&app).await;
    // Validation still comes first: a bad body is a 400 even now.
    assert_eq!(
        app.post_json("/api/tools", &json!({ "name": "" }))
            .await
            .status(),
        StatusCode::BAD_REQUEST
    );
    // The page is served regardless.
    assert_eq!(app.get("/").await.status(), StatusCode::OK);

    let _server = MongoServer::start_on(port);
    app.wait_ready(Duration::from_secs(20)).await;
    let created = app
        .post_json(
            "/api/tools",
            &json!({ "name": "late", "url": "https://x.example" }),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    assert_eq!(app.get("/api/tools").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn losing_mongo_later_answers_503_and_recovers() {
    let port = free_port();
    let mut server = MongoServer::start_on(port);
    let app = support::spawn_with(config_for_port(port)).await;
    app.wait_ready(Duration::from_secs(20)).await;
    let created = app
        .post_json(
            "/api/tools",
            &json!({ "name": "before", "url": "https://x.example" }),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);

    server.stop();
    assert_api_unavailable(&app).await;
    // Still alive, and still in the Service (see store::mongo's docs).
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
    assert_eq!(app.readyz().await, 200);

    // MongoDB comes back (empty: the test server keeps data in memory); the
    // driver reconnects by itself.
    let _server = MongoServer::start_on(port);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let status = app.get("/api/tools").await.status();
        if status == StatusCode::OK {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still {status} after MongoDB returned"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn an_unusable_mongo_url_fails_at_start() {
    let mut config = config_for_port(1);
    config.mongo_url = SecretString::from("postgres://not-mongo".to_owned());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let result = portal_model::run(listener, config, std::future::pending()).await;
    let err = result.expect_err("a non-MongoDB URL must be refused at start");
    assert!(err.to_string().contains("MONGO_URL"), "{err}");
}
