//! What the frontend serves: the page for any GET path, the assets,
//! `/config.js` telling the page where GraphQL goes, and (in the default
//! proxy mode) `/graphql` forwarded to SERVER_URI, with its limits.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use common::{TestApp, TestBackend};
use serde_json::{Value, json};
use service_kit::test_server::closed_port;
use todo_frontend::Config;

/// A stand-in backend: answers every POST with `reply` after `delay`, and
/// keeps the headers of the last request it saw.
async fn fake_backend(
    status: u16,
    reply: String,
    delay: Duration,
) -> (std::net::SocketAddr, Arc<Mutex<Option<HeaderMap>>>) {
    let seen = Arc::new(Mutex::new(None));
    let seen_by_handler = seen.clone();
    let app = axum::Router::new().route(
        "/graphql",
        axum::routing::post(move |headers: HeaderMap| {
            let seen = seen_by_handler.clone();
            let reply = reply.clone();
            async move {
                *seen.lock().unwrap() = Some(headers);
                tokio::time::sleep(delay).await;
                (
                    axum::http::StatusCode::from_u16(status).unwrap(),
                    [
                        ("content-type", "application/json"),
                        // As todo-backend's service-kit names its pod.
                        ("x-served-by", "to-do-app-backend-6f7c9-qx2lp"),
                    ],
                    reply,
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, seen)
}

#[tokio::test]
async fn proxy_mode_points_the_page_at_its_own_origin() {
    let app = TestApp::spawn("backend.example:8081").await;
    let page = app.get("/").await;
    let csp = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("connect-src 'self';"), "{csp}");
    assert!(!csp.contains("backend.example"), "{csp}");
    let config = app.get("/config.js").await;
    assert_eq!(
        config.text().await.unwrap(),
        format!(
            "window.TODO_CONFIG = {{ graphqlUrl: \"/graphql\", pod: \"{}\" }};\n",
            service_kit::net::instance_name()
        )
    );
    app.stop().await;
}

#[tokio::test]
async fn proxy_forwards_to_a_real_backend() {
    let backend = TestBackend::spawn().await;
    let frontend = TestApp::spawn(&backend.server_uri()).await;
    let created = frontend
        .gql(
            "mutation createListMutation($name:String){ list:createList(name:$name){id name position} }",
            json!({ "name": "Through the proxy" }),
        )
        .await;
    assert_eq!(
        created["data"]["list"]["name"], "Through the proxy",
        "{created}"
    );
    let home = frontend
        .gql(
            "query homePageQuery{ lists { id name position items{ id name position listId } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        home["data"]["lists"][0]["name"], "Through the proxy",
        "{home}"
    );
    frontend.stop().await;
    backend.stop().await;
}

#[tokio::test]
async fn proxy_passes_status_body_and_request_id() {
    let (addr, seen) = fake_backend(
        400,
        r#"{"errors":[{"message":"from the backend"}]}"#.to_owned(),
        Duration::ZERO,
    )
    .await;
    let app = TestApp::spawn(&addr.to_string()).await;
    let response = app.post_graphql().await;
    assert_eq!(response.status(), 400);
    assert_eq!(response.headers()["x-request-id"], "req-from-the-page");
    // The page shows which backend pod answered, not which frontend pod
    // passed the answer on.
    assert_eq!(
        response.headers()["x-served-by"],
        "to-do-app-backend-6f7c9-qx2lp"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["message"], "from the backend");
    let headers = seen
        .lock()
        .unwrap()
        .take()
        .expect("the backend saw the call");
    assert_eq!(headers["x-request-id"], "req-from-the-page");
    assert_eq!(headers["content-type"], "application/json");
    // Nothing else of the browser's request travels (cookies, for one).
    assert!(headers.get("cookie").is_none());
    app.stop().await;
}

#[tokio::test]
async fn proxy_reports_an_unreachable_backend_as_502() {
    let nowhere = closed_port().await;
    let app = TestApp::spawn(&nowhere.to_string()).await;
    let response = app.post_graphql().await;
    assert_eq!(response.status(), 502);
    let body: Value = response.json().await.unwrap();
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("unreachable"), "{message}");
    // The backend's address is for the log, not for the browser.
    assert!(!message.contains(&nowhere.to_string()), "{message}");
    app.stop().await;
}

#[tokio::test]
async fn proxy_gives_up_on_a_slow_backend_with_504() {
    let (addr, _) = fake_backend(200, "{}".to_owned(), Duration::from_secs(5)).await;
    let mut config = Config::for_tests(&addr.to_string());
    config.server_timeout = Duration::from_millis(300);
    let app = TestApp::spawn_with(config).await;
    let started = Instant::now();
    let response = app.post_graphql().await;
    assert_eq!(response.status(), 504);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let body: Value = response.json().await.unwrap();
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("in time")
    );
    app.stop().await;
}

#[tokio::test]
async fn proxy_caps_the_reply_and_the_request() {
    let (addr, _) = fake_backend(200, "x".repeat(10_000), Duration::ZERO).await;
    let mut config = Config::for_tests(&addr.to_string());
    config.graphql_max_reply_bytes = 1_000;
    let app = TestApp::spawn_with(config).await;
    assert_eq!(app.post_graphql().await.status(), 502);
    // Requests above MAX_BODY_BYTES (64 KiB in tests) never leave.
    let too_big = app
        .post("/graphql", "application/json", "x".repeat(100 * 1024))
        .await;
    assert_eq!(too_big.status(), 413);
    app.stop().await;
}

#[tokio::test]
async fn direct_mode_has_no_graphql_route() {
    let app = TestApp::spawn_direct("backend.example:8081").await;
    let response = app.post_graphql().await;
    assert_eq!(response.status(), 404);
    app.stop().await;
}

#[tokio::test]
async fn direct_mode_serves_the_board_and_its_config() {
    let app = TestApp::spawn_direct("backend.example:8081").await;

    for path in ["/", "/index.html", "/lists/3", "/some/deep/link?x=1"] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(
            response.headers()["content-type"],
            "text/html; charset=utf-8"
        );
        let csp = response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            csp.contains("connect-src 'self' http://backend.example:8081"),
            "{csp}"
        );
        let body = response.text().await.unwrap();
        assert!(body.contains("<script src=\"/config.js\">"), "{path}");
    }

    let config = app.get("/config.js").await;
    assert_eq!(config.headers()["cache-control"], "no-store");
    assert_eq!(
        config.text().await.unwrap(),
        format!(
            "window.TODO_CONFIG = {{ graphqlUrl: \"http://backend.example:8081/graphql\", pod: \"{}\" }};\n",
            service_kit::net::instance_name()
        )
    );
    let script = app.get("/app.js").await;
    assert!(
        script.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    let script = script.text().await.unwrap();
    // The original frontend's operations, as the backend's contract lists them.
    assert!(script.contains(
        "query homePageQuery{ lists { id name position items{ id name position listId } } }"
    ));
    let css = app.get("/style.css").await;
    assert!(
        css.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );

    // The page answers any GET path; other methods find nothing. (The
    // probes are the kit's, tested in service-kit.)
    assert_eq!(
        app.post("/anything", "text/plain", String::new())
            .await
            .status(),
        404
    );
    app.stop().await;
}

