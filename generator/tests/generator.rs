//! The generator over real HTTP and a real directory: numbers appear in the
//! file and at `GET /data`, a restart continues the file, the cap holds.

#![allow(clippy::unwrap_used)] // in tests, a panic is the failure report

use std::path::{Path, PathBuf};
use std::time::Duration;

use generator::{Config, DATA_FILE, Error};
use service_kit::ServiceArgs;
use service_kit::test_server::TestServer;

/// One generator on 127.0.0.1:0 writing into a test's directory, and the
/// requests the tests make to it.
struct TestApp {
    server: TestServer<Error>,
    file: PathBuf,
    client: reqwest::Client,
}

impl TestApp {
    async fn spawn(data_dir: &Path, interval_ms: u64, max_bytes: u64) -> Self {
        let config = config(data_dir, interval_ms, max_bytes);
        let server =
            TestServer::start(|listener, shutdown| generator::run(listener, config, shutdown))
                .await;
        Self {
            server,
            file: data_dir.join(DATA_FILE),
            client: reqwest::Client::new(),
        }
    }

    /// `GET path` with extra headers.
    async fn get(&self, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut request = self.client.get(self.server.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.unwrap()
    }

    async fn head_data(&self) -> reqwest::Response {
        self.client
            .head(self.server.url("/data"))
            .send()
            .await
            .unwrap()
    }

    async fn text(&self, path: &str) -> String {
        self.get(path, &[]).await.text().await.unwrap()
    }

    /// The data file as it is on disk (empty before the first append).
    fn on_disk(&self) -> String {
        std::fs::read_to_string(&self.file).unwrap_or_default()
    }

    async fn stop(self) {
        self.server.stop().await.unwrap();
    }
}

fn config(dir: &Path, interval_ms: u64, max_bytes: u64) -> Config {
    Config {
        service: ServiceArgs::for_tests(),
        data_dir: dir.to_owned(),
        interval: Duration::from_millis(interval_ms),
        max_bytes,
    }
}

/// Every line is a number in 0..=32767 and the text ends with a newline.
fn numbers(text: &str) -> Vec<u16> {
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "no final newline: {text:?}"
    );
    text.lines()
        .map(|l| {
            let n: u16 = l.parse().unwrap_or_else(|e| panic!("bad line {l:?}: {e}"));
            assert!(n <= 32767, "out of range: {n}");
            n
        })
        .collect()
}

/// Poll `read` until it returns at least `n` numbers (5 s at most).
async fn wait_for<F, Fut>(n: usize, mut read: F) -> Vec<u16>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = String>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let got = numbers(&read().await);
        if got.len() >= n {
            return got;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} numbers after 5 s",
            got.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn numbers_grow_in_the_file_and_at_get_data() {
    let dir = tempfile::tempdir().unwrap();
    // A directory that does not exist yet: the generator creates it.
    let app = TestApp::spawn(&dir.path().join("out"), 20, 1 << 20).await;

    let first = wait_for(3, || app.text("/data")).await;
    let later = wait_for(first.len() + 3, || app.text("/data")).await;
    assert_eq!(later[..first.len()], first[..], "earlier numbers changed");
    assert!(numbers(&app.on_disk()).len() >= later.len());

    // The adapter is a real file server: HEAD, Range, Last-Modified.
    let head = app.head_data().await;
    assert_eq!(head.status(), 200);
    assert!(head.headers().contains_key("last-modified"));
    let part = app.get("/data", &[("range", "bytes=0-1")]).await;
    assert_eq!(part.status(), 206);
    assert_eq!(part.bytes().await.unwrap().len(), 2);

    let metrics = app.text("/metrics").await;
    assert!(
        metrics.contains("generator_numbers_total{outcome=\"written\"}"),
        "{metrics}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_restart_keeps_the_earlier_data() {
    let dir = tempfile::tempdir().unwrap();

    let app = TestApp::spawn(dir.path(), 10, 1 << 20).await;
    wait_for(3, || async { app.on_disk() }).await;
    app.stop().await;
    let kept = std::fs::read_to_string(dir.path().join(DATA_FILE)).unwrap();
    let before = numbers(&kept).len();

    let app = TestApp::spawn(dir.path(), 10, 1 << 20).await;
    wait_for(before + 3, || async { app.on_disk() }).await;
    let text = app.on_disk();
    app.stop().await;
    assert!(text.starts_with(&kept), "the restart rewrote the file");
}

#[tokio::test]
async fn the_size_cap_holds_and_the_service_stays_ready() {
    let dir = tempfile::tempdir().unwrap();
    let cap = 40;
    let app = TestApp::spawn(dir.path(), 2, cap).await;

    // Wait until the generator reports skipped numbers.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let metrics = app.text("/metrics").await;
        if metrics.contains("generator_numbers_total{outcome=\"capped\"}") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never capped:\n{metrics}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let text = app.on_disk();
    assert!(text.len() as u64 <= cap, "{} bytes > cap {cap}", text.len());
    // Only whole lines: the next line did not fit, so the file is within one
    // longest line (6 bytes) of the cap.
    assert!(
        text.len() as u64 > cap - 6,
        "stopped early at {} bytes",
        text.len()
    );
    numbers(&text);
    assert_eq!(app.get("/readyz", &[]).await.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn an_unusable_data_dir_fails_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let not_a_dir = dir.path().join("file");
    std::fs::write(&not_a_dir, "x").unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = generator::run(listener, config(&not_a_dir.join("sub"), 10, 100), async {})
        .await
        .unwrap_err();
    assert!(matches!(err, Error::CreateDir { .. }), "{err}");
}
