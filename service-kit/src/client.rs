//! Reading an upstream service's reply without trusting its size.
//!
//! Behind the `client` feature, for the services that pass another
//! service's reply on (todo-frontend's `/graphql`, portal-model's
//! `/controller/`): a reply is buffered whole before it is answered, so its
//! size must be bounded by the caller, not by the upstream.

use bytes::{Bytes, BytesMut};

/// Why [`read_capped`] gave up.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The reply is larger than the limit (declared or counted).
    #[error("the reply is larger than {0} bytes")]
    TooLarge(usize),
    /// The connection failed or timed out while the body arrived.
    #[error("reading the reply failed")]
    Read(#[source] reqwest::Error),
}

/// The whole body of `reply`, or [`ReadError::TooLarge`] as soon as it would
/// pass `limit` bytes: a declared `Content-Length` over the limit is refused
/// before anything is read, and a body without one is counted as it arrives.
pub async fn read_capped(mut reply: reqwest::Response, limit: usize) -> Result<Bytes, ReadError> {
    if reply.content_length().is_some_and(|n| n > limit as u64) {
        return Err(ReadError::TooLarge(limit));
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = reply.chunk().await.map_err(ReadError::Read)? {
        if body.len() + chunk.len() > limit {
            return Err(ReadError::TooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}
