//! The board in headless Chromium against a real todo-backend (SQLite):
//! create lists and items, move one within its list and one to another
//! list, delete one, reload, and find the same board. In the default proxy
//! mode the browser can reach only the frontend's port (the backend's is
//! proven unreachable from it), as behind a port-forward or an Ingress. A
//! second test runs the original direct mode, where the browser calls the
//! backend itself. Pages whose backend is not there must say so.
//!
//! Chromium and chromedriver are required (see `service_kit::testing`): a
//! machine without them fails this test rather than skipping it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{TestApp, TestBackend};
use serde_json::{Value, json};
use service_kit::test_server::closed_port;
use service_kit::testing::{Browser, Locator, eventually};

/// The board as the page shows it: (list name, [item names]).
async fn board(browser: &Browser) -> Vec<(String, Vec<String>)> {
    let shown: Value = browser
        .execute(
            "return [...document.querySelectorAll('section.list')].map(l => [
                l.querySelector('h2').textContent,
                [...l.querySelectorAll('li.item .name')].map(i => i.textContent)])",
            vec![],
        )
        .await
        .unwrap();
    serde_json::from_value(shown).unwrap()
}

fn expect(board: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
    board
        .iter()
        .map(|(name, items)| {
            (
                (*name).to_owned(),
                items.iter().map(|i| (*i).to_owned()).collect(),
            )
        })
        .collect()
}

