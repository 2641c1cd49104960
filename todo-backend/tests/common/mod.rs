//! What every todo-backend test needs: a fresh database (an SQLite file in a
//! temporary directory, or a uniquely named MariaDB/MySQL database that is
//! dropped at the end), the real service started in-process on
//! 127.0.0.1:0, and a GraphQL client.
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

pub type Server = TestServer<todo_backend::Error>;

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

/// Start the backend on `database_url` without waiting for readiness.
pub async fn start_with(config: Config) -> Server {
    TestServer::start(move |listener, shutdown| todo_backend::run(listener, config, shutdown)).await
}

/// Start the backend on `db` and wait until it is ready.
pub async fn start(db: &TestDb) -> Server {
    start_ready(Config::for_tests(&db.url)).await
}

/// Start the backend with `config` and wait until it is ready.
pub async fn start_ready(config: Config) -> Server {
    let server = start_with(config).await;
    wait_ready(&server, Duration::from_secs(30)).await;
    server
}

/// Poll `/readyz` until it answers 200.
pub async fn wait_ready(server: &Server, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        if let Ok(response) = reqwest::get(server.url("/readyz")).await {
            if response.status() == 200 {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "backend not ready within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// POST a GraphQL request; asserts the original's transport (HTTP 200,
/// `application/json;charset=UTF-8`) and returns the JSON result.
pub async fn gql(server: &Server, query: &str, variables: Value) -> Value {
    let response = reqwest::Client::new()
        .post(server.url("/graphql"))
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/json;charset=UTF-8"
    );
    response.json().await.unwrap()
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

/// Create a list; returns its id (a string, as the frontend holds it).
pub async fn create_list(server: &Server, name: &str) -> String {
    let result = gql(server, ops::CREATE_LIST, json!({ "name": name })).await;
    assert!(result.get("errors").is_none(), "{result}");
    result["data"]["list"]["id"].as_str().unwrap().to_owned()
}

/// Create an item; returns its id.
pub async fn create_item(server: &Server, list_id: &str, name: &str) -> String {
    let result = gql(
        server,
        ops::CREATE_ITEM,
        json!({ "input": { "name": name, "listId": list_id } }),
    )
    .await;
    assert!(result.get("errors").is_none(), "{result}");
    result["data"]["item"]["id"].as_str().unwrap().to_owned()
}

/// The board as (list name, [item names]) in position order, after checking
/// that list and item positions are exactly 0..n-1 and listIds match.
pub async fn board(server: &Server) -> Vec<(String, Vec<String>)> {
    let result = gql(server, ops::HOME, json!({})).await;
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

/// The first error message of a result.
pub fn error_message(result: &Value) -> &str {
    result["errors"][0]["message"].as_str().unwrap_or_default()
}
