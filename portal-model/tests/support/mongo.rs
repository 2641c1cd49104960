//! A real MongoDB wire-protocol server for tests: `nx-27017` from PyPI.
//!
//! No MongoDB server is packaged for the machines tests run on, so tests
//! speak to `nx-27017` (SQLite-backed, same wire protocol). It is found at
//! `NX27017_BIN`, else at `<workspace>/.venv-mongo/bin/nx-27017` (what
//! `scripts/test.sh` installs). If it is missing the tests FAIL with the
//! command to install it: a MongoDB test that skips proves nothing.
//!
//! The server runs under a tiny `sh` watchdog that holds the read end of a
//! pipe whose write end only the test process has. When the test process
//! exits, however it exits, the pipe closes and the watchdog kills the
//! server, so even the per-binary server in a `static` (never dropped) does
//! not outlive the tests.

use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// A running nx-27017 on 127.0.0.1. Stopped on drop.
#[derive(Debug)]
pub struct MongoServer {
    pub port: u16,
    watchdog: Child,
    // Closing this makes the watchdog kill the server.
    lifeline: Option<ChildStdin>,
    _dir: TempDir,
}

/// The server shared by all tests of one test binary; each test uses its
/// own database on it.
pub fn shared() -> &'static MongoServer {
    static SERVER: OnceLock<MongoServer> = OnceLock::new();
    SERVER.get_or_init(|| MongoServer::start_on(free_port()))
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("cannot find a free loopback port")
}

/// A database name no other test uses.
pub fn unique_db() -> String {
    format!(
        "portal_test_{}",
        portal_model::store::ToolId::new().to_hex()
    )
}

fn server_binary() -> PathBuf {
    let path = match std::env::var_os("NX27017_BIN") {
        Some(path) => PathBuf::from(path),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(".venv-mongo/bin/nx-27017"),
    };
    assert!(
        path.is_file(),
        "the MongoDB tests need the nx-27017 wire-protocol server, not found at {}.\n\
         Install it from the workspace root with:\n  \
         python3 -m venv .venv-mongo && .venv-mongo/bin/pip install nx-27017\n\
         or point NX27017_BIN at an nx-27017 executable.",
        path.display()
    );
    path
}

impl MongoServer {
    /// Start a server on `port` with in-memory databases (one per database
    /// name, isolated) and wait until it accepts connections.
    pub fn start_on(port: u16) -> Self {
        let binary = server_binary();
        let dir = tempfile::tempdir().expect("cannot create a temporary directory");
        let log = dir.path().join("server.log");
        // `$0 "$@" &` runs the server; the subshell waits for EOF on the
        // pipe (kept as fd 3, because a background job's stdin would be
        // /dev/null) and then kills it; `wait` makes the shell exit when the
        // server does, so a server that dies at start is noticed.
        let script = r#"exec 3<&0
"$0" "$@" 3<&- </dev/null & server=$!
( cat <&3 >/dev/null; kill "$server" 2>/dev/null ) &
wait "$server""#;
        let mut watchdog = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg(&binary)
            .args(["--data-dir", "memory", "--host", "127.0.0.1", "-p"])
            .arg(port.to_string())
            .arg("--pid-file")
            .arg(dir.path().join("server.pid"))
            .arg("--log-file")
            .arg(&log)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let lifeline = watchdog.stdin.take();

        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                break;
            }
            if let Ok(Some(status)) = watchdog.try_wait() {
                let mut stderr = String::new();
                if let Some(mut pipe) = watchdog.stderr.take() {
                    let _ = pipe.read_to_string(&mut stderr);
                }
                panic!(
                    "nx-27017 exited at start ({status}) on port {port}:\n{stderr}\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "nx-27017 did not listen on {addr} within 30s; log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Self {
            port,
            watchdog,
            lifeline,
            _dir: dir,
        }
    }

    /// The connection string.
    pub fn url(&self) -> String {
        format!("mongodb://127.0.0.1:{}", self.port)
    }

    /// Stop the server and wait until it is gone.
    pub fn stop(&mut self) {
        drop(self.lifeline.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        while !matches!(self.watchdog.try_wait(), Ok(Some(_))) {
            if Instant::now() > deadline {
                let _ = self.watchdog.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for MongoServer {
    fn drop(&mut self) {
        self.stop();
    }
}
