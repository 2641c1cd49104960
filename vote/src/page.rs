//! The two pages, as askama templates (`templates/`). askama escapes every
//! value for HTML by default, so an OPTION_A of `<b>Cats</b>` shows as
//! text; there is no `|safe` anywhere in the templates.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use voting_contract::Choice;

/// What every page shows, fixed at start.
#[derive(Debug)]
pub(crate) struct PageInfo {
    pub(crate) option_a: String,
    pub(crate) option_b: String,
    pub(crate) hostname: String,
}

#[derive(Template)]
#[template(path = "index.html")]
struct Index<'a> {
    option_a: &'a str,
    option_b: &'a str,
    hostname: &'a str,
    chosen: Option<&'a str>,
    chose_a: bool,
    chose_b: bool,
}

#[derive(Template)]
#[template(path = "unavailable.html")]
struct Unavailable<'a> {
    hostname: &'a str,
}

fn html(status: StatusCode, rendered: Result<String, askama::Error>) -> Response {
    match rendered {
        Ok(body) => (status, Html(body)).into_response(),
        Err(err) => {
            tracing::error!(%err, "template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "page unavailable\n").into_response()
        }
    }
}

impl PageInfo {
    /// The voting page; `chosen` marks this voter's choice.
    pub(crate) fn render(&self, chosen: Option<Choice>) -> Response {
        let page = Index {
            option_a: &self.option_a,
            option_b: &self.option_b,
            hostname: &self.hostname,
            chosen: chosen.map(|choice| match choice {
                Choice::A => self.option_a.as_str(),
                Choice::B => self.option_b.as_str(),
            }),
            chose_a: chosen == Some(Choice::A),
            chose_b: chosen == Some(Choice::B),
        };
        html(StatusCode::OK, page.render())
    }

    /// The 503 page for a vote that Redis did not take.
    pub(crate) fn unavailable(&self) -> Response {
        let page = Unavailable {
            hostname: &self.hostname,
        };
        html(StatusCode::SERVICE_UNAVAILABLE, page.render())
    }
}
