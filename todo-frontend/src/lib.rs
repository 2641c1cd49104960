//! todo-frontend: the to-do board UI (the `to-do-app-frontend` of the
//! to-do article).
//!
//! The original was an Angular bundle whose container rewrote the literal
//! `${SERVER_URI}` in its JavaScript at start-up, so the browser called
//! `http://${SERVER_URI}/graphql` directly (the backend answers CORS for
//! that). We keep the same shape with less machinery:
//!
//! * the page is plain modern JavaScript, no framework and no build step,
//!   and every asset is compiled into the binary (`include_str!`), so the
//!   image is one file and cannot drift from the code; the assets carry
//!   ETags and answer revalidations with 304 ([`service_kit::assets`]), and
//!   are gzipped when the browser asks (tower-http's compression layer);
//! * the security headers (the content security policy, `nosniff`, no
//!   referrer) are set once, on every response, by tower-http's
//!   response-header layer;
//! * `SERVER_URI` is read once at start-up (host[:port] as the article's
//!   ConfigMap holds it, or a full URL) and turned into the GraphQL URL;
//!   the page learns where to send GraphQL from `/config.js`, a one-line
//!   script it loads first;
//! * every other unknown GET path answers `index.html`, as the original's
//!   single-page server did, so deep links and reloads work.
//!
//! # Where the browser sends GraphQL (`GRAPHQL_MODE`)
//!
//! * `proxy` (the default): the page posts to `/graphql` on its own origin
//!   and this service forwards the call to `SERVER_URI` over the cluster
//!   network ([`proxy`]). One address per app is enough, whatever the
//!   browser used to reach the page (NodePort on any node, port-forward,
//!   `minikube service`, an Ingress).
//! * `direct`: the original design. The page calls `SERVER_URI` itself, so
//!   `SERVER_URI` must be an address the *browser* can reach, and
//!   todo-backend answers CORS for it. The article's Angular frontend works
//!   only this way, and todo-backend keeps serving it.

pub mod proxy;

use std::future::Future;
use std::sync::LazyLock;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use service_kit::assets::Asset;
use service_kit::{Kit, ServiceArgs};
use tokio::net::TcpListener;
use tower_http::compression::CompressionLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use url::Url;

/// The frontend's settings. Every one is a flag and an environment variable.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "todo-frontend",
    version,
    about = "The to-do app's board UI; GraphQL goes through this service to SERVER_URI (GRAPHQL_MODE=proxy) or from the browser straight to it (direct)"
)]
pub struct Config {
    #[command(flatten)]
    pub service: ServiceArgs,

    /// Where todo-backend is: `host[:port]` with no scheme, as the
    /// article's ConfigMap `backend-conf` holds it (GraphQL then goes to
    /// `http://SERVER_URI/graphql`), or a full URL such as
    /// `http://localhost:8081` or `http://host/custom/graphql`. With
    /// GRAPHQL_MODE=proxy this service must reach it (in a cluster: the
    /// backend Service's name); with `direct`, the browser must.
    #[arg(long, env = "SERVER_URI")]
    pub server_uri: String,

    /// `proxy`: the page posts to `/graphql` here and this service forwards
    /// to SERVER_URI (one browser address per app). `direct`: the page calls
    /// SERVER_URI itself, as the original Angular frontend did.
    #[arg(long, env = "GRAPHQL_MODE", value_enum, default_value_t = GraphqlMode::Proxy)]
    pub graphql_mode: GraphqlMode,

    /// With GRAPHQL_MODE=proxy: how long connecting to todo-backend may take
    /// before the page gets a 502.
    #[arg(long, env = "SERVER_CONNECT_TIMEOUT", default_value = "2s", value_parser = humantime::parse_duration)]
    pub server_connect_timeout: Duration,

    /// With GRAPHQL_MODE=proxy: how long one GraphQL call may take in all
    /// before the page gets a 504. Below the page's own 10 s limit, so the
    /// page shows this service's clearer message.
    #[arg(long, env = "SERVER_TIMEOUT", default_value = "8s", value_parser = humantime::parse_duration)]
    pub server_timeout: Duration,

    /// With GRAPHQL_MODE=proxy: the largest reply from todo-backend passed
    /// on, in bytes (502 above it). 4 MiB holds a board of tens of
    /// thousands of items. Requests are capped by MAX_BODY_BYTES.
    #[arg(long, env = "GRAPHQL_MAX_REPLY_BYTES", default_value_t = 4 * 1024 * 1024)]
    pub graphql_max_reply_bytes: usize,
}

