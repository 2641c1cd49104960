//! The backend's settings, and how they become a database to connect to.
//!
//! The seed's manifests inject `DB_HOST`, `DB_NAME`, `DB_USERNAME` and
//! `DB_PASSWORD` from a ConfigMap and two Secrets, and the original turned
//! them into `jdbc:mysql://${DB_HOST}/${DB_NAME}`. We accept exactly those,
//! or one `DATABASE_URL` (what most Rust tooling expects), and with neither
//! we fall back to an embedded SQLite file so the service runs anywhere with
//! no setup. Passwords live in [`SecretString`]s: they are never printed by
//! `Debug`, `--help` hides their environment values, and the only place they
//! are exposed is the connection URL handed to the driver.

use std::path::PathBuf;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use service_kit::ServiceArgs;
use url::Url;

/// The backend's settings. Every one is a flag and an environment variable.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "todo-backend",
    version,
    about = "The to-do app's GraphQL backend (drop-in for the original Spring Boot service)"
)]
pub struct Config {
    #[command(flatten)]
    pub service: ServiceArgs,

    /// Full database URL: `mysql://user:password@host:3306/db` or
    /// `sqlite://path/to/file.db`. Wins over the DB_* settings.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, value_parser = secret)]
    pub database_url: Option<SecretString>,

    /// MySQL host, optionally with `:port` (the seed's ConfigMap `db-conf`
    /// holds `mysql`). Setting it selects MySQL.
    #[arg(long, env = "DB_HOST")]
    pub db_host: Option<String>,

    /// MySQL database name.
    #[arg(long, env = "DB_NAME", default_value = "to-do-app-db")]
    pub db_name: String,

    /// MySQL user name.
    #[arg(long, env = "DB_USERNAME", default_value = "root")]
    pub db_username: String,

    /// MySQL password (from a Secret; never logged).
    #[arg(long, env = "DB_PASSWORD", hide_env_values = true, value_parser = secret)]
    pub db_password: Option<SecretString>,

    /// The embedded SQLite file used when neither DATABASE_URL nor DB_HOST is
    /// set. Created if missing; its directory must be writable. The container
    /// image sets /var/lib/todo-backend/todo.db, a declared volume, because
    /// its root filesystem is read-only.
    #[arg(long, env = "SQLITE_FILE", default_value = "todo.db")]
    pub sqlite_file: PathBuf,

    /// Connections each replica keeps to the database at most. Two replicas
    /// at the default 10 use 20 of MySQL's default max_connections of 151;
    /// keep replicas x DB_POOL_SIZE well below max_connections, leaving room
    /// for a rolling update (old and new pods overlap) and for admin connections.
    #[arg(long, env = "DB_POOL_SIZE", default_value_t = 10)]
    pub db_pool_size: u32,

    /// How long a request waits for a free database connection before it
    /// fails. Short, so that a dead database gives quick errors rather than
    /// a pile of hanging requests.
    #[arg(long, env = "DB_ACQUIRE_TIMEOUT", default_value = "3s", value_parser = humantime::parse_duration)]
    pub db_acquire_timeout: Duration,
}

fn secret(raw: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(raw))
}

/// Why the database settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("DATABASE_URL is not a valid URL")]
    BadUrl,
    #[error("DATABASE_URL scheme `{0}` is not supported (use mysql:// or sqlite://)")]
    Scheme(String),
    #[error("DB_HOST `{0}` is not a valid host[:port]")]
    BadHost(String),
}

/// Which SQL dialect a database speaks; the few statements that differ
/// branch on it (see `store.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    MySql,
    Sqlite,
}

/// A database to connect to: the driver URL (which may hold a password, so
/// it stays secret) and a redacted form for logs.
#[derive(Debug, Clone)]
pub struct DbTarget {
    pub dialect: Dialect,
    pub url: SecretString,
    pub display: String,
}

impl Config {
    /// Defaults for tests: loopback on an ephemeral port, the given database.
    pub fn for_tests(database_url: &str) -> Self {
        Self {
            service: ServiceArgs::for_tests(),
            database_url: Some(SecretString::from(database_url)),
            db_host: None,
            db_name: "to-do-app-db".into(),
            db_username: "root".into(),
            db_password: None,
            sqlite_file: PathBuf::from("todo.db"),
            db_pool_size: 5,
            db_acquire_timeout: Duration::from_secs(3),
        }
    }

