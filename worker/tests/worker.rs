//! The worker against the real Redis (127.0.0.1:6379, a list per test) and
//! PostgreSQL (127.0.0.1:5432, a database per test), and through TCP proxies
//! that the outage tests cut mid-stream.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use redis::AsyncCommands;
use service_kit::test_server::TestServer;
use voting_contract::testing::{self, Proxy, TestPg};
use worker::Config;

type Server = TestServer<worker::Error>;

async fn start(config: Config) -> Server {
    TestServer::start(move |listener, shutdown| worker::run(listener, config, shutdown)).await
}

async fn push(list: &str, votes: &[(&str, &str)]) {
    let mut redis = testing::redis().await;
    for (voter, vote) in votes {
        let _: i64 = redis
            .rpush(list, format!(r#"{{"voter_id":"{voter}","vote":"{vote}"}}"#))
            .await
            .unwrap();
    }
}

async fn delete(keys: &[&str]) {
    let _: i64 = testing::redis().await.del(keys).await.unwrap();
}

fn rows(want: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut rows: Vec<_> = want
        .iter()
        .map(|(id, vote)| ((*id).to_owned(), (*vote).to_owned()))
        .collect();
    rows.sort();
    rows
}

/// Wait until the table holds exactly `want`.
async fn wait_rows(db: &TestPg, want: Vec<(String, String)>, within: Duration) {
    let deadline = Instant::now() + within;
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        // The table appears when the worker first reaches the database.
        if let Ok(rows) = tokio::spawn({
            let url = db.url.clone();
            async move {
                use sqlx::Connection;
                let mut conn = sqlx::PgConnection::connect(&url).await?;
                sqlx::query_as::<_, (String, String)>("SELECT id, vote FROM votes ORDER BY id")
                    .fetch_all(&mut conn)
                    .await
            }
        })
        .await
        .unwrap()
        {
            if rows == want {
                return;
            }
            seen = rows;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "the table never became the {} expected rows; last seen {} rows: {:?}",
        want.len(),
        seen.len(),
        seen.iter().take(10).collect::<Vec<_>>()
    );
}

async fn metrics(server: &Server) -> String {
    reqwest::get(server.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

async fn status(server: &Server, path: &str) -> u16 {
    reqwest::get(server.url(path))
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn votes_become_one_row_per_voter_and_the_latest_wins() {
    let db = TestPg::new().await;
    let list = testing::unique_name("votes_test");
    push(&list, &[("v1", "a"), ("v2", "b"), ("v1", "b")]).await;
    let server = start(Config::for_tests(&list, &db.url)).await;
    wait_rows(
        &db,
        rows(&[("v1", "b"), ("v2", "b")]),
        Duration::from_secs(10),
    )
    .await;

    // Re-voting changes the row, it does not add one.
    push(&list, &[("v2", "a"), ("v3", "a")]).await;
    wait_rows(
        &db,
        rows(&[("v1", "b"), ("v2", "a"), ("v3", "a")]),
        Duration::from_secs(10),
    )
    .await;

    assert_eq!(status(&server, "/readyz").await, 200);
    let text = metrics(&server).await;
    assert_eq!(metric(&text, "worker_votes_processed_total"), 5, "{text}");
    assert_eq!(metric(&text, "worker_queue_length"), 0, "{text}");
    server.stop().await.unwrap();
    delete(&[&list, &format!("{list}:processing")]).await;
}

#[tokio::test]
async fn junk_in_the_list_is_dropped_without_blocking_the_queue() {
    let db = TestPg::new().await;
    let list = testing::unique_name("votes_test");
    let mut redis = testing::redis().await;
    let long_id = "x".repeat(300);
    for entry in [
        "not json".to_owned(),
        r#"{"voter_id":"v1","vote":"c"}"#.to_owned(),
        format!(r#"{{"voter_id":"{long_id}","vote":"a"}}"#),
        r#"{"voter_id":"v2","vote":"a"}"#.to_owned(),
    ] {
        let _: i64 = redis.rpush(&list, entry).await.unwrap();
    }
    let server = start(Config::for_tests(&list, &db.url)).await;
    wait_rows(&db, rows(&[("v2", "a")]), Duration::from_secs(10)).await;
    assert_eq!(
        metric(&metrics(&server).await, "worker_votes_invalid_total"),
        3
    );
    server.stop().await.unwrap();
    delete(&[&list]).await;
}

#[tokio::test]
async fn a_batch_left_in_the_processing_list_is_written_first() {
    // What a worker killed between BLMOVE and the write leaves behind.
    let db = TestPg::new().await;
    let list = testing::unique_name("votes_test");
    let processing = format!("{list}:processing");
    push(&processing, &[("v1", "a")]).await;
    push(&list, &[("v1", "b")]).await;
    let server = start(Config::for_tests(&list, &db.url)).await;
    // The older vote first, then the newer one: v1 ends at b.
    wait_rows(&db, rows(&[("v1", "b")]), Duration::from_secs(10)).await;
    let len: i64 = testing::redis().await.llen(&processing).await.unwrap();
    assert_eq!(len, 0);
    server.stop().await.unwrap();
    delete(&[&list]).await;
}

/// Push `count` votes from distinct voters, one every `gap`.
fn stream_votes(
    list: String,
    prefix: &'static str,
    count: usize,
    gap: Duration,
) -> tokio::task::JoinHandle<Vec<(String, String)>> {
    tokio::spawn(async move {
        let mut redis = testing::redis().await;
        let mut sent = Vec::new();
        for i in 0..count {
            let (voter, vote) = (
                format!("{prefix}{i:04}"),
                if i % 3 == 0 { "a" } else { "b" },
            );
            let _: i64 = redis
                .rpush(
                    &list,
                    format!(r#"{{"voter_id":"{voter}","vote":"{vote}"}}"#),
                )
                .await
                .unwrap();
            sent.push((voter, vote.to_owned()));
            tokio::time::sleep(gap).await;
        }
        sent.sort();
        sent
    })
}

#[tokio::test]
async fn no_vote_is_lost_when_postgres_goes_away_mid_stream() {
    let db = TestPg::new().await;
    let proxy = Proxy::start("127.0.0.1:5432".into()).await;
    let list = testing::unique_name("votes_test");
    let via_proxy = db.url.replace("127.0.0.1:5432", &proxy.addr.to_string());
    assert_ne!(
        via_proxy, db.url,
        "TEST_POSTGRES_URL must be on 127.0.0.1:5432 for this test"
    );
    let mut config = Config::for_tests(&list, &via_proxy);
    config.batch_size = 20; // several batches in flight around the cut
    let server = start(config).await;

    let sender = stream_votes(list.clone(), "pg", 300, Duration::from_millis(5));
    tokio::time::sleep(Duration::from_millis(500)).await;
    proxy.set_down().await;
    // Down long enough for votes to pile up and for the worker to notice.
    let deadline = Instant::now() + Duration::from_secs(5);
    while status(&server, "/readyz").await != 503 {
        assert!(
            Instant::now() < deadline,
            "readiness did not drop with PostgreSQL gone"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    proxy.set_up();

    let sent = sender.await.unwrap();
    wait_rows(&db, sent, Duration::from_secs(20)).await;
    let text = metrics(&server).await;
    assert!(metric(&text, "worker_postgres_errors_total") > 0, "{text}");
    assert!(
        metric(&text, "worker_votes_processed_total") >= 300,
        "{text}"
    );
    assert_eq!(status(&server, "/readyz").await, 200);
    server.stop().await.unwrap();
    delete(&[&list, &format!("{list}:processing")]).await;
}

#[tokio::test]
async fn no_vote_is_lost_when_redis_goes_away_mid_stream() {
    let db = TestPg::new().await;
    let proxy = Proxy::start("127.0.0.1:6379".into()).await;
    let list = testing::unique_name("votes_test");
    let mut config = Config::for_tests(&list, &db.url);
    config.redis.redis_port = proxy.addr.port();
    config.batch_size = 20;
    let server = start(config).await;

    // vote keeps pushing to the real Redis while the worker is cut off.
    let sender = stream_votes(list.clone(), "rd", 200, Duration::from_millis(5));
    tokio::time::sleep(Duration::from_millis(400)).await;
    proxy.set_down().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    proxy.set_up();

    let sent = sender.await.unwrap();
    wait_rows(&db, sent, Duration::from_secs(20)).await;
    let text = metrics(&server).await;
    assert!(metric(&text, "worker_redis_errors_total") > 0, "{text}");
    server.stop().await.unwrap();
    delete(&[&list, &format!("{list}:processing")]).await;
}
