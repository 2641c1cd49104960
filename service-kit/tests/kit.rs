//! What [`Kit`] gives every service, tested once here over real HTTP: the
//! probes, `/metrics`, request ids, `x-served-by`, and the drain on
//! shutdown, with and without a background task. Services' own tests cover
//! only their own routes and metrics.

#![allow(clippy::unwrap_used)] // in tests, a panic is the failure report

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use prometheus_client::metrics::counter::Counter;
use service_kit::Kit;
use service_kit::http::SERVED_BY;
use service_kit::net::instance_name;
use service_kit::test_server::TestServer;
use tokio_util::sync::CancellationToken;

/// A small service built the way every service is: its routes wrapped by
/// the kit, served by `kit.serve`, with one metric of its own.
struct TestApp {
    server: TestServer<std::io::Error>,
    kit: Kit,
    client: reqwest::Client,
}

impl TestApp {
    async fn spawn(ready: bool) -> Self {
        let greeted = Counter::<u64>::default();
        let kit = Kit::new(ready, |registry| {
            registry.register("test_greetings", "Greetings given", greeted.clone());
        });
        let routes = Router::new()
            .route(
                "/hello/{name}",
                get(
                    move |axum::extract::Path(name): axum::extract::Path<String>| {
                        let greeted = greeted.clone();
                        async move {
                            greeted.inc();
                            format!("hello {name}")
                        }
                    },
                ),
            )
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    "slow"
                }),
            )
            // What a proxy does: pass on the name of the pod behind it.
            .route(
                "/proxied",
                get(|| async { ([(SERVED_BY, "backend-7d9f-abcde")], "from behind") }),
            );
        let app = kit.wrap(routes);
        let server = TestServer::start(|listener, shutdown| {
            let kit = kit.clone();
            async move {
                kit.serve(listener, app, Duration::from_secs(5), shutdown)
                    .await
            }
        })
        .await;
        Self {
            server,
            kit,
            client: reqwest::Client::new(),
        }
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.server.url(path)).send().await.unwrap()
    }

    async fn get_with_request_id(&self, path: &str, id: &str) -> reqwest::Response {
        self.client
            .get(self.server.url(path))
            .header("x-request-id", id)
            .send()
            .await
            .unwrap()
    }

    async fn metrics(&self) -> String {
        let res = self.get("/metrics").await;
        assert_eq!(res.status(), 200);
        res.text().await.unwrap()
    }
}

/// The value of the sample `series` (name and labels as Prometheus prints
/// them), if present.
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|line| {
        line.strip_prefix(series)
            .and_then(|rest| rest.strip_prefix(' '))
            .map(|value| value.parse().unwrap())
    })
}

#[tokio::test]
async fn healthz_is_up_while_readyz_follows_the_flag() {
    let app = TestApp::spawn(false).await;
    let res = app.get("/healthz").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "ok\n");
    let res = app.get("/readyz").await;
    assert_eq!(res.status(), 503);
    assert_eq!(res.text().await.unwrap(), "not ready\n");

    app.kit.readiness.set(true);
    let res = app.get("/readyz").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "ready\n");
}

#[tokio::test]
async fn metrics_count_requests_by_route_pattern_and_include_the_services_own() {
    let app = TestApp::spawn(true).await;
    for name in ["a", "b", "c"] {
        assert_eq!(app.get(&format!("/hello/{name}")).await.status(), 200);
    }
    // Probes are polled every few seconds: they are not counted.
    app.get("/healthz").await;
    app.get("/readyz").await;

    let res = app.get("/metrics").await;
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let text = res.text().await.unwrap();
    // One series for the pattern, not one per name.
    assert_eq!(
        sample(
            &text,
            r#"http_requests_total{method="GET",route="/hello/{name}",status="200"}"#
        ),
        Some(3.0),
        "{text}"
    );
    assert!(!text.contains("/hello/a"), "{text}");
    assert_eq!(
        sample(
            &text,
            r#"http_request_duration_seconds_count{method="GET",route="/hello/{name}"}"#
        ),
        Some(3.0),
        "{text}"
    );
    assert!(
        !text.contains("healthz") && !text.contains("readyz"),
        "{text}"
    );
    assert_eq!(sample(&text, "test_greetings_total"), Some(3.0), "{text}");
    // And the kit's registry is this instance's own.
    assert_eq!(
        sample(
            &TestApp::spawn(true).await.metrics().await,
            "test_greetings_total"
        ),
        Some(0.0)
    );
}

