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

use std::net::{IpAddr, Ipv4Addr};

use service_kit::ServiceArgs;
use service_kit::applog::LogFileArgs;
use service_kit::test_server::TestServer;
use service_kit::testing::{Browser, Locator, eventually};

#[tokio::test]
async fn the_page_shows_each_relay_and_the_latest_messages() {
    let dir = tempfile::tempdir().unwrap();
    let config = sink::Config {
        service: ServiceArgs::for_tests(),
        log: LogFileArgs {
            log_dir: dir.path().to_owned(),
            log_fsync: false,
        },
        recent_messages: 8,
    };
    let sink = TestServer::start(|listener, shutdown| sink::run(listener, config, shutdown)).await;

    // 5 messages from one "relay", 3 from the other, as the article's
    // sender writes them.
    for (relay, count) in [(2, 5), (3, 3)] {
        let client = reqwest::Client::builder()
            .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, relay)))
            .build()
            .unwrap();
        for n in 0..count {
            let res = client
                .post(sink.url("/sink.php"))
                .body(format!(
                    "Message sent from 10.244.1.{n} on Sat Nov 21 21:40:5{n} UTC 2026"
                ))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200);
        }
    }
    let res = reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)))
        .build()
        .unwrap()
        .post(sink.url("/sink.php"))
        .body("<b>not bold</b>")
        .send()
        .await
        .unwrap();
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
    sink.stop().await.unwrap();
}
