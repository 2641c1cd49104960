//! The sender against the real relay and sink over HTTP on 127.0.0.1: the
//! whole chain in one process, and the sender binary on its own.

#![allow(clippy::unwrap_used)] // in tests, a panic is the failure report

use std::io::Write;
use std::path::Path;
use std::process::{Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use message_chain::{LogFileArgs, Upstream};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use service_kit::ServiceArgs;
use service_kit::test_server::{TestProcess, TestServer, closed_port};
use tokio::net::TcpListener;

/// What the sender under test talks to: a real relay in front of a real
/// sink, each with its log file in a fresh directory.
struct TestApp {
    dir: tempfile::TempDir,
    sink: TestServer<sink::Error>,
    relay: TestServer<relay::Error>,
}

impl TestApp {
    async fn spawn() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let sink_config = sink::Config {
            service: ServiceArgs::for_tests(),
            log: log_file(&dir.path().join("sink")),
            recent_messages: 10,
        };
        let sink = TestServer::start(|l, s| sink::run(l, sink_config, s)).await;
        let relay_config = relay::Config {
            service: ServiceArgs::for_tests(),
            // The seed's scheme-less form.
            sink_url: Upstream::parse(&format!("{}/sink.php", sink.addr)).unwrap(),
            sink_timeout: Duration::from_secs(2),
            sink_connect_timeout: Duration::from_secs(1),
            sink_idle_timeout: Duration::from_secs(2),
            log: log_file(&dir.path().join("relay")),
        };
        let relay = TestServer::start(|l, s| relay::run(l, relay_config, s)).await;
        Self { dir, sink, relay }
    }

    /// Run the sender in-process until it delivered `count` messages to
    /// the relay; returns its transcript.
    async fn send(&self, count: u64) -> String {
        let transcript = Transcript::default();
        let config = sender_config(&self.relay.url("/relay.php"), Some(count));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        tokio::time::timeout(
            Duration::from_secs(10),
            sender::run(
                listener,
                config,
                Box::new(transcript.clone()),
                std::future::pending(),
            ),
        )
        .await
        .expect("sender stops after MESSAGE_COUNT")
        .unwrap();
        transcript.text()
    }

    /// The sink's `GET /messages`.
    async fn sink_messages(&self) -> serde_json::Value {
        reqwest::get(self.sink.url("/messages"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    fn relay_log(&self) -> Vec<String> {
        lines(&self.dir.path().join("relay/Relay_127.0.0.1.txt"))
    }

    fn sink_log(&self) -> Vec<String> {
        lines(&self.dir.path().join("sink/Sink_127.0.0.1.txt"))
    }
}

/// The sender binary, started with `env` and stdout captured.
struct SenderProcess(TestProcess);

impl SenderProcess {
    async fn start(env: &[(&str, String)]) -> Self {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_sender"));
        command.env_clear().stdout(Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        Self(TestProcess::start(command).await)
    }

    /// The sender's own metric, `sender_messages_total{outcome=...}`.
    async fn sent(&self, outcome: &str) -> u64 {
        let metrics = reqwest::get(self.0.url("/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let series = format!(r#"sender_messages_total{{outcome="{outcome}"}} "#);
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(series.as_str()))
            .unwrap_or_else(|| panic!("no {series} in {metrics}"))
            .parse()
            .unwrap()
    }

    /// Send SIGTERM and wait (up to 5 s) for the process to exit.
    async fn terminate(self) -> Output {
        let child = self.0.child;
        kill(Pid::from_raw(child.id().unwrap() as i32), Signal::SIGTERM).unwrap();
        tokio::time::timeout(Duration::from_secs(5), child.wait_with_output())
            .await
            .expect("exits within 5 s of SIGTERM")
            .unwrap()
    }
}

/// A transcript the test can read back.
#[derive(Clone, Default)]
struct Transcript(Arc<Mutex<Vec<u8>>>);

impl Write for Transcript {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Transcript {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

fn log_file(dir: &Path) -> LogFileArgs {
    LogFileArgs {
        log_dir: dir.to_owned(),
        log_fsync: false,
    }
}

fn sender_config(relay_url: &str, count: Option<u64>) -> sender::Config {
    sender::Config {
        service: ServiceArgs::for_tests(),
        relay_url: Upstream::parse(relay_url).unwrap(),
        send_interval: Duration::from_millis(50),
        request_timeout: Duration::from_secs(2),
        max_backoff: Duration::from_millis(200),
        message_count: count,
    }
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn messages_flow_sender_relay_sink() {
    let app = TestApp::spawn().await;
    let text = app.send(3).await;

    let out: Vec<&str> = text.lines().collect();
    assert_eq!(out.len(), 6, "{text}");
    for pair in out.chunks(2) {
        assert!(
            pair[0].starts_with("********  Sending Message sent from 127.0.0.1 on "),
            "{}",
            pair[0]
        );
        assert!(
            pair[0].contains(" UTC "),
            "date as `date` prints it: {}",
            pair[0]
        );
        assert_eq!(pair[1], "Logged message from 127.0.0.1");
    }

    let relayed = app.relay_log();
    let sunk = app.sink_log();
    assert_eq!(relayed.len(), 3);
    assert_eq!(sunk.len(), 3);
    for (i, (r, s)) in relayed.iter().zip(&sunk).enumerate() {
        let sent = out[i * 2].trim_start_matches("********  Sending ");
        assert!(
            r.starts_with("Relaying from 127.0.0.1 at ") && r.ends_with(&format!(" : {sent}")),
            "{r}"
        );
        assert!(
            s.starts_with("From 127.0.0.1 at ") && s.ends_with(&format!(" : {sent}")),
            "{s}"
        );
    }

    // Each message had its own request id, and the sink saw them.
    let json = app.sink_messages().await;
    let ids: std::collections::HashSet<&str> = json["latest"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["request_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 3);
}

#[tokio::test]
async fn binary_keeps_going_while_the_relay_is_down_and_exits_0_on_sigterm() {
    let sender = SenderProcess::start(&[
        ("RELAY_URL", format!("{}/relay.php", closed_port().await)),
        ("SEND_INTERVAL", "100ms".into()),
        ("MAX_BACKOFF", "200ms".into()),
    ])
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let failed = sender.sent("failed").await;
    assert!(failed >= 2, "{failed}");

    let out = sender.terminate().await;
    assert!(out.status.success(), "{:?}", out.status);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("********  Sending Message sent from 127.0.0.1 on "),
        "{stdout}"
    );
    assert!(
        stdout.contains("!! not delivered: relay unreachable"),
        "{stdout}"
    );
}

#[tokio::test]
async fn binary_stops_after_message_count() {
    let app = TestApp::spawn().await;
    let out = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::process::Command::new(env!("CARGO_BIN_EXE_sender"))
            .env_clear()
            .env("PORT", "0")
            .env("BIND_ADDR", "127.0.0.1")
            .env("RELAY_URL", app.relay.url("/relay.php"))
            .env("SEND_INTERVAL", "50ms")
            .env("MESSAGE_COUNT", "2")
            .output(),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        stdout.matches("Logged message from 127.0.0.1").count(),
        2,
        "{stdout}"
    );
    assert_eq!(app.sink_log().len(), 2);
    // Structured logs went to stderr, as JSON by default.
    let stderr = String::from_utf8(out.stderr).unwrap();
    let first = stderr.lines().next().unwrap();
    let log: serde_json::Value = serde_json::from_str(first).unwrap();
    assert_eq!(log["level"], "INFO");
}

#[test]
fn help_documents_every_setting() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sender"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for env in [
        "RELAY_URL",
        "SEND_INTERVAL",
        "REQUEST_TIMEOUT",
        "MAX_BACKOFF",
        "MESSAGE_COUNT",
        "PORT",
        "POD_IP",
        "SHUTDOWN_GRACE",
        "LOG_FORMAT",
    ] {
        assert!(
            help.contains(&format!("[env: {env}")),
            "{env} missing from --help:\n{help}"
        );
    }
    // Defaults are shown next to their setting.
    let max_backoff = help
        .split("--max-backoff")
        .nth(1)
        .and_then(|rest| rest.split("\n  -").next())
        .unwrap();
    assert!(max_backoff.contains("[default: 60s]"), "{help}");
}
