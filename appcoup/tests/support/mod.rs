//! Starting the real binaries and reading their JSON logs.

#![allow(dead_code, unreachable_pub)] // each test file uses part of it

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Where `cargo test --workspace` put the binaries (next to `appcoup`).
/// `cargo test -p appcoup` alone does not build `generator` and `echo`:
/// say so instead of testing stale or missing binaries silently.
pub fn bin(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_BIN_EXE_appcoup")).parent().unwrap();
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} is not built: run `cargo test --workspace` (or `cargo build -p generator -p echo` first)",
        path.display()
    );
    path
}

/// A started binary whose stderr lines are collected.
#[derive(Debug)]
pub struct Proc {
    pub child: Child,
    pub lines: Arc<Mutex<Vec<String>>>,
}

impl Proc {
    pub fn start(mut command: Command) -> Self {
        command
            .env("BIND_ADDR", "127.0.0.1")
            .env("LOG_FORMAT", "json")
            .env("RUST_LOG", "info")
            .env("SHUTDOWN_GRACE", "2s")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        tokio::spawn({
            let lines = lines.clone();
            async move {
                let mut reader = BufReader::new(stderr).lines();
                while let Ok(Some(line)) = reader.next_line().await {
                    lines.lock().unwrap().push(line);
                }
            }
        });
        Self { child, lines }
    }

    pub fn pid(&self) -> i32 {
        self.child.id().unwrap() as i32
    }

    /// Wait (10 s at most) until `n` log lines contain `needle`; return them.
    pub async fn wait_lines(&self, needle: &str, n: usize) -> Vec<String> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let found: Vec<String> = self
                .lines
                .lock()
                .unwrap()
                .iter()
                .filter(|l| l.contains(needle))
                .cloned()
                .collect();
            if found.len() >= n {
                return found;
            }
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "fewer than {n} lines with {needle:?} in 10 s:\n{}",
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The addresses of the first `n` "listening" lines.
    pub async fn listening(&self, n: usize) -> Vec<SocketAddr> {
        self.wait_lines(r#""message":"listening""#, n)
            .await
            .iter()
            .take(n)
            .map(|l| field(l, "addr").parse().unwrap())
            .collect()
    }

    pub fn log(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }
}

/// The string value of `"name":"..."` in a JSON log line.
pub fn field(line: &str, name: &str) -> String {
    let key = format!("\"{name}\":");
    let rest = line
        .split(&key)
        .nth(1)
        .unwrap_or_else(|| panic!("no {name} in {line}"));
    rest.trim_start_matches('"')
        .split(['"', ',', '}'])
        .next()
        .unwrap()
        .to_owned()
}

/// GET `url`'s body as numbers; every line must be one in 0..=32767.
pub async fn numbers(client: &reqwest::Client, url: &str) -> Vec<u16> {
    let text = client.get(url).send().await.unwrap().text().await.unwrap();
    assert!(text.is_empty() || text.ends_with('\n'), "{text:?}");
    text.lines()
        .map(|l| {
            let n: u16 = l.parse().unwrap_or_else(|e| panic!("bad line {l:?}: {e}"));
            assert!(n <= 32767);
            n
        })
        .collect()
}

/// Poll `url` until it shows at least `n` numbers (10 s at most).
pub async fn until_numbers(client: &reqwest::Client, url: &str, n: usize) -> Vec<u16> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(res) = client.get(url).send().await {
            if res.status() == 200 {
                let got = numbers(client, url).await;
                if got.len() >= n {
                    return got;
                }
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{url}: fewer than {n} numbers in 10 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Whether process `pid` exists at all (a zombie still does).
pub fn exists(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}
