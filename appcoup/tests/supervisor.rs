//! The one-image coupling as a process: the real `appcoup` supervisor with
//! the real `generator` and `echo` as its children. Signals are a process
//! matter, so nothing here runs in-process.

#![allow(clippy::unwrap_used)] // in tests, a panic is the failure report

mod support;

use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use support::{Proc, bin, exists, field, until_numbers};
use tokio::process::Command;

/// Start the supervisor on ephemeral ports; return it, echo's base URL and
/// the children's pids by name.
async fn start_appcoup(dir: &std::path::Path) -> (Proc, String, Vec<(String, i32)>) {
    // Fail clearly if the children are not built.
    bin("generator");
    bin("echo");
    let mut command = Command::new(env!("CARGO_BIN_EXE_appcoup"));
    command
        .env_clear()
        .env("PORT", "0")
        .env("GENERATOR_PORT", "0")
        .env("DATA_DIR", dir.join("out"))
        .env("INTERVAL", "50ms")
        .env("STOP_TIMEOUT", "5s");
    let proc = Proc::start(command);
    let children = proc
        .wait_lines(r#""message":"started""#, 2)
        .await
        .iter()
        .map(|l| (field(l, "child"), field(l, "pid").parse().unwrap()))
        .collect();
    // Both children listen on port 0; echo is the one that lists `/`.
    let client = reqwest::Client::new();
    let mut echo = None;
    for addr in proc.listening(2).await {
        let url = format!("http://{addr}");
        if client.get(format!("{url}/")).send().await.unwrap().status() == 200 {
            echo = Some(url);
        }
    }
    (
        proc,
        echo.expect("no child answered GET / (echo)"),
        children,
    )
}

async fn exit_within(proc: &mut Proc, secs: u64) -> std::process::ExitStatus {
    match tokio::time::timeout(Duration::from_secs(secs), proc.child.wait()).await {
        Ok(status) => status.unwrap(),
        Err(_) => panic!("appcoup still running after {secs} s:\n{}", proc.log()),
    }
}

async fn serves_growing_numbers_then_stops_cleanly_on(signal: Signal) {
    let dir = tempfile::tempdir().unwrap();
    let (mut proc, echo, children) = start_appcoup(dir.path()).await;
    let client = reqwest::Client::new();
    let data = format!("{echo}/data");
    let first = until_numbers(&client, &data, 3).await;
    let later = until_numbers(&client, &data, first.len() + 3).await;
    assert_eq!(later[..first.len()], first[..]);

    kill(Pid::from_raw(proc.pid()), signal).unwrap();
    let status = exit_within(&mut proc, 10).await;
    assert!(status.success(), "{status:?}\n{}", proc.log());
    // Each child got the signal and drained (its own log line says so).
    let name = if signal == Signal::SIGTERM {
        "SIGTERM received"
    } else {
        "Ctrl-C received"
    };
    assert_eq!(proc.wait_lines(name, 2).await.len(), 2, "{}", proc.log());
    for (child, pid) in children {
        assert!(!exists(pid), "{child} ({pid}) outlived the supervisor");
    }
}

#[tokio::test]
async fn one_image_serves_growing_numbers_and_forwards_sigterm() {
    serves_growing_numbers_then_stops_cleanly_on(Signal::SIGTERM).await;
}

#[tokio::test]
async fn sigint_is_forwarded_too() {
    serves_growing_numbers_then_stops_cleanly_on(Signal::SIGINT).await;
}

#[tokio::test]
async fn a_dead_child_stops_the_other_and_exits_1_leaving_no_zombies() {
    // Become the subreaper of everything started below: a process the
    // supervisor forgot to reap, or left running, would be re-parented to
    // this test (not to init, which would hide it) and still exist.
    nix::sys::prctl::set_child_subreaper(true).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (mut proc, echo, children) = start_appcoup(dir.path()).await;
    let client = reqwest::Client::new();
    until_numbers(&client, &format!("{echo}/data"), 1).await;

    let (_, echo_pid) = children.iter().find(|(n, _)| n == "echo").unwrap();
    kill(Pid::from_raw(*echo_pid), Signal::SIGKILL).unwrap();
    let status = exit_within(&mut proc, 10).await;
    assert_eq!(status.code(), Some(1), "{}", proc.log());
    proc.wait_lines("exited on its own", 1).await;
    proc.wait_lines("killed by SIGKILL", 1).await;
    // The generator was stopped with SIGTERM, not left behind.
    proc.wait_lines("SIGTERM received", 1).await;
    for (child, pid) in children {
        assert!(
            !exists(pid),
            "{child} ({pid}) still exists: not reaped or not stopped"
        );
    }
}

#[tokio::test]
async fn a_missing_child_binary_fails_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_appcoup"));
    command
        .env_clear()
        .env("BIN_DIR", dir.path())
        .env("DATA_DIR", dir.path().join("out"));
    let mut proc = Proc::start(command);
    let status = exit_within(&mut proc, 10).await;
    assert_eq!(status.code(), Some(1));
    proc.wait_lines("cannot start generator", 1).await;
}
