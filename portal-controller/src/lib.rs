//! The tool portal's Controller: the JavaScript and CSS that make the View
//! interactive.
//!
//! In the seed's pod, the browser first loads the View (an HTML page) from
//! the Model container on NodePort 30000, and the page then pulls the
//! Controller's script from *this* container on NodePort 30100. So this
//! service is a tiny static file server with exactly two files, and those
//! two files are a cross-origin dependency of another service's page. That
//! shapes the design:
//!
//! * **Embedded assets.** `portal.js` and `portal.css` are compiled into the
//!   binary (`include_str!`), so the image needs nothing but the binary and
//!   a rollout of the image *is* a rollout of the UI. Because the asset table
//!   is a fixed `match` on two exact paths, no request path ever touches the
//!   file system: path traversal is impossible by construction, and every
//!   other path is a 404.
//! * **Caching validators.** Each asset carries an ETag (a hash of its bytes,
//!   computed once at start) and `Cache-Control: no-cache`: browsers keep the
//!   file but revalidate on each page load, get a bodiless 304 while nothing
//!   changed, and see a new UI right after a rollout. The ETag is *weak*
//!   (`W/"..."`) because the compression layer serves the same asset gzipped
//!   or not under the same tag, and a strong tag would claim byte equality.
//! * **Compression.** gzip when the browser asks for it (`tower-http`).
//! * **CORS.** The View loads the script with `crossorigin="anonymous"`, so
//!   that a failure inside it is reported with its real message instead of
//!   the opaque "Script error." browsers give for cross-origin scripts. That
//!   makes the load a CORS request, so the assets answer with
//!   `Access-Control-Allow-Origin: *`. They are public, credential-free files:
//!   any origin may read them.
//!
//! Probes and metrics come from [`service_kit::Kit`] like in every service.

use std::future::Future;
use std::sync::LazyLock;
use std::time::Duration;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use service_kit::{Kit, ServiceArgs};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{Any, CorsLayer};

/// The portal's UI logic: list, search, add, edit, delete.
pub const PORTAL_JS: &str = include_str!("assets/portal.js");
/// The portal's styles.
pub const PORTAL_CSS: &str = include_str!("assets/portal.css");

/// The default port: the seed's Controller container listens on 8081.
pub const DEFAULT_PORT: u16 = 8081;

/// portal-controller's configuration. Every setting is a flag and an
/// environment variable; `--help` lists them all.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "portal-controller",
    version,
    about = "Serves the tool portal's JavaScript and CSS (embedded in the binary) to browsers that loaded the View from portal-model.",
    // ServiceArgs' PORT defaults to 8080, where portal-model listens in the
    // same pod; the Controller's port is the seed's 8081.
    mut_arg("port", |arg| arg.default_value("8081"))
)]
pub struct Config {
    #[command(flatten)]
    pub service: ServiceArgs,
}

impl Config {
    /// Defaults for tests: loopback, an ephemeral port.
    pub fn for_tests() -> Self {
        Self {
            service: ServiceArgs::for_tests(),
        }
    }
}

/// Why portal-controller stopped. Serving embedded files cannot fail per
/// request, so the only error is the server itself failing.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("serving HTTP failed: {0}")]
    Serve(#[from] std::io::Error),
}

/// One embedded file, ready to serve.
#[derive(Debug)]
struct Asset {
    body: &'static str,
    content_type: &'static str,
    etag: HeaderValue,
}

impl Asset {
    fn new(body: &'static str, content_type: &'static str) -> Self {
        let digest = Sha256::digest(body.as_bytes());
        // 16 bytes of SHA-256 are plenty to tell two versions of a file apart.
        let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        let etag = HeaderValue::from_str(&format!("W/\"{hex}\""))
            .unwrap_or_else(|_| HeaderValue::from_static("W/\"0\""));
        Self {
            body,
            content_type,
            etag,
        }
    }
}

static JS: LazyLock<Asset> =
    LazyLock::new(|| Asset::new(PORTAL_JS, "text/javascript; charset=utf-8"));
static CSS: LazyLock<Asset> = LazyLock::new(|| Asset::new(PORTAL_CSS, "text/css; charset=utf-8"));

/// The exact asset paths served. Anything else, including `/`, is a 404.
fn asset(name: &str) -> Option<&'static Asset> {
    match name {
        "portal.js" => Some(&JS),
        "portal.css" => Some(&CSS),
        _ => None,
    }
}

/// Whether an `If-None-Match` header matches `etag` by weak comparison
/// (RFC 9110 13.1.2): `*`, or any listed tag equal once `W/` is ignored.
fn etag_matches(if_none_match: &HeaderValue, etag: &HeaderValue) -> bool {
    let Ok(list) = if_none_match.to_str() else {
        return false;
    };
    let opaque = |tag: &str| tag.trim().trim_start_matches("W/").to_owned();
    let ours = etag.to_str().map(opaque).unwrap_or_default();
    list.split(',')
        .any(|tag| tag.trim() == "*" || opaque(tag) == ours)
}

async fn serve_asset(Path(name): Path<String>, headers: HeaderMap) -> Response {
    let Some(asset) = asset(&name) else {
        return not_found().await;
    };
    let validators = [
        (header::ETAG, asset.etag.clone()),
        // Keep the file, but ask on every page load whether it changed, so a
        // rollout shows up at once; the answer is a cheap 304 otherwise.
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
    ];
    if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|inm| etag_matches(inm, &asset.etag))
    {
        return (StatusCode::NOT_MODIFIED, validators).into_response();
    }
    (
        validators,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        asset.body,
    )
        .into_response()
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found\n").into_response()
}

/// The Controller's routes wrapped in the standard stack: the two assets,
/// probes, metrics, and 404 for everything else.
pub fn app(kit: &Kit) -> Router {
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::HEAD]);
    let assets = Router::new()
        .route("/{name}", get(serve_asset))
        .fallback(not_found)
        .layer(CompressionLayer::new().gzip(true))
        .layer(cors);
    kit.wrap(assets)
}

/// Serve the Controller on `listener` until `shutdown` completes.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    // Nothing to wait for: the assets are in the binary.
    let kit = Kit::new(true, |_| {});
    let grace: Duration = config.service.shutdown_grace;
    service_kit::serve(listener, app(&kit), kit.readiness.clone(), grace, shutdown).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_comparison_of_etags() {
        let ours = HeaderValue::from_static("W/\"abc\"");
        for matching in ["W/\"abc\"", "\"abc\"", "*", "\"x\", W/\"abc\""] {
            assert!(
                etag_matches(&HeaderValue::from_static(matching), &ours),
                "{matching}"
            );
        }
        for other in ["W/\"abd\"", "\"\"", "abc"] {
            assert!(
                !etag_matches(&HeaderValue::from_static(other), &ours),
                "{other}"
            );
        }
    }

    #[test]
    fn only_the_two_assets_exist() {
        assert!(asset("portal.js").is_some());
        assert!(asset("portal.css").is_some());
        for other in ["", "index.html", "..", "portal.js/", "PORTAL.JS", "lib.rs"] {
            assert!(asset(other).is_none(), "{other}");
        }
    }
}