/// Wait until the page shows `want` (every change re-reads the board).
async fn wait_for_board(browser: &Browser, want: &[(&str, &[&str])]) {
    let want = expect(want);
    let mut last = Vec::new();
    let found = tokio::time::timeout(std::time::Duration::from_secs(15), async {
        loop {
            last = board(browser).await;
            if last == want {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(
        found.is_ok(),
        "board never became {want:?}; last seen {last:?}"
    );
}

/// Click the button matching `css` inside the item named `item`.
async fn click_item_button(browser: &Browser, item: &str, css: &str) {
    let clicked: Value = browser
        .execute(
            "const [name, css] = arguments;
             const li = [...document.querySelectorAll('li.item')]
               .find(li => li.querySelector('.name').textContent === name);
             if (!li) return false;
             li.querySelector(css).click();
             return true;",
            vec![json!(item), json!(css)],
        )
        .await
        .unwrap();
    assert_eq!(clicked, json!(true), "no item {item}");
}

/// Drag the item named `item` and drop it on list `list`: on its item named
/// `onto`, or on the list itself. WebDriver cannot make Chromium start a
/// native HTML5 drag, so the page's own drag events are dispatched, in the
/// order a browser fires them, with one shared DataTransfer.
async fn drag(browser: &Browser, item: &str, list: &str, onto: Option<&str>) {
    browser
        .execute(
            "const [item, list, onto] = arguments;
             const lists = [...document.querySelectorAll('section.list')];
             const source = lists.flatMap(l => [...l.querySelectorAll('li.item')])
               .find(i => i.querySelector('.name').textContent === item);
             const section = lists.find(l => l.querySelector('h2').textContent === list);
             const target = onto === null ? section.querySelector('h2')
               : [...section.querySelectorAll('li.item')]
                   .find(i => i.querySelector('.name').textContent === onto);
             const data = new DataTransfer();
             const fire = (node, type) => node.dispatchEvent(
               new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: data }));
             fire(source, 'dragstart');
             fire(target, 'dragover');
             fire(target, 'drop');
             fire(source, 'dragend');",
            vec![json!(item), json!(list), json!(onto)],
        )
        .await
        .unwrap();
}

/// Type into the new-item box of list `list` and submit.
async fn add_item(browser: &Browser, list: &str, name: &str) {
    let input = browser
        .find(Locator::Css(&format!(
            "input[aria-label='New item in {list}']"
        )))
        .await
        .unwrap();
    input.send_keys(&format!("{name}\n")).await.unwrap();
}

/// The text of the page's error box once it shows one.
async fn page_error(browser: &Browser) -> String {
    eventually("an error about the backend", || async {
        let text: Value = browser
            .execute("const e = document.querySelector('#error'); return e && !e.hidden ? e.textContent : null", vec![])
            .await
            .ok()?;
        text.as_str().map(str::to_owned)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn board_round_trip_with_only_the_frontend_reachable() {
    let backend = TestBackend::spawn().await;
    // The article's form of SERVER_URI: host:port, no scheme.
    let frontend = TestApp::spawn(&backend.server_uri()).await;

    let browser = Browser::start_reaching_only(frontend.server.addr.port()).await;
    // First prove the premise: this browser cannot reach the backend.
    browser.goto(&backend.url("/actuator/health")).await.ok();
    let shown: Value = browser
        .execute(
            "return document.body ? document.body.innerText : ''",
            vec![],
        )
        .await
        .unwrap();
    let shown = shown.as_str().unwrap_or_default();
    assert!(
        !shown.contains("UP") && shown.contains("ERR_PROXY_CONNECTION_FAILED"),
        "the browser reached the backend directly: {shown}"
    );

    browser.goto(&frontend.url("/")).await.unwrap();
    eventually("the new-list form", || async {
        browser.find(Locator::Css("form.new-list input")).await.ok()
    })
    .await;
    // An empty board says what to do first.
    let hint = browser
        .find(Locator::Css("#board .empty"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(hint.contains("No lists yet"), "{hint}");

    for list in ["Groceries", "Done"] {
        // Re-find each time: every change re-renders the board.
        let input = browser
            .find(Locator::Css("form.new-list input"))
            .await
            .unwrap();
        input.send_keys(&format!("{list}\n")).await.unwrap();
        eventually("the new list", || async {
            let lists = board(&browser).await;
            lists.iter().any(|(name, _)| name == list).then_some(())
        })
        .await;
    }
    for item in ["milk", "eggs", "bread"] {
        add_item(&browser, "Groceries", item).await;
        eventually("the new item", || async {
            board(&browser).await[0]
                .1
                .iter()
                .any(|i| i == item)
                .then_some(())
        })
        .await;
    }
    wait_for_board(
        &browser,
        &[("Groceries", &["milk", "eggs", "bread"]), ("Done", &[])],
    )
    .await;
    assert!(browser.find(Locator::Css("#board .empty")).await.is_err());
    // Which pods served: the page's frontend pod, and the backend pod of
    // every answer (passed on by the frontend's /graphql).
    let pod = service_kit::net::instance_name();
    let served = browser
        .find(Locator::Css("#served-by"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        served.contains(&format!("Page served by frontend pod {pod}."))
            && served.contains(&format!("Last answer from backend pod {pod}.")),
        "{served}"
    );
    browser.screenshot("todo").await;
    browser.assert_fits_phone_width("the board").await;

    // Within the list, then across lists, then a delete.
    click_item_button(&browser, "bread", ".move-up").await;
    wait_for_board(
        &browser,
        &[("Groceries", &["milk", "bread", "eggs"]), ("Done", &[])],
    )
    .await;
    click_item_button(&browser, "milk", ".move-right").await;
    wait_for_board(
        &browser,
        &[("Groceries", &["bread", "eggs"]), ("Done", &["milk"])],
    )
    .await;
    click_item_button(&browser, "eggs", ".delete-item").await;
    wait_for_board(&browser, &[("Groceries", &["bread"]), ("Done", &["milk"])]).await;

    // Drag and drop: onto an item of another list (takes its place), onto
    // the empty part of its own list (goes last), and back onto a list
    // with no items left.
    drag(&browser, "bread", "Done", Some("milk")).await;
    wait_for_board(
        &browser,
        &[("Groceries", &[]), ("Done", &["bread", "milk"])],
    )
    .await;
    drag(&browser, "bread", "Done", None).await;
    wait_for_board(
        &browser,
        &[("Groceries", &[]), ("Done", &["milk", "bread"])],
    )
    .await;
    drag(&browser, "bread", "Groceries", None).await;
    wait_for_board(&browser, &[("Groceries", &["bread"]), ("Done", &["milk"])]).await;

    // A list can be deleted too (an empty one: no confirmation dialog).
    let input = browser
        .find(Locator::Css("form.new-list input"))
        .await
        .unwrap();
    input.send_keys("Scratch\n").await.unwrap();
    wait_for_board(
        &browser,
        &[
            ("Groceries", &["bread"]),
            ("Done", &["milk"]),
            ("Scratch", &[]),
        ],
    )
    .await;
    browser
        .execute(
            "[...document.querySelectorAll('section.list')].find(l => l.querySelector('h2').textContent === 'Scratch').querySelector('.delete-list').click()",
            vec![],
        )
        .await
        .unwrap();
    wait_for_board(&browser, &[("Groceries", &["bread"]), ("Done", &["milk"])]).await;

    // Reload: the state comes back from the database.
    browser.refresh().await.unwrap();
    wait_for_board(&browser, &[("Groceries", &["bread"]), ("Done", &["milk"])]).await;
    let error_hidden: Value = browser
        .execute("return document.querySelector('#error').hidden", vec![])
        .await
        .unwrap();
    assert_eq!(error_hidden, json!(true));

    browser.close().await;

    // A frontend whose backend is not there says so on the page.
    let nowhere = closed_port().await;
    let lost = TestApp::spawn(&nowhere.to_string()).await;
    let browser = Browser::start_reaching_only(lost.server.addr.port()).await;
    browser.goto(&lost.url("/")).await.unwrap();
    let message = page_error(&browser).await;
    assert!(
        message.contains("unreachable from todo-frontend"),
        "{message}"
    );
    assert!(message.contains("SERVER_URI"), "{message}");

    browser.close().await;
    lost.stop().await;
    frontend.stop().await;
    backend.stop().await;
}

/// GRAPHQL_MODE=direct: the original design, the browser calls SERVER_URI
/// itself (todo-backend answers CORS for it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_mode_browser_calls_the_backend_itself() {
    let backend = TestBackend::spawn().await;
    let frontend = TestApp::spawn_direct(&backend.server_uri()).await;

    let browser = Browser::start().await;
    browser.goto(&frontend.url("/")).await.unwrap();
    let input = eventually("the new-list form", || async {
        browser.find(Locator::Css("form.new-list input")).await.ok()
    })
    .await;
    input.send_keys("Straight to the backend\n").await.unwrap();
    wait_for_board(&browser, &[("Straight to the backend", &[])]).await;
    let graphql: Value = browser
        .execute("return window.TODO_CONFIG.graphqlUrl", vec![])
        .await
        .unwrap();
    assert_eq!(graphql, json!(backend.url("/graphql")));
    browser.refresh().await.unwrap();
    wait_for_board(&browser, &[("Straight to the backend", &[])]).await;

    // With no backend there, the page names the address it tried.
    let nowhere = closed_port().await;
    let lost = TestApp::spawn_direct(&nowhere.to_string()).await;
    browser.goto(&lost.url("/")).await.unwrap();
    let message = page_error(&browser).await;
    assert!(message.contains("unreachable"), "{message}");
    assert!(message.contains(&nowhere.to_string()), "{message}");

    browser.close().await;
    lost.stop().await;
    frontend.stop().await;
    backend.stop().await;
}
