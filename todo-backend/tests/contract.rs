//! The wire contract of the original service: what its frontend sends,
//! byte for byte (with the `__typename` its GraphQL client adds and the
//! string ids it passes where the schema says `Int`), the transport (HTTP
//! 200 with `errors`, content type, CORS on every response), the schema's
//! names, and the Spring-style health endpoints. Each scenario runs against
//! SQLite and against MariaDB.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Backend, TestApp, TestDb, error_message, ops};
use serde_json::{Value, json};

/// The frontend's operations as its GraphQL client puts them on the wire:
/// `__typename` added to every selection set.
mod wire {
    pub(super) const HOME: &str = "query homePageQuery{ lists { id name position items{ id name position listId __typename } __typename } }";
    pub(super) const CREATE_ITEM: &str = "mutation createItemMutation($input:createItemInput){ item:createItem(input:$input){id name listId position __typename} }";
    pub(super) const DELETE_ITEM: &str =
        "mutation deleteItemMutation($id:ID!){ success:deleteItem(id:$id) }";
    pub(super) const MOVE_ITEM: &str = "mutation moveItemMutation($id:ID!,$input:moveItemInput){ item:moveItem(id:$id,input:$input){id name listId position __typename} }";
    pub(super) const CREATE_LIST: &str = "mutation createListMutation($name:String){ list:createList(name:$name){id name position __typename} }";
    pub(super) const DELETE_LIST: &str =
        "mutation deleteListMutation($id:ID!){ success:deleteList(id:$id) }";
}

async fn frontend_round_trip(backend: Backend) {
    let db = TestDb::new(backend).await;
    let app = TestApp::spawn(&db).await;

    let home = app
        .post_as_frontend("homePageQuery", wire::HOME, json!({}))
        .await;
    assert_eq!(home, json!({ "data": { "lists": [] } }));

    let todo = app
        .post_as_frontend(
            "createListMutation",
            wire::CREATE_LIST,
            json!({ "name": "To do" }),
        )
        .await;
    assert_eq!(
        todo["data"]["list"],
        json!({ "id": todo["data"]["list"]["id"], "name": "To do", "position": 0, "__typename": "List" })
    );
    let todo_id = todo["data"]["list"]["id"]
        .as_str()
        .expect("ids are strings")
        .to_owned();
    let done = app
        .post_as_frontend(
            "createListMutation",
            wire::CREATE_LIST,
            json!({ "name": "Done" }),
        )
        .await;
    let done_id = done["data"]["list"]["id"].as_str().unwrap().to_owned();
    assert_eq!(done["data"]["list"]["position"], 1);

    // listId as the string the frontend holds.
    let mut item_ids = Vec::new();
    for (i, name) in ["milk", "eggs", "bread"].into_iter().enumerate() {
        let created = app
            .post_as_frontend(
                "createItemMutation",
                wire::CREATE_ITEM,
                json!({ "input": { "name": name, "listId": todo_id } }),
            )
            .await;
        let item = &created["data"]["item"];
        assert_eq!(item["name"], name);
        assert_eq!(item["position"], i);
        assert_eq!(item["__typename"], "Item");
        // listId is an Int on the way out, the list's id as a number.
        assert_eq!(item["listId"].to_string(), todo_id);
        item_ids.push(item["id"].as_str().unwrap().to_owned());
    }

    // Move "eggs" to the other list (string listId again), then "bread"
    // to the top of its own list.
    let moved = app
        .post_as_frontend(
            "moveItemMutation",
            wire::MOVE_ITEM,
            json!({ "id": item_ids[1], "input": { "listId": done_id, "position": 0 } }),
        )
        .await;
    assert_eq!(moved["data"]["item"]["listId"].to_string(), done_id);
    assert_eq!(moved["data"]["item"]["position"], 0);
    app.post_as_frontend(
        "moveItemMutation",
        wire::MOVE_ITEM,
        json!({ "id": item_ids[2], "input": { "listId": todo_id, "position": "0" } }),
    )
    .await;

    let home = app
        .post_as_frontend("homePageQuery", wire::HOME, json!({}))
        .await;
    let lists = &home["data"]["lists"];
    assert_eq!(lists[0]["__typename"], "List");
    assert_eq!(lists[0]["items"][0]["__typename"], "Item");
    assert_eq!(
        app.board().await,
        vec![
            (
                "To do".to_owned(),
                vec!["bread".to_owned(), "milk".to_owned()]
            ),
            ("Done".to_owned(), vec!["eggs".to_owned()]),
        ]
    );

    let deleted = app
        .post_as_frontend(
            "deleteItemMutation",
            wire::DELETE_ITEM,
            json!({ "id": item_ids[2] }),
        )
        .await;
    assert_eq!(deleted, json!({ "data": { "success": true } }));
    let deleted = app
        .post_as_frontend(
            "deleteListMutation",
            wire::DELETE_LIST,
            json!({ "id": todo_id }),
        )
        .await;
    assert_eq!(deleted, json!({ "data": { "success": true } }));
    assert_eq!(
        app.board().await,
        vec![("Done".to_owned(), vec!["eggs".to_owned()])]
    );
    app.stop().await;
}