    /// Resolve DATABASE_URL, else DB_HOST & co., else the SQLite file.
    pub fn db_target(&self) -> Result<DbTarget, ConfigError> {
        if let Some(raw) = &self.database_url {
            let url = Url::parse(raw.expose_secret()).map_err(|_| ConfigError::BadUrl)?;
            let dialect = match url.scheme() {
                "mysql" | "mariadb" => Dialect::MySql,
                "sqlite" => Dialect::Sqlite,
                other => return Err(ConfigError::Scheme(other.to_owned())),
            };
            // sqlx only knows `mysql://`; MariaDB users often write `mariadb://`.
            let url = if url.scheme() == "mariadb" {
                SecretString::from(raw.expose_secret().replacen("mariadb://", "mysql://", 1))
            } else {
                raw.clone()
            };
            return Ok(DbTarget {
                dialect,
                display: redact(raw.expose_secret()),
                url,
            });
        }
        if let Some(host) = &self.db_host {
            // Url's setters percent-encode the user, password and database
            // name, so passwords with `@` or `/` work.
            let mut url = Url::parse(&format!("mysql://{}", host.trim()))
                .map_err(|_| ConfigError::BadHost(host.clone()))?;
            if url.host_str().is_none_or(str::is_empty)
                || url.path() != "/" && !url.path().is_empty()
            {
                return Err(ConfigError::BadHost(host.clone()));
            }
            url.set_path(&self.db_name);
            url.set_username(&self.db_username)
                .map_err(|()| ConfigError::BadHost(host.clone()))?;
            if let Some(password) = &self.db_password {
                url.set_password(Some(password.expose_secret()))
                    .map_err(|()| ConfigError::BadHost(host.clone()))?;
            }
            let full = url.to_string();
            return Ok(DbTarget {
                dialect: Dialect::MySql,
                display: redact(&full),
                url: SecretString::from(full),
            });
        }
        let file = self.sqlite_file.display().to_string();
        Ok(DbTarget {
            dialect: Dialect::Sqlite,
            // mode=rwc: create the file on first start.
            url: SecretString::from(format!("sqlite://{file}?mode=rwc")),
            display: format!("sqlite://{file}"),
        })
    }
}

/// The URL with any password replaced, for logs.
fn redact(raw: &str) -> String {
    match Url::parse(raw) {
        Ok(mut url) => {
            if url.password().is_some() {
                // Only fails for URLs that cannot have a password at all.
                let _ = url.set_password(Some("***"));
            }
            url.to_string()
        }
        Err(_) => "<unparsable url>".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_settings_become_a_mysql_url_without_leaking_the_password() {
        let mut config = Config::for_tests("");
        config.database_url = None;
        config.db_host = Some("mysql".into());
        config.db_username = "todo".into();
        config.db_password = Some(SecretString::from("example-p@ss/word"));
        let target = config.db_target().unwrap();
        assert_eq!(target.dialect, Dialect::MySql);
        assert_eq!(
            target.url.expose_secret(),
            "mysql://todo:example-p%40ss%2Fword@mysql/to-do-app-db"
        );
        assert_eq!(target.display, "mysql://todo:***@mysql/to-do-app-db");
        assert!(!format!("{config:?}").contains("example-p@ss"));
    }

    #[test]
    fn host_may_carry_a_port() {
        let mut config = Config::for_tests("");
        config.database_url = None;
        config.db_host = Some("db.example:3307".into());
        let target = config.db_target().unwrap();
        assert_eq!(
            target.url.expose_secret(),
            "mysql://root@db.example:3307/to-do-app-db"
        );
        config.db_host = Some("db/x".into());
        assert!(config.db_target().is_err());
    }

    #[test]
    fn nothing_configured_means_sqlite() {
        let mut config = Config::for_tests("");
        config.database_url = None;
        let target = config.db_target().unwrap();
        assert_eq!(target.dialect, Dialect::Sqlite);
        assert_eq!(target.display, "sqlite://todo.db");
    }

    #[test]
    fn database_url_wins_and_is_redacted() {
        let config = Config::for_tests("mariadb://u:example-secret@h:3306/d");
        let target = config.db_target().unwrap();
        assert_eq!(target.dialect, Dialect::MySql);
        assert_eq!(
            target.url.expose_secret(),
            "mysql://u:example-secret@h:3306/d"
        );
        assert_eq!(target.display, "mariadb://u:***@h:3306/d");
        assert!(Config::for_tests("postgres://x/y").db_target().is_err());
    }
}
