//! Append-only log files whose writes are acknowledged.
//!
//! The relay and the sink write one line per message to a file, as the seed's
//! PHP does. Three promises shape this module:
//!
//! * **Lines never interleave.** The file sits behind one `std::sync::Mutex`,
//!   and every `write(2)` carries whole lines and happens under it.
//! * **The async runtime never blocks on disk for long.** A slow disk stalls
//!   the writer thread, not the runtime's workers (see "Two paths" below
//!   for the one short write a worker may make, and its bound).
//! * **An acknowledged line is in the file.** [`AppendLog::append`] returns
//!   only after the `write(2)` that carries the line has returned, so once a
//!   handler answers 200, a crash of this process loses nothing: the bytes
//!   are in the kernel's page cache and the kernel writes them out. With
//!   `fsync` on, the writer also calls `fdatasync` before acknowledging,
//!   which survives a crash of the whole machine at the cost of one disk
//!   flush per batch (off by default; the seed's PHP never flushed either).
//!
//! # Two paths to the file
//!
//! **Direct.** When no other write is in progress (`try_lock` on the file's
//! mutex succeeds), the request's own thread writes its line with one
//! `write(2)` and returns. The file is opened `O_APPEND`, so that write is a
//! copy of about a hundred bytes into the page cache: a few microseconds,
//! less than handing the line to another thread and being woken again
//! (two futex wake-ups and two context switches per message, which were
//! about a quarter of the relay's time under load). This is the same trade
//! nginx makes: its workers write access-log lines themselves.
//!
//! **Group commit.** When the mutex is taken (another line is being
//! written), the line goes to a dedicated writer thread over a bounded
//! queue, as every line used to. The writer drains everything queued since
//! its last write and writes it in one `write(2)`, so throughput grows with
//! concurrency while each line still waits for at most one write. The queue
//! is bounded ([`QUEUE_DEPTH`]): when the disk cannot keep up, handlers wait
//! for room instead of memory growing without bound. With `fsync` on, every
//! line takes this path: an `fdatasync` is a disk flush, never done on a
//! runtime worker.
//!
//! Why a worker may write, and how long it can be stuck: a page-cache write
//! blocks only when the kernel throttles a process that dirtied pages faster
//! than the disk takes them, or when the file system itself stalls. Three
//! things bound the damage. Only one thread at a time can be inside a direct
//! write (the others find the mutex taken and queue their lines, so their
//! workers go on serving). A direct write that takes longer than
//! [`SLOW_WRITE`] closes the direct path for [`SLOW_WRITE_BACKOFF`], so on a
//! stalling disk a worker is caught at most once per back-off, and every
//! other line goes through the writer thread as before. And a runtime with
//! more than one worker keeps serving on the others meanwhile.
//!
//! Lines are never held in a userspace buffer across requests: a line is
//! either written by its own request or by the writer's next `write(2)`.
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};
use std::time::{Duration, Instant};

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

/// A direct write slower than this means the disk is stalling: a
/// page-cache write of one line takes microseconds.
pub const SLOW_WRITE: Duration = Duration::from_millis(2);

/// How long the direct path stays closed after a slow write: meanwhile
/// every line goes through the writer thread.
pub const SLOW_WRITE_BACKOFF: Duration = Duration::from_secs(1);

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
    file: Arc<LogFile>,
    queue: mpsc::Sender<Pending>,
}

/// The file and what decides whether a request may write it directly.
#[derive(Debug)]
struct LogFile {
    file: Mutex<File>,
    fsync: bool,
    /// Time zero for `direct_closed_until`.
    opened: Instant,
    /// Nanoseconds after `opened` until which the direct path is closed
    /// (after a slow write); 0 while it is open.
    direct_closed_until: AtomicU64,
}