#[tokio::test]
async fn request_ids_are_kept_or_made_up_and_echoed() {
    let app = TestApp::spawn(true).await;
    let res = app.get_with_request_id("/hello/x", "trace-me-42").await;
    assert_eq!(res.headers()["x-request-id"], "trace-me-42");
    let made_up = app.get("/hello/x").await.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let again = app.get("/hello/x").await.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(made_up.len(), 36, "a UUID: {made_up}");
    assert_ne!(made_up, again);
}

/// Every response names the pod that served it (`x-served-by`), so that a
/// page, or `curl -i` against a Service, shows the replicas taking turns.
#[tokio::test]
async fn responses_name_this_pod_unless_a_handler_named_another() {
    let app = TestApp::spawn(true).await;
    let res = app.get("/hello/x").await;
    assert_eq!(res.status(), 200);
    let name = instance_name();
    assert!(!name.is_empty() && name != "unknown", "{name}");
    assert_eq!(res.headers()[SERVED_BY.as_str()], name);

    let res = app.get("/proxied").await;
    assert_eq!(res.headers()[SERVED_BY.as_str()], "backend-7d9f-abcde");
    assert_eq!(res.headers().get_all(SERVED_BY.as_str()).iter().count(), 1);
}

#[tokio::test]
async fn shutdown_lowers_readiness_and_lets_the_request_in_flight_finish() {
    let TestApp {
        server,
        kit,
        client,
    } = TestApp::spawn(true).await;
    let in_flight = tokio::spawn(client.get(server.url("/slow")).send());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let url = server.url("/healthz");
    server.stop().await.unwrap();
    assert!(!kit.readiness.is_ready());
    let res = in_flight.await.unwrap().unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "slow");
    assert!(client.get(url).send().await.is_err(), "still accepting");
}

/// `serve_with_task`: the task runs while the server serves; the shutdown
/// cancels it, lowers readiness for good (a task finishing a last check
/// cannot raise it again), lets the request in flight finish, and returns
/// only once the task has.
#[tokio::test]
async fn serve_with_task_stops_the_task_and_keeps_readiness_down() {
    let kit = Kit::new(false, |_| {});
    let stop = CancellationToken::new();
    let task_ended = Arc::new(AtomicBool::new(false));
    let task = {
        let (kit, stop, task_ended) = (kit.clone(), stop.clone(), task_ended.clone());
        async move {
            // What a readiness keeper does: raise the flag while running.
            kit.readiness.set(true);
            stop.cancelled().await;
            // A check that was under way when the shutdown began ends
            // after the drain started, and reports success.
            while kit.readiness.is_ready() {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            kit.readiness.set(true);
            // Some last work (a write, a round) before the task returns.
            tokio::time::sleep(Duration::from_millis(200)).await;
            task_ended.store(true, Ordering::SeqCst);
        }
    };
    let app = kit.wrap(Router::new().route(
        "/slow",
        get(|| async {
            tokio::time::sleep(Duration::from_millis(500)).await;
            "slow"
        }),
    ));
    let server = TestServer::start(|listener, shutdown| {
        let kit = kit.clone();
        async move {
            kit.serve_with_task(listener, app, Duration::from_secs(5), shutdown, stop, task)
                .await
        }
    })
    .await;
    let client = reqwest::Client::new();
    service_kit::testing::eventually("the task to raise readiness", || async {
        let res = client.get(server.url("/readyz")).send().await.ok()?;
        (res.status() == 200).then_some(())
    })
    .await;

    let in_flight = tokio::spawn(client.get(server.url("/slow")).send());
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.stop().await.unwrap();
    assert!(
        task_ended.load(Ordering::SeqCst),
        "returned before the task"
    );
    assert!(!kit.readiness.is_ready(), "the task raised readiness again");
    let res = in_flight.await.unwrap().unwrap();
    assert_eq!(res.text().await.unwrap(), "slow");
}
