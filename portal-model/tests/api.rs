//! The tools API over real HTTP, against both stores.
//!
//! Every scenario is written once as an `async fn(Backend)` and run twice by
//! `both_stores!`: on the in-memory store and on a real MongoDB
//! wire-protocol server (nx-27017, a fresh database per test). That is what
//! keeps the two stores' behavior identical.

mod support;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{Backend, TestApp, spawn};

macro_rules! both_stores {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::Backend::Memory).await;
                }
            )*
        }
        mod mongo {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::Backend::Mongo).await;
                }
            )*
        }
    };
}

both_stores!(
    create_read_update_delete,
    list_is_sorted_by_name_and_paged,
    search_is_literal_and_case_insensitive_over_all_fields,
    validation_errors_name_the_field_and_store_nothing,
    bodies_that_are_not_json_objects,
    oversized_body_is_413,
    operator_injection_is_data_or_refused,
    invalid_and_unknown_ids_are_404,
    bad_paging_parameters_are_400,
);

async fn json_of(response: reqwest::Response) -> Value {
    response.json().await.expect("the body is not JSON")
}

async fn create(app: &TestApp, body: Value) -> Value {
    let response = app.post_json("/api/tools", &body).await;
    assert_eq!(response.status(), StatusCode::CREATED, "creating {body}");
    json_of(response).await
}

async fn names(app: &TestApp, query: &str) -> (Vec<String>, u64) {
    let response = app.get(&format!("/api/tools{query}")).await;
    assert_eq!(response.status(), StatusCode::OK, "listing {query}");
    let page = json_of(response).await;
    let names = page["items"]
        .as_array()
        .expect("items is an array")
        .iter()
        .map(|t| t["name"].as_str().expect("name is a string").to_owned())
        .collect();
    (names, page["total"].as_u64().expect("total is a number"))
}

