//! Where a tier sends its messages: one URL, or several used in turn.
//!
//! The seed's manifests say `RELAY_URL="relay-svc/relay.php"`: no scheme,
//! because curl assumes `http://`. Each URL is read with
//! [`service_kit::svc_url::parse`], which accepts that form and full URLs
//! alike and refuses at start-up what cannot be called.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use http::Uri;
use service_kit::svc_url::{self, UrlError};
use url::Url;

/// One URL, or several used in turn.
///
/// In Kubernetes the value is one Service URL (`sink-svc/sink.php`) and
/// kube-proxy spreads connections over the pods behind it. Outside a
/// cluster there is no kube-proxy, so the value may list the replicas'
/// URLs separated by commas, and each request goes to the next one in turn
/// (round robin). Cheap to clone; clones share the rotation.
#[derive(Debug, Clone)]
pub struct Upstream {
    urls: Arc<[Url]>,
    /// The same URLs as `http::Uri`s, for hyper's client, converted once
    /// here rather than parsed again for every request.
    uris: Arc<[Uri]>,
    next: Arc<AtomicUsize>,
}

impl Upstream {
    /// Parse a comma-separated list of URLs in the forms
    /// [`svc_url::parse`] accepts.
    pub fn parse(raw: &str) -> Result<Self, UrlError> {
        let urls = raw
            .split(',')
            .map(svc_url::parse)
            .collect::<Result<Vec<_>, _>>()?;
        let uris = urls
            .iter()
            .map(|url| {
                url.as_str()
                    .parse::<Uri>()
                    .map_err(|e| UrlError::Invalid(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            urls: urls.into(),
            uris: uris.into(),
            next: Arc::new(AtomicUsize::new(0)),
        })
    }

    fn next_index(&self) -> usize {
        self.next.fetch_add(1, Ordering::Relaxed) % self.urls.len()
    }

    /// The URL for the next request.
    pub fn next_url(&self) -> &Url {
        &self.urls[self.next_index()]
    }

    /// The URL for the next request, as the `http::Uri` hyper takes.
    pub fn next_uri(&self) -> &Uri {
        &self.uris[self.next_index()]
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
        let uris: Vec<String> = (0..3).map(|_| up.next_uri().to_string()).collect();
        assert_eq!(uris, ["http://b:2/x", "http://c/x", "http://a:1/x"]);
    }
}
