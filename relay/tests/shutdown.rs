//! SIGTERM while a request is in flight: the request completes, the process
//! exits 0. Runs the real binary, because signals are a process matter.

#![allow(clippy::unwrap_used)] // in tests, a panic is the failure report

use std::process::Stdio;
use std::time::Duration;

use axum::Router;
use axum::routing::post;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use service_kit::test_server::TestProcess;
use tokio::net::TcpListener;

#[tokio::test]
async fn sigterm_drains_the_request_in_flight_and_exits_0() {
    // A sink that takes a second to answer.
    let sink = Router::new().route(
        "/sink.php",
        post(|| async {
            tokio::time::sleep(Duration::from_millis(1000)).await;
            "Logged message from somewhere"
        }),
    );
    let sink_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sink_addr = sink_listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(sink_listener, sink).await });

    let dir = tempfile::tempdir().unwrap();
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_relay"));
    command
        .env_clear()
        .env("SINK_URL", format!("{sink_addr}/sink.php"))
        .env("LOG_DIR", dir.path())
        .env("SHUTDOWN_GRACE", "5s")
        .stdout(Stdio::null());
    let TestProcess { mut child, addr } = TestProcess::start(command).await;
    let client = reqwest::Client::new();
    let base = format!("http://{addr}");

    let in_flight = tokio::spawn({
        let client = client.clone();
        let base = base.clone();
        async move {
            client
                .post(format!("{base}/relay.php"))
                .body("draining")
                .send()
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    kill(Pid::from_raw(child.id().unwrap() as i32), Signal::SIGTERM).unwrap();

    let res = in_flight.await.unwrap().unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "Logged message from somewhere");
    let status = tokio::time::timeout(Duration::from_secs(5), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");
    // And it no longer accepts connections.
    assert!(client.get(format!("{base}/healthz")).send().await.is_err());
}
