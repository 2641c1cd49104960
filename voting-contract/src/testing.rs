//! Test support for the voting crates (feature `testing`): a uniquely named
//! PostgreSQL database per test, a Redis list per test, a TCP proxy that can
//! cut a dependency off, and the few HTTP checks every voting test makes.
//!
//! Tests use the Redis (127.0.0.1:6379) and PostgreSQL (127.0.0.1:5432, trust
//! authentication) every development machine runs; `TEST_REDIS_URL` and
//! `TEST_POSTGRES_URL` point elsewhere. A missing server fails the test with
//! a message saying so: a skipped test would hide the bugs it is for.
//! Nothing here flushes or drops anything it did not create.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::print_stderr)] // test support

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use redis::AsyncCommands;

use sqlx::{Connection, Executor, PgConnection};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;
use tokio::task::JoinSet;

/// The PostgreSQL server tests use, without a database path.
pub fn postgres_server_url() -> String {
    std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
        .trim_end_matches('/')
        .to_owned()
}

/// The Redis server tests use.
pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".to_owned())
}

/// A name no other test (or test run) uses: `prefix` plus a random suffix.
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

/// A Redis connection for a test's own checks.
pub async fn redis() -> redis::aio::MultiplexedConnection {
    let url = redis_url();
    let client = redis::Client::open(url.as_str()).expect("TEST_REDIS_URL");
    client
        .get_multiplexed_tokio_connection()
        .await
        .unwrap_or_else(|err| panic!("Redis at {url} (TEST_REDIS_URL) is required: {err}"))
}

/// A test's own votes list (and its `:processing` list): a unique name,
/// deleted by [`TestList::delete`].
#[derive(Debug)]
pub struct TestList {
    pub name: String,
}

impl Default for TestList {
    fn default() -> Self {
        Self::new()
    }
}

impl TestList {
    pub fn new() -> Self {
        Self {
            name: unique_name("votes_test"),
        }
    }

    /// The worker's processing list for this votes list (its default).
    pub fn processing(&self) -> String {
        format!("{}:processing", self.name)
    }

    /// Append votes in the vote service's format, as (voter id, vote).
    pub async fn push(&self, votes: &[(&str, &str)]) {
        push_to(&self.name, votes).await;
    }

    /// Append raw entries, valid votes or not.
    pub async fn push_raw(&self, entries: &[String]) {
        let _: i64 = redis().await.rpush(&self.name, entries).await.unwrap();
    }

    /// The list's entries, oldest first.
    pub async fn entries(&self) -> Vec<String> {
        redis().await.lrange(&self.name, 0, -1).await.unwrap()
    }

    /// Delete the list and its processing list.
    pub async fn delete(self) {
        let _: i64 = redis()
            .await
            .del(&[&self.name, &self.processing()])
            .await
            .unwrap();
    }
}

/// Append votes, as (voter id, vote), to the Redis list `list`.
pub async fn push_to(list: &str, votes: &[(&str, &str)]) {
    let entries: Vec<String> = votes
        .iter()
        .map(|(voter_id, vote)| {
            crate::Vote {
                voter_id: (*voter_id).to_owned(),
                vote: (*vote).to_owned(),
            }
            .to_json()
        })
        .collect();
    if !entries.is_empty() {
        let _: i64 = redis().await.rpush(list, entries).await.unwrap();
    }
}

/// The status `GET url` answers.
pub async fn status(url: &str) -> u16 {
    reqwest::get(url)
        .await
        .unwrap_or_else(|err| panic!("GET {url}: {err}"))
        .status()
        .as_u16()
}

/// Wait (10 s at most) until `GET url` answers `want`.
pub async fn wait_status(url: &str, want: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = reqwest::get(url).await.map(|r| r.status().as_u16());
        if matches!(got, Ok(status) if status == want) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{url} never answered {want} in 10 s (last: {got:?})"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `GET url`'s body, which must come with a 200.
pub async fn text(url: &str) -> String {
    let response = reqwest::get(url)
        .await
        .unwrap_or_else(|err| panic!("GET {url}: {err}"));
    assert_eq!(response.status(), 200, "GET {url}");
    response.text().await.unwrap()
}

/// The value of the unlabelled sample `name` in a Prometheus text page.
pub fn metric(page: &str, name: &str) -> u64 {
    page.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {page}"))
}

/// A fresh, empty PostgreSQL database; dropped with the value.
#[derive(Debug)]
pub struct TestPg {
    pub name: String,
    pub url: String,
    server: String,
}

impl TestPg {
    pub async fn new() -> Self {
        let server = postgres_server_url();
        let name = unique_name("voting_test");
        let mut conn = PgConnection::connect(&format!("{server}/postgres"))
            .await
            .unwrap_or_else(|err| {
                panic!("PostgreSQL at {server} (TEST_POSTGRES_URL) is required: {err}")
            });
        conn.execute(format!(r#"CREATE DATABASE "{name}""#).as_str())
            .await
            .unwrap();
        conn.close().await.unwrap();
        Self {
            url: format!("{server}/{name}"),
            name,
            server,
        }
    }

    /// The table as (voter id, vote), sorted by voter id; an error while
    /// the table does not exist yet (the worker creates it).
    pub async fn rows(&self) -> Result<Vec<(String, String)>, sqlx::Error> {
        let mut conn = PgConnection::connect(&self.url).await?;
        let rows = sqlx::query_as("SELECT id, vote FROM votes ORDER BY id")
            .fetch_all(&mut conn)
            .await;
        let _ = conn.close().await;
        rows
    }
}

impl Drop for TestPg {
    fn drop(&mut self) {
        let (server, name) = (self.server.clone(), self.name.clone());
        // Drop runs inside the test's runtime, which cannot be blocked on:
        // drop the database from a thread with its own small runtime.
        let done = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let mut conn = PgConnection::connect(&format!("{server}/postgres")).await?;
                // FORCE: the service under test may still hold connections.
                conn.execute(format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#).as_str())
                    .await?;
                conn.close().await
            })
        })
        .join();
        if !matches!(done, Ok(Ok(()))) {
            eprintln!("could not drop a test database: {done:?}");
        }
    }
}

/// A TCP proxy on 127.0.0.1 to `upstream` that can be switched off: "down"
/// refuses new connections and cuts the open ones, as a restarting database
/// pod does.
#[derive(Debug)]
pub struct Proxy {
    pub addr: SocketAddr,
    up: Arc<AtomicBool>,
    connections: Arc<Mutex<JoinSet<()>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// A proxy that starts up.
    pub async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let connections = Arc::new(Mutex::new(JoinSet::new()));
        let accept = tokio::spawn({
            let (up, connections) = (up.clone(), connections.clone());
            async move {
                while let Ok((mut client, _)) = listener.accept().await {
                    if !up.load(Ordering::SeqCst) {
                        drop(client); // the driver sees the connection reset
                        continue;
                    }
                    let upstream = upstream.clone();
                    connections.lock().await.spawn(async move {
                        if let Ok(mut server) = TcpStream::connect(&upstream).await {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                        }
                    });
                }
            }
        });
        Self {
            addr,
            up,
            connections,
            accept,
        }
    }

    pub fn set_up(&self) {
        self.up.store(true, Ordering::SeqCst);
    }

    /// Refuse new connections and cut every open one.
    pub async fn set_down(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.connections.lock().await.abort_all();
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}
