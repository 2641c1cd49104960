//! The worker against the real Redis (127.0.0.1:6379, a list per test) and
//! PostgreSQL (127.0.0.1:5432, a database per test), and through TCP proxies
//! that the outage tests cut mid-stream.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use redis::AsyncCommands;
use service_kit::test_server::TestServer;
use voting_contract::testing::{self, Proxy, TestList, TestPg};
use worker::Config;

/// One worker on 127.0.0.1:0 with its own Redis list and PostgreSQL
/// database, and what the tests ask of it.
struct TestApp {
    server: TestServer<worker::Error>,
    list: TestList,
    db: TestPg,
}

impl TestApp {
    /// A worker with a fresh list and database, its test settings changed
    /// by `configure` (proxies, batch size).
    async fn spawn(configure: impl FnOnce(&mut Config, &TestPg)) -> Self {
        let (list, db) = (TestList::new(), TestPg::new().await);
        Self::spawn_with(list, db, configure).await
    }

    /// A worker on a list (and database) the test filled before it starts.
    async fn spawn_with(
        list: TestList,
        db: TestPg,
        configure: impl FnOnce(&mut Config, &TestPg),
    ) -> Self {
        let mut config = Config::for_tests(&list.name, &db.url);
        configure(&mut config, &db);
        let server =
            TestServer::start(move |listener, shutdown| worker::run(listener, config, shutdown))
                .await;
        Self { server, list, db }
    }

    async fn readyz(&self) -> u16 {
        testing::status(&self.server.url("/readyz")).await
    }

    async fn metrics(&self) -> String {
        testing::text(&self.server.url("/metrics")).await
    }

