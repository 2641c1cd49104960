//! Settings shared by every service.
//!
//! Every setting is both a flag and an environment variable (clap's `env`),
//! so `--help` is the reference and a Kubernetes `env:` block just works.
//! Services embed [`ServiceArgs`] with `#[command(flatten)]`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line: what log collectors in a cluster expect.
    Json,
    /// Human-readable lines, for a terminal.
    Text,
}

/// Subcommands every service binary understands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Ask the service running in this container whether it is ready
    /// (`GET /readyz` on 127.0.0.1:$PORT); exit 0 if it is, 1 otherwise.
    ///
    /// Meant for container health checks: the runtime images have no shell
    /// and no curl, so the binary checks itself.
    Healthcheck,
    /// Print what this binary serves as one JSON object and exit: its name,
    /// the port it would listen on, its probe and metrics paths. The
    /// manifest checker compares the manifests with it; see
    /// `service_kit::describe`.
    Describe,
}

/// Settings every service shares.
#[derive(Debug, Clone, clap::Args)]
pub struct ServiceArgs {
    /// TCP port to listen on.
    #[arg(long, env = "PORT", default_value_t = 8080)]
    pub port: u16,

    /// Address to listen on. A specific address (say 127.0.0.21) is also used
    /// as this instance's identity where the service needs one and POD_IP is
    /// not set.
    #[arg(long = "bind", env = "BIND_ADDR", default_value_t = IpAddr::V4(Ipv4Addr::UNSPECIFIED))]
    pub bind: IpAddr,

    /// After SIGTERM, how long in-flight requests may still run before the
    /// process exits anyway. Keep it below the pod's
    /// terminationGracePeriodSeconds. Accepts `500ms`, `10s`, `1m`.
    #[arg(long, env = "SHUTDOWN_GRACE", default_value = "10s", value_parser = humantime::parse_duration)]
    pub shutdown_grace: Duration,

    /// Largest request body accepted, in bytes; larger ones get 413.
    #[arg(long, env = "MAX_BODY_BYTES", default_value_t = 64 * 1024)]
    pub max_body_bytes: usize,

    /// This instance's IP address, as Kubernetes' downward API gives it
    /// (`status.podIP`). Default: the bind address if it is a specific one,
    /// else this host's first non-loopback address (like `hostname -I`).
    #[arg(long, env = "POD_IP")]
    pub pod_ip: Option<IpAddr>,

    /// Log format. Filter with RUST_LOG (default `info`).
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Json)]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Option<Command>,
}

impl ServiceArgs {
    /// The socket address to bind.
    pub fn listen_addr(&self) -> SocketAddr {
        SocketAddr::new(self.bind, self.port)
    }

    /// This instance's identity address; see `--pod-ip`.
    pub fn pod_ip(&self) -> IpAddr {
        crate::net::pod_ip(self.pod_ip, self.bind)
    }

    /// Defaults for tests and examples: loopback, an ephemeral port.
    pub fn for_tests() -> Self {
        Self {
            port: 0,
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            shutdown_grace: Duration::from_secs(5),
            max_body_bytes: 64 * 1024,
            pod_ip: None,
            log_format: LogFormat::Text,
            command: None,
        }
    }
}