/// Who calls todo-backend: this service on the page's behalf, or the
/// browser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GraphqlMode {
    /// The page posts to `/graphql` on its own origin; this service forwards.
    Proxy,
    /// The page calls SERVER_URI itself (the original design).
    Direct,
}

/// Why the frontend could not start or stopped serving. Request errors
/// are the forwarder's ([`proxy`]), never this.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("SERVER_URI `{uri}` cannot be used: {reason}")]
    ServerUri {
        uri: String,
        reason: service_kit::svc_url::UrlError,
    },
    #[error(
        "SERVER_URI `{0}` is https://, which GRAPHQL_MODE=proxy does not speak (the cluster network is plain HTTP); use http:// or GRAPHQL_MODE=direct"
    )]
    ProxyNeedsHttp(String),
    #[error("cannot build the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
    #[error("serving HTTP failed: {0}")]
    Serve(std::io::Error),
}

/// The GraphQL endpoint a `SERVER_URI` names: `http://` when there is no
/// scheme, and `/graphql` appended unless the path already ends with it.
/// `https://` is accepted too: browsers, not pods, call this URL, and the
/// backend may well sit behind a TLS-terminating load balancer.
pub fn graphql_url(server_uri: &str) -> Result<Url, Error> {
    let trimmed = server_uri.trim();
    let parsed = if trimmed.to_ascii_lowercase().starts_with("https://") {
        Url::parse(trimmed).map_err(|e| service_kit::svc_url::UrlError::Invalid(e.to_string()))
    } else {
        service_kit::svc_url::parse(trimmed)
    };
    let mut url = parsed.map_err(|reason| Error::ServerUri {
        uri: server_uri.to_owned(),
        reason,
    })?;
    if !url.path().ends_with("/graphql") {
        let path = format!("{}/graphql", url.path().trim_end_matches('/'));
        url.set_path(&path);
    }
    Ok(url)
}

static INDEX_HTML: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        include_str!("../assets/index.html"),
        "text/html; charset=utf-8",
    )
});
static APP_JS: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        include_str!("../assets/app.js"),
        "text/javascript; charset=utf-8",
    )
});
static STYLE_CSS: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        include_str!("../assets/style.css"),
        "text/css; charset=utf-8",
    )
});

/// Where the page sends GraphQL, settled at start-up.
#[derive(Debug, Clone)]
pub enum Backend {
    /// To `/graphql` here, forwarded by [`proxy::Forwarder`].
    Proxy(proxy::Forwarder),
    /// Straight from the browser to this URL.
    Direct(Url),
}

impl Backend {
    /// The backend `config` asks for.
    pub fn from_config(config: &Config) -> Result<Self, Error> {
        let graphql = graphql_url(&config.server_uri)?;
        match config.graphql_mode {
            GraphqlMode::Direct => {
                tracing::info!(graphql = %graphql, "GRAPHQL_MODE=direct: browsers call the backend here");
                Ok(Self::Direct(graphql))
            }
            GraphqlMode::Proxy => {
                if graphql.scheme() != "http" {
                    return Err(Error::ProxyNeedsHttp(config.server_uri.clone()));
                }
                tracing::info!(graphql = %graphql, "GRAPHQL_MODE=proxy: /graphql is forwarded here");
                Ok(Self::Proxy(proxy::Forwarder::new(
                    graphql,
                    config.server_connect_timeout,
                    config.server_timeout,
                    config.graphql_max_reply_bytes,
                )?))
            }
        }
    }
}

/// What the handlers share; built by [`AppState::new`].
#[derive(Debug, Clone)]
pub struct AppState {
    kit: Kit,
    backend: Backend,
    max_body_bytes: usize,
}

impl AppState {
    /// The backend `config` names, and a kit that is ready at once: the
    /// page itself reports an unreachable backend (readiness must not
    /// depend on the backend, or a backend outage would take the page, and
    /// its explanation, away too).
    pub fn new(config: &Config) -> Result<Self, Error> {
        Ok(Self {
            kit: Kit::new(true, |_| {}),
            backend: Backend::from_config(config)?,
            max_body_bytes: config.service.max_body_bytes,
        })
    }
}

