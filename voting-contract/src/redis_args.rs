//! Reaching Redis: `REDIS_HOST` (the classic's Service name `redis` by
//! default), port and database number, and the list name.
//!
//! Connections are [`redis::aio::ConnectionManager`]s: one multiplexed
//! connection that reconnects by itself after Redis restarts. Its timeouts
//! are set short on purpose: with Redis gone, a request should fail within
//! about a second (and the service report itself not ready) rather than
//! hang until the client gives up.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

/// How to reach Redis. Every setting is a flag and an environment variable.
#[derive(Debug, Clone, clap::Args)]
pub struct RedisArgs {
    /// Redis host: the Service name, as in the classic app.
    #[arg(long, env = "REDIS_HOST", default_value = "redis")]
    pub redis_host: String,

    /// Redis port.
    #[arg(long, env = "REDIS_PORT", default_value_t = 6379)]
    pub redis_port: u16,

    /// Redis database number.
    #[arg(long, env = "REDIS_DB", default_value_t = 0)]
    pub redis_db: i64,

    /// The list votes travel through. Keep `votes` to work with the
    /// original services; tests use unique names.
    #[arg(long, env = "VOTES_LIST", default_value = crate::VOTES_LIST)]
    pub votes_list: String,

    /// How long to wait for Redis to accept a connection or answer a
    /// command before the attempt counts as failed.
    #[arg(long, env = "REDIS_TIMEOUT", default_value = "1s", value_parser = humantime::parse_duration)]
    pub redis_timeout: Duration,
}

impl RedisArgs {
    /// Settings for tests: Redis on 127.0.0.1:6379, the given list.
    pub fn for_tests(votes_list: &str) -> Self {
        Self {
            redis_host: "127.0.0.1".into(),
            redis_port: 6379,
            redis_db: 0,
            votes_list: votes_list.into(),
            redis_timeout: Duration::from_secs(1),
        }
    }

    /// `redis://host:port/db`, for the driver and for logs (no secrets in it).
    pub fn url(&self) -> String {
        let host = if self.redis_host.contains(':') {
            format!("[{}]", self.redis_host) // an IPv6 address
        } else {
            self.redis_host.clone()
        };
        format!("redis://{host}:{}/{}", self.redis_port, self.redis_db)
    }

    /// Open a connection manager. `extra_response_time` is added to the
    /// response timeout for connections that send blocking commands.
    pub async fn connect(
        &self,
        extra_response_time: Duration,
    ) -> Result<ConnectionManager, redis::RedisError> {
        let client = redis::Client::open(self.url())?;
        // One retry inside the manager: the callers have their own retry
        // loops with backoff, and they need to learn about an outage quickly
        // to report it on /readyz.
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(self.redis_timeout)
            .set_response_timeout(self.redis_timeout + extra_response_time)
            .set_number_of_retries(1);
        ConnectionManager::new_with_config(client, config).await
    }
}
