//! Service URLs as the seeds write them.
//!
//! The seed's manifests say `RELAY_URL="relay-svc/relay.php"`: no scheme,
//! because curl assumes `http://`. We accept that form and full URLs alike,
//! and reject at start-up what we cannot call, instead of failing on the
//! first request.

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

#[cfg(test)]
mod tests {
    use super::*;

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
