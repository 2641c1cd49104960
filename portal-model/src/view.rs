//! The View: the HTML page at `/`, and where it loads the Controller from.
//!
//! The page itself is a skeleton. A small inline bootstrap script works out
//! where the Controller (portal-controller) is and adds its stylesheet and
//! script to the page; the script then builds the UI and talks to this
//! service's API on the page's own origin.
//!
//! # Where the page loads the Controller from
//!
//! With `CONTROLLER_MODE=proxy` (the default) the page loads
//! `/controller/portal.js` and `/controller/portal.css` from its own
//! origin, and this service fetches them from the Controller over the
//! pod's localhost ([`crate::controller`]). Nothing depends on which
//! address the browser used. With `CONTROLLER_MODE=direct`, the article's
//! design, the browser fetches them from the Controller itself:
//!
//! 1. If `CONTROLLER_URL` is set (say `https://static.example.com/portal`),
//!    the page loads `$CONTROLLER_URL/portal.js` and `$CONTROLLER_URL/portal.css`.
//! 2. Otherwise the browser computes the address from the page's own
//!    address: same scheme, same host name, port `CONTROLLER_PORT`
//!    (default 8081). That is `location.protocol + "//" +
//!    location.hostname + ":" + CONTROLLER_PORT`, evaluated in the browser.
//!
//! Why the browser and not the server, in direct mode: in the article's pod the page is
//! reached at `http://<any-node>:30000` (a NodePort) and the Controller at
//! the *same node* on 30100. Only the browser knows which node name or IP
//! the user typed; the server would have to trust the `Host` header, and
//! nothing here has to be configured per node. In direct mode the
//! Kubernetes manifest must set `CONTROLLER_PORT=30100` (the Controller's
//! nodePort); locally the default 8081 matches portal-controller's default
//! port. That breaks behind an Ingress, a port-forward or `minikube
//! service`, which is why proxy mode is the default.
//!
//! # Content Security Policy
//!
//! The page's policy only lets scripts run that the page itself vouches
//! for: the inline bootstrap by its SHA-256 hash, and (through
//! `'strict-dynamic'`) the Controller script the bootstrap adds. API calls
//! may only go to this origin. An injected `<script>` anywhere would not
//! run.

use crate::AppState;
use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

/// The bootstrap script, inlined into the page. Its text is hashed into the
/// Content-Security-Policy, so it must not vary per request: the settings
/// it needs are read from a JSON data block instead.
const BOOTSTRAP: &str = r#"
(() => {
  'use strict';
  const config = JSON.parse(document.getElementById('portal-config').textContent);
  const base = (config.controllerUrl ||
    `${location.protocol}//${location.hostname}:${config.controllerPort}`).replace(/\/+$/, '');
  const css = document.createElement('link');
  css.rel = 'stylesheet';
  css.href = `${base}/portal.css`;
  document.head.append(css);
  const js = document.createElement('script');
  js.src = `${base}/portal.js`;
  // A CORS load, so an error inside the script is reported in full rather
  // than as an opaque "Script error." (portal-controller allows any origin).
  js.crossOrigin = 'anonymous';
  js.onerror = () => {
    const status = document.getElementById('portal-status');
    status.className = 'error';
    status.setAttribute('role', 'alert');
    status.textContent = `Could not load the portal's controller script from ${js.src}. ` +
      'Is portal-controller running (and, with CONTROLLER_MODE=direct, is CONTROLLER_PORT or CONTROLLER_URL right)?';
  };
  document.head.append(js);
  document.documentElement.dataset.controller = base;
  document.documentElement.dataset.pod = config.pod;
})();
"#;

/// The page's template (`templates/view.html`). askama escapes every
/// value by default; the two that go into `<script>` elements are marked
/// `safe` there on purpose: `config` goes through the `json` filter, which
/// writes no `<`, `>`, `&` or `'`, and `bootstrap` is our own constant.
#[derive(askama::Template)]
#[template(path = "view.html")]
struct Page<'a> {
    config: &'a PageConfig<'a>,
    bootstrap: &'static str,
}

/// The settings the bootstrap reads from the page's JSON data block.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct PageConfig<'a> {
    controller_url: Option<&'a str>,
    controller_port: u16,
    /// Which pod served the page, which the controller shows.
    pod: &'a str,
}

/// The rendered page and its headers, built once at start.
#[derive(Debug, Clone)]
pub struct View {
    html: String,
    csp: HeaderValue,
}

/// Why the page could not be rendered (a start-up error).
#[derive(Debug, thiserror::Error)]
#[error("cannot render the portal page: {0}")]
pub struct RenderError(#[from] askama::Error);

impl View {
    /// Render the page for a Controller at base `controller_url` (if set:
    /// an absolute URL, or a path on the page's origin such as
    /// `/controller`) or on the page's host at `controller_port`; see the
    /// module docs.
    pub fn new(controller_url: Option<&str>, controller_port: u16) -> Result<Self, RenderError> {
        let config = PageConfig {
            controller_url,
            controller_port,
            pod: service_kit::net::instance_name(),
        };
        let html = Page {
            config: &config,
            bootstrap: BOOTSTRAP,
        }
        .render()?;
        let hash = STANDARD.encode(Sha256::digest(BOOTSTRAP.as_bytes()));
        let csp = format!(
            "default-src 'self'; script-src 'sha256-{hash}' 'strict-dynamic'; \
             style-src 'self' http: https:; img-src 'self' data:; connect-src 'self'; \
             object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        );
        Ok(Self {
            html,
            // Only ASCII goes into the policy, so this cannot fail; fall back
            // to no policy at all rather than failing to serve the page.
            csp: HeaderValue::from_str(&csp).unwrap_or_else(|_| HeaderValue::from_static("")),
        })
    }

    /// The page's HTML.
    pub fn html(&self) -> &str {
        &self.html
    }
}

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/", get(page))
}

async fn page(State(state): State<AppState>) -> Response {
    let view = &state.view;
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CONTENT_SECURITY_POLICY, view.csp.clone()),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        view.html.clone(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_cannot_close_the_script_element() {
        let url = url::Url::parse("http://x/</script><script>alert(1)</script>").unwrap();
        let view = View::new(Some(url.as_str()), 8081).unwrap();
        assert!(!view.html().contains("</script><script>alert"));
    }

    #[test]
    fn the_policy_allows_exactly_the_inline_script_the_page_carries() {
        let view = View::new(None, 8081).unwrap();
        let html = view.html();
        let start = html.find("<script>").unwrap() + "<script>".len();
        let end = start + html[start..].find("</script>").unwrap();
        let hash = STANDARD.encode(Sha256::digest(&html.as_bytes()[start..end]));
        let csp = view.csp.to_str().unwrap();
        assert!(csp.contains(&format!("'sha256-{hash}'")), "{csp}");
    }

    #[test]
    fn default_rule_leaves_the_host_to_the_browser() {
        let view = View::new(None, 30100).unwrap();
        let html = view.html();
        let start = html.find(r#"id="portal-config">"#).unwrap() + r#"id="portal-config">"#.len();
        let end = start + html[start..].find("</script>").unwrap();
        let config: serde_json::Value = serde_json::from_str(&html[start..end]).unwrap();
        assert_eq!(config["controllerPort"], 30100);
        assert_eq!(config["controllerUrl"], serde_json::Value::Null);
        assert_eq!(config["pod"], service_kit::net::instance_name());
    }
}