/// Assert a 400 whose JSON body names `field`.
async fn assert_invalid(response: reqwest::Response, field: Option<&str>) {
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body = json_of(response).await;
    assert!(
        body["error"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert_eq!(body["field"].as_str(), field, "{body}");
}

async fn create_read_update_delete(backend: Backend) {
    let app = spawn(backend).await;

    let response = app
        .post_json(
            "/api/tools",
            &json!({
                "name": " Grafana ",
                "url": "https://grafana.example.com",
                "description": "Dashboards",
                "tags": ["ops", "metrics"],
            }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response
        .headers()
        .get("location")
        .expect("a Location header")
        .to_str()
        .expect("ASCII")
        .to_owned();
    let created = json_of(response).await;
    let id = created["id"].as_str().expect("id is a string").to_owned();
    assert_eq!(location, format!("/api/tools/{id}"));
    assert_eq!(
        created,
        json!({
            "id": id,
            "name": "Grafana",
            "url": "https://grafana.example.com/",
            "description": "Dashboards",
            "tags": ["ops", "metrics"],
        })
    );

    let fetched = app.get(&location).await;
    assert_eq!(fetched.status(), StatusCode::OK);
    assert_eq!(json_of(fetched).await, created);

    let updated = app
        .put_json(
            &location,
            &json!({ "id": "ignored", "name": "Grafana OSS", "url": "http://grafana.local:3000/" }),
        )
        .await;
    assert_eq!(updated.status(), StatusCode::OK);
    let updated = json_of(updated).await;
    assert_eq!(
        updated,
        json!({
            "id": id,
            "name": "Grafana OSS",
            "url": "http://grafana.local:3000/",
            "description": "",
            "tags": [],
        })
    );
    assert_eq!(json_of(app.get(&location).await).await, updated);
    assert_eq!(names(&app, "").await, (vec!["Grafana OSS".to_owned()], 1));

    assert_eq!(app.delete(&location).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.get(&location).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.delete(&location).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(names(&app, "").await, (vec![], 0));
}

async fn list_is_sorted_by_name_and_paged(backend: Backend) {
    let app = spawn(backend).await;
    for name in ["delta", "Alpha", "charlie", "Bravo", "echo"] {
        create(&app, json!({ "name": name, "url": "https://example.com" })).await;
    }
    assert_eq!(
        names(&app, "").await,
        (
            ["Alpha", "Bravo", "charlie", "delta", "echo"]
                .map(str::to_owned)
                .to_vec(),
            5
        )
    );
    assert_eq!(
        names(&app, "?limit=2").await,
        (vec!["Alpha".to_owned(), "Bravo".to_owned()], 5)
    );
    assert_eq!(
        names(&app, "?limit=2&offset=2").await,
        (vec!["charlie".to_owned(), "delta".to_owned()], 5)
    );
    assert_eq!(
        names(&app, "?limit=2&offset=4").await,
        (vec!["echo".to_owned()], 5)
    );
    assert_eq!(names(&app, "?offset=5").await, (vec![], 5));

    let page = json_of(app.get("/api/tools?limit=3&offset=1").await).await;
    assert_eq!(
        (page["limit"].as_u64(), page["offset"].as_u64()),
        (Some(3), Some(1))
    );
}

async fn search_is_literal_and_case_insensitive_over_all_fields(backend: Backend) {
    let app = spawn(backend).await;
    create(
        &app,
        json!({ "name": "Grafana", "url": "https://g.example", "description": "Dashboards", "tags": ["ops"] }),
    )
    .await;
    create(
        &app,
        json!({ "name": "Prometheus", "url": "https://p.example", "description": "Metrics (TSDB) at 99.9%", "tags": ["Monitoring"] }),
    )
    .await;
    create(&app, json!({ "name": "a.c", "url": "https://x.example" })).await;

    let only = |name: &str| (vec![name.to_owned()], 1);
    assert_eq!(names(&app, "?q=graf").await, only("Grafana"));
    assert_eq!(names(&app, "?q=DASHBOARD").await, only("Grafana"));
    assert_eq!(names(&app, "?q=OPS").await, only("Grafana"));
    assert_eq!(names(&app, "?q=monitor").await, only("Prometheus"));
    // Regex metacharacters are literal text.
    assert_eq!(names(&app, "?q=(tsdb)").await, only("Prometheus"));
    assert_eq!(names(&app, "?q=99.9%25").await, only("Prometheus"));
    assert_eq!(names(&app, "?q=a.c").await, only("a.c"));
    assert_eq!(names(&app, "?q=.*").await, (vec![], 0));
    assert_eq!(names(&app, "?q=%5E").await, (vec![], 0));
    // A query never matches across two fields.
    assert_eq!(names(&app, "?q=grafana%20dash").await, (vec![], 0));
    // Blank means everything.
    assert_eq!(names(&app, "?q=%20").await.1, 3);
}

async fn validation_errors_name_the_field_and_store_nothing(backend: Backend) {
    let app = spawn(backend).await;
    let cases = [
        (json!({ "url": "https://x.example" }), "name"),
        (json!({ "name": "", "url": "https://x.example" }), "name"),
        (
            json!({ "name": "x".repeat(101), "url": "https://x.example" }),
            "name",
        ),
        (json!({ "name": "a" }), "url"),
        (json!({ "name": "a", "url": "ftp://x.example" }), "url"),
        (json!({ "name": "a", "url": "javascript:alert(1)" }), "url"),
        (json!({ "name": "a", "url": "x.example" }), "url"),
        (
            json!({ "name": "a", "url": "https://x.example", "description": ["x"] }),
            "description",
        ),
        (
            json!({ "name": "a", "url": "https://x.example", "tags": "ops" }),
            "tags",
        ),
        (
            json!({ "name": "a", "url": "https://x.example", "tags": ["ok", ""] }),
            "tags[1]",
        ),
        (
            json!({ "name": "a", "url": "https://x.example", "tags": ["a","b","c","d","e","f","g","h","i","j","k"] }),
            "tags",
        ),
        (
            json!({ "name": "a", "url": "https://x.example", "owner": "me" }),
            "owner",
        ),
    ];
    for (body, field) in cases {
        assert_invalid(app.post_json("/api/tools", &body).await, Some(field)).await;
    }

    // The same rules on update.
    let tool = create(&app, json!({ "name": "kept", "url": "https://x.example" })).await;
    let path = format!("/api/tools/{}", tool["id"].as_str().expect("id"));
    assert_invalid(
        app.put_json(&path, &json!({ "name": "kept", "url": "gopher://x" }))
            .await,
        Some("url"),
    )
    .await;
    assert_eq!(json_of(app.get(&path).await).await, tool);
    assert_eq!(names(&app, "").await, (vec!["kept".to_owned()], 1));
}

async fn bodies_that_are_not_json_objects(backend: Backend) {
    let app = spawn(backend).await;
    let send = |body: &'static str, content_type: &'static str| {
        app.http
            .post(app.url("/api/tools"))
            .header("content-type", content_type)
            .body(body)
            .send()
    };

    let response = send("{\"name\": \"a\",", "application/json")
        .await
        .expect("POST");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(
        json_of(response).await["error"]
            .as_str()
            .is_some_and(|m| m.contains("JSON"))
    );

    let response = send(
        "name=a&url=https://x.example",
        "application/x-www-form-urlencoded",
    )
    .await
    .expect("POST");
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(json_of(response).await["error"].is_string());

    for body in ["[]", "\"tool\"", "null", "42"] {
        assert_invalid(send(body, "application/json").await.expect("POST"), None).await;
    }
    assert_eq!(names(&app, "").await, (vec![], 0));
}

async fn oversized_body_is_413(backend: Backend) {
    let app = spawn(backend).await;
    // Over the default MAX_BODY_BYTES (64 KiB).
    let body =
        json!({ "name": "big", "url": "https://x.example", "description": "x".repeat(70 * 1024) });
    let response = app.post_json("/api/tools", &body).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(json_of(response).await["error"].is_string());
    assert_eq!(names(&app, "").await, (vec![], 0));
}

async fn operator_injection_is_data_or_refused(backend: Backend) {
    let app = spawn(backend).await;
    create(
        &app,
        json!({ "name": "ordinary", "url": "https://x.example" }),
    )
    .await;

    // Operator-shaped keys and values are refused, naming the field.
    assert_invalid(
        app.post_json(
            "/api/tools",
            &json!({ "name": "a", "url": "https://x.example", "$where": "sleep(100)" }),
        )
        .await,
        Some("$where"),
    )
    .await;
    assert_invalid(
        app.post_json(
            "/api/tools",
            &json!({ "name": { "$gt": "" }, "url": "https://x.example" }),
        )
        .await,
        Some("name"),
    )
    .await;
    assert_invalid(
        app.post_json(
            "/api/tools",
            &json!({ "name": "a", "url": "https://x.example", "tags": [{ "$ne": null }] }),
        )
        .await,
        Some("tags[0]"),
    )
    .await;

    // Operator-shaped strings are plain data, stored and found as written.
    let odd = create(
        &app,
        json!({ "name": "$where", "url": "https://x.example/?q={\"$gt\":\"\"}", "description": "{\"$ne\": 1}", "tags": ["$regex"] }),
    )
    .await;
    assert_eq!(odd["name"], "$where");
    assert_eq!(odd["description"], "{\"$ne\": 1}");
    assert_eq!(odd["tags"], json!(["$regex"]));
    let path = format!("/api/tools/{}", odd["id"].as_str().expect("id"));
    assert_eq!(json_of(app.get(&path).await).await, odd);

    // Search text is never an operator: these match literally or not at all.
    assert_eq!(
        names(&app, "?q=%24where").await,
        (vec!["$where".to_owned()], 1)
    );
    assert_eq!(
        names(&app, "?q=%7B%22%24gt%22%3A%22%22%7D").await,
        (vec![], 0)
    );
    assert_eq!(
        names(&app, "?q=%7B%22%24ne%22").await,
        (vec!["$where".to_owned()], 1)
    );
    // Bracketed parameters (`q[$ne]=x`, the classic query-string injection)
    // are not parameters at all: the list is unfiltered.
    assert_eq!(names(&app, "?q%5B%24ne%5D=x").await.1, 2);

    // An id is never a filter.
    for id in ["%7B%22%24gt%22%3A%22%22%7D", "%24where", "%5B%24ne%5D"] {
        let response = app.get(&format!("/api/tools/{id}")).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{id}");
    }
}

async fn invalid_and_unknown_ids_are_404(backend: Backend) {
    let app = spawn(backend).await;
    let body = json!({ "name": "a", "url": "https://x.example" });
    for id in [
        "nothex",
        "123",
        "65a1b2c3d4e5f60718293a4g",
        "65a1b2c3d4e5f60718293a4b",
    ] {
        let path = format!("/api/tools/{id}");
        for response in [
            app.get(&path).await,
            app.put_json(&path, &body).await,
            app.delete(&path).await,
        ] {
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
            assert_eq!(json_of(response).await["error"], "no tool with that id");
        }
    }
    // Paths that name no API route at all.
    for path in [
        "/api/tools/65a1b2c3d4e5f60718293a4b/extra",
        "/api/nothing",
        "/api/",
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(json_of(response).await["error"].is_string());
    }
}

async fn bad_paging_parameters_are_400(backend: Backend) {
    let app = spawn(backend).await;
    for (query, field) in [
        ("?limit=0", "limit"),
        ("?limit=101", "limit"),
        ("?limit=abc", "limit"),
        ("?offset=-1", "offset"),
        ("?offset=100001", "offset"),
        ("?q=", ""),
    ] {
        let response = app.get(&format!("/api/tools{query}")).await;
        if field.is_empty() {
            assert_eq!(response.status(), StatusCode::OK, "{query}");
        } else {
            assert_invalid(response, Some(field)).await;
        }
    }
    let long = "x".repeat(201);
    assert_invalid(app.get(&format!("/api/tools?q={long}")).await, Some("q")).await;
}

/// CONTROLLER_MODE=direct, on the memory store (the page does not depend
/// on the store).
#[tokio::test]
async fn the_view_loads_the_controller_by_the_documented_rule() {
    let mut config = support::config(Backend::Memory);
    config.controller_mode = portal_model::ControllerMode::Direct;
    config.controller_port = 30100;
    let app = support::spawn_with(config).await;
    app.wait_ready(std::time::Duration::from_secs(5)).await;
    let response = app.get("/").await;
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    let csp = headers["content-security-policy"].to_str().expect("ASCII");
    assert!(
        csp.contains("'strict-dynamic'") && csp.contains("connect-src 'self'"),
        "{csp}"
    );
    let html = response.text().await.expect("body");
    assert!(html.contains("\"controllerPort\":30100"), "{html}");
    assert!(html.contains("\"controllerUrl\":null"), "{html}");
    assert!(html.contains("location.hostname"), "{html}");

    let mut config = support::config(Backend::Memory);
    config.controller_mode = portal_model::ControllerMode::Direct;
    config.controller_url = Some("https://static.example.com/portal/".parse().expect("URL"));
    let app = support::spawn_with(config).await;
    let html = app.get("/").await.text().await.expect("body");
    assert!(
        html.contains("\"controllerUrl\":\"https://static.example.com/portal/\""),
        "{html}"
    );
}

/// Start portal-controller on 127.0.0.1:0; return its base URL and a stop
/// handle.
async fn spawn_controller() -> (String, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("local address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let shutdown = async {
            let _ = stopped.await;
        };
        let config = portal_controller::Config::for_tests();
        if let Err(err) = portal_controller::run(listener, config, shutdown).await {
            panic!("portal-controller failed: {err}");
        }
    });
    (format!("http://{addr}"), stop)
}

/// CONTROLLER_MODE=proxy (the default): the page names `/controller` on
/// its own origin, and the files come from the Controller through here.
#[tokio::test]
async fn proxy_mode_serves_the_controller_from_the_pages_origin() {
    let (controller, _stop) = spawn_controller().await;
    let mut config = support::config(Backend::Memory);
    config.controller_upstream = controller.parse().expect("URL");
    let app = support::spawn_with(config).await;
    app.wait_ready(std::time::Duration::from_secs(5)).await;

    let html = app.get("/").await.text().await.expect("body");
    assert!(html.contains("\"controllerUrl\":\"/controller\""), "{html}");

    let direct = app
        .http
        .get(format!("{controller}/portal.js"))
        .send()
        .await
        .expect("controller");
    let direct_etag = direct.headers()["etag"].clone();
    let direct_body = direct.text().await.expect("body");

    let js = app.get("/controller/portal.js").await;
    assert_eq!(js.status(), StatusCode::OK);
    assert!(
        js.headers()["content-type"]
            .to_str()
            .expect("ASCII")
            .starts_with("text/javascript"),
        "{:?}",
        js.headers()
    );
    assert_eq!(js.headers()["etag"], direct_etag);
    assert_eq!(js.text().await.expect("body"), direct_body);
    assert_eq!(
        app.get("/controller/portal.css").await.status(),
        StatusCode::OK
    );
    // Revalidation still ends in a bodiless 304.
    let again = app
        .http
        .get(app.url("/controller/portal.js"))
        .header("if-none-match", direct_etag)
        .send()
        .await
        .expect("revalidate");
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    // The Controller's 404s stay 404s.
    // (`a%2Fb` reaches the handler as `a/b`: still one name, still a 404.)
    for path in ["/controller/nope.js", "/controller/a%2Fb", "/controller/"] {
        assert_eq!(
            app.get(path).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
}

#[tokio::test]
async fn proxy_mode_reports_a_missing_controller_as_502() {
    let mut config = support::config(Backend::Memory);
    config.controller_upstream = format!("http://127.0.0.1:{}", support::mongo::free_port())
        .parse()
        .expect("URL");
    let app = support::spawn_with(config).await;
    app.wait_ready(std::time::Duration::from_secs(5)).await;
    let response = app.get("/controller/portal.js").await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    let text = response.text().await.expect("body");
    assert!(text.contains("portal-controller is unreachable"), "{text}");
    assert!(!text.contains("127.0.0.1"), "{text}");
}
