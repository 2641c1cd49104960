//! The database down at start, then up; and going away later, then coming
//! back. The backend reaches MariaDB through a TCP proxy this test controls:
//! "down" refuses new connections and cuts the open ones, as a restarting
//! MySQL pod does.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::{Backend, TestApp, TestDb, ops};
use serde_json::json;
use todo_backend::Config;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;
use tokio::task::JoinSet;

/// A TCP proxy to `upstream` that can be switched off.
struct Proxy {
    addr: SocketAddr,
    up: Arc<AtomicBool>,
    connections: Arc<Mutex<JoinSet<()>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(Mutex::new(JoinSet::new()));
        let accept = tokio::spawn({
            let up = up.clone();
            let connections = connections.clone();
            async move {
                loop {
                    let Ok((mut client, _)) = listener.accept().await else {
                        return;
                    };
                    if !up.load(Ordering::SeqCst) {
                        drop(client); // "connection reset" for the driver
                        continue;
                    }
                    let upstream = upstream.clone();
                    connections.lock().await.spawn(async move {
                        if let Ok(mut server) = TcpStream::connect(&upstream).await {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                        }
                    });
                }
            }
        });
        Self {
            addr,
            up,
            connections,
            accept,
        }
    }

    fn set_up(&self) {
        self.up.store(true, Ordering::SeqCst);
    }

    /// Refuse new connections and cut every open one.
    async fn set_down(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.connections.lock().await.abort_all();
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

#[tokio::test]
async fn database_down_at_start_then_up_then_restarted() {
    let db = TestDb::new(Backend::MySql).await;
    let real = url::Url::parse(&db.url).unwrap();
    let upstream = format!(
        "{}:{}",
        real.host_str().unwrap(),
        real.port().unwrap_or(3306)
    );
    let proxy = Proxy::start(upstream).await;
    let mut via_proxy = real.clone();
    via_proxy.set_host(Some("127.0.0.1")).unwrap();
    via_proxy.set_port(Some(proxy.addr.port())).unwrap();

    let mut config = Config::for_tests(via_proxy.as_str());
    config.db_acquire_timeout = Duration::from_secs(1);
    let app = TestApp::spawn_with(config).await;

    // Down at start: the process serves, live but not ready.
    app.wait_status("/healthz", 200, Duration::from_secs(10))
        .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(app.status("/readyz").await, 503);
    assert_eq!(app.status("/actuator/health").await, 503);
    assert_eq!(app.status("/actuator/health/readiness").await, 503);
    assert_eq!(app.status("/actuator/health/liveness").await, 200);
    let response = app.post_graphql_json(&json!({ "query": ops::HOME })).await;
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["access-control-allow-origin"], "*");

    // Up: ready without a restart, migrations applied, usable.
    proxy.set_up();
    app.wait_status("/readyz", 200, Duration::from_secs(20))
        .await;
    assert_eq!(app.status("/actuator/health").await, 200);
    let list = app.create_list("survives").await;
    app.create_item(&list, "item").await;

    // Restarted later: requests fail (as GraphQL errors) and readiness drops...
    proxy.set_down().await;
    let result = app.gql(ops::HOME, json!({})).await;
    assert!(result["errors"][0]["message"].is_string(), "{result}");
    app.wait_status("/readyz", 503, Duration::from_secs(20))
        .await;

    // ...and once it is back, everything works again, data intact.
    proxy.set_up();
    app.wait_status("/readyz", 200, Duration::from_secs(20))
        .await;
    assert_eq!(
        app.board().await,
        vec![("survives".to_owned(), vec!["item".to_owned()])]
    );
    app.create_item(&list, "after").await;
    app.stop().await;
}