    /// Wait until the table holds exactly `want` (sorted by voter id).
    async fn wait_rows(&self, want: &[(String, String)], within: Duration) {
        let deadline = Instant::now() + within;
        let mut seen = Vec::new();
        while Instant::now() < deadline {
            // The table appears when the worker first reaches the database.
            if let Ok(rows) = self.db.rows().await {
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

    async fn stop(self) {
        self.server.stop().await.unwrap();
        self.list.delete().await;
    }
}

fn rows(want: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut rows: Vec<_> = want
        .iter()
        .map(|(id, vote)| ((*id).to_owned(), (*vote).to_owned()))
        .collect();
    rows.sort();
    rows
}

#[tokio::test]
async fn votes_become_one_row_per_voter_and_the_latest_wins() {
    let list = TestList::new();
    list.push(&[("v1", "a"), ("v2", "b"), ("v1", "b")]).await;
    let app = TestApp::spawn_with(list, TestPg::new().await, |_, _| {}).await;
    app.wait_rows(&rows(&[("v1", "b"), ("v2", "b")]), Duration::from_secs(10))
        .await;

    // Re-voting changes the row, it does not add one.
    app.list.push(&[("v2", "a"), ("v3", "a")]).await;
    app.wait_rows(
        &rows(&[("v1", "b"), ("v2", "a"), ("v3", "a")]),
        Duration::from_secs(10),
    )
    .await;

    assert_eq!(app.readyz().await, 200);
    let text = app.metrics().await;
    assert_eq!(testing::metric(&text, "worker_votes_processed_total"), 5);
    assert_eq!(testing::metric(&text, "worker_queue_length"), 0);
    app.stop().await;
}

#[tokio::test]
async fn junk_in_the_list_is_dropped_without_blocking_the_queue() {
    let list = TestList::new();
    list.push_raw(&[
        "not json".to_owned(),
        r#"{"voter_id":"v1","vote":"c"}"#.to_owned(),
        format!(r#"{{"voter_id":"{}","vote":"a"}}"#, "x".repeat(300)),
        r#"{"voter_id":"v2","vote":"a"}"#.to_owned(),
    ])
    .await;
    let app = TestApp::spawn_with(list, TestPg::new().await, |_, _| {}).await;
    app.wait_rows(&rows(&[("v2", "a")]), Duration::from_secs(10))
        .await;
    let text = app.metrics().await;
    assert_eq!(testing::metric(&text, "worker_votes_invalid_total"), 3);
    app.stop().await;
}

#[tokio::test]
async fn a_batch_left_in_the_processing_list_is_written_first() {
    // What a worker killed between BLMOVE and the write leaves behind.
    let list = TestList::new();
    testing::push_to(&list.processing(), &[("v1", "a")]).await;
    list.push(&[("v1", "b")]).await;
    let app = TestApp::spawn_with(list, TestPg::new().await, |_, _| {}).await;
    // The older vote first, then the newer one: v1 ends at b.
    app.wait_rows(&rows(&[("v1", "b")]), Duration::from_secs(10))
        .await;
    let len: i64 = testing::redis()
        .await
        .llen(app.list.processing())
        .await
        .unwrap();
    assert_eq!(len, 0);
    app.stop().await;
}

/// Push `count` votes from distinct voters to `list`, one every `gap`;
/// returns them as the table should end up.
fn stream_votes(
    list: String,
    prefix: &'static str,
    count: usize,
    gap: Duration,
) -> tokio::task::JoinHandle<Vec<(String, String)>> {
    tokio::spawn(async move {
        let mut sent = Vec::new();
        for i in 0..count {
            let voter = format!("{prefix}{i:04}");
            let vote = if i % 3 == 0 { "a" } else { "b" };
            testing::push_to(&list, &[(&voter, vote)]).await;
            sent.push((voter, vote.to_owned()));
            tokio::time::sleep(gap).await;
        }
        sent.sort();
        sent
    })
}

#[tokio::test]
async fn no_vote_is_lost_when_postgres_goes_away_mid_stream() {
    let proxy = Proxy::start("127.0.0.1:5432".into()).await;
    let app = TestApp::spawn(|config, db| {
        let via_proxy = db.url.replace("127.0.0.1:5432", &proxy.addr.to_string());
        assert_ne!(
            via_proxy, db.url,
            "TEST_POSTGRES_URL must be on 127.0.0.1:5432 for this test"
        );
        config.pg = voting_contract::PgArgs::for_tests(&via_proxy);
        config.batch_size = 20; // several batches in flight around the cut
    })
    .await;

    let sender = stream_votes(app.list.name.clone(), "pg", 300, Duration::from_millis(5));
    tokio::time::sleep(Duration::from_millis(500)).await;
    proxy.set_down().await;
    // Down long enough for votes to pile up and for the worker to notice.
    let deadline = Instant::now() + Duration::from_secs(5);
    while app.readyz().await != 503 {
        assert!(
            Instant::now() < deadline,
            "readiness did not drop with PostgreSQL gone"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    proxy.set_up();

    let sent = sender.await.unwrap();
    app.wait_rows(&sent, Duration::from_secs(20)).await;
    let text = app.metrics().await;
    assert!(testing::metric(&text, "worker_postgres_errors_total") > 0);
    assert!(testing::metric(&text, "worker_votes_processed_total") >= 300);
    // Ready again once a round after the outage went through (the rows
    // can land a moment before the round that wrote them reports back).
    testing::wait_status(&app.server.url("/readyz"), 200).await;
    app.stop().await;
}

#[tokio::test]
async fn no_vote_is_lost_when_redis_goes_away_mid_stream() {
    let proxy = Proxy::start("127.0.0.1:6379".into()).await;
    let app = TestApp::spawn(|config, _| {
        config.redis.redis_port = proxy.addr.port();
        config.batch_size = 20;
    })
    .await;

    // vote keeps pushing to the real Redis while the worker is cut off.
    let sender = stream_votes(app.list.name.clone(), "rd", 200, Duration::from_millis(5));
    tokio::time::sleep(Duration::from_millis(400)).await;
    proxy.set_down().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    proxy.set_up();

    let sent = sender.await.unwrap();
    app.wait_rows(&sent, Duration::from_secs(20)).await;
    let text = app.metrics().await;
    assert!(testing::metric(&text, "worker_redis_errors_total") > 0);
    app.stop().await;
}