#[tokio::test]
async fn frontend_round_trip_sqlite() {
    frontend_round_trip(Backend::Sqlite).await;
}

#[tokio::test]
async fn frontend_round_trip_mysql() {
    frontend_round_trip(Backend::MySql).await;
}

/// The plain operations from the contract (no `__typename`) work too.
#[tokio::test]
async fn contract_operations_without_typename() {
    let db = TestDb::new(Backend::Sqlite).await;
    let app = TestApp::spawn(&db).await;
    let list = app.create_list("a").await;
    let item = app.create_item(&list, "x").await;
    let moved = app.move_item(&item, &list, 0).await;
    assert_eq!(moved["data"]["item"]["position"], 0, "{moved}");
    let deleted = app.gql(ops::DELETE_ITEM, json!({ "id": item })).await;
    assert_eq!(deleted["data"]["success"], true);
    let deleted = app.gql(ops::DELETE_LIST, json!({ "id": list })).await;
    assert_eq!(deleted["data"]["success"], true);
    app.stop().await;
}

const CORS: [(&str, &str); 5] = [
    ("access-control-allow-origin", "*"),
    (
        "access-control-allow-methods",
        "POST, GET, PUT, OPTIONS, DELETE, PATCH",
    ),
    ("access-control-max-age", "3600"),
    (
        "access-control-allow-headers",
        "Origin, X-Requested-With, Content-Type, Accept",
    ),
    // The original's "Location", plus the header naming the backend pod.
    ("access-control-expose-headers", "Location, X-Served-By"),
];

fn assert_cors(response: &reqwest::Response) {
    for (name, value) in CORS {
        assert_eq!(
            response.headers().get(name).map(|v| v.to_str().unwrap()),
            Some(value),
            "{name} on {}",
            response.url()
        );
    }
}

#[tokio::test]
async fn transport_cors_get_and_explorer() {
    let db = TestDb::new(Backend::Sqlite).await;
    let app = TestApp::spawn(&db).await;

    // Preflight, as a browser sends it before the frontend's POST.
    let preflight = app.preflight().await;
    assert_eq!(preflight.status(), 200);
    assert_cors(&preflight);

    // Every response: errors, probes, unknown paths. The probes are the
    // kit's (tested in service-kit); that they carry this service's CORS
    // headers too is this service's promise, so it is tested here.
    for path in ["/healthz", "/readyz", "/nope", "/actuator/health"] {
        let response = app.get(path).await;
        assert_cors(&response);
    }
    let errors = app.post_graphql_json(&json!({ "query": "{ nope }" })).await;
    assert_eq!(errors.status(), 200, "GraphQL errors are HTTP 200");
    assert_cors(&errors);
    let body: Value = errors.json().await.unwrap();
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("nope"),
        "{body}"
    );

    // GET with a query runs it; variables are JSON text.
    let response = app
        .get_graphql(&[
            ("query", "query q($p:[Int]){ lists(positions:$p) { id } }"),
            ("operationName", "q"),
            ("variables", r#"{"p":["0"]}"#),
        ])
        .await;
    assert_eq!(response.status(), 200);
    assert_cors(&response);
    assert_eq!(
        response.headers()["content-type"],
        "application/json;charset=UTF-8"
    );
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({ "data": { "lists": [] } })
    );

    // Mutations are refused over GET.
    let response = app
        .get_graphql(&[("query", "mutation { createList(name:\"x\") { id } }")])
        .await;
    assert_eq!(response.status(), 405);
    assert!(app.board().await.is_empty());

    // A browser opening /graphql gets the built-in query page, which may
    // load nothing from elsewhere (tests/explorer.rs drives it).
    let explorer = app.get("/graphql").await;
    assert_eq!(explorer.status(), 200);
    assert!(
        explorer.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let csp = explorer.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.starts_with("default-src 'none';"), "{csp}");
    assert!(!csp.contains("http"), "{csp}");
    let page = explorer.text().await.unwrap();
    assert!(page.contains(r#"<textarea id="query""#), "{page}");
    assert!(!page.contains("src="), "{page}");

    // Batches, as graphql-java's servlet accepted.
    let batch: Value = app
        .post_graphql_json(&json!([{ "query": "{ lists { id } }" }, { "query": "{ __typename }" }]))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        batch,
        json!([{ "data": { "lists": [] } }, { "data": { "__typename": "Query" } }])
    );

    // application/graphql: the body is the query.
    let raw: Value = app
        .post_graphql("application/graphql", "{ lists { id } }")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(raw, json!({ "data": { "lists": [] } }));
    app.stop().await;
}

