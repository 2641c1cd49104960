//! Files compiled into a service's binary (`include_str!`), served with
//! caching validators (feature `assets`).
//!
//! tower-http's `ServeDir` serves files from disk; our UIs embed their few
//! files in the binary instead, so the image needs nothing but the binary
//! and a rollout of the image *is* a rollout of the UI. What `ServeDir`
//! would add, a validator and 304s, is here:
//!
//! * each asset carries an ETag (a hash of its bytes, computed once) and
//!   `Cache-Control: no-cache`: browsers keep the file but revalidate on
//!   each page load, get a bodiless 304 while nothing changed, and see a
//!   new UI right after a rollout;
//! * the ETag is *weak* (`W/"..."`) because tower-http's compression layer,
//!   which services put around their assets, serves the same asset gzipped
//!   or not under the same tag, and a strong tag would claim byte equality.

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// One embedded file, ready to serve.
#[derive(Debug, Clone)]
pub struct Asset {
    body: Bytes,
    content_type: HeaderValue,
    etag: HeaderValue,
}

impl Asset {
    /// An asset with this body and `Content-Type`.
    pub fn new(body: impl Into<Bytes>, content_type: &'static str) -> Self {
        let body = body.into();
        let digest = Sha256::digest(&body);
        // 16 bytes of SHA-256 are plenty to tell two versions of a file apart.
        let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        let etag = HeaderValue::from_str(&format!("W/\"{hex}\""))
            .unwrap_or_else(|_| HeaderValue::from_static("W/\"0\""));
        Self {
            body,
            content_type: HeaderValue::from_static(content_type),
            etag,
        }
    }

    /// The asset's ETag.
    pub fn etag(&self) -> &HeaderValue {
        &self.etag
    }

    /// The answer to a GET with these request headers: 304 if the
    /// browser's `If-None-Match` names this version, else the file.
    pub fn respond(&self, request: &HeaderMap) -> Response {
        let validators = [
            (header::ETAG, self.etag.clone()),
            // Keep the file, but ask on every page load whether it changed,
            // so a rollout shows up at once; the answer is a cheap 304
            // otherwise.
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ];
        if request
            .get(header::IF_NONE_MATCH)
            .is_some_and(|inm| etag_matches(inm, &self.etag))
        {
            return (StatusCode::NOT_MODIFIED, validators).into_response();
        }
        (
            validators,
            [(header::CONTENT_TYPE, self.content_type.clone())],
            self.body.clone(),
        )
            .into_response()
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
    fn tags_differ_with_the_content() {
        let a = Asset::new("a", "text/plain");
        let b = Asset::new("b", "text/plain");
        assert_ne!(a.etag(), b.etag());
        assert_eq!(a.etag(), Asset::new("a", "text/css").etag());
    }
}
