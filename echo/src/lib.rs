//! The echo of the application-coupling article: serves a directory over
//! HTTP on port 8000, as `python -m SimpleHTTPServer` does in `/tmp/in`, so
//! that `curl http://localhost:8000/data` shows the generator's numbers.
//!
//! * **Files** come from tower-http's `ServeDir`: `GET` and `HEAD`, `Range`,
//!   `Last-Modified`/`If-Modified-Since`, content types from the file name,
//!   and no way out of the directory (`..`, encoded or not, is refused).
//!   `ServeDir` sends no `ETag`; [`etag`] adds a weak one made of the file's
//!   size and modification time and answers `If-None-Match` with 304. For an
//!   append-only file the size alone changes with every line.
//! * **`GET /`** lists the directory the way SimpleHTTPServer does (ServeDir
//!   does not list directories): one link per entry, from an askama template
//!   (`templates/listing.html`) that HTML-escapes every name, with the links
//!   percent-encoded.
//! * **Ready once the directory exists.** In a pod the emptyDir is there
//!   from the start; outside one, echo can start before the generator
//!   created `/tmp/out`, and then waits, not ready, instead of failing.
//! * **`SOURCE_URL`** is the loose coupling over a Service: echo can no
//!   longer see the generator's file, so it fetches the generator's `GET
//!   /data` every `SOURCE_INTERVAL` (a conditional GET: 304 when nothing
//!   changed) into `SERVE_DIR` and serves that copy. It becomes ready after
//!   the first successful fetch; when the source is unreachable later, it
//!   keeps serving the last copy (stale beats empty) and counts the failure
//!   in `echo_source_fetches_total{outcome="failed"}`.

use std::future::Future;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use askama::Template;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use bytes::BytesMut;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use service_kit::{Kit, ServiceArgs};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::services::ServeDir;
use url::Url;

/// The echo's settings. Every one is a flag and an environment variable.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "echo",
    version,
    about = "Serves SERVE_DIR over HTTP like SimpleHTTPServer (GET /data, GET / lists); or mirrors SOURCE_URL into it",
    // The article's port. Every other service here defaults to 8080.
    mut_arg("port", |arg| arg.default_value("8000"))
)]
pub struct Config {
    #[command(flatten)]
    pub service: ServiceArgs,

    /// The directory to serve (the article's path). Need not exist at start:
    /// echo is not ready until it does.
    #[arg(long, env = "SERVE_DIR", default_value = "/tmp/in")]
    pub serve_dir: PathBuf,

    /// Loose coupling over a Service: fetch this URL (the generator's
    /// `GET /data`, e.g. http://generator/data) every SOURCE_INTERVAL into
    /// SERVE_DIR under the URL's last path segment, and serve that copy.
    /// SERVE_DIR must then be writable.
    #[arg(long, env = "SOURCE_URL")]
    pub source_url: Option<Url>,

    /// Time between two fetches of SOURCE_URL.
    #[arg(long, env = "SOURCE_INTERVAL", default_value = "2s", value_parser = humantime::parse_duration)]
    pub source_interval: Duration,

    /// How long one fetch of SOURCE_URL may take.
    #[arg(long, env = "SOURCE_TIMEOUT", default_value = "5s", value_parser = humantime::parse_duration)]
    pub source_timeout: Duration,

    /// Largest copy of SOURCE_URL kept, in bytes; a larger answer is a
    /// failed fetch (the last good copy stays). Above the generator's
    /// default MAX_BYTES.
    #[arg(long, env = "SOURCE_MAX_BYTES", default_value_t = 4 * 1024 * 1024)]
    pub source_max_bytes: usize,
}

/// Why echo could not start, or stopped serving. Requests fail with a
/// [`ListingError`] at most: files are tower-http's ServeDir.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("SOURCE_URL must be http:// (got {0})")]
    SourceScheme(Url),
    #[error("cannot build the HTTP client: {0}")]
    Client(reqwest::Error),
    #[error("serving HTTP failed: {0}")]
    Serve(std::io::Error),
}