#[tokio::test]
async fn schema_names_match_the_original() {
    let db = TestDb::new(Backend::Sqlite).await;
    let app = TestApp::spawn(&db).await;
    let result = app.gql(
        r#"{
          list: __type(name: "List") { fields { name args { name type { name kind ofType { name } } } type { name kind ofType { name kind ofType { name } } } } }
          item: __type(name: "Item") { fields { name type { name kind ofType { name } } } }
          create: __type(name: "createItemInput") { kind inputFields { name type { name kind ofType { name } } } }
          move: __type(name: "moveItemInput") { kind inputFields { name type { name kind } } }
          query: __type(name: "Query") { fields { name args { name type { kind ofType { name } } } type { kind ofType { name } } } }
          mutation: __type(name: "Mutation") { fields { name args { name type { name kind ofType { name } } } type { name } } }
        }"#,
        json!({}),
    )
    .await;
    assert!(result.get("errors").is_none(), "{result}");
    let d = &result["data"];
    let names = |v: &Value, key: &str| -> Vec<String> {
        v[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        names(&d["list"], "fields"),
        ["id", "name", "position", "items"]
    );
    assert_eq!(
        names(&d["item"], "fields"),
        ["id", "name", "listId", "position"]
    );
    assert_eq!(names(&d["create"], "inputFields"), ["name", "listId"]);
    assert_eq!(names(&d["move"], "inputFields"), ["listId", "position"]);
    assert_eq!(names(&d["query"], "fields"), ["lists"]);
    assert_eq!(
        names(&d["mutation"], "fields"),
        [
            "createItem",
            "createList",
            "updateList",
            "moveItem",
            "deleteItem",
            "deleteList"
        ]
    );
    // Types as in the original's SDL.
    assert_eq!(
        d["list"]["fields"][0]["type"],
        json!({ "name": null, "kind": "NON_NULL", "ofType": { "name": "ID", "kind": "SCALAR", "ofType": null } })
    );
    assert_eq!(d["list"]["fields"][2]["type"]["name"], "Int");
    assert_eq!(d["list"]["fields"][3]["args"][0]["name"], "positions");
    assert_eq!(d["list"]["fields"][3]["type"]["kind"], "LIST");
    assert_eq!(d["item"]["fields"][2]["type"]["name"], "Int");
    assert_eq!(d["create"]["inputFields"][1]["type"]["kind"], "NON_NULL");
    assert_eq!(
        d["create"]["inputFields"][1]["type"]["ofType"]["name"],
        "Int"
    );
    assert_eq!(
        d["move"]["inputFields"][0]["type"],
        json!({ "name": "Int", "kind": "SCALAR" })
    );
    let mutation = d["mutation"]["fields"].as_array().unwrap();
    let field = |name: &str| mutation.iter().find(|f| f["name"] == name).unwrap();
    assert_eq!(field("updateList")["type"]["name"], "Item");
    assert_eq!(
        field("createItem")["args"][0]["type"]["name"],
        "createItemInput"
    );
    assert_eq!(
        field("moveItem")["args"][1]["type"]["name"],
        "moveItemInput"
    );
    assert_eq!(field("deleteItem")["type"]["name"], "Boolean");
    assert_eq!(field("moveItem")["args"][0]["type"]["kind"], "NON_NULL");
    app.stop().await;
}

#[tokio::test]
async fn spring_style_health() {
    let db = TestDb::new(Backend::Sqlite).await;
    let app = TestApp::spawn(&db).await;
    for (path, expected) in [
        (
            "/actuator/health",
            json!({ "status": "UP", "components": { "db": { "status": "UP" } } }),
        ),
        ("/actuator/health/liveness", json!({ "status": "UP" })),
        ("/actuator/health/readiness", json!({ "status": "UP" })),
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.json::<Value>().await.unwrap(), expected, "{path}");
    }
    app.stop().await;
}

#[tokio::test]
async fn errors_are_the_originals() {
    let db = TestDb::new(Backend::Sqlite).await;
    let app = TestApp::spawn(&db).await;
    let result = app
        .gql(
            ops::MOVE_ITEM,
            json!({ "id": "42", "input": { "listId": "1", "position": 0 } }),
        )
        .await;
    assert_eq!(error_message(&result), "Item Not Found");
    assert_eq!(result["data"], json!({ "item": null }));
    assert_eq!(result["errors"][0]["path"], json!(["item"]));
    let result = app.gql(ops::DELETE_LIST, json!({ "id": "42" })).await;
    assert_eq!(error_message(&result), "List Not Found");
    assert_eq!(result["data"], json!({ "success": null }));
    app.stop().await;
}
