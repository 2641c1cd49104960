//! One `tracing` subscriber for every binary.
//!
//! `RUST_LOG` filters (default `info`); `LOG_FORMAT` picks JSON (default, for
//! clusters) or text (for terminals). Logs go to stderr so that stdout stays
//! free for what a program prints as its output (the sender's transcript).
//!
//! In a service binary ([`init_for_service`]) log lines are handed to a
//! background thread that writes them, so a request never waits for the
//! `write(2)` to stderr (which is unbuffered, and may be a slow pipe to the
//! container runtime). The returned guard flushes what is queued when `main`
//! ends, so the last lines ("drained, exiting") are not lost. If the queue
//! ever fills, callers wait rather than lines being dropped.

use std::io::IsTerminal;

use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::{EnvFilter, fmt};

use crate::LogFormat;

/// Install the global subscriber for a service binary: stderr through a
/// background writer. Keep the guard alive until the process ends.
pub fn init_for_service(format: LogFormat) -> WorkerGuard {
    // The queue's slots are allocated up front: 4096 lines is plenty of
    // slack for bursts and costs ~100 KiB, where the default (128k lines)
    // would cost a few MiB of every service's memory.
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(false)
        .buffered_lines_limit(4096)
        // The writer thread drains everything queued, then flushes: with a
        // buffer in between, a burst of lines costs one write(2), not one
        // each, and every line still leaves as soon as the queue is empty.
        .finish(std::io::BufWriter::with_capacity(
            64 * 1024,
            std::io::stderr(),
        ));
    install(format, writer);
    guard
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
