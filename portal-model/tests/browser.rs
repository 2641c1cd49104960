//! The whole portal in headless Chromium: the View from portal-model, the
//! Controller's script through portal-model's `/controller/` (the browser
//! can reach nothing but portal-model's port), and a tool added, found,
//! edited and deleted through the UI. A second test loads the Controller
//! straight from its own port (CONTROLLER_MODE=direct, the article's
//! design).
//!
//! Fails (never skips) when Chromium or chromedriver is missing; see
//! `service_kit::testing`.

mod support;

use std::time::Duration;

use service_kit::testing::{Browser, Locator, eventually};
use support::Backend;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Start portal-controller on 127.0.0.1:0; return its port and a stop handle.
async fn spawn_controller() -> (u16, oneshot::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("local address").port();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let shutdown = async {
            let _ = stopped.await;
        };
        let config = portal_controller::Config::for_tests();
        if let Err(err) = portal_controller::run(listener, config, shutdown).await {
            panic!("portal-controller failed: {err}");
        }
    });
    (port, stop)
}

/// The names of the tools listed on the page, once the list shows exactly
/// `expected` (the UI updates asynchronously).
async fn wait_for_names(browser: &Browser, expected: &[&str]) {
    let what = format!("the list to show {expected:?}");
    eventually(&what, || async {
        let items = browser
            .find_all(Locator::Css("#tools li.tool .name"))
            .await
            .ok()?;
        let mut names = Vec::new();
        for item in items {
            names.push(item.text().await.ok()?);
        }
        (names == expected).then_some(())
    })
    .await;
}

async fn fill(browser: &Browser, css: &str, text: &str) {
    let input = browser.find(Locator::Css(css)).await.expect(css);
    input.clear().await.expect("clear");
    input.send_keys(text).await.expect("type");
}

/// The tool with `name`, as the API has it (to check the UI's effect).
async fn api_tools(app: &support::TestApp, query: &str) -> Vec<serde_json::Value> {
    let page: serde_json::Value = app
        .get(&format!("/api/tools{query}"))
        .await
        .json()
        .await
        .expect("JSON");
    page["items"].as_array().cloned().unwrap_or_default()
}

/// The URLs of every resource the page loaded.
async fn loaded_resources(browser: &Browser) -> Vec<String> {
    let loaded = browser
        .execute(
            "return performance.getEntriesByType('resource').map(e => e.name)",
            vec![],
        )
        .await
        .expect("list loaded resources");
    serde_json::from_value(loaded).expect("a list of URLs")
}

#[tokio::test]
async fn add_find_edit_delete_with_only_the_model_reachable() {
    let (controller_port, _stop_controller) = spawn_controller().await;
    let mut config = support::config(Backend::Memory);
    // The default CONTROLLER_MODE=proxy, over loopback as in the pod.
    config.controller_upstream = format!("http://127.0.0.1:{controller_port}")
        .parse()
        .expect("URL");
    let app = support::spawn_with(config).await;
    app.wait_ready(Duration::from_secs(5)).await;
    let model_port: u16 = app
        .base
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("the app's port");

    let browser = Browser::start_reaching_only(model_port).await;
    // The premise: this browser cannot reach the Controller's port.
    browser
        .goto(&format!("http://127.0.0.1:{controller_port}/portal.js"))
        .await
        .ok();
    let shown = browser
        .execute(
            "return document.body ? document.body.innerText : ''",
            vec![],
        )
        .await
        .expect("page text");
    let shown = shown.as_str().unwrap_or_default();
    assert!(
        shown.contains("ERR_PROXY_CONNECTION_FAILED"),
        "the browser reached the Controller directly: {shown}"
    );

    browser.goto(&app.url("/")).await.expect("load the View");

    // The Controller ran: it built the form.
    eventually("the controller to build the UI", || async {
        browser.find(Locator::Css("#tool-form")).await.ok()
    })
    .await;
    // ... and its files came through the page's own origin.
    let loaded = loaded_resources(&browser).await;
    assert!(
        loaded.contains(&app.url("/controller/portal.js")),
        "{loaded:?}"
    );
    assert!(
        loaded.contains(&app.url("/controller/portal.css")),
        "{loaded:?}"
    );
    assert!(
        loaded.iter().all(|url| url.starts_with(&app.base)),
        "{loaded:?}"
    );
    wait_for_names(&browser, &[]).await;
    add_find_edit_delete(&browser, &app).await;
    browser.close().await;
}

/// CONTROLLER_MODE=direct: the page's host on CONTROLLER_PORT.
#[tokio::test]
async fn direct_mode_loads_the_controller_from_its_own_port() {
    let (controller_port, _stop_controller) = spawn_controller().await;
    let mut config = support::config(Backend::Memory);
    config.controller_mode = portal_model::ControllerMode::Direct;
    config.controller_port = controller_port;
    let app = support::spawn_with(config).await;
    app.wait_ready(Duration::from_secs(5)).await;

    let browser = Browser::start().await;
    browser.goto(&app.url("/")).await.expect("load the View");
    eventually("the controller to build the UI", || async {
        browser.find(Locator::Css("#tool-form")).await.ok()
    })
    .await;
    // Its script came from portal-controller's port, not the page's.
    let controller = format!("http://127.0.0.1:{controller_port}");
    let loaded = browser
        .execute(
            "return performance.getEntriesByType('resource').map(e => e.name)",
            vec![],
        )
        .await
        .expect("list loaded resources");
    let loaded: Vec<String> = serde_json::from_value(loaded).expect("a list of URLs");
    assert!(
        loaded.contains(&format!("{controller}/portal.js")),
        "{loaded:?}"
    );
    assert!(
        loaded.contains(&format!("{controller}/portal.css")),
        "{loaded:?}"
    );
    assert!(
        !app.base.ends_with(&format!(":{controller_port}")),
        "model and controller must be on different ports"
    );
    wait_for_names(&browser, &[]).await;
    browser.close().await;
}

