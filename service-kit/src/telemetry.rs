//! One `tracing` subscriber for every binary.
//!
//! `RUST_LOG` filters (default `info`); `LOG_FORMAT` picks JSON (default, for
//! clusters) or text (for terminals). Logs go to stderr so that stdout stays
//! free for what a program prints as its output (the sender's transcript).
//!
//! In a service binary ([`init_for_service`]) log lines are buffered, as
//! nginx buffers its access log: a request copies its line into a shared
//! buffer and never waits for the `write(2)` to stderr (which is unbuffered,
//! and may be a slow pipe to the container runtime); a background thread
//! writes the buffer when 64 KiB are waiting or 100 ms after its first line
//! (the module `log_buffer` says why and how). The returned guard writes
//! out what is left when `main` ends, so the last lines ("drained, exiting")
//! are not lost. If stderr blocks and the buffer fills, callers wait rather
//! than lines being dropped.

use std::io::IsTerminal;

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::{EnvFilter, fmt};

use crate::LogFormat;
pub use crate::log_buffer::FlushGuard;

/// Install the global subscriber for a service binary: stderr through a
/// buffer. Keep the guard alive until the process ends.
pub fn init_for_service(format: LogFormat) -> Option<FlushGuard> {
    match crate::log_buffer::stderr() {
        Ok((writer, guard)) => {
            install(format, writer);
            Some(guard)
        }
        // No thread for the flusher (the process is out of resources):
        // log unbuffered rather than not at all.
        Err(err) => {
            install(format, std::io::stderr);
            tracing::warn!(%err, "cannot start the log flusher thread; logging unbuffered");
            None
        }
    }
}
fn install<W>(format: LogFormat, writer: W)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only on a terminal: escape codes in a log file are noise.
    let builder = fmt()
        .with_env_filter(filter)
        .with_writer(writer)
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
