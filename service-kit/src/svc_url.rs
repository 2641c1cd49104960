//! Service URLs as the seeds write them.
//!
//! The seed's manifests say `RELAY_URL="relay-svc/relay.php"`: no scheme,
//! because curl assumes `http://`. We accept that form and full URLs alike,
//! and reject at start-up what we cannot call, instead of failing on the
//! first request.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use url::Url;

/// Why a service URL was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UrlError {
    #[error("the URL is empty")]
    Empty,
    #[error("not a valid URL: {0}")]
    Invalid(String),
    #[error(
        "scheme `{0}` is not supported: in-cluster traffic here is plain http (use http:// or no scheme)"
    )]
    Scheme(String),
    #[error("the URL has no host")]
    NoHost,
}

/// Parse `relay-svc/relay.php`, `localhost:8080`, or `http://host:port/path`.
/// A value without `://` means `http://`.
pub fn parse(raw: &str) -> Result<Url, UrlError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(UrlError::Empty);
    }
    let with_scheme = if raw.contains("://") {
        raw.to_owned()
    } else {
        format!("http://{raw}")
    };
    let url = Url::parse(&with_scheme).map_err(|e| UrlError::Invalid(e.to_string()))?;
    if url.scheme() != "http" {
        return Err(UrlError::Scheme(url.scheme().to_owned()));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(UrlError::NoHost);
    }
    Ok(url)
}

/// Where a tier sends its messages: one URL, or several used in turn.
///
/// In Kubernetes the value is one Service URL (`sink-svc/sink.php`) and
/// kube-proxy spreads connections over the pods behind it. Outside a
/// cluster there is no kube-proxy, so the value may list the replicas'
/// URLs separated by commas, and each request goes to the next one in turn
/// (round robin). Cheap to clone; clones share the rotation.
#[derive(Debug, Clone)]
pub struct Upstream {
    urls: Arc<[Url]>,
    next: Arc<AtomicUsize>,
}

impl Upstream {
    /// Parse a comma-separated list of URLs in the forms [`parse`] accepts.
    pub fn parse(raw: &str) -> Result<Self, UrlError> {
        let urls = raw.split(',').map(parse).collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            urls: urls.into(),
            next: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// The URL for the next request.
    pub fn next_url(&self) -> &Url {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.urls.len();
        &self.urls[i]
    }

    /// All URLs, in rotation order.
    pub fn urls(&self) -> &[Url] {
        &self.urls
    }
}

impl fmt::Display for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let joined: Vec<&str> = self.urls.iter().map(Url::as_str).collect();
        f.write_str(&joined.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_rotates_over_its_urls() {
        let up = Upstream::parse("a:1/x, b:2/x,http://c/x").unwrap();
        let seen: Vec<String> = (0..4).map(|_| up.clone().next_url().to_string()).collect();
        assert_eq!(
            seen,
            ["http://a:1/x", "http://b:2/x", "http://c/x", "http://a:1/x"]
        );
        assert_eq!(
            Upstream::parse("sink-svc/sink.php").unwrap().to_string(),
            "http://sink-svc/sink.php"
        );
        assert_eq!(Upstream::parse("a/x,,b/x").unwrap_err(), UrlError::Empty);
    }

    #[test]
    fn seed_form_without_scheme_means_http() {
        assert_eq!(
            parse("relay-svc/relay.php").unwrap().as_str(),
            "http://relay-svc/relay.php"
        );
        assert_eq!(
            parse("sink-svc/sink.php").unwrap().as_str(),
            "http://sink-svc/sink.php"
        );
    }

    #[test]
    fn host_and_port_without_path() {
        assert_eq!(
            parse("localhost:8080").unwrap().as_str(),
            "http://localhost:8080/"
        );
        assert_eq!(
            parse(" 127.0.0.1:9000 ").unwrap().as_str(),
            "http://127.0.0.1:9000/"
        );
    }

    #[test]
    fn full_urls_pass_through() {
        let url = parse("http://relay-svc.default.svc.cluster.local:80/relay.php?x=1").unwrap();
        assert_eq!(
            url.as_str(),
            "http://relay-svc.default.svc.cluster.local/relay.php?x=1"
        );
        assert_eq!(
            parse("HTTP://Sink-Svc/").unwrap().as_str(),
            "http://sink-svc/"
        );
    }

    #[test]
    fn refuses_what_cannot_be_called() {
        assert_eq!(parse(""), Err(UrlError::Empty));
        assert_eq!(parse("   "), Err(UrlError::Empty));
        assert_eq!(parse("ftp://x/y"), Err(UrlError::Scheme("ftp".into())));
        assert_eq!(parse("https://x/y"), Err(UrlError::Scheme("https".into())));
        assert!(matches!(
            parse("http://"),
            Err(UrlError::Invalid(_) | UrlError::NoHost)
        ));
        assert!(matches!(
            parse("relay svc/relay.php"),
            Err(UrlError::Invalid(_))
        ));
    }
}