/// Why `GET /` could not list the directory.
#[derive(Debug, thiserror::Error)]
pub enum ListingError {
    #[error("cannot read the directory: {0}")]
    ReadDir(#[from] std::io::Error),
    #[error("the listing template failed: {0}")]
    Template(#[from] askama::Error),
}

impl IntoResponse for ListingError {
    fn into_response(self) -> Response {
        // Logged inside the request's span; the client gets no details.
        match self {
            Self::ReadDir(err) => {
                tracing::warn!(%err, "cannot list the directory");
                (StatusCode::NOT_FOUND, "No such directory\n").into_response()
            }
            Self::Template(err) => {
                tracing::error!(%err, "listing not rendered");
                (StatusCode::INTERNAL_SERVER_ERROR, "listing unavailable\n").into_response()
            }
        }
    }
}

/// Why one fetch of SOURCE_URL failed: logged and counted, never sent to a
/// client (echo's clients only ever see files).
#[derive(Debug, thiserror::Error)]
enum FetchError {
    #[error("source unreachable: {0}")]
    Http(#[from] reqwest::Error),
    #[error("source answered {0}")]
    Status(StatusCode),
    #[error("source answer larger than {0} bytes")]
    TooLarge(usize),
    #[error("cannot store the copy: {0}")]
    Store(#[from] std::io::Error),
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    outcome: &'static str,
}

/// Shared state of one echo instance.
#[derive(Debug, Clone)]
pub struct AppState {
    kit: Kit,
    serve_dir: Arc<Path>,
    source: Option<Arc<Source>>,
}

impl AppState {
    /// Check SOURCE_URL and build its client; not ready until the
    /// directory exists (and, with SOURCE_URL, the first fetch succeeded).
    pub fn new(config: &Config) -> Result<Self, Error> {
        let fetches = Family::<Outcome, Counter>::default();
        let kit = Kit::new(false, |registry| {
            registry.register(
                "echo_source_fetches",
                "Fetches of SOURCE_URL, by outcome (updated, unchanged, failed)",
                fetches.clone(),
            );
        });
        let source = match &config.source_url {
            Some(url) if url.scheme() != "http" => return Err(Error::SourceScheme(url.clone())),
            Some(url) => Some(Arc::new(Source {
                url: url.clone(),
                client: reqwest::Client::builder()
                    .timeout(config.source_timeout)
                    .build()
                    .map_err(Error::Client)?,
                path: config.serve_dir.join(file_name(url)),
                max_bytes: config.source_max_bytes,
                fetches,
            })),
            None => None,
        };
        Ok(Self {
            kit,
            serve_dir: config.serve_dir.clone().into(),
            source,
        })
    }
}

/// The echo's routes, wrapped in the standard middleware: `GET /` lists the
/// directory, everything else is a file from it.
pub fn app(state: AppState) -> Router {
    let files = ServeDir::new(&*state.serve_dir).append_index_html_on_directories(false);
    let kit = state.kit.clone();
    let routes = Router::new()
        .route("/", get(listing))
        .with_state(state)
        .fallback_service(files)
        .layer(axum::middleware::from_fn(etag));
    kit.wrap(routes)
}

/// Serve until `shutdown` completes, then drain (see [`service_kit::serve`]).
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let state = AppState::new(&config)?;
    tracing::info!(
        dir = %config.serve_dir.display(),
        source = config.source_url.as_ref().map(Url::as_str),
        pod_ip = %config.service.pod_ip(),
        "echo ready"
    );
    // Readiness (and the fetches) run until the shutdown starts; the kit
    // then keeps readiness down, so a fetch that ends during the drain
    // cannot raise it again.
    let stop = CancellationToken::new();
    let watcher = watch_readiness(state.clone(), config.source_interval, stop.clone());
    let (kit, grace) = (state.kit.clone(), config.service.shutdown_grace);
    kit.serve_with_task(listener, app(state), grace, shutdown, stop, watcher)
        .await
        .map_err(Error::Serve)
}

/// Where SOURCE_URL is fetched to and how.
#[derive(Debug)]
struct Source {
    url: Url,
    client: reqwest::Client,
    path: PathBuf,
    max_bytes: usize,
    fetches: Family<Outcome, Counter>,
}

/// The copy's file name: the URL's last path segment (`data`), or `data`.
fn file_name(url: &Url) -> String {
    url.path_segments()
        .and_then(|mut s| s.next_back())
        .filter(|s| !s.is_empty() && *s != "." && *s != "..")
        .unwrap_or("data")
        .to_owned()
}

/// Keep readiness in step with the directory (and, with SOURCE_URL, fetch
/// it) until `stop` is cancelled.
async fn watch_readiness(state: AppState, interval: Duration, stop: CancellationToken) {
    let (kit, dir, source) = (state.kit, state.serve_dir, state.source);
    let mut validators = HeaderMap::new();
    let mut fetched_once = false;
    // Without a source, a directory check once a second is plenty.
    let period = if source.is_some() {
        interval
    } else {
        Duration::from_secs(1)
    };
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            () = stop.cancelled() => return,
        }
        let mut ready = tokio::fs::metadata(&dir).await.is_ok_and(|m| m.is_dir());
        if let Some(source) = &source {
            let outcome = match source.fetch(&mut validators).await {
                Ok(true) => "updated",
                Ok(false) => "unchanged",
                Err(err) => {
                    tracing::warn!(url = %source.url, %err, "fetching SOURCE_URL failed");
                    "failed"
                }
            };
            fetched_once |= outcome != "failed";
            source.fetches.get_or_create(&Outcome { outcome }).inc();
            ready = ready && fetched_once;
        }
        if ready != kit.readiness.is_ready() {
            tracing::info!(ready, dir = %dir.display(), "readiness changed");
        }
        kit.readiness.set(ready);
    }
}

impl Source {
    /// One conditional GET. `Ok(true)` when a new copy was stored,
    /// `Ok(false)` when the source answered 304.
    async fn fetch(&self, validators: &mut HeaderMap) -> Result<bool, FetchError> {
        let mut request = self.client.get(self.url.clone());
        for (name, value) in validators.iter() {
            request = request.header(name, value);
        }
        let mut response = request.send().await?;
        if response.status() == StatusCode::NOT_MODIFIED {
            return Ok(false);
        }
        if !response.status().is_success() {
            return Err(FetchError::Status(response.status()));
        }
        let mut next = HeaderMap::new();
        if let Some(v) = response.headers().get(header::ETAG) {
            next.insert(header::IF_NONE_MATCH, v.clone());
        }
        if let Some(v) = response.headers().get(header::LAST_MODIFIED) {
            next.insert(header::IF_MODIFIED_SINCE, v.clone());
        }
        if response
            .content_length()
            .is_some_and(|n| n > self.max_bytes as u64)
        {
            return Err(FetchError::TooLarge(self.max_bytes));
        }
        let mut body = BytesMut::new();
        while let Some(chunk) = response.chunk().await? {
            if body.len() + chunk.len() > self.max_bytes {
                return Err(FetchError::TooLarge(self.max_bytes));
            }
            body.extend_from_slice(&chunk);
        }
        // Write beside the copy, then rename over it: a reader gets the old
        // or the new copy, never a half-written one.
        let dir = self.path.parent().unwrap_or(Path::new("."));
        tokio::fs::create_dir_all(dir).await?;
        let tmp = dir.join(".echo-fetch.tmp");
        tokio::fs::write(&tmp, &body).await?;
        tokio::fs::rename(&tmp, &self.path).await?;
        *validators = next;
        Ok(true)
    }
}

/// `GET /`: the directory listing, in SimpleHTTPServer's layout.
async fn listing(State(state): State<AppState>) -> Result<Html<String>, ListingError> {
    let mut entries = tokio::fs::read_dir(&*state.serve_dir).await?;
    let mut names = Vec::new();
    while let Ok(Some(entry)) = entries.next_entry().await {
        let is_dir = entry.file_type().await.is_ok_and(|t| t.is_dir());
        names.push((entry.file_name(), is_dir));
    }
    names.sort();
    Ok(Html(Listing::new("/", &names).render()?))
}

/// The listing page (`templates/listing.html`). One line more than
/// SimpleHTTPServer's: which pod served it, so that with two echo replicas
/// behind a Service a reload shows both.
#[derive(Debug, Template)]
#[template(path = "listing.html")]
struct Listing<'a> {
    path: &'a str,
    entries: Vec<Entry>,
    pod: &'a str,
}

