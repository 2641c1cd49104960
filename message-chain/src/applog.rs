//! Append-only log files whose writes are acknowledged.
//!
//! The relay and the sink write one line per message to a file, as the seed's
//! PHP does. Three promises shape this module:
//!
//! * **Lines never interleave.** One dedicated writer thread owns the file;
//!   requests hand it whole lines over a channel. Nothing else writes.
//! * **The async runtime never blocks on disk.** The writer is a plain OS
//!   thread, not a Tokio worker: a slow disk stalls that thread only, while
//!   request handlers just await their acknowledgement.
//! * **An acknowledged line is in the file.** [`AppendLog::append`] returns
//!   only after the `write(2)` that carries the line has returned, so once a
//!   handler answers 200, a crash of this process loses nothing: the bytes
//!   are in the kernel's page cache and the kernel writes them out. With
//!   `fsync` on, the writer also calls `fdatasync` before acknowledging,
//!   which survives a crash of the whole machine at the cost of one disk
//!   flush per batch (off by default; the seed's PHP never flushed either).
//!
//! Buffering: lines are not held in a userspace buffer across requests.
//! Under load the writer drains everything queued since its last write and
//! writes it in one `write(2)` (a "group commit"), so throughput grows with
//! concurrency while each line still waits for at most one write. The queue
//! is bounded ([`QUEUE_DEPTH`]): when the disk cannot keep up, handlers wait
//! for room instead of memory growing without bound.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

/// Where a service keeps its log file: the settings the relay and the sink
/// share, to `#[command(flatten)]` into their configs.
#[derive(Debug, Clone, clap::Args)]
pub struct LogFileArgs {
    /// Directory of the log file (`Relay_<pod-ip>.txt`, `Sink_<pod-ip>.txt`);
    /// created if missing, must be writable.
    #[arg(long, env = "LOG_DIR", default_value = "/var/local/container")]
    pub log_dir: PathBuf,

    /// Also fdatasync the log file before acknowledging a line (survives a
    /// machine crash, costs a disk flush per batch of lines).
    #[arg(long, env = "LOG_FSYNC", default_value_t = false)]
    pub log_fsync: bool,
}

impl LogFileArgs {
    /// Open `<LOG_DIR>/<prefix>_<pod_ip>.txt`, as the seed names its files.
    pub fn open(&self, prefix: &str, pod_ip: std::net::IpAddr) -> io::Result<AppendLog> {
        AppendLog::open(
            &self.log_dir,
            &format!("{prefix}_{pod_ip}.txt"),
            self.log_fsync,
        )
    }
}

/// Lines that may wait for the writer before `append` callers wait too.
pub const QUEUE_DEPTH: usize = 1024;

/// At most this many bytes go into one `write(2)`.
const MAX_BATCH_BYTES: usize = 1 << 20;

/// Why a line was not written.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    #[error("writing the log file failed: {0}")]
    Io(#[from] Arc<io::Error>),
    #[error("the log writer has stopped")]
    Stopped,
}

struct Pending {
    line: Vec<u8>,
    done: oneshot::Sender<Result<(), Arc<io::Error>>>,
}

/// A handle to an append-only log file. Cheap to clone; the writer thread
/// ends when the last handle is dropped, after writing what was queued.
#[derive(Debug, Clone)]
pub struct AppendLog {
    path: Arc<PathBuf>,
    queue: mpsc::Sender<Pending>,
}

