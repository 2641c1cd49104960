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
