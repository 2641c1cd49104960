//! The vote service over real HTTP, against the Redis on 127.0.0.1:6379
//! (each test its own list, deleted at the end) and, for the outage, a TCP
//! proxy to it that the test cuts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use redis::AsyncCommands;
use service_kit::test_server::TestServer;
use vote::Config;
use voting_contract::testing::{self, Proxy};

type Server = TestServer<vote::Error>;

async fn start(config: Config) -> Server {
    TestServer::start(move |listener, shutdown| vote::run(listener, config, shutdown)).await
}

async fn status(server: &Server, path: &str) -> u16 {
    reqwest::get(server.url(path))
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn wait_status(server: &Server, path: &str, want: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while status(server, path).await != want {
        assert!(Instant::now() < deadline, "{path} never answered {want}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A test's own list, deleted at the end of the test.
struct List(String);

impl List {
    fn new() -> Self {
        Self(testing::unique_name("votes_test"))
    }

    async fn entries(&self) -> Vec<String> {
        testing::redis().await.lrange(&self.0, 0, -1).await.unwrap()
    }

    async fn delete(self) {
        let _: i64 = testing::redis().await.del(&self.0).await.unwrap();
    }
}

async fn post_vote(server: &Server, body: &str, cookie: Option<&str>) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(server.url("/"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_owned());
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    request.send().await.unwrap()
}

fn set_voter_id(response: &reqwest::Response) -> String {
    let cookie = response
        .headers()
        .get("set-cookie")
        .expect("a voter_id cookie")
        .to_str()
        .unwrap();
    cookie
        .strip_prefix("voter_id=")
        .and_then(|rest| rest.split(';').next())
        .expect("voter_id=…")
        .to_owned()
}

#[tokio::test]
async fn the_page_shows_both_options_and_the_instance() {
    let list = List::new();
    let server = start(Config::for_tests(&list.0)).await;
    let response = reqwest::get(server.url("/")).await.unwrap();
    assert_eq!(response.status(), 200);
    let id = set_voter_id(&response);
    assert_eq!(id.len(), 16, "{id}");
    let page = response.text().await.unwrap();
    assert!(page.contains("<title>Cats vs Dogs!</title>"), "{page}");
    assert!(page.contains(r#"value="a""#) && page.contains(r#"value="b""#));
    assert!(
        page.contains("Processed by container ID vote-test"),
        "{page}"
    );
    assert!(!page.contains("You voted for"));
    server.stop().await.unwrap();
    list.delete().await;
}

#[tokio::test]
async fn a_vote_is_pushed_in_the_originals_format_and_shown() {
    let list = List::new();
    let server = start(Config::for_tests(&list.0)).await;
    wait_status(&server, "/readyz", 200).await;

    // A returning voter keeps their id.
    let response = post_vote(&server, "vote=a", Some("voter_id=4f2a9c1e0b7d3a65")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(set_voter_id(&response), "4f2a9c1e0b7d3a65");
    let page = response.text().await.unwrap();
    assert!(
        page.contains("You voted for <strong>Cats</strong>"),
        "{page}"
    );
    assert!(page.contains(r#"value="a" aria-pressed="true""#), "{page}");

    // A new voter gets one, and the vote carries it.
    let response = post_vote(&server, "vote=b", None).await;
    assert_eq!(response.status(), 200);
    let id = set_voter_id(&response);

    assert_eq!(
        list.entries().await,
        [
            r#"{"voter_id":"4f2a9c1e0b7d3a65","vote":"a"}"#.to_owned(),
            format!(r#"{{"voter_id":"{id}","vote":"b"}}"#),
        ]
    );
    let metrics = reqwest::get(server.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("vote_votes_accepted_total 2"), "{metrics}");
    server.stop().await.unwrap();
    list.delete().await;
}

#[tokio::test]
async fn anything_but_a_or_b_is_a_400_and_pushes_nothing() {
    let list = List::new();
    let server = start(Config::for_tests(&list.0)).await;
    wait_status(&server, "/readyz", 200).await;
    for body in [
        "vote=c",
        "vote=",
        "",
        "vote=A",
        "vote=a&vote=b",
        "choice=a",
        "vote=a%00",
    ] {
        let response = post_vote(&server, body, None).await;
        assert_eq!(response.status(), 400, "{body:?}");
    }
    assert!(list.entries().await.is_empty());
    server.stop().await.unwrap();
    list.delete().await;
}

#[tokio::test]
async fn option_names_are_escaped() {
    let list = List::new();
    let mut config = Config::for_tests(&list.0);
    config.option_a = "<script>alert(1)</script>".into();
    let server = start(config).await;
    let page = reqwest::get(server.url("/"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!page.contains("<script>alert"), "{page}");
    assert!(
        page.contains("&#60;script&#62;") || page.contains("&lt;script&gt;"),
        "{page}"
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn with_redis_gone_a_vote_gets_503_and_readiness_follows_redis() {
    let list = List::new();
    let proxy = Proxy::start("127.0.0.1:6379".into()).await;
    let mut config = Config::for_tests(&list.0);
    config.redis.redis_port = proxy.addr.port();
    let server = start(config).await;
    wait_status(&server, "/readyz", 200).await;
    assert_eq!(post_vote(&server, "vote=a", None).await.status(), 200);

    proxy.set_down().await;
    let response = post_vote(&server, "vote=b", None).await;
    assert_eq!(response.status(), 503);
    let page = response.text().await.unwrap();
    assert!(page.contains("was <strong>not</strong> recorded"), "{page}");
    assert_eq!(status(&server, "/readyz").await, 503);
    // The page itself needs no Redis.
    assert_eq!(status(&server, "/").await, 200);

    proxy.set_up();
    wait_status(&server, "/readyz", 200).await;
    assert_eq!(post_vote(&server, "vote=b", None).await.status(), 200);
    let entries = list.entries().await;
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert!(entries[1].ends_with(r#""vote":"b"}"#));
    server.stop().await.unwrap();
    list.delete().await;
}

#[tokio::test]
async fn an_unreachable_redis_at_start_is_not_ready_but_serves() {
    // A port nothing listens on: bind one, note it, let it go.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut config = Config::for_tests("votes_unreachable");
    config.redis.redis_port = port;
    let server = start(config).await;
    assert_eq!(status(&server, "/healthz").await, 200);
    assert_eq!(status(&server, "/readyz").await, 503);
    assert_eq!(post_vote(&server, "vote=a", None).await.status(), 503);
    server.stop().await.unwrap();
}
