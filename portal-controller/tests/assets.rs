//! portal-controller over real HTTP: the two assets, their headers, and
//! nothing else.

use std::time::Duration;

use portal_controller::{Config, PORTAL_CSS, PORTAL_JS};
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

struct TestApp {
    base: String,
    addr: std::net::SocketAddr,
    http: reqwest::Client,
    _stop: oneshot::Sender<()>,
}

async fn spawn() -> TestApp {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local address");
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let shutdown = async {
            let _ = stopped.await;
        };
        if let Err(err) = portal_controller::run(listener, Config::for_tests(), shutdown).await {
            panic!("portal-controller failed: {err}");
        }
    });
    TestApp {
        base: format!("http://{addr}"),
        addr,
        // Decompression off: these tests look at what goes over the wire.
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("client"),
        _stop: stop,
    }
}

impl TestApp {
    async fn get(&self, path: &str) -> reqwest::Response {
        self.get_with(path, &[]).await
    }

    /// GET `path` with extra request headers.
    async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut request = self.http.get(format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.expect("GET")
    }

    /// Send `method` to `path` with extra request headers.
    async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.expect("request")
    }

    /// Send `path` exactly as written, which an HTTP client library would
    /// normalize (`/../x` becomes `/x`); return the status code.
    async fn raw_status(&self, path: &str) -> u16 {
        let mut stream = TcpStream::connect(self.addr).await.expect("connect");
        let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut response = String::new();
        stream.read_to_string(&mut response).await.expect("read");
        response
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status line in {response:?}"))
    }
}

#[tokio::test]
async fn serves_both_assets_with_content_type_validators_and_cors() {
    let app = spawn().await;
    for (path, content_type, body) in [
        ("/portal.js", "text/javascript; charset=utf-8", PORTAL_JS),
        ("/portal.css", "text/css; charset=utf-8", PORTAL_CSS),
    ] {
        let response = app
            .get_with(path, &[("origin", "http://node-1.example:30000")])
            .await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let headers = response.headers().clone();
        assert_eq!(headers["content-type"], content_type);
        assert_eq!(headers["cache-control"], "no-cache");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["access-control-allow-origin"], "*");
        assert!(headers.contains_key("x-request-id"));
        let etag = headers["etag"].to_str().expect("ASCII").to_owned();
        assert!(etag.starts_with("W/\"") && etag.ends_with('"'), "{etag}");
        assert_eq!(response.text().await.expect("body"), body);

        // Revalidation: same tag, 304, no body.
        let response = app.get_with(path, &[("if-none-match", &etag)]).await;
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED, "{path}");
        assert_eq!(response.headers()["etag"], etag.as_str());
        assert!(response.bytes().await.expect("body").is_empty());

        // A stale tag gets the file.
        let response = app
            .get_with(path, &[("if-none-match", "W/\"stale\"")])
            .await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    assert_ne!(
        app.get("/portal.js").await.headers()["etag"],
        app.get("/portal.css").await.headers()["etag"]
    );
}

#[tokio::test]
async fn compresses_when_asked() {
    let app = spawn().await;
    let response = app
        .get_with("/portal.js", &[("accept-encoding", "gzip")])
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-encoding"], "gzip");
    let compressed = response.bytes().await.expect("body");
    assert!(
        compressed.len() < PORTAL_JS.len() / 2,
        "{} bytes",
        compressed.len()
    );
    // gzip's magic number.
    assert_eq!(&compressed[..2], &[0x1f, 0x8b]);

    let plain = app.get("/portal.js").await;
    assert!(!plain.headers().contains_key("content-encoding"));
}

#[tokio::test]
async fn cors_preflight_is_answered() {
    let app = spawn().await;
    let response = app
        .request(
            reqwest::Method::OPTIONS,
            "/portal.js",
            &[
                ("origin", "http://127.0.0.1:30000"),
                ("access-control-request-method", "GET"),
            ],
        )
        .await;
    assert!(response.status().is_success(), "{}", response.status());
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
}

#[tokio::test]
async fn everything_else_is_404_and_no_path_reaches_the_file_system() {
    let app = spawn().await;
    for path in [
        "/",
        "/index.html",
        "/portal.js/",
        "/assets/portal.js",
        "/PORTAL.JS",
        "/lib.rs",
    ] {
        assert_eq!(
            app.get(path).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    for path in [
        "/../Cargo.toml",
        "/../../etc/passwd",
        "/..%2fCargo.toml",
        "/%2e%2e/Cargo.toml",
        "/src/assets/portal.js",
        "/assets/../portal.js/..",
        "/portal.js%00.txt",
    ] {
        assert_eq!(app.raw_status(path).await, 404, "{path}");
    }
    assert_eq!(
        app.request(reqwest::Method::POST, "/portal.js", &[])
            .await
            .status(),
        StatusCode::METHOD_NOT_ALLOWED
    );
}

#[test]
fn the_default_port_is_the_seeds_8081() {
    use clap::CommandFactory;
    // The declared default, read from the command itself: parsing would
    // let a PORT set in the test's environment win.
    let command = Config::command();
    let port = command
        .get_arguments()
        .find(|arg| arg.get_id() == "port")
        .expect("a port setting");
    assert_eq!(
        port.get_default_values(),
        [portal_controller::DEFAULT_PORT.to_string().as_str()]
    );
}
