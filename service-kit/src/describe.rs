//! The `describe` subcommand: what a binary serves, from the binary itself.
//!
//! The manifests name a service's port, its probe paths and its metrics
//! path. The manifest checker (scripts/k8s_consistency.py) asks each binary
//! for them instead of reading the crates' source: a port default changed
//! with clap's `mut_arg("port", ...)`, or a probe route moved, is then seen
//! exactly as the binary will behave in the pod. The answer is one JSON
//! object on stdout:
//!
//! ```json
//! {"name":"relay","port":8080,"probes":{"liveness":"/healthz","readiness":"/readyz"},"metrics":"/metrics"}
//! ```
//!
//! `port` is the port the service would listen on with the same flags and
//! environment, so with `PORT` unset it is the binary's own default. The
//! paths are the ones [`crate::Kit::wrap`] adds to every router; the test
//! below requests them from a wrapped router, so this answer cannot drift
//! from what is served. A service's own routes (the relay's `/relay.php`)
//! are not listed: the checker requests those from the running binary.

/// The liveness probe path every service serves.
pub const LIVENESS_PATH: &str = "/healthz";
/// The readiness probe path every service serves (503 while draining).
pub const READINESS_PATH: &str = "/readyz";
/// The Prometheus scrape path every service serves.
pub const METRICS_PATH: &str = "/metrics";

/// The JSON object `describe` prints for the service `name` that listens on
/// `port` (its parsed `ServiceArgs::port`). Takes the port rather than the
/// whole `ServiceArgs` so that appcoup, a supervisor whose container port
/// is its echo's, answers the same way.
pub fn describe(name: &str, port: u16) -> serde_json::Value {
    serde_json::json!({
        "name": name,
        "port": port,
        "probes": {"liveness": LIVENESS_PATH, "readiness": READINESS_PATH},
        "metrics": METRICS_PATH,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Kit, ServiceArgs};
    use clap::Parser;

    #[derive(Debug, clap::Parser)]
    #[command(mut_arg("port", |arg| arg.default_value("8123")))]
    struct Overridden {
        #[command(flatten)]
        service: ServiceArgs,
    }

    #[test]
    fn reports_the_port_after_a_crates_override() {
        let args = Overridden::try_parse_from(["x", "describe"]).unwrap();
        let d = describe("x", args.service.port);
        assert_eq!(d["port"], 8123);
        assert_eq!(d["name"], "x");
        let args = Overridden::try_parse_from(["x", "--port", "9", "describe"]).unwrap();
        assert_eq!(describe("x", args.service.port)["port"], 9);
    }

    /// Every path `describe` names is served by a wrapped router, over real
    /// HTTP: a route renamed in `health` or `http` fails here.
    #[tokio::test]
    async fn the_described_paths_are_served() {
        let kit = Kit::new(true, |_| {});
        let app = kit.wrap(axum::Router::new());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let d = describe("x", addr.port());
        let paths = [
            &d["probes"]["liveness"],
            &d["probes"]["readiness"],
            &d["metrics"],
        ];
        for path in paths {
            let path = path.as_str().unwrap();
            let status = reqwest::get(format!("http://{addr}{path}"))
                .await
                .unwrap()
                .status();
            assert_eq!(status, 200, "GET {path}");
        }
        let missing = reqwest::get(format!("http://{addr}/nope")).await.unwrap();
        assert_eq!(missing.status(), 404, "an unknown path must be a 404");
    }
}
