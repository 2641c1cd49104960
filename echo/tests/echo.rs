//! The echo over real HTTP: files with the headers a file server owes its
//! clients, the listing, no way out of the directory, readiness, and the
//! SOURCE_URL mode against a real generator.

#![allow(clippy::unwrap_used)] // in tests, a panic is the failure report

use std::path::Path;
use std::time::Duration;

use echo::{Config, Error};
use reqwest::header::HeaderValue;
use service_kit::ServiceArgs;
use service_kit::test_server::TestServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One echo on 127.0.0.1:0 serving a test's directory, and the requests
/// the tests make to it.
struct TestApp {
    server: TestServer<Error>,
    client: reqwest::Client,
}

impl TestApp {
    async fn spawn(config: Config) -> Self {
        let server =
            TestServer::start(|listener, shutdown| echo::run(listener, config, shutdown)).await;
        Self {
            server,
            client: reqwest::Client::new(),
        }
    }

    /// Serving `dir`, and ready.
    async fn spawn_ready(dir: &Path) -> Self {
        let app = Self::spawn(config(dir)).await;
        app.wait_ready().await;
        app
    }

    /// `GET path` with extra headers.
    async fn get(&self, path: &str, headers: &[(&str, &HeaderValue)]) -> reqwest::Response {
        let mut request = self.client.get(self.server.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.unwrap()
    }

    async fn head(&self, path: &str) -> reqwest::Response {
        self.client
            .head(self.server.url(path))
            .send()
            .await
            .unwrap()
    }

    async fn text(&self, path: &str) -> String {
        self.get(path, &[]).await.text().await.unwrap()
    }

    async fn readyz(&self) -> u16 {
        self.get("/readyz", &[]).await.status().as_u16()
    }

    /// Wait (5 s at most) until `/readyz` answers 200.
    async fn wait_ready(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while self.readyz().await != 200 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "not ready within 5 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A request sent byte for byte (HTTP clients normalise `..` away), and
    /// the status and the whole answer.
    async fn raw_get(&self, target: &str) -> (u16, String) {
        let mut stream = tokio::net::TcpStream::connect(self.server.addr)
            .await
            .unwrap();
        let request = format!("GET {target} HTTP/1.1\r\nHost: echo\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.unwrap();
        let answer = String::from_utf8_lossy(&answer).into_owned();
        let status = answer.split(' ').nth(1).unwrap().parse().unwrap();
        (status, answer)
    }

    async fn stop(self) {
        self.server.stop().await.unwrap();
    }
}

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

#[tokio::test]
async fn serves_files_with_head_range_and_validators() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("data"), "123\n4567\n").unwrap();
    std::fs::write(dir.path().join("page.html"), "<p>hi</p>").unwrap();
    let app = TestApp::spawn_ready(dir.path()).await;

    let res = app.get("/data", &[]).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/octet-stream");
    let etag = res.headers()["etag"].clone();
    let modified = res.headers()["last-modified"].clone();
    assert!(etag.to_str().unwrap().starts_with("W/\""), "{etag:?}");
    assert_eq!(res.text().await.unwrap(), "123\n4567\n");

    let html = app.get("/page.html", &[]).await;
    assert_eq!(html.headers()["content-type"], "text/html");

    let head = app.head("/data").await;
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["content-length"], "9");
    assert_eq!(head.headers()["etag"], etag);

    let part = app
        .get("/data", &[("range", &HeaderValue::from_static("bytes=4-"))])
        .await;
    assert_eq!(part.status(), 206);
    assert_eq!(
        part.headers()["etag"],
        etag,
        "a part carries the whole file's tag"
    );
    assert_eq!(part.text().await.unwrap(), "4567\n");

    let same = app.get("/data", &[("if-none-match", &etag)]).await;
    assert_eq!(same.status(), 304);
    let since = app.get("/data", &[("if-modified-since", &modified)]).await;
    assert_eq!(since.status(), 304);

    // An append changes the tag.
    std::fs::write(dir.path().join("data"), "123\n4567\n89\n").unwrap();
    let changed = app.get("/data", &[("if-none-match", &etag)]).await;
    assert_eq!(changed.status(), 200);
    assert_ne!(changed.headers()["etag"], etag);

    assert_eq!(app.get("/nope", &[]).await.status(), 404);
    app.stop().await;
}

#[tokio::test]
async fn lists_the_directory_at_root_escaped() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("data"), "1\n").unwrap();
    std::fs::write(dir.path().join("<script>x"), "").unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let app = TestApp::spawn(config(dir.path())).await;

    let res = app.get("/", &[]).await;
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
        page.contains(r#"<a href="%3Cscript%3Ex">&#60;script&#62;x</a>"#),
        "{page}"
    );
    assert!(!page.contains("<script>"), "{page}");
    app.stop().await;
}

#[tokio::test]
async fn traversal_attempts_fail() {
    let root = tempfile::tempdir().unwrap();
    let served = root.path().join("in");
    std::fs::create_dir_all(served.join("sub")).unwrap();
    std::fs::write(served.join("data"), "1\n").unwrap();
    std::fs::write(root.path().join("secret"), "TOP-SECRET").unwrap();
    let app = TestApp::spawn(config(&served)).await;

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
        let (status, answer) = app.raw_get(target).await;
        assert!(status >= 400, "{target} answered {status}");
        assert!(!answer.contains("TOP-SECRET"), "{target} leaked the file");
        assert!(!answer.contains("root:"), "{target} leaked /etc/passwd");
    }
    // The served file is still reachable, so the refusals are not blanket.
    let (status, _) = app.raw_get("/data").await;
    assert_eq!(status, 200);
    app.stop().await;
}

#[tokio::test]
async fn ready_once_the_directory_exists() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("in");
    let app = TestApp::spawn(config(&dir)).await;

    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.readyz().await, 503, "ready without its directory");

    std::fs::create_dir(&dir).unwrap();
    app.wait_ready().await;
    app.stop().await;
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
    let gen_server =
        TestServer::start(|listener, shutdown| generator::run(listener, gen_config, shutdown))
            .await;

    let copy_dir = tempfile::tempdir().unwrap();
    let mut echo_config = config(&copy_dir.path().join("in"));
    echo_config.source_url = Some(gen_server.url("/data").parse().unwrap());
    let app = TestApp::spawn(echo_config).await;
    app.wait_ready().await;

    let count = || async {
        let text = app.text("/data").await;
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
    assert_eq!(app.readyz().await, 200);
    let metrics = app.text("/metrics").await;
    assert!(
        metrics.contains("echo_source_fetches_total{outcome=\"failed\"}"),
        "{metrics}"
    );
    app.stop().await;
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
