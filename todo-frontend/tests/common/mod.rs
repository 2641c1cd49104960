//! What the todo-frontend tests share: [`TestApp`], the frontend started
//! in-process on 127.0.0.1:0 with a method for each request the tests make,
//! and [`TestBackend`], a real todo-backend on a fresh SQLite file for it
//! to talk to.

#![allow(dead_code, unreachable_pub)] // each test binary uses a subset
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use service_kit::test_server::TestServer;
use service_kit::testing::eventually;
use todo_frontend::{Config, GraphqlMode};

/// One frontend on 127.0.0.1:0, and the requests the tests make to it.
#[derive(Debug)]
pub struct TestApp {
    pub server: TestServer<todo_frontend::Error>,
    client: reqwest::Client,
}

impl TestApp {
    /// A frontend in the default proxy mode, its backend at `server_uri`.
    pub async fn spawn(server_uri: &str) -> Self {
        Self::spawn_with(Config::for_tests(server_uri)).await
    }

    /// A frontend in GRAPHQL_MODE=direct: the browser calls `server_uri`.
    pub async fn spawn_direct(server_uri: &str) -> Self {
        let mut config = Config::for_tests(server_uri);
        config.graphql_mode = GraphqlMode::Direct;
        Self::spawn_with(config).await
    }

    pub async fn spawn_with(config: Config) -> Self {
        let server = TestServer::start(move |listener, shutdown| {
            todo_frontend::run(listener, config, shutdown)
        })
        .await;
        Self {
            server,
            client: reqwest::Client::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    /// Shut the frontend down gracefully; it must exit cleanly.
    pub async fn stop(self) {
        self.server.stop().await.unwrap();
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.get_with(path, &[]).await
    }

    /// `GET path` with extra request headers.
    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut request = self.client.get(self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.unwrap()
    }

    /// `POST path` with `body` as it is, under `content_type`.
    pub async fn post(&self, path: &str, content_type: &str, body: String) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// A board query to `/graphql`, as the page sends it (with the page's
    /// request id).
    pub async fn post_graphql(&self) -> reqwest::Response {
        self.client
            .post(self.url("/graphql"))
            .header("x-request-id", "req-from-the-page")
            .json(&json!({ "query": "{ lists { id } }" }))
            .send()
            .await
            .unwrap()
    }

    /// A GraphQL operation through the frontend's `/graphql`; the JSON
    /// result.
    pub async fn gql(&self, query: &str, variables: Value) -> Value {
        self.client
            .post(self.url("/graphql"))
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

/// A real todo-backend on a fresh SQLite file, ready.
#[derive(Debug)]
pub struct TestBackend {
    pub server: TestServer<todo_backend::Error>,
    _dir: tempfile::TempDir,
}

impl TestBackend {
    pub async fn spawn() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db_url = format!("sqlite://{}?mode=rwc", dir.path().join("todo.db").display());
        let config = todo_backend::Config::for_tests(&db_url);
        let server = TestServer::start(move |listener, shutdown| {
            todo_backend::run(listener, config, shutdown)
        })
        .await;
        eventually("the backend to be ready", || async {
            let response = reqwest::get(server.url("/readyz")).await.ok()?;
            (response.status() == 200).then_some(())
        })
        .await;
        Self { server, _dir: dir }
    }

    /// The backend as SERVER_URI names it: `host:port`, the article's form.
    pub fn server_uri(&self) -> String {
        self.server.addr.to_string()
    }

    pub fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    pub async fn stop(self) {
        self.server.stop().await.unwrap();
    }
}
