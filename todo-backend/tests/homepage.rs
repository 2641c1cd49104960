//! The homepage fast path (`todo_backend::homepage`) against the schema's
//! generic resolving, on real databases: for every query the fast path
//! takes, the backend's HTTP response must be byte for byte what the schema
//! itself writes for the same request on the same database, and a homepage
//! request must still cost two SQL statements.
//!
//! The reference is computed in the test process: a second `Store` on the
//! same database, the crate's own `schema::build`, `execute`, and
//! `serde_json::to_vec`, which is how the HTTP layer serialises the
//! schema's responses.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use async_graphql::Request;
use common::{Backend, TestApp, TestDb, ops};
use prometheus_client::metrics::counter::Counter;
use serde_json::json;
use todo_backend::Config;
use todo_backend::homepage::Plan;
use todo_backend::schema::{self, TodoSchema};
use todo_backend::store::Store;

/// Homepage-shaped queries, each of which the fast path must take.
const QUERIES: &[(&str, Option<&str>)] = &[
    (ops::HOME, None),
    (ops::HOME, Some("homePageQuery")),
    // The original frontend's GraphQL client adds __typename everywhere.
    (
        "query homePageQuery { lists { id name position items { id name position listId __typename } __typename } }",
        Some("homePageQuery"),
    ),
    // Aliases, another order, a subset, no items at all.
    (
        "{ board: lists { items { listId p: position id } n: name id } }",
        None,
    ),
    ("{ lists { position name } }", None),
];

/// The schema's own answer, serialised as the HTTP layer serialises it.
async fn generic_bytes(schema: &TodoSchema, query: &str, operation: Option<&str>) -> String {
    let response = schema.execute(request(query, operation)).await;
    assert!(response.errors.is_empty(), "{:?}", response.errors);
    String::from_utf8(serde_json::to_vec(&response).unwrap()).unwrap()
}

fn request(query: &str, operation: Option<&str>) -> Request {
    let request = Request::new(query);
    match operation {
        Some(name) => request.operation_name(name),
        None => request,
    }
}

/// The backend's response body over HTTP, by POST and by GET (the two must
/// agree).
async fn served_bytes(app: &TestApp, query: &str, operation: Option<&str>) -> String {
    let client = reqwest::Client::new();
    let post = client
        .post(app.url("/graphql"))
        .json(&json!({ "query": query, "operationName": operation, "variables": {} }))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 200);
    assert_eq!(
        post.headers()["content-type"],
        "application/json;charset=UTF-8"
    );
    let post = post.text().await.unwrap();

    let mut params = vec![("query", query)];
    if let Some(name) = operation {
        params.push(("operationName", name));
    }
    let get = client
        .get(app.url("/graphql"))
        .query(&params)
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 200);
    assert_eq!(post, get.text().await.unwrap(), "GET and POST differ");
    post
}

/// Every homepage-shaped query: taken by the fast path, and answered with
/// the schema's bytes.
async fn assert_same_bytes(app: &TestApp, schema: &TodoSchema) {
    for &(query, operation) in QUERIES {
        assert!(
            Plan::for_request(&request(query, operation)).is_some(),
            "the fast path must take {query}"
        );
        assert_eq!(
            served_bytes(app, query, operation).await,
            generic_bytes(schema, query, operation).await,
            "{query}"
        );
    }
}

