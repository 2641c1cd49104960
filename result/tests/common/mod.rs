//! The whole voting app in one test process: vote, worker and result
//! started in-process on 127.0.0.1:0 against the real Redis (a unique list)
//! and PostgreSQL (a unique database).

#![allow(dead_code, unreachable_pub)] // each test binary uses a subset
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use redis::AsyncCommands;
use service_kit::test_server::TestServer;
use voting_contract::testing::{self, TestPg};

pub struct VotingApp {
    pub vote: TestServer<vote::Error>,
    pub worker: TestServer<worker::Error>,
    pub result: TestServer<result::Error>,
    pub list: String,
    pub db: TestPg,
}

impl VotingApp {
    pub async fn start() -> Self {
        let db = TestPg::new().await;
        let list = testing::unique_name("votes_test");
        let (vote_config, worker_config, result_config) = (
            vote::Config::for_tests(&list),
            worker::Config::for_tests(&list, &db.url),
            result::Config::for_tests(&db.url),
        );
        let vote = TestServer::start(move |l, s| vote::run(l, vote_config, s)).await;
        let worker = TestServer::start(move |l, s| worker::run(l, worker_config, s)).await;
        let result = TestServer::start(move |l, s| result::run(l, result_config, s)).await;
        let app = Self {
            vote,
            worker,
            result,
            list,
            db,
        };
        for url in [
            app.vote.url("/readyz"),
            app.worker.url("/readyz"),
            app.result.url("/readyz"),
        ] {
            wait_ok(&url).await;
        }
        app
    }

    /// Vote as the browser with cookie `voter_id`.
    pub async fn vote(&self, voter_id: &str, choice: &str) {
        let response = reqwest::Client::new()
            .post(self.vote.url("/"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", format!("voter_id={voter_id}"))
            .body(format!("vote={choice}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }

    pub async fn tally(&self) -> serde_json::Value {
        reqwest::get(self.result.url("/api/results"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Wait until result reports `a` and `b` votes.
    pub async fn wait_tally(&self, a: i64, b: i64) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let tally = self.tally().await;
            if tally["a"] == a && tally["b"] == b {
                return tally;
            }
            assert!(
                Instant::now() < deadline,
                "tally never became a={a} b={b}: {tally}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn stop(self) {
        self.vote.stop().await.unwrap();
        self.worker.stop().await.unwrap();
        self.result.stop().await.unwrap();
        let _: i64 = testing::redis()
            .await
            .del(&[&self.list, &format!("{}:processing", self.list)])
            .await
            .unwrap();
    }
}

pub async fn wait_ok(url: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(response) = reqwest::get(url).await {
            if response.status() == 200 {
                return;
            }
        }
        assert!(Instant::now() < deadline, "{url} never answered 200");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
