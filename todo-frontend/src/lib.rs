//! todo-frontend: the to-do board UI (seed 004's `to-do-app-frontend`).
//!
//! The original was an Angular bundle whose container rewrote the literal
//! `${SERVER_URI}` in its JavaScript at start-up, so the browser called
//! `http://${SERVER_URI}/graphql` directly (the backend answers CORS for
//! that). We keep the same shape with less machinery:
//!
//! * the page is plain modern JavaScript, no framework and no build step,
//!   and every asset is compiled into the binary (`include_str!`), so the
//!   image is one file and cannot drift from the code;
//! * `SERVER_URI` is read once at start-up (host[:port] as the seed's
//!   ConfigMap holds it, or a full URL), turned into the GraphQL URL, and
//!   served as `/config.js`, a one-line script the page loads first;
//! * every other unknown GET path answers `index.html`, as the original's
//!   single-page server did, so deep links and reloads work.
//!
//! The browser talks to the backend itself, so `SERVER_URI` must be an
//! address the *browser* can reach (in the seed: the backend Service's
//! external IP), not only one the frontend pod can resolve.

use std::future::Future;

use axum::Router;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use service_kit::{Kit, ServiceArgs};
use tokio::net::TcpListener;
use url::Url;

/// The frontend's settings. Every one is a flag and an environment variable.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "todo-frontend",
    version,
    about = "The to-do app's board UI; the browser calls the backend at SERVER_URI"
)]
pub struct Config {
    #[command(flatten)]
    pub service: ServiceArgs,

    /// Where browsers reach todo-backend: `host[:port]` with no scheme, as
    /// the seed's ConfigMap `backend-conf` holds it (the page calls
    /// `http://SERVER_URI/graphql`), or a full URL such as
    /// `http://localhost:8081` or `http://host/custom/graphql`.
    #[arg(long, env = "SERVER_URI")]
    pub server_uri: String,
}

/// Everything that stops the frontend.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("SERVER_URI `{uri}` cannot be used: {reason}")]
    ServerUri {
        uri: String,
        reason: service_kit::svc_url::UrlError,
    },
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

const INDEX_HTML: &str = include_str!("../assets/index.html");
const APP_JS: &str = include_str!("../assets/app.js");
const STYLE_CSS: &str = include_str!("../assets/style.css");

/// The router: assets, `/config.js`, index.html for every other GET, and
/// service-kit's probes and metrics.
pub fn app(kit: &Kit, graphql: &Url) -> Router {
    // JSON string encoding is valid JavaScript string syntax and escapes
    // quotes; `<` is escaped too so the value can never close a script tag.
    let config_js = format!(
        "window.TODO_CONFIG = {{ graphqlUrl: {} }};\n",
        serde_json::Value::String(graphql.to_string())
    )
    .replace('<', "\\u003c");
    // The page may only talk to itself and to the backend's origin.
    let csp = format!(
        "default-src 'self'; connect-src 'self' {}; img-src 'self' data:; \
         frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        graphql.origin().ascii_serialization()
    );
    let csp = HeaderValue::from_str(&csp).unwrap_or(HeaderValue::from_static("default-src 'self'"));

    let routes = Router::new()
        .route(
            "/config.js",
            get(move || async move { asset("text/javascript; charset=utf-8", config_js, true) }),
        )
        .route(
            "/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", APP_JS, false) }),
        )
        .route(
            "/style.css",
            get(|| async { asset("text/css; charset=utf-8", STYLE_CSS, false) }),
        )
        .fallback(index);
    kit.wrap(routes).layer(axum::middleware::from_fn(
        move |req: axum::extract::Request, next: axum::middleware::Next| {
            let csp = csp.clone();
            async move {
                let mut response = next.run(req).await;
                let headers = response.headers_mut();
                headers.insert(header::CONTENT_SECURITY_POLICY, csp);
                headers.insert(
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                );
                headers.insert(
                    header::REFERRER_POLICY,
                    HeaderValue::from_static("no-referrer"),
                );
                response
            }
        },
    ))
}

/// A text asset. `config.js` must never be cached: it changes when the
/// deployment's SERVER_URI does, while the code assets only change with the
/// binary (a short max-age keeps rollouts visible within a minute).
fn asset(content_type: &'static str, body: impl Into<String>, no_store: bool) -> Response {
    let cache = if no_store {
        "no-store"
    } else {
        "public, max-age=60"
    };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        ],
        body.into(),
    )
        .into_response()
}

/// index.html for every GET that no other route matched (a single-page
/// app: `/lists/3` reloads to the board); 404 for anything else.
async fn index(method: Method, uri: Uri) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return StatusCode::NOT_FOUND.into_response();
    }
    tracing::debug!(path = uri.path(), "serving index.html");
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        INDEX_HTML,
    )
        .into_response()
}

/// Serve the frontend on `listener` until `shutdown` completes.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let graphql = graphql_url(&config.server_uri)?;
    tracing::info!(graphql = %graphql, "browsers will call the backend here");
    // Nothing to wait for: the page itself reports an unreachable backend.
    let kit = Kit::new(true, |_| {});
    let app = app(&kit, &graphql);
    service_kit::serve(
        listener,
        app,
        kit.readiness.clone(),
        config.service.shutdown_grace,
        shutdown,
    )
    .await
    .map_err(Error::Serve)
}

impl Config {
    /// Defaults for tests: loopback on an ephemeral port.
    pub fn for_tests(server_uri: &str) -> Self {
        Self {
            service: ServiceArgs::for_tests(),
            server_uri: server_uri.to_owned(),
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