/// Add two tools, find, edit and delete them through the UI, and check that
/// bad input is reported.
async fn add_find_edit_delete(browser: &Browser, app: &support::TestApp) {
    // Add two tools.
    for (name, url, description, tags) in [
        (
            "Grafana",
            "https://grafana.example.com",
            "Dashboards",
            "ops, metrics",
        ),
        ("Jenkins", "https://ci.example.com", "Builds", "ci"),
    ] {
        fill(browser, "#tool-name", name).await;
        fill(browser, "#tool-url", url).await;
        fill(browser, "#tool-description", description).await;
        fill(browser, "#tool-tags", tags).await;
        browser
            .find(Locator::Css("#save"))
            .await
            .expect("save")
            .click()
            .await
            .expect("click save");
        eventually(&format!("{name} to be listed"), || async {
            let page = browser.find(Locator::Css("#tools")).await.ok()?;
            page.text().await.ok()?.contains(name).then_some(())
        })
        .await;
    }
    wait_for_names(browser, &["Grafana", "Jenkins"]).await;
    // The page says which pod served it.
    let served = browser
        .find(Locator::Css("#served-by"))
        .await
        .expect("the served-by line")
        .text()
        .await
        .expect("its text");
    assert_eq!(
        served,
        format!("Served by pod {}", service_kit::net::instance_name())
    );
    browser.screenshot("portal").await;
    browser.assert_fits_phone_width("the portal").await;
    let stored = api_tools(app, "?q=grafana").await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["tags"], serde_json::json!(["ops", "metrics"]));

    // Find it by search (a tag, in another case).
    fill(browser, "#search", "METRICS").await;
    wait_for_names(browser, &["Grafana"]).await;

    // Edit it.
    let item = browser
        .find(Locator::Css("#tools li.tool"))
        .await
        .expect("the found tool");
    item.find(Locator::Css("button.edit"))
        .await
        .expect("edit button")
        .click()
        .await
        .expect("click edit");
    fill(browser, "#tool-name", "Grafana OSS").await;
    browser
        .find(Locator::Css("#save"))
        .await
        .expect("save")
        .click()
        .await
        .expect("click save");
    wait_for_names(browser, &["Grafana OSS"]).await;
    let stored = api_tools(app, "?q=grafana").await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["name"], "Grafana OSS");
    assert_eq!(stored[0]["url"], "https://grafana.example.com/");

    // Delete it: the first click arms the button, the second deletes.
    let delete = browser
        .find(Locator::Css("#tools li.tool button.delete"))
        .await
        .expect("delete button");
    delete.click().await.expect("arm delete");
    delete.click().await.expect("confirm delete");
    eventually("the search to find nothing", || async {
        let count = browser.find(Locator::Css("#count")).await.ok()?;
        count
            .text()
            .await
            .ok()?
            .contains("No tool matches")
            .then_some(())
    })
    .await;
    assert!(api_tools(app, "?q=grafana").await.is_empty());
    fill(browser, "#search", "").await;
    wait_for_names(browser, &["Jenkins"]).await;

    // An API error is shown to the user, naming what is wrong.
    fill(browser, "#tool-name", "Broken").await;
    fill(browser, "#tool-url", "ftp://files.example.com").await;
    browser
        .find(Locator::Css("#save"))
        .await
        .expect("save")
        .click()
        .await
        .expect("click save");
    let message = eventually("the error message", || async {
        let error = browser.find(Locator::Css("#portal-error")).await.ok()?;
        let text = error.text().await.ok()?;
        (!text.is_empty()).then_some(text)
    })
    .await;
    assert!(message.contains("http or https"), "{message}");
    let invalid = browser
        .find(Locator::Css("#tool-url"))
        .await
        .expect("url input")
        .attr("aria-invalid")
        .await
        .expect("attribute");
    assert_eq!(invalid.as_deref(), Some("true"));
}

#[tokio::test]
async fn the_page_says_so_when_the_controller_is_unreachable() {
    // Direct mode: nothing on CONTROLLER_PORT.
    let mut config = support::config(Backend::Memory);
    config.controller_mode = portal_model::ControllerMode::Direct;
    config.controller_port = support::mongo::free_port();
    let app = support::spawn_with(config).await;
    app.wait_ready(Duration::from_secs(5)).await;
    let browser = Browser::start().await;
    browser.goto(&app.url("/")).await.expect("load the View");
    let status = eventually("the load failure to be shown", || async {
        let status = browser.find(Locator::Css("#portal-status")).await.ok()?;
        let text = status.text().await.ok()?;
        text.contains("Could not load").then_some(text)
    })
    .await;
    assert!(status.contains("portal-controller"), "{status}");
    browser.close().await;

    // Proxy mode: nothing at CONTROLLER_UPSTREAM; the 502 fails the load.
    let mut config = support::config(Backend::Memory);
    config.controller_upstream = format!("http://127.0.0.1:{}", support::mongo::free_port())
        .parse()
        .expect("URL");
    let app = support::spawn_with(config).await;
    app.wait_ready(Duration::from_secs(5)).await;
    let browser = Browser::start().await;
    browser.goto(&app.url("/")).await.expect("load the View");
    let status = eventually("the load failure to be shown", || async {
        let status = browser.find(Locator::Css("#portal-status")).await.ok()?;
        let text = status.text().await.ok()?;
        text.contains("Could not load").then_some(text)
    })
    .await;
    assert!(status.contains("portal-controller"), "{status}");
    browser.close().await;
}
