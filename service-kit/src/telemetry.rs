//! One `tracing` subscriber for every binary.
//!
//! `RUST_LOG` filters (default `info`); `LOG_FORMAT` picks JSON (default, for
//! clusters) or text (for terminals). Logs go to stderr so that stdout stays
//! free for what a program prints as its output (the sender's transcript).

use std::io::IsTerminal;

use tracing_subscriber::{EnvFilter, fmt};

use crate::LogFormat;

/// Install the global subscriber. Calling it twice is harmless (the second
/// call is ignored), which keeps tests that start several services simple.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only on a terminal: escape codes in a log file are noise.
    let builder = fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let _already_set = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
