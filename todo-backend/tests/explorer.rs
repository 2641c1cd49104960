//! The built-in query page at `GET /graphql`, in headless Chromium that can
//! reach nothing but the backend: the page must work with no network (it
//! replaced GraphiQL, which loaded its code from a CDN and showed only
//! "Loading..." offline).
//!
//! Chromium and chromedriver are required (see `service_kit::testing`): a
//! machine without them fails this test rather than skipping it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Backend, TestApp, TestDb};
use serde_json::Value;
use service_kit::testing::{Browser, Locator, eventually};

/// Replace a textarea's text, as a person selecting all and typing would.
async fn fill(browser: &Browser, id: &str, text: &str) {
    let field = browser.find(Locator::Id(id)).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

/// Press Run, then read the result box once it shows something other than
/// `Running…`.
async fn run(browser: &Browser) -> String {
    browser
        .find(Locator::Id("run"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    eventually("a result on the page", || async {
        let text = browser
            .find(Locator::Id("result"))
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        (!text.is_empty() && text != "Running…").then_some(text)
    })
    .await
}

#[tokio::test]
async fn the_query_page_runs_mutations_and_queries_offline() {
    let db = TestDb::new(Backend::Sqlite).await;
    let app = TestApp::spawn(&db).await;
    let browser = Browser::start_reaching_only(app.server.addr.port()).await;
    browser.goto(&app.url("/graphql")).await.unwrap();

    // A mutation with variables.
    fill(
        &browser,
        "query",
        "mutation add($name: String) { createList(name: $name) { id name position } }",
    )
    .await;
    fill(&browser, "variables", r#"{"name": "Groceries"}"#).await;
    let created: Value = serde_json::from_str(&run(&browser).await).unwrap();
    assert_eq!(created["data"]["createList"]["name"], "Groceries");
    assert_eq!(created["data"]["createList"]["position"], 0);

    // The server really has it.
    assert_eq!(app.board().await, vec![("Groceries".to_owned(), vec![])]);

    // Bad variables are reported on the page, not sent.
    fill(&browser, "variables", "{not json").await;
    let shown = run(&browser).await;
    assert!(shown.contains("not valid JSON"), "{shown}");

    // A GraphQL error comes back as the result (HTTP 200, `errors`).
    fill(&browser, "variables", "{}").await;
    fill(&browser, "query", "mutation { deleteList(id: \"999\") }").await;
    let failed: Value = serde_json::from_str(&run(&browser).await).unwrap();
    assert_eq!(failed["errors"][0]["message"], "List Not Found");

    browser.close().await;
    app.stop().await;
}
