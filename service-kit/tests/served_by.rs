//! Every response names the pod that served it (`x-served-by`), so that a
//! page, or `curl -i` against a Service, shows the replicas taking turns.

#![allow(clippy::unwrap_used)] // in tests, a panic is the failure report

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use service_kit::Kit;
use service_kit::http::SERVED_BY;
use service_kit::net::instance_name;
use service_kit::test_server::TestServer;

fn app(kit: &Kit) -> Router {
    kit.wrap(
        Router::new()
            .route("/", get(|| async { "hello" }))
            // What a proxy does: pass on the name of the pod behind it.
            .route(
                "/proxied",
                get(|| async { ([(SERVED_BY, "backend-7d9f-abcde")], "from behind") }),
            ),
    )
}

#[tokio::test]
async fn responses_name_this_pod_unless_a_handler_named_another() {
    let kit = Kit::new(true, |_| {});
    let router = app(&kit);
    let server = TestServer::start(|listener, shutdown| {
        let kit = kit.clone();
        async move {
            kit.serve(listener, router, Duration::from_secs(1), shutdown)
                .await
        }
    })
    .await;
    let client = reqwest::Client::new();

    let res = client.get(server.url("/")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let name = instance_name();
    assert!(!name.is_empty() && name != "unknown", "{name}");
    assert_eq!(res.headers()[SERVED_BY.as_str()], name);

    let res = client.get(server.url("/proxied")).send().await.unwrap();
    assert_eq!(res.headers()[SERVED_BY.as_str()], "backend-7d9f-abcde");
    assert_eq!(res.headers().get_all(SERVED_BY.as_str()).iter().count(), 1);

    server.stop().await.unwrap();
}