/// One line of the listing. Directories get a trailing `/`, as in
/// SimpleHTTPServer.
#[derive(Debug)]
struct Entry {
    /// The percent-encoded link.
    href: String,
    /// The name as shown (the template escapes it).
    name: String,
}

/// What a link leaves as it is: the unreserved characters of RFC 3986, so
/// `?`, `#`, `%` and `:` cannot turn a name into a query, a fragment or a
/// scheme.
const LINK: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

impl<'a> Listing<'a> {
    fn new(path: &'a str, names: &[(std::ffi::OsString, bool)]) -> Self {
        let entries = names
            .iter()
            .map(|(name, is_dir)| {
                let slash = if *is_dir { "/" } else { "" };
                Entry {
                    href: format!(
                        "{}{slash}",
                        percent_encoding::percent_encode(name.as_bytes(), LINK)
                    ),
                    name: format!("{}{slash}", name.to_string_lossy()),
                }
            })
            .collect();
        Self {
            path,
            entries,
            pod: service_kit::net::instance_name(),
        }
    }
}

/// Add a weak `ETag` (size and modification time) to files ServeDir sends,
/// and answer a matching `If-None-Match` with 304.
async fn etag(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let if_none_match = req.headers().get(header::IF_NONE_MATCH).cloned();
    let mut res = next.run(req).await;
    let status = res.status();
    if status != StatusCode::OK && status != StatusCode::PARTIAL_CONTENT {
        return res;
    }
    let Some(tag) = weak_etag(res.headers(), status) else {
        return res;
    };
    let matches = if_none_match
        .as_ref()
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim() == "*" || v.split(',').any(|t| weak_eq(t.trim(), &tag)));
    if matches && (method == Method::GET || method == Method::HEAD) {
        let mut not_modified = StatusCode::NOT_MODIFIED.into_response();
        for name in [header::LAST_MODIFIED, header::CACHE_CONTROL] {
            if let Some(v) = res.headers().get(&name) {
                not_modified.headers_mut().insert(name, v.clone());
            }
        }
        if let Ok(v) = HeaderValue::from_str(&tag) {
            not_modified.headers_mut().insert(header::ETAG, v);
        }
        return not_modified;
    }
    if let Ok(v) = HeaderValue::from_str(&tag) {
        res.headers_mut().insert(header::ETAG, v);
    }
    res
}