impl LogFile {
    /// The file, even if a thread panicked while holding it: a panic cannot
    /// leave a `File` in a state worse than a partly written line.
    fn lock(&self) -> MutexGuard<'_, File> {
        self.file
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The file if nobody is writing it and the direct path is open.
    fn try_direct(&self) -> Option<MutexGuard<'_, File>> {
        if self.fsync {
            return None;
        }
        let closed_until = self.direct_closed_until.load(Ordering::Relaxed);
        if closed_until != 0 && self.nanos_since_open() < closed_until {
            return None;
        }
        match self.file.try_lock() {
            Ok(file) => Some(file),
            Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        }
    }

    /// Send every line through the writer thread for [`SLOW_WRITE_BACKOFF`].
    fn close_direct_path(&self) {
        let backoff = u64::try_from(SLOW_WRITE_BACKOFF.as_nanos()).unwrap_or(u64::MAX);
        let until = self.nanos_since_open().saturating_add(backoff).max(1);
        self.direct_closed_until.store(until, Ordering::Relaxed);
    }

    fn nanos_since_open(&self) -> u64 {
        u64::try_from(self.opened.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
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
        let file = Arc::new(LogFile {
            file: Mutex::new(file),
            fsync,
            opened: Instant::now(),
            direct_closed_until: AtomicU64::new(0),
        });
        let (queue, rx) = mpsc::channel(QUEUE_DEPTH);
        let for_writer = file.clone();
        std::thread::Builder::new()
            .name("applog-writer".into())
            .spawn(move || writer(&for_writer, rx))?;
        Ok(Self {
            path: Arc::new(path),
            file,
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
        if let Some(mut file) = self.file.try_direct() {
            let started = Instant::now();
            let result = file.write_all(line.as_bytes());
            drop(file);
            let took = started.elapsed();
            if took > SLOW_WRITE {
                self.file.close_direct_path();
                tracing::warn!(
                    took_ms = took.as_secs_f64() * 1000.0,
                    "slow log file write: lines go through the writer thread for a while"
                );
            }
            return result.map_err(|err| {
                tracing::error!(%err, lines = 1, "log file write failed");
                AppendError::Io(Arc::new(err))
            });
        }
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

fn writer(file: &LogFile, mut rx: mpsc::Receiver<Pending>) {
    let mut batch: Vec<Pending> = Vec::new();
    let mut buf: Vec<u8> = Vec::new();
    // blocking_recv and a blocking lock are fine: this is our own thread,
    // not a runtime worker.
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
        let result = {
            let mut out = file.lock();
            let mut result = out.write_all(&buf);
            if result.is_ok() && file.fsync {
                result = out.sync_data();
            }
            result
        };
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
    // Nearly every message is printable ASCII with no backslash: it comes
    // out as it went in, without going character by character.
    if raw
        .iter()
        .all(|&b| (b' '..=b'~').contains(&b) && b != b'\\')
    {
        return String::from_utf8_lossy(raw).into_owned();
    }
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
        assert_eq!(escape(b" ~all printable!"), " ~all printable!");
        assert_eq!(escape(b"del\x7f"), "del\\u{7f}");
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

    // Several workers, so that appends contend for the file and both the
    // direct path and the writer thread carry lines.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
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

    // Holding the file across awaits is the point: it stands for a write in
    // progress while the runtime goes on.
    #[allow(clippy::await_holding_lock)]
    #[tokio::test]
    async fn a_line_waits_for_the_writer_while_the_file_is_taken() {
        let dir = tempfile::tempdir().unwrap();
        let log = AppendLog::open(dir.path(), "x.txt", false).unwrap();
        log.append("direct".to_owned()).await.unwrap();
        // Someone is writing: the next line must go through the writer
        // thread, which waits for the file, and be acknowledged after it.
        let taken = log.file.lock();
        let queued = tokio::spawn({
            let log = log.clone();
            async move { log.append("queued".to_owned()).await }
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!queued.is_finished(), "acknowledged before it was written");
        drop(taken);
        queued.await.unwrap().unwrap();
        let text = std::fs::read_to_string(log.path()).unwrap();
        assert_eq!(text, "direct\nqueued\n");
    }

    #[tokio::test]
    async fn after_a_slow_write_lines_go_through_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let log = AppendLog::open(dir.path(), "x.txt", false).unwrap();
        assert!(log.file.try_direct().is_some());
        log.file.close_direct_path();
        assert!(log.file.try_direct().is_none());
        log.append("still written".to_owned()).await.unwrap();
        let text = std::fs::read_to_string(log.path()).unwrap();
        assert_eq!(text, "still written\n");
    }

    #[tokio::test]
    async fn with_fsync_every_line_goes_through_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let log = AppendLog::open(dir.path(), "x.txt", true).unwrap();
        assert!(log.file.try_direct().is_none());
        log.append("synced".to_owned()).await.unwrap();
        let text = std::fs::read_to_string(log.path()).unwrap();
        assert_eq!(text, "synced\n");
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
