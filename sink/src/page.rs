//! The sink's HTML page: server-rendered from `templates/index.html`,
//! refreshes itself every few seconds, no JavaScript.
//!
//! Every message is untrusted text. askama escapes every value for HTML by
//! default, and the template marks nothing `|safe`, so a message of
//! `<b>x</b>` shows as text.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use crate::Snapshot;

#[derive(Template)]
#[template(path = "index.html")]
struct Page<'a> {
    snap: &'a Snapshot,
    /// The pod that served the page (`x-served-by`).
    served_by: &'a str,
    /// The meters' scale: the total, but at least 1 (a meter with max 0
    /// draws nothing useful).
    meter_max: u64,
}

/// The page for `snap`.
pub(crate) fn render(snap: &Snapshot) -> Response {
    let page = Page {
        snap,
        served_by: service_kit::net::instance_name(),
        meter_max: snap.total.max(1),
    };
    match page.render() {
        Ok(body) => Html(body).into_response(),
        Err(err) => {
            // Only a bug in the template gets here (formatting a value
            // failed); say so in the log, not to the reader.
            tracing::error!(%err, "sink page template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "page unavailable\n").into_response()
        }
    }
}
