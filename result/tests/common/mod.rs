//! The whole voting app in one test process: vote, worker and result
//! started in-process on 127.0.0.1:0 against the real Redis (a unique list)
//! and PostgreSQL (a unique database), and the requests the tests make.

#![allow(dead_code, unreachable_pub)] // each test binary uses a subset
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use service_kit::test_server::TestServer;
use voting_contract::testing::{self, TestList, TestPg};

pub struct VotingApp {
    pub vote: TestServer<vote::Error>,
    pub worker: TestServer<worker::Error>,
    pub result: TestServer<result::Error>,
    pub list: TestList,
    pub db: TestPg,
}

impl VotingApp {
    /// All three services, each ready.
    pub async fn start() -> Self {
        let db = TestPg::new().await;
        let list = TestList::new();
        let (vote_config, worker_config, result_config) = (
            vote::Config::for_tests(&list.name),
            worker::Config::for_tests(&list.name, &db.url),
            result::Config::for_tests(&db.url),
        );
        let vote = TestServer::start(move |l, s| vote::run(l, vote_config, s)).await;
        let worker = TestServer::start(move |l, s| worker::run(l, worker_config, s)).await;
        let result = TestServer::start(move |l, s| result::run(l, result_config, s)).await;
        for url in [
            vote.url("/readyz"),
            worker.url("/readyz"),
            result.url("/readyz"),
        ] {
            testing::wait_status(&url, 200).await;
        }
        Self {
            vote,
            worker,
            result,
            list,
            db,
        }
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

    /// `GET /api/results`.
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

    /// The result page, as rendered on the server.
    pub async fn result_page(&self) -> String {
        testing::text(&self.result.url("/")).await
    }

    /// Open `GET /events`: the response whose body is the stream.
    pub async fn events(&self) -> reqwest::Response {
        reqwest::get(self.result.url("/events")).await.unwrap()
    }

    /// A sample of result's `/metrics`.
    pub async fn result_metric(&self, name: &str) -> u64 {
        testing::metric(&testing::text(&self.result.url("/metrics")).await, name)
    }

    pub async fn stop(self) {
        self.vote.stop().await.unwrap();
        self.worker.stop().await.unwrap();
        self.result.stop().await.unwrap();
        self.list.delete().await;
    }
}
