//! The loose couplings as processes: the real `generator` and `echo`
//! binaries as separate programs, as two Deployments run them.

#![allow(clippy::unwrap_used)] // in tests, a panic is the failure report

mod support;

use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use support::{Proc, bin, numbers, until_numbers};
use tokio::process::Command;

fn generator(data_dir: &std::path::Path) -> Proc {
    let mut command = Command::new(bin("generator"));
    command
        .env_clear()
        .env("PORT", "0")
        .env("DATA_DIR", data_dir)
        .env("INTERVAL", "50ms");
    Proc::start(command)
}

fn echo(serve_dir: &std::path::Path, source_url: Option<&str>) -> Proc {
    let mut command = Command::new(bin("echo"));
    command
        .env_clear()
        .env("PORT", "0")
        .env("SERVE_DIR", serve_dir)
        .env("SOURCE_INTERVAL", "100ms");
    if let Some(url) = source_url {
        command.env("SOURCE_URL", url);
    }
    Proc::start(command)
}

#[tokio::test]
async fn over_a_service_echo_mirrors_the_generator_and_survives_its_crash() {
    let dir = tempfile::tempdir().unwrap();
    let gen_proc = generator(&dir.path().join("out"));
    let gen_addr = gen_proc.listening(1).await[0];
    let echo_proc = echo(
        &dir.path().join("in"),
        Some(&format!("http://{gen_addr}/data")),
    );
    let echo_url = format!("http://{}", echo_proc.listening(1).await[0]);
    let client = reqwest::Client::new();
    let data = format!("{echo_url}/data");

    let first = until_numbers(&client, &data, 3).await;
    let later = until_numbers(&client, &data, first.len() + 3).await;
    assert_eq!(later[..first.len()], first[..]);

    // The generator crashes: only it is gone; echo stays ready and serves
    // the last copy (in a cluster, its Deployment restarts the generator).
    kill(Pid::from_raw(gen_proc.pid()), Signal::SIGKILL).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stale = numbers(&client, &data).await;
    assert!(stale.len() >= later.len());
    let ready = client
        .get(format!("{echo_url}/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    drop(gen_proc);

    // A new generator on the same volume continues the file; echo is
    // pointed at it (a Service would keep the name stable).
    let gen_proc = generator(&dir.path().join("out"));
    let gen_addr = gen_proc.listening(1).await[0];
    let text = client
        .get(format!("http://{gen_addr}/data"))
        .send()
        .await
        .unwrap();
    let restarted: Vec<u16> = text
        .text()
        .await
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    assert_eq!(restarted[..stale.len()], stale[..], "the restart lost data");
    drop(echo_proc);
}

#[tokio::test]
async fn over_a_shared_volume_two_generators_and_an_echo() {
    let dir = tempfile::tempdir().unwrap();
    let shared = dir.path().join("pvc");
    // Two generator replicas append to the same file (ReadWriteMany): one
    // write(2) per line on O_APPEND keeps every line whole.
    let gen_a = generator(&shared);
    let gen_b = generator(&shared);
    gen_a.listening(1).await;
    gen_b.listening(1).await;
    let echo_proc = echo(&shared, None);
    let echo_url = format!("http://{}", echo_proc.listening(1).await[0]);
    let client = reqwest::Client::new();
    let data = format!("{echo_url}/data");

    let first = until_numbers(&client, &data, 10).await;
    let later = until_numbers(&client, &data, first.len() + 10).await;
    assert_eq!(later[..first.len()], first[..]);
    drop((gen_a, gen_b, echo_proc));
}
