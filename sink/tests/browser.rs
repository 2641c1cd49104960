//! The sink's page in headless Chromium, after messages from two relays.
//!
//! In a cluster the two relay pods reach a sink from two pod IPs; here two
//! clients bound to 127.0.0.2 and 127.0.0.3 (the whole 127.0.0.0/8 is
//! loopback on Linux) stand for them. The page must show each address with
//! its count, and the latest messages, escaped. With `SCREENSHOTS_DIR` set
//! (`scripts/screenshots.sh`) this is the README's picture of the sink.
//!
//! Chromium and chromedriver are required (see `service_kit::testing`): a
//! machine without them fails this test rather than skipping it.

#![allow(clippy::unwrap_used)] // in tests, a panic is the failure report

mod common;

use std::net::{IpAddr, Ipv4Addr};

use common::TestApp;
use service_kit::testing::{Browser, Locator, eventually};

#[tokio::test]
async fn the_page_shows_each_relay_and_the_latest_messages() {
    let sink = TestApp::spawn(8).await;

    // 5 messages from one "relay", 3 from the other, as the article's
    // sender writes them.
    let relay = |n| IpAddr::V4(Ipv4Addr::new(127, 0, 0, n));
    for (from, count) in [(relay(2), 5), (relay(3), 3)] {
        for n in 0..count {
            let res = sink
                .send_from(
                    from,
                    &format!("Message sent from 10.244.1.{n} on Sat Nov 21 21:40:5{n} UTC 2026"),
                )
                .await;
            assert_eq!(res.status(), 200);
        }
    }
    let res = sink.send_from(relay(2), "<b>not bold</b>").await;
    assert_eq!(res.status(), 200);

    let browser = Browser::start().await;
    browser.goto(&sink.url("/")).await.unwrap();
    let rows = eventually("the table of senders", || async {
        let text = browser
            .find(Locator::Css("table"))
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        text.contains("127.0.0.3").then_some(text)
    })
    .await;
    assert!(rows.contains("127.0.0.2 6"), "{rows}");
    assert!(rows.contains("127.0.0.3 3"), "{rows}");
    let body = browser
        .find(Locator::Css("body"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains("9 messages logged"), "{body}");
    // Which pod served the page: a learner reloading through the Service
    // sees the replicas take turns.
    assert!(
        body.contains(&format!(
            "Served by pod {}",
            service_kit::net::instance_name()
        )),
        "{body}"
    );
    // The markup arrived as text, not as a bold element.
    assert!(body.contains("<b>not bold</b>"), "{body}");
    assert!(browser.find(Locator::Css("td b")).await.is_err());

    browser.screenshot("sink").await;
    browser.assert_fits_phone_width("the sink page").await;
    browser.close().await;
    sink.server.stop().await.unwrap();
}