/// `W/"<size>-<mtime>"` from ServeDir's headers: the full size is the
/// Content-Length of a 200 or the total in a 206's Content-Range.
fn weak_etag(headers: &HeaderMap, status: StatusCode) -> Option<String> {
    let modified = headers.get(header::LAST_MODIFIED)?.to_str().ok()?;
    let size = if status == StatusCode::PARTIAL_CONTENT {
        let range = headers.get(header::CONTENT_RANGE)?.to_str().ok()?;
        range.rsplit('/').next()?.parse::<u64>().ok()?
    } else {
        headers
            .get(header::CONTENT_LENGTH)?
            .to_str()
            .ok()?
            .parse::<u64>()
            .ok()?
    };
    let stamp: String = modified
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    Some(format!("W/\"{size:x}-{stamp}\""))
}

/// Weak comparison (RFC 9110 §8.8.3.2): equal opaque tags, `W/` ignored.
fn weak_eq(a: &str, b: &str) -> bool {
    a.trim_start_matches("W/") == b.trim_start_matches("W/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_escapes_names_and_encodes_links() {
        let names = vec![("a<b>&\"c\".txt".into(), false), ("sub dir?#".into(), true)];
        let page = Listing::new("/", &names).render().unwrap();
        assert!(
            page.contains(
                "<li><a href=\"a%3Cb%3E%26%22c%22.txt\">a&#60;b&#62;&#38;&#34;c&#34;.txt</a></li>"
            ),
            "{page}"
        );
        assert!(page.contains("<li><a href=\"sub%20dir%3F%23/\">sub dir?#/</a></li>"));
        assert!(page.contains("<title>Directory listing for /</title>"));
        assert!(page.contains(&format!(
            "<p>Served by pod {}</p>",
            service_kit::net::instance_name()
        )));
    }

    #[test]
    fn copy_is_named_after_the_last_segment() {
        let url = |s: &str| Url::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(file_name(&url("http://generator:8080/data")), "data");
        assert_eq!(file_name(&url("http://generator:8080/")), "data");
        assert_eq!(
            file_name(&url("http://generator:8080/x/numbers")),
            "numbers"
        );
    }
}
