//! What every todo-backend test needs: a fresh database (an SQLite file in a
//! temporary directory, or a uniquely named MariaDB/MySQL database that is
//! dropped at the end), and [`TestApp`]: the real service started
//! in-process on 127.0.0.1:0, with a method for each request the tests make.
//!
//! MySQL tests use `TEST_MYSQL_URL` (default `mysql://root@127.0.0.1:3306`,
//! the MariaDB every machine runs). If it cannot be reached the tests fail:
//! a skipped MySQL test would hide exactly the bugs it exists for.

#![allow(dead_code, unreachable_pub)] // each test binary uses a subset
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use service_kit::test_server::TestServer;
use sqlx::{Connection, Executor};
use todo_backend::Config;

/// The database a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    MySql,
}

/// A fresh, empty database; removed when dropped.
#[derive(Debug)]
pub struct TestDb {
    pub url: String,
    mysql: Option<(String, String)>, // (server url, database name)
    _dir: Option<tempfile::TempDir>,
}

fn mysql_server_url() -> String {
    std::env::var("TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".to_owned())
        .trim_end_matches('/')
        .to_owned()
}

impl TestDb {
    pub async fn new(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("todo.db").display());
                Self {
                    url,
                    mysql: None,
                    _dir: Some(dir),
                }
            }
            Backend::MySql => {
                let server = mysql_server_url();
                let name = format!("todo_test_{}", uuid::Uuid::new_v4().simple());
                let mut conn = sqlx::MySqlConnection::connect(&server)
                    .await
                    .unwrap_or_else(|err| {
                        panic!("MySQL/MariaDB at {server} (TEST_MYSQL_URL) is required: {err}")
                    });
                conn.execute(format!("CREATE DATABASE `{name}`").as_str())
                    .await
                    .unwrap();
                conn.close().await.unwrap();
                Self {
                    url: format!("{server}/{name}"),
                    mysql: Some((server, name)),
                    _dir: None,
                }
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((server, name)) = self.mysql.take() else {
            return;
        };
        // Drop runs inside the test's runtime, which cannot be blocked on:
        // drop the database from a thread with its own small runtime.
        let done = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let mut conn = sqlx::MySqlConnection::connect(&server).await?;
                conn.execute(format!("DROP DATABASE IF EXISTS `{name}`").as_str())
                    .await?;
                conn.close().await
            })
        })
        .join();
        // A leftover database is worth a line in the test output.
        #[allow(clippy::print_stderr)]
        if !matches!(done, Ok(Ok(()))) {
            eprintln!("could not drop a test database: {done:?}");
        }
    }
}

/// One backend on 127.0.0.1:0, and the requests the tests make to it.
#[derive(Debug)]
pub struct TestApp {
    pub server: TestServer<todo_backend::Error>,
    client: reqwest::Client,
}

impl TestApp {
    /// Start the backend on `db` and wait until it is ready.
    pub async fn spawn(db: &TestDb) -> Self {
        Self::spawn_ready(Config::for_tests(&db.url)).await
    }

    /// Start the backend with `config` and wait until it is ready.
    pub async fn spawn_ready(config: Config) -> Self {
        let app = Self::spawn_with(config).await;
        app.wait_status("/readyz", 200, Duration::from_secs(30))
            .await;
        app
    }

