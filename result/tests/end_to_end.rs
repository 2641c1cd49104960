//! Votes in through vote, the tally out of result, with the worker between:
//! over real HTTP, Redis and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::VotingApp;
use futures_util::StreamExt;

#[tokio::test]
async fn votes_in_the_tally_out_and_revoting_changes_not_adds() {
    let app = VotingApp::start().await;
    let empty = app.tally().await;
    assert_eq!(
        (empty["total"].as_i64(), empty["percent_a"].as_f64()),
        (Some(0), Some(50.0))
    );

    app.vote("alice", "a").await;
    app.vote("bob", "a").await;
    app.vote("carol", "b").await;
    app.vote("dave", "a").await;
    let tally = app.wait_tally(3, 1).await;
    assert_eq!(tally["total"], 4);
    assert_eq!(tally["percent_a"], 75.0);
    assert_eq!(tally["stale"], false);

    // Re-voting moves a vote; the count stays 4.
    app.vote("alice", "b").await;
    app.vote("alice", "b").await;
    let tally = app.wait_tally(2, 2).await;
    assert_eq!(tally["total"], 4);

    // The page is rendered with the same numbers.
    let page = app.result_page().await;
    assert!(
        page.contains(r#"<div class="percent" id="percent-a">50%</div>"#),
        "{page}"
    );
    assert!(page.contains("4 votes"), "{page}");
    app.stop().await;
}

#[tokio::test]
async fn the_event_stream_pushes_each_change() {
    let app = VotingApp::start().await;
    let response = app.events().await;
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut body = response.bytes_stream();
    let mut seen = String::new();
    let mut next_event = async || -> serde_json::Value {
        loop {
            if let Some(end) = seen.find("\n\n") {
                let event: String = seen.drain(..end + 2).collect();
                if let Some(data) = event.lines().find_map(|l| l.strip_prefix("data: ")) {
                    assert!(event.contains("event: tally"), "{event}");
                    return serde_json::from_str(data).unwrap();
                }
                continue; // a keep-alive comment
            }
            let chunk = tokio::time::timeout(Duration::from_secs(15), body.next())
                .await
                .expect("an event within 15 s")
                .expect("the stream stays open")
                .unwrap();
            seen.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    };
    // The current tally first, unasked.
    assert_eq!(next_event().await["total"], 0);
    app.vote("erin", "b").await;
    let event = next_event().await;
    assert_eq!(
        (event["a"].as_i64(), event["b"].as_i64()),
        (Some(0), Some(1))
    );
    app.stop().await;
}

#[tokio::test]
async fn one_query_per_tick_however_many_viewers() {
    let app = VotingApp::start().await;
    let mut streams = Vec::new();
    for _ in 0..20 {
        streams.push(app.events().await);
    }
    assert_eq!(app.result_metric("result_viewers").await, 20);
    let before = app.result_metric("result_tally_queries_total").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let ran = app.result_metric("result_tally_queries_total").await - before;
    // Ticks every 200 ms: about 10 in 2 s, with 20 viewers and no more.
    assert!(
        (5..=13).contains(&ran),
        "{ran} queries in 2 s with 20 viewers"
    );
    drop(streams);
    app.stop().await;
}