/// The router: assets, `/config.js`, `/graphql` (proxy mode), index.html
/// for every other GET, and service-kit's probes and metrics.
pub fn app(state: AppState) -> Router {
    let (page_url, connect_src) = match &state.backend {
        Backend::Proxy(_) => ("/graphql".to_owned(), "'self'".to_owned()),
        Backend::Direct(url) => (
            url.to_string(),
            format!("'self' {}", url.origin().ascii_serialization()),
        ),
    };
    // JSON string encoding is valid JavaScript string syntax and escapes
    // quotes; `<` is escaped too so the value can never close a script tag.
    // `pod` is the frontend pod that served the page, which the board shows
    // next to the backend pods that answer its calls.
    let config_js = format!(
        "window.TODO_CONFIG = {{ graphqlUrl: {}, pod: {} }};\n",
        serde_json::Value::String(page_url),
        serde_json::Value::String(service_kit::net::instance_name().to_owned()),
    )
    .replace('<', "\\u003c");
    // The page may only talk to itself and, in direct mode, to the
    // backend's origin.
    let csp = format!(
        "default-src 'self'; connect-src {connect_src}; img-src 'self' data:; \
         frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    );
    let csp = HeaderValue::from_str(&csp).unwrap_or(HeaderValue::from_static("default-src 'self'"));

    let mut routes = Router::new()
        .route(
            "/config.js",
            // Never cached: it changes when the deployment's SERVER_URI does.
            get(move || async move {
                (
                    [
                        (
                            header::CONTENT_TYPE,
                            HeaderValue::from_static("text/javascript; charset=utf-8"),
                        ),
                        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
                    ],
                    config_js,
                )
            }),
        )
        .route(
            "/app.js",
            get(|headers: HeaderMap| async move { APP_JS.respond(&headers) }),
        )
        .route(
            "/style.css",
            get(|headers: HeaderMap| async move { STYLE_CSS.respond(&headers) }),
        )
        .fallback(index);
    if let Backend::Proxy(forwarder) = &state.backend {
        routes = routes.merge(
            Router::new()
                .route("/graphql", post(proxy::graphql))
                .layer(DefaultBodyLimit::max(state.max_body_bytes))
                .with_state(forwarder.clone()),
        );
    }
    let routes = routes.layer(CompressionLayer::new().gzip(true));
    state
        .kit
        .wrap(routes)
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            csp,
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
}

/// index.html for every GET that no other route matched (a single-page
/// app: `/lists/3` reloads to the board); 404 for anything else.
async fn index(method: Method, headers: HeaderMap) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return StatusCode::NOT_FOUND.into_response();
    }
    INDEX_HTML.respond(&headers)
}

/// Serve the frontend on `listener` until `shutdown` completes.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let state = AppState::new(&config)?;
    let kit = state.kit.clone();
    kit.serve(
        listener,
        app(state),
        config.service.shutdown_grace,
        shutdown,
    )
    .await
    .map_err(Error::Serve)
}

impl Config {
    /// Defaults for tests: loopback on an ephemeral port, proxy mode.
    pub fn for_tests(server_uri: &str) -> Self {
        Self {
            service: ServiceArgs::for_tests(),
            server_uri: server_uri.to_owned(),
            graphql_mode: GraphqlMode::Proxy,
            server_connect_timeout: Duration::from_secs(2),
            server_timeout: Duration::from_secs(8),
            graphql_max_reply_bytes: 4 * 1024 * 1024,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_uri_forms() {
        let url = |s: &str| graphql_url(s).unwrap().to_string();
        // The seed's form: host[:port], no scheme.
        assert_eq!(url("10.0.0.7"), "http://10.0.0.7/graphql");
        assert_eq!(url("localhost:8081"), "http://localhost:8081/graphql");
        assert_eq!(url("to-do-app-backend"), "http://to-do-app-backend/graphql");
        // Full URLs.
        assert_eq!(
            url("http://localhost:8081"),
            "http://localhost:8081/graphql"
        );
        assert_eq!(
            url("http://localhost:8081/"),
            "http://localhost:8081/graphql"
        );
        assert_eq!(url("http://h/api"), "http://h/api/graphql");
        assert_eq!(url("http://h/custom/graphql"), "http://h/custom/graphql");
        assert_eq!(url("https://todo.example/"), "https://todo.example/graphql");
        assert!(graphql_url("").is_err());
        assert!(graphql_url("ftp://h").is_err());
    }
}