    /// Start the backend with `config`; do not wait for readiness (its
    /// database may be away on purpose).
    pub async fn spawn_with(config: Config) -> Self {
        let server = TestServer::start(move |listener, shutdown| {
            todo_backend::run(listener, config, shutdown)
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

    /// Shut the backend down gracefully; it must exit cleanly.
    pub async fn stop(self) {
        self.server.stop().await.unwrap();
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    /// The status of `GET path`.
    pub async fn status(&self, path: &str) -> u16 {
        self.get(path).await.status().as_u16()
    }

    /// Poll `GET path` until it answers `want`.
    pub async fn wait_status(&self, path: &str, want: u16, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            // Refused connections count as "not yet", like any other status.
            if let Ok(response) = self.client.get(self.url(path)).send().await {
                if response.status() == want {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "{path} did not answer {want} within {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A CORS preflight for `POST /graphql`, as a browser sends it before
    /// the frontend's POST.
    pub async fn preflight(&self) -> reqwest::Response {
        self.client
            .request(reqwest::Method::OPTIONS, self.url("/graphql"))
            .header("origin", "http://frontend.example")
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
            .await
            .unwrap()
    }

    /// `GET /graphql` with the query string `params`.
    pub async fn get_graphql(&self, params: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .get(self.url("/graphql"))
            .query(params)
            .send()
            .await
            .unwrap()
    }

    /// `POST /graphql` with `body` as it is, under `content_type`.
    pub async fn post_graphql(
        &self,
        content_type: &str,
        body: impl Into<String>,
    ) -> reqwest::Response {
        self.client
            .post(self.url("/graphql"))
            .header("content-type", content_type)
            .body(body.into())
            .send()
            .await
            .unwrap()
    }

    /// `POST /graphql` with a JSON body (a request, or a batch of them).
    pub async fn post_graphql_json(&self, body: &Value) -> reqwest::Response {
        self.post_graphql("application/json", body.to_string())
            .await
    }

    /// Exactly what the frontend posts: operationName and variables set,
    /// from the frontend's origin. Asserts the original's transport (HTTP
    /// 200, `application/json;charset=UTF-8`, CORS) and no errors.
    pub async fn post_as_frontend(&self, operation: &str, query: &str, variables: Value) -> Value {
        let response = self
            .client
            .post(self.url("/graphql"))
            .header("content-type", "application/json")
            .header("origin", "http://frontend.example")
            .body(
                json!({ "operationName": operation, "variables": variables, "query": query })
                    .to_string(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"],
            "application/json;charset=UTF-8"
        );
        assert_eq!(response.headers()["access-control-allow-origin"], "*");
        let body: Value = response.json().await.unwrap();
        assert!(body.get("errors").is_none(), "{operation}: {body}");
        body
    }

    /// POST a GraphQL request; asserts the original's transport (HTTP 200,
    /// `application/json;charset=UTF-8`) and returns the JSON result.
    pub async fn gql(&self, query: &str, variables: Value) -> Value {
        let response = self
            .post_graphql_json(&json!({ "query": query, "variables": variables }))
            .await;
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"],
            "application/json;charset=UTF-8"
        );
        response.json().await.unwrap()
    }

    /// Create a list; returns its id (a string, as the frontend holds it).
    pub async fn create_list(&self, name: &str) -> String {
        let result = self.gql(ops::CREATE_LIST, json!({ "name": name })).await;
        assert!(result.get("errors").is_none(), "{result}");
        result["data"]["list"]["id"].as_str().unwrap().to_owned()
    }

    /// Create an item; returns its id.
    pub async fn create_item(&self, list_id: &str, name: &str) -> String {
        let result = self
            .gql(
                ops::CREATE_ITEM,
                json!({ "input": { "name": name, "listId": list_id } }),
            )
            .await;
        assert!(result.get("errors").is_none(), "{result}");
        result["data"]["item"]["id"].as_str().unwrap().to_owned()
    }

    /// Move an item to `position` in `list`; returns the whole result
    /// (errors included).
    pub async fn move_item(&self, id: &str, list: &str, position: i64) -> Value {
        self.gql(
            ops::MOVE_ITEM,
            json!({ "id": id, "input": { "listId": list, "position": position } }),
        )
        .await
    }

    /// The board as (list name, [item names]) in position order, after
    /// checking that list and item positions are exactly 0..n-1 and listIds
    /// match.
    pub async fn board(&self) -> Vec<(String, Vec<String>)> {
        let result = self.gql(ops::HOME, json!({})).await;
        assert!(result.get("errors").is_none(), "{result}");
        let lists = result["data"]["lists"].as_array().unwrap();
        let mut out = Vec::new();
        for (i, list) in lists.iter().enumerate() {
            assert_eq!(list["position"], json!(i), "list positions: {result}");
            let items = list["items"].as_array().unwrap();
            for (j, item) in items.iter().enumerate() {
                assert_eq!(item["position"], json!(j), "item positions: {result}");
                assert_eq!(
                    item["listId"].to_string(),
                    list["id"].as_str().unwrap(),
                    "listId: {result}"
                );
            }
            out.push((
                list["name"].as_str().unwrap_or_default().to_owned(),
                items
                    .iter()
                    .map(|item| item["name"].as_str().unwrap_or_default().to_owned())
                    .collect(),
            ));
        }
        out
    }
}

/// The original frontend's operations, verbatim (from the contract).
pub mod ops {
    pub const HOME: &str =
        "query homePageQuery{ lists { id name position items{ id name position listId } } }";
    pub const CREATE_ITEM: &str = "mutation createItemMutation($input:createItemInput){ item:createItem(input:$input){id name listId position} }";
    pub const DELETE_ITEM: &str =
        "mutation deleteItemMutation($id:ID!){ success:deleteItem(id:$id) }";
    pub const MOVE_ITEM: &str = "mutation moveItemMutation($id:ID!,$input:moveItemInput){ item:moveItem(id:$id,input:$input){id name listId position} }";
    pub const CREATE_LIST: &str = "mutation createListMutation($name:String){ list:createList(name:$name){id name position} }";
    pub const DELETE_LIST: &str =
        "mutation deleteListMutation($id:ID!){ success:deleteList(id:$id) }";
}

/// The first error message of a result.
pub fn error_message(result: &Value) -> &str {
    result["errors"][0]["message"].as_str().unwrap_or_default()
}
