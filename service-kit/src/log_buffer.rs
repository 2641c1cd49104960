//! A buffer in front of stderr for log lines, as nginx buffers its access
//! log (`access_log ... buffer=64k flush=...`).
//!
//! Why not a writer thread per line: the access line of every request used
//! to be handed to a background thread over a channel, and when that thread
//! was idle between two requests, each line cost a futex wake-up and two
//! context switches. Under load that was a good part of a service's time.
//! Why not write on the request's thread: stderr may be a pipe to the
//! container runtime that fills up, and a request must not wait for it.
//!
//! So a line is copied into a shared buffer under a `std::sync::Mutex` (a
//! copy of a few hundred bytes; the lock is never held across I/O, so a Tokio
//! mutex would buy nothing), and one flusher thread writes the buffer to
//! stderr with one `write(2)` when it holds [`FLUSH_BYTES`], or
//! [`FLUSH_INTERVAL`] after the first line it holds arrived, whichever comes
//! first. While the flusher writes one buffer, lines fill the other. The
//! thread sleeps while there is nothing to write, so an idle service does
//! not wake up to poll.
//!
//! What a reader sees: every line whole and in order, at most
//! [`FLUSH_INTERVAL`] late. Nothing is dropped: when [`MAX_BYTES`] are
//! waiting (stderr blocked), loggers wait for room, so memory stays bounded.
//! The [`FlushGuard`] that `main` holds writes out what is left when it is
//! dropped, so the last lines ("drained, exiting") are not lost; lines logged
//! after that go straight to stderr.

use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tracing_subscriber::fmt::MakeWriter;

/// A buffer this full is written out at once.
pub(crate) const FLUSH_BYTES: usize = 64 * 1024;

/// A line waits at most this long for others to join it.
pub(crate) const FLUSH_INTERVAL: Duration = Duration::from_millis(100);

/// With this much waiting to be written, loggers wait for room.
pub(crate) const MAX_BYTES: usize = 256 * 1024;

/// The `MakeWriter` for the subscriber: each event's line is appended to
/// the buffer in one `write`.
#[derive(Debug, Clone)]
pub(crate) struct LogBuffer {
    shared: Arc<Shared>,
}

/// Writes out what is buffered and stops the flusher thread when dropped.
/// Keep it alive until the process ends.
#[derive(Debug)]
#[must_use = "dropping the guard stops buffering: keep it until main returns"]
pub struct FlushGuard {
    shared: Arc<Shared>,
    flusher: Option<JoinHandle<()>>,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    /// The flusher waits here for a first line, a full buffer, or closing.
    wake_flusher: Condvar,
    /// Loggers wait here for room when [`MAX_BYTES`] are waiting.
    room: Condvar,
}

#[derive(Debug, Default)]
struct State {
    buf: Vec<u8>,
    /// The guard was dropped: write what is left, then stop.
    closing: bool,
    /// The flusher has stopped: lines go straight to stderr.
    closed: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding the lock but an allocation failure,
        // which aborts; a poisoned buffer is still a buffer.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A buffer for stderr and the guard that flushes it.
pub(crate) fn stderr() -> io::Result<(LogBuffer, FlushGuard)> {
    let shared = Arc::new(Shared::default());
    let for_flusher = shared.clone();
    let flusher = std::thread::Builder::new()
        .name("log-flusher".into())
        .spawn(move || flush_loop(&for_flusher, &mut io::stderr()))?;
    Ok((
        LogBuffer {
            shared: shared.clone(),
        },
        FlushGuard {
            shared,
            flusher: Some(flusher),
        },
    ))
}

impl Drop for FlushGuard {
    fn drop(&mut self) {
        self.shared.lock().closing = true;
        self.shared.wake_flusher.notify_one();
        if let Some(flusher) = self.flusher.take() {
            let _ = flusher.join();
        }
    }
}

impl<'a> MakeWriter<'a> for LogBuffer {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter(&self.shared)
    }
}

