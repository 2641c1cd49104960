//! Start a service in-process on 127.0.0.1:0, the way tests do.
//!
//! Every service library exposes `run(listener, config, shutdown)`; a test
//! binds an ephemeral port, hands `run` the listener and a shutdown future it
//! controls, and talks real HTTP to it. This is that dance, once.

use std::fmt::Debug;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The shutdown future handed to a service under test.
pub type Shutdown = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A service running in a background task. Dropping it aborts the task;
/// [`TestServer::stop`] shuts it down gracefully and returns its result.
#[derive(Debug)]
pub struct TestServer<E> {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), E>>,
}

impl<E: Debug + Send + 'static> TestServer<E> {
    /// Bind 127.0.0.1:0 and spawn `run(listener, shutdown)`.
    pub async fn start<F, Fut>(run: F) -> Self
    where
        F: FnOnce(TcpListener, Shutdown) -> Fut,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
    {
        #[allow(clippy::expect_used)] // test support: a failure here is the test's failure
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        #[allow(clippy::expect_used)]
        let addr = listener.local_addr().expect("local addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown: Shutdown = Box::pin(async move {
            let _ = stopped.await;
        });
        let task = tokio::spawn(run(listener, shutdown));
        Self {
            addr,
            stop: Some(stop),
            task,
        }
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Trigger the graceful shutdown and wait for `run` to return.
    pub async fn stop(mut self) -> Result<(), E> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        #[allow(clippy::expect_used)]
        (&mut self.task).await.expect("service task panicked")
    }
}

impl<E> Drop for TestServer<E> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A service binary started by a test, listening on an ephemeral port.
#[derive(Debug)]
pub struct TestProcess {
    pub child: tokio::process::Child,
    pub addr: SocketAddr,
}

impl TestProcess {
    /// Start `command` with `PORT=0` on 127.0.0.1 and JSON logs, and wait
    /// (up to 10 s) for its "listening" log line to learn the port. Letting
    /// the service pick its port avoids the race of "find a free port, then
    /// start the process" between tests running in parallel. The rest of
    /// stderr is drained in the background and discarded.
    pub async fn start(mut command: tokio::process::Command) -> Self {
        use tokio::io::{AsyncBufReadExt, BufReader};

        command
            .env("PORT", "0")
            .env("BIND_ADDR", "127.0.0.1")
            .env("LOG_FORMAT", "json")
            .env("RUST_LOG", "info")
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        #[allow(clippy::expect_used)]
        let mut child = command.spawn().expect("start the service binary");
        #[allow(clippy::expect_used)]
        let mut lines = BufReader::new(child.stderr.take().expect("piped stderr")).lines();
        let find_addr = async {
            while let Ok(Some(line)) = lines.next_line().await {
                if line.contains(r#""message":"listening""#) {
                    let addr = line
                        .split(r#""addr":""#)
                        .nth(1)
                        .and_then(|rest| rest.split('"').next());
                    if let Some(addr) = addr.and_then(|a| a.parse::<SocketAddr>().ok()) {
                        return Some(addr);
                    }
                }
            }
            None
        };
        let addr = tokio::time::timeout(std::time::Duration::from_secs(10), find_addr).await;
        let Ok(Some(addr)) = addr else {
            panic!("the service did not log its listening address within 10 s");
        };
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self { child, addr }
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

/// An address on 127.0.0.1 that had a listener a moment ago and has none
/// now: what a test hands a service as a peer that refuses connections.
#[allow(clippy::expect_used)] // test support: a failure here is the test's failure
pub async fn closed_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .await
        .and_then(|listener| listener.local_addr())
        .expect("cannot bind a loopback port")
}
