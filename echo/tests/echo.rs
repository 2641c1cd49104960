//! The echo over real HTTP: files with the headers a file server owes its
//! clients, the listing, no way out of the directory, readiness, and the
//! SOURCE_URL mode against a real generator.

#![allow(clippy::unwrap_used)] // in tests, a panic is the failure report

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use echo::{Config, Error};
use service_kit::ServiceArgs;
use service_kit::test_server::TestServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn config(dir: &Path) -> Config {
    Config {
        service: ServiceArgs::for_tests(),
        serve_dir: dir.to_owned(),
        source_url: None,
        source_interval: Duration::from_millis(50),
        source_timeout: Duration::from_secs(2),
        source_max_bytes: 1 << 20,
    }
}

async fn start(config: Config) -> TestServer<Error> {
    service_kit::telemetry::init(service_kit::LogFormat::Text);
    TestServer::start(|listener, shutdown| echo::run(listener, config, shutdown)).await
}

/// Wait (5 s at most) until `url` answers 200.
async fn until_ok(client: &reqwest::Client, url: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        if let Ok(res) = client.get(url).send().await {
            if res.status() == 200 {
                return;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{url} not 200 within 5 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A request sent byte for byte (HTTP clients normalise `..` away), and the
/// status and body of the answer.
async fn raw_get(addr: SocketAddr, target: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {target} HTTP/1.1\r\nHost: echo\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer.split(' ').nth(1).unwrap().parse().unwrap();
    (status, answer)
}

#[tokio::test]
async fn serves_files_with_head_range_and_validators() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("data"), "123\n4567\n").unwrap();
    std::fs::write(dir.path().join("page.html"), "<p>hi</p>").unwrap();
    let server = start(config(dir.path())).await;
    let client = reqwest::Client::new();
    until_ok(&client, &server.url("/readyz")).await;

    let res = client.get(server.url("/data")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/octet-stream");
    let etag = res.headers()["etag"].clone();
    let modified = res.headers()["last-modified"].clone();
    assert!(etag.to_str().unwrap().starts_with("W/\""), "{etag:?}");
    assert_eq!(res.text().await.unwrap(), "123\n4567\n");

    let html = client.get(server.url("/page.html")).send().await.unwrap();
    assert_eq!(html.headers()["content-type"], "text/html");

    let head = client.head(server.url("/data")).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["content-length"], "9");
    assert_eq!(head.headers()["etag"], etag);

    let part = client
        .get(server.url("/data"))
        .header("range", "bytes=4-")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(
        part.headers()["etag"],
        etag,
        "a part carries the whole file's tag"
    );
    assert_eq!(part.text().await.unwrap(), "4567\n");

    let same = client
        .get(server.url("/data"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(same.status(), 304);
    let since = client
        .get(server.url("/data"))
        .header("if-modified-since", &modified)
        .send()
        .await
        .unwrap();
    assert_eq!(since.status(), 304);

    // An append changes the tag.
    std::fs::write(dir.path().join("data"), "123\n4567\n89\n").unwrap();
    let changed = client
        .get(server.url("/data"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);
    assert_ne!(changed.headers()["etag"], etag);

    assert_eq!(
        client
            .get(server.url("/nope"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn lists_the_directory_at_root_escaped() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("data"), "1\n").unwrap();
    std::fs::write(dir.path().join("<script>x"), "").unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let server = start(config(dir.path())).await;
    let client = reqwest::Client::new();

    let res = client.get(server.url("/")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let page = res.text().await.unwrap();
    assert!(page.contains("Directory listing for /"), "{page}");
    assert!(page.contains(r#"<a href="data">data</a>"#), "{page}");
    assert!(page.contains(r#"<a href="sub/">sub/</a>"#), "{page}");
    assert!(
        page.contains(r#"<a href="%3Cscript%3Ex">&lt;script&gt;x</a>"#),
        "{page}"
    );
    assert!(!page.contains("<script>"), "{page}");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn traversal_attempts_fail() {
    let root = tempfile::tempdir().unwrap();
    let served = root.path().join("in");
    std::fs::create_dir_all(served.join("sub")).unwrap();
    std::fs::write(served.join("data"), "1\n").unwrap();
    std::fs::write(root.path().join("secret"), "TOP-SECRET").unwrap();
    let server = start(config(&served)).await;

    for target in [
        "/../secret",
        "/sub/../../secret",
        "/%2e%2e/secret",
        "/%2E%2E%2Fsecret",
        "/..%2fsecret",
        "/sub/%2e%2e/%2e%2e/secret",
        "/..\\secret",
        "//etc/passwd",
        "/%2fetc%2fpasswd",
    ] {
        let (status, answer) = raw_get(server.addr, target).await;
        assert!(status >= 400, "{target} answered {status}");
        assert!(!answer.contains("TOP-SECRET"), "{target} leaked the file");
        assert!(!answer.contains("root:"), "{target} leaked /etc/passwd");
    }
    // The served file is still reachable, so the refusals are not blanket.
    let (status, _) = raw_get(server.addr, "/data").await;
    assert_eq!(status, 200);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn ready_once_the_directory_exists() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("in");
    let server = start(config(&dir)).await;
    let client = reqwest::Client::new();

    tokio::time::sleep(Duration::from_millis(300)).await;
    let res = client.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), 503, "ready without its directory");
    assert_eq!(
        client
            .get(server.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    std::fs::create_dir(&dir).unwrap();
    until_ok(&client, &server.url("/readyz")).await;
    server.stop().await.unwrap();
}

#[tokio::test]
async fn source_url_mirrors_a_generator_and_keeps_the_last_copy() {
    let gen_dir = tempfile::tempdir().unwrap();
    let gen_config = generator::Config {
        service: ServiceArgs::for_tests(),
        data_dir: gen_dir.path().to_owned(),
        interval: Duration::from_millis(20),
        max_bytes: 1 << 20,
    };
    service_kit::telemetry::init(service_kit::LogFormat::Text);
    let gen_server =
        TestServer::start(|listener, shutdown| generator::run(listener, gen_config, shutdown))
            .await;

    let copy_dir = tempfile::tempdir().unwrap();
    let mut echo_config = config(&copy_dir.path().join("in"));
    echo_config.source_url = Some(gen_server.url("/data").parse().unwrap());
    let server = start(echo_config).await;
    let client = reqwest::Client::new();
    until_ok(&client, &server.url("/readyz")).await;

    let count = || async {
        let text = client
            .get(server.url("/data"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        for line in text.lines() {
            assert!(line.parse::<u16>().unwrap() <= 32767, "{line}");
        }
        text.lines().count()
    };
    let first = count().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while count().await < first + 3 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the copy does not grow"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // The generator goes away: echo stays ready and serves the last copy.
    gen_server.stop().await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let last = count().await;
    assert!(last >= first + 3);
    assert_eq!(
        client
            .get(server.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let metrics = client
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("echo_source_fetches_total{outcome=\"failed\"}"),
        "{metrics}"
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn only_http_sources_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.source_url = Some("file:///etc/passwd".parse().unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = echo::run(listener, config, async {}).await.unwrap_err();
    assert!(matches!(err, Error::SourceScheme(_)), "{err}");
}
