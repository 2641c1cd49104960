//! In headless Chromium: vote on the vote page, and watch the result page,
//! opened before, change without a reload.
//!
//! Chromium and chromedriver are required (see `service_kit::testing`): a
//! machine without them fails this test rather than skipping it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::VotingApp;
use service_kit::testing::{Browser, Locator, eventually};

#[tokio::test]
async fn voting_changes_the_open_result_page_live() {
    let app = VotingApp::start().await;
    let browser = Browser::start().await;

    // The result page, in the first window, shows no votes yet.
    browser.goto(&app.result.url("/")).await.unwrap();
    let result_window = browser.window().await.unwrap();
    eventually("the live-update connection", || async {
        let state = browser
            .find(Locator::Id("live"))
            .await
            .ok()?
            .attr("data-state")
            .await
            .ok()??;
        (state == "live").then_some(())
    })
    .await;
    let total = browser
        .find(Locator::Id("total"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(total, "No votes yet");
    // A marker that a reload would wipe out.
    browser
        .execute("window.notReloaded = true", vec![])
        .await
        .unwrap();

    // Vote for Dogs in a second window, as a person would.
    let tab = browser.new_window(true).await.unwrap();
    browser.switch_to_window(tab.handle).await.unwrap();
    browser.goto(&app.vote.url("/")).await.unwrap();
    browser
        .find(Locator::Id("b"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let chosen = eventually("the vote page to confirm", || async {
        browser
            .find(Locator::Id("chosen"))
            .await
            .ok()?
            .text()
            .await
            .ok()
    })
    .await;
    assert_eq!(chosen, "You voted for Dogs.");
    browser.screenshot("vote").await;
    browser.assert_fits_phone_width("the vote page").await;

    // Back on the result page: 0% / 100% and one vote, without a reload.
    browser.switch_to_window(result_window).await.unwrap();
    let shown = eventually("the result page to show the vote", || async {
        let total = browser
            .find(Locator::Id("total"))
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        let b = browser
            .find(Locator::Id("percent-b"))
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        (total == "1 vote").then_some(b)
    })
    .await;
    assert_eq!(shown, "100%");
    let same_page = browser
        .execute("return window.notReloaded === true", vec![])
        .await
        .unwrap();
    assert_eq!(same_page, serde_json::json!(true), "the page was reloaded");
    let served = browser
        .find(Locator::Id("served-by"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        served,
        format!("Served by pod {}", service_kit::net::instance_name())
    );
    browser.screenshot("result").await;
    browser.assert_fits_phone_width("the result page").await;

    browser.close().await;
    app.stop().await;
}
