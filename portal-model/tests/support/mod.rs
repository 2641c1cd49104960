//! Test harness: start portal-model in-process on 127.0.0.1:0 through the
//! library's `run`, with either store, and speak HTTP to it.

// A module compiled into several test binaries: each uses a different part
// of it, and `pub` here means "for the test files", not a crate API.
#![allow(dead_code, unreachable_pub)]

pub mod mongo;

use std::time::{Duration, Instant};

use portal_model::{Config, StoreKind};
use secrecy::SecretString;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Which store a test runs against.
#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Memory,
    /// The binary's shared nx-27017, a fresh database per test.
    Mongo,
}

/// A running portal-model. Shuts down when dropped.
#[derive(Debug)]
pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .send()
            .await
            .expect("GET failed")
    }

    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("POST failed")
    }

    pub async fn put_json(&self, path: &str, body: &serde_json::Value) -> reqwest::Response {
        self.http
            .put(self.url(path))
            .json(body)
            .send()
            .await
            .expect("PUT failed")
    }

    pub async fn delete(&self, path: &str) -> reqwest::Response {
        self.http
            .delete(self.url(path))
            .send()
            .await
            .expect("DELETE failed")
    }

    /// Status of `GET /readyz`.
    pub async fn readyz(&self) -> u16 {
        self.get("/readyz").await.status().as_u16()
    }

    /// Wait until `/readyz` answers 200.
    pub async fn wait_ready(&self, within: Duration) {
        let deadline = Instant::now() + within;
        while self.readyz().await != 200 {
            assert!(
                Instant::now() < deadline,
                "portal-model not ready within {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A test configuration for `backend`.
pub fn config(backend: Backend) -> Config {
    let mut config = Config::for_tests();
    match backend {
        Backend::Memory => config.store = StoreKind::Memory,
        Backend::Mongo => {
            config.store = StoreKind::Mongo;
            config.mongo_url = SecretString::from(mongo::shared().url());
            config.mongo_db = mongo::unique_db();
        }
    }
    config
}

/// Start portal-model with `config`; do not wait for readiness.
pub async fn spawn_with(config: Config) -> TestApp {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("cannot bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("no local address");
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let shutdown = async {
            let _ = stopped.await;
        };
        if let Err(err) = portal_model::run(listener, config, shutdown).await {
            panic!("portal-model failed: {err}");
        }
    });
    TestApp {
        base: format!("http://{addr}"),
        http: reqwest::Client::new(),
        stop: Some(stop),
    }
}

/// Start portal-model on `backend` and wait until it is ready.
pub async fn spawn(backend: Backend) -> TestApp {
    let app = spawn_with(config(backend)).await;
    app.wait_ready(Duration::from_secs(20)).await;
    app
}