impl AppendLog {
    /// Create `dir` if needed and open `dir/file_name` for appending. Fails
    /// here, at start-up, if the directory is unusable.
    pub fn open(dir: &Path, file_name: &str, fsync: bool) -> io::Result<Self> {
        std::fs::create_dir_all(dir)
            .map_err(|e| annotate(e, "cannot create log directory", dir))?;
        let path = dir.join(file_name);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| annotate(e, "cannot open log file for appending", &path))?;
        let (queue, rx) = mpsc::channel(QUEUE_DEPTH);
        std::thread::Builder::new()
            .name("applog-writer".into())
            .spawn(move || writer(file, rx, fsync))?;
        Ok(Self {
            path: Arc::new(path),
            queue,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append `line` and a newline; returns once it was written (see the
    /// module docs). The caller is responsible for `line` holding no newline:
    /// use [`escape`] on untrusted text.
    pub async fn append(&self, mut line: String) -> Result<(), AppendError> {
        line.push('\n');
        let (done, wait) = oneshot::channel();
        self.queue
            .send(Pending {
                line: line.into_bytes(),
                done,
            })
            .await
            .map_err(|_| AppendError::Stopped)?;
        wait.await
            .map_err(|_| AppendError::Stopped)?
            .map_err(AppendError::Io)
    }
}

fn annotate(err: io::Error, what: &str, path: &Path) -> io::Error {
    io::Error::new(err.kind(), format!("{what} {}: {err}", path.display()))
}

fn writer(mut file: File, mut rx: mpsc::Receiver<Pending>, fsync: bool) {
    let mut batch: Vec<Pending> = Vec::new();
    let mut buf: Vec<u8> = Vec::new();
    // blocking_recv is fine: this is our own thread, not a runtime worker.
    while let Some(first) = rx.blocking_recv() {
        buf.clear();
        buf.extend_from_slice(&first.line);
        batch.push(first);
        while buf.len() < MAX_BATCH_BYTES {
            match rx.try_recv() {
                Ok(next) => {
                    buf.extend_from_slice(&next.line);
                    batch.push(next);
                }
                Err(_) => break,
            }
        }
        let mut result = file.write_all(&buf);
        if result.is_ok() && fsync {
            result = file.sync_data();
        }
        let result = result.map_err(Arc::new);
        if let Err(err) = &result {
            tracing::error!(%err, lines = batch.len(), "log file write failed");
        }
        for pending in batch.drain(..) {
            // The requester may have gone away (client disconnected); the
            // line is written either way.
            let _ = pending.done.send(result.clone());
        }
    }
}

/// Make untrusted text safe for a one-line-per-record log: bytes that are not
/// UTF-8 become U+FFFD, a backslash becomes `\\`, newline, carriage return
/// and tab become `\n`, `\r`, `\t`, and every other control character
/// (including Unicode line and paragraph separators) becomes `\u{..}`. A
/// message can therefore never forge an extra line, and the escaping is
/// reversible for everything that was valid UTF-8.
pub fn escape(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_keeps_one_line() {
        assert_eq!(escape(b"plain text"), "plain text");
        assert_eq!(
            escape(b"a\nFrom 6.6.6.6 at x : forged"),
            "a\\nFrom 6.6.6.6 at x : forged"
        );
        assert_eq!(escape(b"cr\rlf\ttab\\"), "cr\\rlf\\ttab\\\\");
        assert_eq!(escape(b"bell\x07esc\x1b"), "bell\\u{7}esc\\u{1b}");
        assert_eq!(
            escape("sep\u{2028}nel\u{85}".as_bytes()),
            "sep\\u{2028}nel\\u{85}"
        );
        assert_eq!(escape(b"bad \xff\xfe utf8"), "bad \u{fffd}\u{fffd} utf8");
        assert!(!escape(b"x\ny\r\nz\x0b\x0c").contains(['\n', '\r', '\x0b', '\x0c']));
    }

    #[tokio::test]
    async fn concurrent_appends_are_whole_lines() {
        let dir = tempfile::tempdir().unwrap();
        let log = AppendLog::open(dir.path(), "x.txt", false).unwrap();
        let mut tasks = Vec::new();
        for t in 0..16 {
            let log = log.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..200 {
                    log.append(format!("task {t} line {i} {}", "x".repeat(300)))
                        .await
                        .unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        // Acknowledged means written: read without waiting for anything.
        let text = std::fs::read_to_string(log.path()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 16 * 200);
        assert!(
            lines
                .iter()
                .all(|l| l.starts_with("task ") && l.ends_with(&"x".repeat(300)))
        );
    }

    #[test]
    fn unusable_directory_fails_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not-a-dir");
        std::fs::write(&file, "").unwrap();
        let err = AppendLog::open(&file, "x.txt", false).unwrap_err();
        assert!(err.to_string().contains("not-a-dir"), "{err}");
    }
}
