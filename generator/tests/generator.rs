//! The generator over real HTTP and a real directory: numbers appear in the
//! file and at `GET /data`, a restart continues the file, the cap holds.

#![allow(clippy::unwrap_used)] // in tests, a panic is the failure report

use std::path::Path;
use std::time::Duration;

use generator::{Config, DATA_FILE, Error};
use service_kit::ServiceArgs;
use service_kit::test_server::TestServer;

fn config(dir: &Path, interval_ms: u64, max_bytes: u64) -> Config {
    Config {
        service: ServiceArgs::for_tests(),
        data_dir: dir.to_owned(),
        interval: Duration::from_millis(interval_ms),
        max_bytes,
    }
}

async fn start(config: Config) -> TestServer<Error> {
    service_kit::telemetry::init(service_kit::LogFormat::Text);
    TestServer::start(|listener, shutdown| generator::run(listener, config, shutdown)).await
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
    let data_dir = dir.path().join("out");
    let server = start(config(&data_dir, 20, 1 << 20)).await;
    let client = reqwest::Client::new();

    let first = wait_for(3, || async {
        client
            .get(server.url("/data"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    })
    .await;
    let later = wait_for(first.len() + 3, || async {
        client
            .get(server.url("/data"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    })
    .await;
    assert_eq!(later[..first.len()], first[..], "earlier numbers changed");
    let on_disk = std::fs::read_to_string(data_dir.join(DATA_FILE)).unwrap();
    assert!(numbers(&on_disk).len() >= later.len());

    // The adapter is a real file server: HEAD, Range, Last-Modified.
    let head = client.head(server.url("/data")).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert!(head.headers().contains_key("last-modified"));
    let part = client
        .get(server.url("/data"))
        .header("range", "bytes=0-1")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(part.bytes().await.unwrap().len(), 2);

    let metrics = client
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("generator_numbers_total{outcome=\"written\"}"),
        "{metrics}"
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_restart_keeps_the_earlier_data() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(DATA_FILE);
    let read = || async { std::fs::read_to_string(&file).unwrap_or_default() };

    let server = start(config(dir.path(), 10, 1 << 20)).await;
    let before = wait_for(3, read).await;
    server.stop().await.unwrap();
    let before = numbers(&std::fs::read_to_string(&file).unwrap())
        .len()
        .max(before.len());
    let kept = std::fs::read_to_string(&file).unwrap();

    let server = start(config(dir.path(), 10, 1 << 20)).await;
    let after = wait_for(before + 3, read).await;
    server.stop().await.unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with(&kept), "the restart rewrote the file");
    assert!(after.len() > before);
}

#[tokio::test]
async fn the_size_cap_holds_and_the_service_stays_ready() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(DATA_FILE);
    let cap = 40;
    let server = start(config(dir.path(), 2, cap)).await;
    let client = reqwest::Client::new();

    // Wait until the generator reports skipped numbers.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let metrics = client
            .get(server.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
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
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.len() as u64 <= cap, "{} bytes > cap {cap}", text.len());
    // Only whole lines: the next line did not fit, so the file is within one
    // longest line (6 bytes) of the cap.
    assert!(
        text.len() as u64 > cap - 6,
        "stopped early at {} bytes",
        text.len()
    );
    numbers(&text);
    let ready = client.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    server.stop().await.unwrap();
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
