//! The board's semantics (positions, soft deletes, filters, errors) and
//! what the service does with bad input. Semantic scenarios run against
//! SQLite and MariaDB; input handling does not depend on the database.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Backend, TestApp, TestDb, error_message, ops};
use serde_json::{Value, json};

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

async fn positions_and_soft_deletes(backend: Backend) {
    let db = TestDb::new(backend).await;
    let app = TestApp::spawn(&db).await;
    let a = app.create_list("a").await;
    let b = app.create_list("b").await;
    let c = app.create_list("c").await;
    let mut a_items = Vec::new();
    for name in ["a0", "a1", "a2", "a3"] {
        a_items.push(app.create_item(&a, name).await);
    }
    app.create_item(&b, "b0").await;
    app.create_item(&c, "c0").await;

    // Within the same list, both directions, and "position = count" (which
    // the original accepted and turned into a gap) meaning "last".
    assert!(
        app.move_item(&a_items[0], &a, 2)
            .await
            .get("errors")
            .is_none()
    );
    assert_eq!(app.board().await[0].1, names(&["a1", "a2", "a0", "a3"]));
    assert!(
        app.move_item(&a_items[3], &a, 0)
            .await
            .get("errors")
            .is_none()
    );
    assert_eq!(app.board().await[0].1, names(&["a3", "a1", "a2", "a0"]));
    let moved = app.move_item(&a_items[1], &a, 4).await;
    assert_eq!(moved["data"]["item"]["position"], 3, "{moved}");
    assert_eq!(app.board().await[0].1, names(&["a3", "a2", "a0", "a1"]));
    // Same position: nothing changes.
    assert!(
        app.move_item(&a_items[2], &a, 1)
            .await
            .get("errors")
            .is_none()
    );
    assert_eq!(app.board().await[0].1, names(&["a3", "a2", "a0", "a1"]));

    // Between lists: to the end (position = count is in bounds there).
    assert!(
        app.move_item(&a_items[3], &b, 1)
            .await
            .get("errors")
            .is_none()
    );
    assert_eq!(app.board().await[1].1, names(&["b0", "a3"]));
    // Out of bounds, both ends.
    for position in [-1, 3] {
        let result = app.move_item(&a_items[0], &b, position).await;
        assert_eq!(error_message(&result), "Requested Position out of bounds");
        assert_eq!(result["data"], json!({ "item": null }));
    }
    let result = app.move_item(&a_items[0], &a, 4).await; // a has 3 now
    assert_eq!(error_message(&result), "Requested Position out of bounds");

    // Filters.
    let result = app
        .gql(
            "{ lists(positions: [0, 2]) { name items(positions: [1]) { name } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        result["data"]["lists"],
        json!([{ "name": "a", "items": [{ "name": "a0" }] }, { "name": "c", "items": [] }])
    );

    // Soft deletes: an item, then a list with its items; the rows stay.
    let result = app.gql(ops::DELETE_ITEM, json!({ "id": a_items[2] })).await;
    assert_eq!(result["data"]["success"], true);
    assert_eq!(app.board().await[0].1, names(&["a0", "a1"]));
    let result = app.gql(ops::DELETE_ITEM, json!({ "id": a_items[2] })).await;
    assert_eq!(error_message(&result), "Item Not Found", "deleted twice");
    let result = app.gql(ops::DELETE_LIST, json!({ "id": a })).await;
    assert_eq!(result["data"]["success"], true);
    let now = app.board().await;
    assert_eq!(
        now.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        ["b", "c"]
    );
    let result = app.move_item(&a_items[1], &b, 0).await;
    assert_eq!(
        error_message(&result),
        "Item Not Found",
        "items of a deleted list"
    );
    let result = app
        .gql(
            ops::CREATE_ITEM,
            json!({ "input": { "name": "x", "listId": a } }),
        )
        .await;
    assert_eq!(error_message(&result), "List Not Found");
    let result = app.move_item(&a_items[3], &a, 0).await;
    assert_eq!(
        error_message(&result),
        "List Not Found",
        "moving into a deleted list"
    );

    // A new list goes after the live ones.
    let d = app.gql(ops::CREATE_LIST, json!({ "name": "d" })).await;
    assert_eq!(d["data"]["list"]["position"], 2);

    // updateList renames, answering in the original's (Item) shape.
    let result = app
        .gql(
            "mutation($id:ID!){ updateList(id:$id, name:\"B\") { id name position listId } }",
            json!({ "id": b }),
        )
        .await;
    assert_eq!(
        result["data"]["updateList"],
        json!({ "id": b, "name": "B", "position": 0, "listId": null })
    );
    let result = app
        .gql(
            "mutation{ updateList(id:\"999\", name:\"x\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(error_message(&result), "List Not Found");

    // Missing input parts: listId defaults to the item's list, position to the end.
    let c_items = app
        .gql("{ lists(positions:[1]) { items { id } } }", json!({}))
        .await;
    let c0 = c_items["data"]["lists"][0]["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.create_item(&c, "c1").await;
    let result = app
        .gql(
            "mutation($id:ID!){ moveItem(id:$id, input:{}) { position } }",
            json!({ "id": c0 }),
        )
        .await;
    assert_eq!(result["data"]["moveItem"]["position"], 1, "{result}");
    app.board().await;
    app.stop().await;
}

#[tokio::test]
async fn positions_and_soft_deletes_sqlite() {
    positions_and_soft_deletes(Backend::Sqlite).await;
}

#[tokio::test]
async fn positions_and_soft_deletes_mysql() {
    positions_and_soft_deletes(Backend::MySql).await;
}

/// Names that look like SQL, markup or odd Unicode are stored and returned
/// verbatim (statements bind parameters; nothing is spliced into SQL).
async fn injection_strings_are_data(backend: Backend) {
    let db = TestDb::new(backend).await;
    let app = TestApp::spawn(&db).await;
    let nasty = [
        "'); DROP TABLE ITEM; --",
        "Robert\"); DELETE FROM LIST_ENTITY WHERE (\"1\"=\"1",
        "' OR '1'='1",
        "<script>alert(1)</script>",
        "back\\slash % _ wildcards",
        "emoji 🦀 and ümlauts, 中文",
        "",
        "   spaces   ",
    ];
    let list = app.create_list(nasty[0]).await;
    for name in nasty {
        app.create_item(&list, name).await;
    }
    let now = app.board().await;
    assert_eq!(now, vec![(nasty[0].to_owned(), names(&nasty))]);

    // 255 characters fit the original's VARCHAR(255); 256 are refused.
    let long = "é".repeat(255);
    app.create_item(&list, &long).await;
    let result = app
        .gql(
            ops::CREATE_ITEM,
            json!({ "input": { "name": "x".repeat(256), "listId": list } }),
        )
        .await;
    assert!(
        error_message(&result).contains("longer than 255"),
        "{result}"
    );
    // A null name is allowed, as in the original.
    let result = app.gql(ops::CREATE_LIST, json!({ "name": null })).await;
    assert_eq!(result["data"]["list"]["name"], Value::Null);
    app.stop().await;
}

#[tokio::test]
async fn injection_strings_are_data_sqlite() {
    injection_strings_are_data(Backend::Sqlite).await;
}

#[tokio::test]
async fn injection_strings_are_data_mysql() {
    injection_strings_are_data(Backend::MySql).await;
}

#[tokio::test]
async fn invalid_ids() {
    let db = TestDb::new(Backend::Sqlite).await;
    let app = TestApp::spawn(&db).await;
    let list = app.create_list("l").await;
    for id in [
        "abc",
        "",
        "1.5",
        "-1",
        "99999999999999999999",
        "1; DROP TABLE ITEM",
    ] {
        let result = app.gql(ops::DELETE_ITEM, json!({ "id": id })).await;
        assert_eq!(error_message(&result), "Item Not Found", "{id}: {result}");
        let result = app.gql(ops::DELETE_LIST, json!({ "id": id })).await;
        assert_eq!(error_message(&result), "List Not Found", "{id}: {result}");
    }
    // Where the schema says Int, a non-numeric string is a validation error.
    let result = app
        .gql(
            ops::CREATE_ITEM,
            json!({ "input": { "name": "x", "listId": "abc" } }),
        )
        .await;
    assert!(error_message(&result).contains("Int"), "{result}");
    let result = app
        .gql(
            ops::CREATE_ITEM,
            json!({ "input": { "name": "x", "listId": "3000000000" } }),
        )
        .await;
    assert!(result.get("errors").is_some(), "{result}");
    let result = app
        .gql(ops::CREATE_ITEM, json!({ "input": { "name": "x" } }))
        .await;
    assert!(
        result.get("errors").is_some(),
        "listId is required: {result}"
    );
    // Numbers for ids work too.
    let result = app
        .gql(
            ops::DELETE_LIST,
            json!({ "id": list.parse::<i64>().unwrap() }),
        )
        .await;
    assert_eq!(result["data"]["success"], true, "{result}");
    app.stop().await;
}

#[tokio::test]
async fn malformed_huge_and_deep_requests() {
    let db = TestDb::new(Backend::Sqlite).await;
    let app = TestApp::spawn(&db).await;

    // Not JSON, or JSON that is not a GraphQL request: 400, still JSON.
    for body in ["{", "not json", "[1,2]", r#"{"query": 5}"#] {
        let response = app.post_graphql("application/json", body).await;
        assert_eq!(response.status(), 400, "{body}");
        let result: Value = response.json().await.unwrap();
        assert!(result["errors"][0]["message"].is_string(), "{body}");
    }
    // GraphQL syntax and validation errors: HTTP 200 with errors.
    for query in [
        "{ lists { id ",
        "{ lists { nope } }",
        "mutation { deleteItem }",
        "query { lists(positions: \"x\") { id } }",
    ] {
        let result = app.gql(query, json!({})).await;
        assert!(
            result["errors"][0]["message"].is_string(),
            "{query}: {result}"
        );
    }

    // Larger than the body limit: 413.
    let huge = format!(
        r#"{{"query":"{{ lists {{ id }} }}","variables":{{"pad":"{}"}}}}"#,
        "x".repeat(100 * 1024)
    );
    let response = app.post_graphql("application/json", huge).await;
    assert_eq!(response.status(), 413);

    // Deeply nested selections, within the body limit: refused without
    // harm, and the service still answers afterwards.
    let deep = format!(
        "{}{}",
        "{ lists { items ".to_owned() + &"{ a ".repeat(5000),
        "}".repeat(5002)
    );
    let result = app.gql(&deep, json!({})).await;
    assert!(result["errors"][0]["message"].is_string(), "deep nesting");
    let deep_introspection = format!(
        "{{ __schema {{ types {{ {} name {} }} }} }}",
        "fields { type { ofType { ".repeat(6),
        "} } } ".repeat(6)
    );
    let result = app.gql(&deep_introspection, json!({})).await;
    assert!(error_message(&result).contains("too deep"), "{result}");

    // Many aliased `lists` (each a database query): over the complexity limit.
    let aliases: String = (0..40).map(|i| format!("l{i}: lists {{ id }} ")).collect();
    let result = app.gql(&format!("{{ {aliases} }}"), json!({})).await;
    assert!(error_message(&result).contains("too complex"), "{result}");

    // The explorer's introspection query stays within the limits.
    let result = app.gql(INTROSPECTION, json!({})).await;
    assert!(result.get("errors").is_none(), "{result}");

    assert!(app.board().await.is_empty());
    app.stop().await;
}

/// The introspection query GraphiQL sends.
const INTROSPECTION: &str = r#"
query IntrospectionQuery {
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) {
    name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason
  }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name
    ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } }
}
"#;