/// A board with what could trip a hand-written JSON writer: escapes,
/// non-ASCII, a null name, an empty list, deleted and moved rows.
async fn fill_board(app: &TestApp) {
    let names = [
        "plain",
        "quote \" backslash \\ slash /",
        "tab\tnewline\ncontrol\u{1}\u{1f}",
        "é ✓ 🎉 \u{2028}\u{2029} </script>",
    ];
    let mut lists = Vec::new();
    for name in names {
        let list = app.create_list(name).await;
        for item in names {
            app.create_item(&list, &format!("{item} in {name}")).await;
        }
        lists.push(list);
    }
    // A list and an item without a name (JSON null), an empty list.
    let unnamed = app.gql("mutation { createList { id } }", json!({})).await;
    let unnamed = unnamed["data"]["createList"]["id"].as_str().unwrap();
    let nameless_item = app
        .gql(
            "mutation($l:Int!) { createItem(input: { listId: $l }) { id } }",
            json!({ "l": unnamed.parse::<i32>().unwrap() }),
        )
        .await;
    assert!(nameless_item.get("errors").is_none(), "{nameless_item}");
    app.create_list("empty").await;

    // Deleted rows must not show; moved ones must show where they went.
    let gone = app.create_item(&lists[0], "deleted").await;
    let deleted = app.gql(ops::DELETE_ITEM, json!({ "id": gone })).await;
    assert_eq!(deleted["data"]["success"], true, "{deleted}");
    let doomed = app.create_list("deleted list").await;
    app.create_item(&doomed, "in a deleted list").await;
    let deleted = app.gql(ops::DELETE_LIST, json!({ "id": doomed })).await;
    assert_eq!(deleted["data"]["success"], true, "{deleted}");
    let moving = app.create_item(&lists[1], "moved").await;
    let moved = app
        .gql(
            ops::MOVE_ITEM,
            json!({ "id": moving, "input": { "listId": lists[2], "position": 0 } }),
        )
        .await;
    assert!(moved.get("errors").is_none(), "{moved}");
}

/// A second store and schema on the test's database: the reference.
fn reference_schema(db: &TestDb) -> TodoSchema {
    let target = Config::for_tests(&db.url).db_target().unwrap();
    let store =
        Store::connect_lazy(&target, 2, Duration::from_secs(5), Counter::default()).unwrap();
    schema::build(store)
}

async fn same_json_as_the_schema(backend: Backend) {
    let db = TestDb::new(backend).await;
    let app = TestApp::spawn(&db).await;
    let schema = reference_schema(&db);

    // The empty board, then a full one.
    assert_same_bytes(&app, &schema).await;
    assert_eq!(
        served_bytes(&app, ops::HOME, None).await,
        r#"{"data":{"lists":[]}}"#
    );
    fill_board(&app).await;
    assert_same_bytes(&app, &schema).await;

    // The comparison covers what it should: every list, the tricky names,
    // the null names, and not the deleted rows.
    let board: serde_json::Value =
        serde_json::from_str(&served_bytes(&app, ops::HOME, None).await).unwrap();
    let lists = board["data"]["lists"].as_array().unwrap();
    assert_eq!(lists.len(), 6, "{board}");
    assert_eq!(lists[1]["name"], "quote \" backslash \\ slash /");
    assert_eq!(lists[4]["name"], serde_json::Value::Null);
    assert_eq!(lists[4]["items"][0]["name"], serde_json::Value::Null);
    assert_eq!(lists[5]["items"], json!([]));
    assert_eq!(lists[2]["items"][0]["name"], "moved");
    assert!(!board.to_string().contains("deleted"), "{board}");

    app.stop().await;
}

#[tokio::test]
async fn same_json_as_the_schema_on_sqlite() {
    same_json_as_the_schema(Backend::Sqlite).await;
}

#[tokio::test]
async fn same_json_as_the_schema_on_mysql() {
    same_json_as_the_schema(Backend::MySql).await;
}

/// `todo_sql_queries_total` from the backend's metrics.
async fn queries_total(app: &TestApp) -> u64 {
    let metrics = reqwest::get(app.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    metrics
        .lines()
        .find_map(|line| line.strip_prefix("todo_sql_queries_total "))
        .expect("todo_sql_queries_total in /metrics")
        .trim()
        .parse()
        .unwrap()
}

async fn two_statements_per_homepage(backend: Backend) {
    let db = TestDb::new(backend).await;
    let app = TestApp::spawn(&db).await;
    for n in 0..3 {
        let list = app.create_list(&format!("list {n}")).await;
        app.create_item(&list, "item").await;
    }
    let before = queries_total(&app).await;
    served_bytes(&app, ops::HOME, None).await; // one POST, one GET
    let after = queries_total(&app).await;
    // The health check may add a `SELECT 1` meanwhile, never more than one.
    assert!(
        (4..=5).contains(&(after - before)),
        "two homepage requests cost {} statements",
        after - before
    );
    app.stop().await;
}

#[tokio::test]
async fn two_statements_per_homepage_on_sqlite() {
    two_statements_per_homepage(Backend::Sqlite).await;
}

#[tokio::test]
async fn two_statements_per_homepage_on_mysql() {
    two_statements_per_homepage(Backend::MySql).await;
}
