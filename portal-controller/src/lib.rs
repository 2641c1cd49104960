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
//! * **Caching validators.** Each asset carries an ETag and `Cache-Control:
//!   no-cache`, so browsers revalidate on each page load and get a bodiless
//!   304 while nothing changed ([`service_kit::assets`]).
//! * **Compression.** gzip when the browser asks for it (`tower-http`).
//! * **Security headers.** `X-Content-Type-Options: nosniff` on every
//!   response, set once by a tower-http response-header layer.
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

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use service_kit::assets::Asset;
use service_kit::{Kit, ServiceArgs};
use tokio::net::TcpListener;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{Any, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;

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
/// request, so there is no request error type; the only error is the
/// server itself failing.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("serving HTTP failed: {0}")]
    Serve(#[from] std::io::Error),
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

async fn serve_asset(Path(name): Path<String>, headers: HeaderMap) -> Response {
    match asset(&name) {
        Some(asset) => asset.respond(&headers),
        None => not_found().await,
    }
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found\n").into_response()
}

/// What the Controller's router needs; built by [`AppState::new`]. The
/// assets are statics, so this is only the kit.
#[derive(Debug, Clone)]
pub struct AppState {
    kit: Kit,
}

impl AppState {
    /// Ready at once: there is nothing to wait for, the assets are in the
    /// binary.
    pub fn new() -> Self {
        Self {
            kit: Kit::new(true, |_| {}),
        }
    }
}

impl Default for AppState {
    fn default() -> Self {
        Self::new()
    }
}

/// The Controller's routes wrapped in the standard stack: the two assets,
/// probes, metrics, and 404 for everything else.
pub fn app(state: AppState) -> Router {
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::HEAD]);
    let assets = Router::new()
        .route("/{name}", get(serve_asset))
        .fallback(not_found)
        .layer(CompressionLayer::new().gzip(true))
        .layer(cors)
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ));
    state.kit.wrap(assets)
}

/// Serve the Controller on `listener` until `shutdown` completes.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let state = AppState::new();
    let kit = state.kit.clone();
    kit.serve(
        listener,
        app(state),
        config.service.shutdown_grace,
        shutdown,
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_two_assets_exist() {
        assert!(asset("portal.js").is_some());
        assert!(asset("portal.css").is_some());
        for other in ["", "index.html", "..", "portal.js/", "PORTAL.JS", "lib.rs"] {
            assert!(asset(other).is_none(), "{other}");
        }
    }
}
