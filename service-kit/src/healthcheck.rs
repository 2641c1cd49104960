//! The `healthcheck` subcommand: `GET /readyz` on this container's own port.
//!
//! Runtime images have no shell and no curl, so compose's `healthcheck:` (and
//! anything else that can only run a command) calls the binary itself. A raw
//! HTTP/1.0 request over a socket is all it takes; no HTTP client needed.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Whether the service at `addr` answers `GET /readyz` with 200 within two
/// seconds. An unspecified address (0.0.0.0) means loopback.
pub async fn is_ready(addr: SocketAddr) -> Result<(), String> {
    let ip = if addr.ip().is_unspecified() {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        addr.ip()
    };
    let addr = SocketAddr::new(ip, addr.port());
    let check = async {
        let mut stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect {addr}: {e}"))?;
        stream
            .write_all(b"GET /readyz HTTP/1.0\r\nHost: localhost\r\n\r\n")
            .await
            .map_err(|e| format!("write: {e}"))?;
        let mut head = [0u8; 64];
        let n = stream
            .read(&mut head)
            .await
            .map_err(|e| format!("read: {e}"))?;
        let status_line = String::from_utf8_lossy(&head[..n]);
        let status = status_line
            .split_whitespace()
            .nth(1)
            .unwrap_or("?")
            .to_owned();
        if status == "200" {
            Ok(())
        } else {
            Err(format!("/readyz answered {status}"))
        }
    };
    tokio::time::timeout(Duration::from_secs(2), check)
        .await
        .unwrap_or_else(|_| Err(format!("no answer from {addr} within 2s")))
}