/// Appends to the buffer. tracing-subscriber formats an event into one
/// string and writes it with one `write_all`, so a line is never split.
#[derive(Debug)]
pub(crate) struct LineWriter<'a>(&'a Shared);

impl Write for LineWriter<'_> {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        let shared = self.0;
        let mut state = shared.lock();
        while state.buf.len() >= MAX_BYTES && !state.closed {
            state = shared.room.wait(state).unwrap_or_else(|p| p.into_inner());
        }
        if state.closed {
            drop(state);
            io::stderr().write_all(line)?;
            return Ok(line.len());
        }
        let before = state.buf.len();
        state.buf.extend_from_slice(line);
        let after = state.buf.len();
        drop(state);
        // Wake the flusher only when it has something new to do: the first
        // line starts its interval, a full buffer ends it early.
        if before == 0 || (before < FLUSH_BYTES && after >= FLUSH_BYTES) {
            shared.wake_flusher.notify_one();
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn flush_loop(shared: &Shared, out: &mut impl Write) {
    let mut writing = Vec::new();
    loop {
        let mut state = shared.lock();
        while state.buf.is_empty() && !state.closing {
            state = shared
                .wake_flusher
                .wait(state)
                .unwrap_or_else(|p| p.into_inner());
        }
        let deadline = Instant::now() + FLUSH_INTERVAL;
        while state.buf.len() < FLUSH_BYTES && !state.closing {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            state = shared
                .wake_flusher
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        if state.closing && state.buf.is_empty() {
            state.closed = true;
            drop(state);
            shared.room.notify_all();
            let _ = out.flush();
            return;
        }
        // Swap buffers: loggers fill the empty one while this one is written.
        std::mem::swap(&mut state.buf, &mut writing);
        drop(state);
        shared.room.notify_all();
        // A failed write to stderr has nowhere to be reported; the lines are
        // dropped rather than retried forever.
        let _ = out.write_all(&writing);
        let _ = out.flush();
        writing.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sink for the flusher that tests can read.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn start() -> (LogBuffer, FlushGuard, Captured) {
        let shared = Arc::new(Shared::default());
        let captured = Captured::default();
        let (for_flusher, mut out) = (shared.clone(), captured.clone());
        let flusher = std::thread::spawn(move || flush_loop(&for_flusher, &mut out));
        let buffer = LogBuffer {
            shared: shared.clone(),
        };
        let guard = FlushGuard {
            shared,
            flusher: Some(flusher),
        };
        (buffer, guard, captured)
    }

    #[test]
    fn a_line_is_written_within_the_interval() {
        let (buffer, _guard, captured) = start();
        buffer.make_writer().write_all(b"one\n").unwrap();
        let start = Instant::now();
        while captured.0.lock().unwrap().is_empty() {
            assert!(start.elapsed() < Duration::from_secs(5), "never flushed");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(&*captured.0.lock().unwrap(), b"one\n");
    }

    #[test]
    fn dropping_the_guard_writes_everything_whole_and_in_order() {
        let (buffer, guard, captured) = start();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let buffer = buffer.clone();
                std::thread::spawn(move || {
                    for i in 0..5000 {
                        let line = format!("thread {t} line {i:05} {}\n", "x".repeat(100));
                        buffer.make_writer().write_all(line.as_bytes()).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        drop(guard);
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4 * 5000);
        for t in 0..4 {
            let prefix = format!("thread {t} line ");
            let mine: Vec<&str> = lines
                .iter()
                .filter(|l| l.starts_with(&prefix))
                .copied()
                .collect();
            let expected: Vec<String> = (0..5000)
                .map(|i| format!("thread {t} line {i:05} {}", "x".repeat(100)))
                .collect();
            assert_eq!(mine, expected);
        }
        // After the guard, lines bypass the buffer instead of being lost.
        assert!(buffer.shared.lock().closed);
    }
}
