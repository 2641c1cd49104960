//! Reaching PostgreSQL: the classic's `db` host with user and password
//! `postgres`, or one `DATABASE_URL`.
//!
//! The variable names are the official `postgres` image's (`POSTGRES_USER`,
//! `POSTGRES_PASSWORD`, `POSTGRES_DB`), so one Secret configures the
//! database and both services that use it. The password is a
//! [`SecretString`]: `Debug` and `--help` never show it.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

/// How to reach PostgreSQL. Every setting is a flag and an environment
/// variable.
#[derive(Debug, Clone, clap::Args)]
pub struct PgArgs {
    /// Full URL, `postgres://user:password@host:5432/db`. Wins over the
    /// POSTGRES_* settings.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, value_parser = secret)]
    pub database_url: Option<SecretString>,

    /// PostgreSQL host: the Service name, as in the classic app.
    #[arg(long, env = "POSTGRES_HOST", default_value = "db")]
    pub postgres_host: String,

    /// PostgreSQL port.
    #[arg(long, env = "POSTGRES_PORT", default_value_t = 5432)]
    pub postgres_port: u16,

    /// User name (the classic's is `postgres`).
    #[arg(long, env = "POSTGRES_USER", default_value = "postgres")]
    pub postgres_user: String,

    /// Password (from a Secret; never logged). The classic's is `postgres`.
    #[arg(long, env = "POSTGRES_PASSWORD", hide_env_values = true, value_parser = secret, default_value = "postgres")]
    pub postgres_password: SecretString,

    /// Database name (the classic uses the user's default database).
    #[arg(long, env = "POSTGRES_DB", default_value = "postgres")]
    pub postgres_db: String,

    /// Connections each replica keeps at most. Both services use one at a
    /// time (one batch or one tally query per tick); two leave room for a
    /// health check beside it. Far below PostgreSQL's max_connections of 100.
    #[arg(long, env = "DB_POOL_SIZE", default_value_t = 2)]
    pub db_pool_size: u32,

    /// How long to wait for a connection before the attempt fails, so a dead
    /// database shows up quickly on /readyz and in the logs.
    #[arg(long, env = "DB_TIMEOUT", default_value = "2s", value_parser = humantime::parse_duration)]
    pub db_timeout: Duration,
}

fn secret(raw: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(raw))
}

/// DATABASE_URL is not a PostgreSQL URL.
#[derive(Debug, thiserror::Error)]
#[error("DATABASE_URL is not a valid postgres:// URL")]
pub struct BadUrl;

impl PgArgs {
    /// Settings for tests: the given URL.
    pub fn for_tests(database_url: &str) -> Self {
        Self {
            database_url: Some(SecretString::from(database_url)),
            postgres_host: "127.0.0.1".into(),
            postgres_port: 5432,
            postgres_user: "postgres".into(),
            postgres_password: SecretString::from("postgres"),
            postgres_db: "postgres".into(),
            db_pool_size: 2,
            db_timeout: Duration::from_secs(1),
        }
    }

    /// The driver's options; fails only on a malformed DATABASE_URL.
    pub fn connect_options(&self) -> Result<PgConnectOptions, BadUrl> {
        if let Some(url) = &self.database_url {
            return url.expose_secret().parse().map_err(|_| BadUrl);
        }
        Ok(PgConnectOptions::new()
            .host(&self.postgres_host)
            .port(self.postgres_port)
            .username(&self.postgres_user)
            .password(self.postgres_password.expose_secret())
            .database(&self.postgres_db))
    }

    /// Where we connect, without the password, for logs.
    pub fn display(&self) -> String {
        match &self.database_url {
            Some(url) => match url::Url::parse(url.expose_secret()) {
                Ok(mut url) => {
                    if url.password().is_some() {
                        let _ = url.set_password(Some("***"));
                    }
                    url.to_string()
                }
                Err(_) => "<unparsable url>".into(),
            },
            None => format!(
                "postgres://{}@{}:{}/{}",
                self.postgres_user, self.postgres_host, self.postgres_port, self.postgres_db
            ),
        }
    }

    /// A pool that connects lazily: the service starts (and reports itself
    /// not ready) while the database is still down, and every query after
    /// an outage gets a fresh connection.
    pub fn lazy_pool(&self) -> Result<PgPool, BadUrl> {
        Ok(PgPoolOptions::new()
            .max_connections(self.db_pool_size)
            .acquire_timeout(self.db_timeout)
            .connect_lazy_with(self.connect_options()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_never_displayed() {
        let args = PgArgs::for_tests("postgres://postgres:hunter2@db:5432/postgres");
        assert!(!args.display().contains("hunter2"), "{}", args.display());
        assert!(!format!("{args:?}").contains("hunter2"));
    }
}
