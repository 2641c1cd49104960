//! The sink under test: started in-process on 127.0.0.1:0 with its log file
//! in a fresh directory, and a method for each request the tests make.

#![allow(dead_code)] // each test binary uses some of the methods
#![allow(clippy::unwrap_used)] // in tests, a panic is the failure report

use std::net::IpAddr;
use std::path::Path;

use message_chain::LogFileArgs;
use service_kit::ServiceArgs;
use service_kit::test_server::TestServer;

pub(crate) struct TestApp {
    pub(crate) server: TestServer<sink::Error>,
    log_dir: tempfile::TempDir,
    client: reqwest::Client,
}

pub(crate) fn config(log_dir: &Path, recent_messages: usize) -> sink::Config {
    sink::Config {
        service: ServiceArgs::for_tests(),
        log: LogFileArgs {
            log_dir: log_dir.to_owned(),
            log_fsync: false,
        },
        recent_messages,
    }
}

impl TestApp {
    /// A sink that keeps the latest `recent_messages` for its page.
    pub(crate) async fn spawn(recent_messages: usize) -> Self {
        let log_dir = tempfile::tempdir().unwrap();
        let config = config(log_dir.path(), recent_messages);
        let server =
            TestServer::start(|listener, shutdown| sink::run(listener, config, shutdown)).await;
        Self {
            server,
            log_dir,
            client: reqwest::Client::new(),
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    /// POST a message to `path` (`/sink.php` or `/`).
    pub(crate) async fn post(
        &self,
        path: &str,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// POST a message to `/sink.php` with a request id, as a relay does.
    pub(crate) async fn send_with_request_id(&self, body: &str, id: &str) -> reqwest::Response {
        self.client
            .post(self.url("/sink.php"))
            .header("x-request-id", id)
            .body(body.to_owned())
            .send()
            .await
            .unwrap()
    }

    /// POST a message to `/sink.php` from `from` (any 127.0.0.0/8 address
    /// works on Linux), as one relay pod among several would.
    pub(crate) async fn send_from(&self, from: IpAddr, body: &str) -> reqwest::Response {
        reqwest::Client::builder()
            .local_address(from)
            .build()
            .unwrap()
            .post(self.url("/sink.php"))
            .body(body.to_owned())
            .send()
            .await
            .unwrap()
    }

    /// `GET /messages`.
    pub(crate) async fn messages(&self) -> serde_json::Value {
        let res = self.client.get(self.url("/messages")).send().await.unwrap();
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }

    /// `GET /`, the page.
    pub(crate) async fn page(&self) -> reqwest::Response {
        self.client.get(self.url("/")).send().await.unwrap()
    }

    /// `GET /metrics`.
    pub(crate) async fn metrics(&self) -> String {
        let res = self.client.get(self.url("/metrics")).send().await.unwrap();
        res.text().await.unwrap()
    }

    /// The lines of this sink's log file, `Sink_127.0.0.1.txt`.
    pub(crate) fn logged(&self) -> Vec<String> {
        std::fs::read_to_string(self.log_dir.path().join("Sink_127.0.0.1.txt"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}