#[tokio::test]
async fn refuses_an_unusable_server_uri() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let result = todo_frontend::run(listener, Config::for_tests("ftp://x"), async {}).await;
    assert!(result.unwrap_err().to_string().contains("SERVER_URI"));
    // The proxy speaks plain HTTP only; https:// is for direct mode.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let result = todo_frontend::run(listener, Config::for_tests("https://todo.example"), async {
    })
    .await;
    assert!(
        result
            .unwrap_err()
            .to_string()
            .contains("GRAPHQL_MODE=direct")
    );
}

#[tokio::test]
async fn assets_revalidate_with_etags_compress_and_carry_the_security_headers() {
    let app = TestApp::spawn("backend.example:8081").await;
    for path in ["/", "/app.js", "/style.css"] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        let headers = response.headers().clone();
        assert_eq!(headers["cache-control"], "no-cache", "{path}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
        assert!(headers.contains_key("content-security-policy"), "{path}");
        let plain = response.bytes().await.unwrap();
        assert!(!plain.is_empty(), "{path}");

        // Same tag: a bodiless 304.
        let etag = headers["etag"].to_str().unwrap().to_owned();
        assert!(etag.starts_with("W/\""), "{etag}");
        let response = app.get_with(path, &[("if-none-match", &etag)]).await;
        assert_eq!(response.status(), 304, "{path}");
        assert!(response.bytes().await.unwrap().is_empty(), "{path}");

        // gzip when asked; reqwest here does not decompress.
        let response = app.get_with(path, &[("accept-encoding", "gzip")]).await;
        assert_eq!(response.headers()["content-encoding"], "gzip", "{path}");
        let compressed = response.bytes().await.unwrap();
        assert_eq!(&compressed[..2], &[0x1f, 0x8b], "{path}");
        assert!(compressed.len() < plain.len(), "{path}");
    }
    app.stop().await;
}
