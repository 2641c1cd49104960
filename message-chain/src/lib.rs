//! What the message chain's three tiers share, and no other service needs.
//!
//! The chain is the *Kubernetes Case Study* article's sender, relay and sink.
//! Its tiers must mix with the article's own PHP and shell tiers, so they
//! write the same log lines and dates, and read the same scheme-less
//! service URLs:
//!
//! * [`applog`]: the per-pod log file (`Relay_<pod-ip>.txt`,
//!   `Sink_<pod-ip>.txt`), append-only, whose writes are acknowledged only
//!   once they reached the file;
//! * [`timestamp`]: the seed's two date formats (PHP's and `date`'s);
//! * [`upstream`]: `RELAY_URL` / `SINK_URL` as one Service URL, or several
//!   used in turn outside a cluster.
//!
//! What every service needs (config, probes, metrics, shutdown) is in
//! `service_kit`; this crate only adds what the chain alone does.

pub mod applog;
pub mod timestamp;
pub mod upstream;

pub use applog::{AppendError, AppendLog, LogFileArgs};
pub use upstream::Upstream;
