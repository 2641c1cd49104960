//! The vote service over real HTTP, against the Redis on 127.0.0.1:6379
//! (each test its own list, deleted at the end) and, for the outage, a TCP
//! proxy to it that the test cuts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use service_kit::test_server::TestServer;
use vote::Config;
use voting_contract::testing::{self, Proxy, TestList};

/// One vote service on 127.0.0.1:0 with its own Redis list, and the
/// requests the tests make to it.
struct TestApp {
    server: TestServer<vote::Error>,
    list: TestList,
}

impl TestApp {
    /// The test settings, changed by `configure` (Redis address, options).
    async fn spawn(configure: impl FnOnce(&mut Config)) -> Self {
        let list = TestList::new();
        let mut config = Config::for_tests(&list.name);
        configure(&mut config);
        let server =
            TestServer::start(move |listener, shutdown| vote::run(listener, config, shutdown))
                .await;
        Self { server, list }
    }

    /// Spawned and connected to Redis.
    async fn spawn_ready() -> Self {
        let app = Self::spawn(|_| {}).await;
        app.wait_ready(200).await;
        app
    }

    async fn wait_ready(&self, want: u16) {
        testing::wait_status(&self.server.url("/readyz"), want).await;
    }

    async fn readyz(&self) -> u16 {
        testing::status(&self.server.url("/readyz")).await
    }

    async fn get_page(&self) -> reqwest::Response {
        reqwest::get(self.server.url("/")).await.unwrap()
    }

    /// `POST /` with a form body, as a returning voter when `cookie` is set.
    async fn post_vote(&self, body: &str, cookie: Option<&str>) -> reqwest::Response {
        let mut request = reqwest::Client::new()
            .post(self.server.url("/"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_owned());
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        request.send().await.unwrap()
    }

    async fn metric(&self, name: &str) -> u64 {
        testing::metric(&testing::text(&self.server.url("/metrics")).await, name)
    }

    async fn stop(self) {
        self.server.stop().await.unwrap();
        self.list.delete().await;
    }
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
    let app = TestApp::spawn(|_| {}).await;
    let response = app.get_page().await;
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
    app.stop().await;
}

#[tokio::test]
async fn a_vote_is_pushed_in_the_originals_format_and_shown() {
    let app = TestApp::spawn_ready().await;

    // A returning voter keeps their id.
    let response = app
        .post_vote("vote=a", Some("voter_id=4f2a9c1e0b7d3a65"))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(set_voter_id(&response), "4f2a9c1e0b7d3a65");
    let page = response.text().await.unwrap();
    assert!(
        page.contains("You voted for <strong>Cats</strong>"),
        "{page}"
    );
    assert!(page.contains(r#"value="a" aria-pressed="true""#), "{page}");

    // A new voter gets one, and the vote carries it.
    let response = app.post_vote("vote=b", None).await;
    assert_eq!(response.status(), 200);
    let id = set_voter_id(&response);

    assert_eq!(
        app.list.entries().await,
        [
            r#"{"voter_id":"4f2a9c1e0b7d3a65","vote":"a"}"#.to_owned(),
            format!(r#"{{"voter_id":"{id}","vote":"b"}}"#),
        ]
    );
    assert_eq!(app.metric("vote_votes_accepted_total").await, 2);
    app.stop().await;
}

#[tokio::test]
async fn anything_but_a_or_b_is_a_400_and_pushes_nothing() {
    let app = TestApp::spawn_ready().await;
    let bodies = [
        "vote=c",
        "vote=",
        "",
        "vote=A",
        "vote=a&vote=b",
        "choice=a",
        "vote=a%00",
    ];
    for body in bodies {
        let response = app.post_vote(body, None).await;
        assert_eq!(response.status(), 400, "{body:?}");
    }
    assert!(app.list.entries().await.is_empty());
    assert_eq!(
        app.metric("vote_votes_rejected_total").await,
        bodies.len() as u64
    );
    app.stop().await;
}

#[tokio::test]
async fn a_body_over_max_body_bytes_is_refused() {
    let app = TestApp::spawn(|config| config.service.max_body_bytes = 64).await;
    app.wait_ready(200).await;
    let response = app
        .post_vote(&format!("vote=a&{}", "x".repeat(64)), None)
        .await;
    assert_eq!(response.status(), 413);
    assert!(app.list.entries().await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn option_names_are_escaped() {
    let app = TestApp::spawn(|config| config.option_a = "<script>alert(1)</script>".into()).await;
    let page = app.get_page().await.text().await.unwrap();
    assert!(!page.contains("<script>alert"), "{page}");
    assert!(page.contains("&#60;script&#62;alert(1)"), "{page}");
    app.stop().await;
}

#[tokio::test]
async fn with_redis_gone_a_vote_gets_503_and_readiness_follows_redis() {
    let proxy = Proxy::start("127.0.0.1:6379".into()).await;
    let app = TestApp::spawn(|config| config.redis.redis_port = proxy.addr.port()).await;
    app.wait_ready(200).await;
    assert_eq!(app.post_vote("vote=a", None).await.status(), 200);

    proxy.set_down().await;
    let response = app.post_vote("vote=b", None).await;
    assert_eq!(response.status(), 503);
    let page = response.text().await.unwrap();
    assert!(page.contains("was <strong>not</strong> recorded"), "{page}");
    assert_eq!(app.readyz().await, 503);
    assert_eq!(app.metric("vote_votes_failed_total").await, 1);
    // The page itself needs no Redis.
    assert_eq!(app.get_page().await.status(), 200);

    proxy.set_up();
    app.wait_ready(200).await;
    assert_eq!(app.post_vote("vote=b", None).await.status(), 200);
    let entries = app.list.entries().await;
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert!(entries[1].ends_with(r#""vote":"b"}"#));
    app.stop().await;
}

#[tokio::test]
async fn an_unreachable_redis_at_start_is_not_ready_but_serves() {
    // A port nothing listens on: bind one, note it, let it go.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = TestApp::spawn(|config| config.redis.redis_port = port).await;
    assert_eq!(app.readyz().await, 503);
    assert_eq!(app.get_page().await.status(), 200);
    assert_eq!(app.post_vote("vote=a", None).await.status(), 503);
    app.stop().await;
}
