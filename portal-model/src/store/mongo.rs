//! The MongoDB store, through the official `mongodb` driver.
//!
//! **Connecting.** Containers in a pod start in no particular order, so
//! MongoDB may not answer yet when the Model starts. [`MongoStore::connect`]
//! only parses the connection string (the driver connects lazily), and
//! [`MongoStore::wait_until_reachable`] pings with backoff in the
//! background and raises readiness on the first answer. Until then every
//! API call answers 503 at once, without waiting for the driver's timeout.
//!
//! **Losing MongoDB later.** Each operation waits at most
//! `server_selection_timeout` (`MONGO_TIMEOUT`) for a reachable server, then
//! fails; the API turns that into a 503 with a clear message and the driver
//! reconnects by itself when MongoDB is back. Readiness stays up meanwhile,
//! on purpose: this pod is the portal's only endpoint, and pulling it out of
//! the Service would replace the UI's "database unavailable" message with a
//! connection error in the browser.
//!
//! **Queries are built from typed values only.** Filter documents are
//! written here with fixed keys; user input only ever appears as a value
//! (an ObjectId, or a string), so it cannot become an operator. The one
//! place user text reaches a query operator is `$regex` for search, and
//! there every character that means something in a regex is escaped.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::TryStreamExt;
use mongodb::bson::{Document, doc};
use mongodb::error::ErrorKind;
use mongodb::options::ClientOptions;
use mongodb::{Client, Collection};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use service_kit::Readiness;

use super::{ListQuery, Page, StoreError, ToolId, backoff};
use crate::tool::{Tool, ToolFields};

/// The collection tools live in.
pub const COLLECTION: &str = "tools";

/// A tool as stored in MongoDB.
#[derive(Debug, Serialize, Deserialize)]
struct ToolDoc {
    #[serde(rename = "_id")]
    id: ToolId,
    name: String,
    url: String,
    description: String,
    tags: Vec<String>,
    /// Lower-cased name, description and tags: what search matches.
    search: String,
    /// Lower-cased name: what lists are sorted by.
    sort_key: String,
}

impl ToolDoc {
    fn new(id: ToolId, fields: ToolFields) -> Self {
        Self {
            id,
            search: fields.search_text(),
            sort_key: fields.sort_key(),
            name: fields.name,
            url: fields.url,
            description: fields.description,
            tags: fields.tags,
        }
    }

    fn into_tool(self) -> Tool {
        Tool {
            id: self.id.to_hex(),
            fields: ToolFields {
                name: self.name,
                url: self.url,
                description: self.description,
                tags: self.tags,
            },
        }
    }
}

/// Tools in a MongoDB collection. Cloning shares the client (and its
/// connection pool).
#[derive(Debug, Clone)]
pub struct MongoStore {
    client: Client,
    tools: Collection<ToolDoc>,
    database: String,
    /// Up once MongoDB has answered a ping; see the module docs.
    reachable: Arc<AtomicBool>,
}

/// Why the MongoDB store could not even be set up: a connection string the
/// driver refuses. Always a configuration mistake, so start-up fails.
#[derive(Debug, thiserror::Error)]
#[error("MONGO_URL is not a usable MongoDB connection string: {0}")]
pub struct ConfigError(#[source] mongodb::error::Error);

impl MongoStore {
    /// Parse the connection string and make a client. Does not connect.
    pub async fn connect(
        url: &SecretString,
        database: &str,
        timeout: Duration,
    ) -> Result<Self, ConfigError> {
        let mut options = ClientOptions::parse(url.expose_secret())
            .await
            .map_err(ConfigError)?;
        options.app_name = Some("portal-model".to_owned());
        options.server_selection_timeout = Some(timeout);
        options.connect_timeout = Some(timeout);
        let hosts: Vec<String> = options.hosts.iter().map(ToString::to_string).collect();
        // Only the hosts: the connection string may hold a password.
        tracing::info!(?hosts, database, timeout = ?timeout, "MongoDB client configured");
        let client = Client::with_options(options).map_err(ConfigError)?;
        let tools = client.database(database).collection(COLLECTION);
        Ok(Self {
            client,
            tools,
            database: database.to_owned(),
            reachable: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Ping MongoDB until it answers, then mark the store reachable and raise
    /// `readiness`. Runs until it succeeds; spawn it.
    pub async fn wait_until_reachable(self, readiness: Readiness) {
        let mut attempt = 0u32;
        loop {
            match self.ping().await {
                Ok(()) => {
                    tracing::info!(attempt, database = %self.database, "MongoDB is reachable; ready");
                    self.reachable.store(true, Ordering::Relaxed);
                    readiness.set(true);
                    return;
                }
                Err(err) => {
                    let wait = backoff(attempt);
                    tracing::warn!(attempt, error = %err, retry_in = ?wait, "MongoDB not reachable yet; /readyz answers 503");
                    tokio::time::sleep(wait).await;
                    attempt = attempt.saturating_add(1);
                }
            }
        }
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.client
            .database(&self.database)
            .run_command(doc! { "ping": 1 })
            .await
            .map_err(classify)?;
        Ok(())
    }

    /// Fail fast while MongoDB has never answered.
    fn check_reachable(&self) -> Result<(), StoreError> {
        if self.reachable.load(Ordering::Relaxed) {
            Ok(())
        } else {
            Err(StoreError::Unavailable(
                "not connected to MongoDB yet".to_owned(),
            ))
        }
    }

    pub(crate) async fn list(&self, query: &ListQuery) -> Result<Page, StoreError> {
        self.check_reachable()?;
        let filter = search_filter(&query.search);
        let total = self
            .tools
            .count_documents(filter.clone())
            .await
            .map_err(classify)?;
        let items: Vec<ToolDoc> = self
            .tools
            .find(filter)
            .sort(doc! { "sort_key": 1, "_id": 1 })
            .skip(query.offset)
            // The driver takes an i64; MAX_LIMIT keeps the value tiny.
            .limit(i64::try_from(query.limit).unwrap_or(i64::MAX))
            .await
            .map_err(classify)?
            .try_collect()
            .await
            .map_err(classify)?;
        Ok(Page {
            items: items.into_iter().map(ToolDoc::into_tool).collect(),
            total,
            offset: query.offset,
            limit: query.limit,
        })
    }

    pub(crate) async fn get(&self, id: ToolId) -> Result<Option<Tool>, StoreError> {
        self.check_reachable()?;
        let found = self
            .tools
            .find_one(doc! { "_id": id })
            .await
            .map_err(classify)?;
        Ok(found.map(ToolDoc::into_tool))
    }

    pub(crate) async fn create(&self, fields: ToolFields) -> Result<Tool, StoreError> {
        self.check_reachable()?;
        // The id is made here, not by the server, so the created tool can be
        // returned without reading it back.
        let doc = ToolDoc::new(ToolId::new(), fields);
        self.tools.insert_one(&doc).await.map_err(classify)?;
        Ok(doc.into_tool())
    }

    pub(crate) async fn update(
        &self,
        id: ToolId,
        fields: ToolFields,
    ) -> Result<Option<Tool>, StoreError> {
        self.check_reachable()?;
        let doc = ToolDoc::new(id, fields);
        let result = self
            .tools
            .replace_one(doc! { "_id": id }, &doc)
            .await
            .map_err(classify)?;
        Ok((result.matched_count > 0).then(|| doc.into_tool()))
    }

    pub(crate) async fn delete(&self, id: ToolId) -> Result<bool, StoreError> {
        self.check_reachable()?;
        let result = self
            .tools
            .delete_one(doc! { "_id": id })
            .await
            .map_err(classify)?;
        Ok(result.deleted_count > 0)
    }
}

/// The filter for a search: everything, or the tools whose `search` text
/// contains `search` (already lower-cased) literally.
fn search_filter(search: &str) -> Document {
    if search.is_empty() {
        doc! {}
    } else {
        doc! { "search": { "$regex": escape_regex(search) } }
    }
}

/// Escape every ASCII character that is not a letter, digit or underscore.
/// A backslash before such a character is a literal in every regex dialect
/// a MongoDB-compatible server may use (PCRE, Python's `re`), so the
/// pattern matches the text exactly, whatever the text is. Non-ASCII
/// characters are never special.
fn escape_regex(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for c in text.chars() {
        if c.is_ascii() && !c.is_ascii_alphanumeric() && c != '_' {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Sort driver errors into "MongoDB is not there" (503, retry later) and
/// everything else (500, a bug).
fn classify(err: mongodb::error::Error) -> StoreError {
    match *err.kind {
        ErrorKind::ServerSelection { .. }
        | ErrorKind::Io(_)
        | ErrorKind::ConnectionPoolCleared { .. }
        | ErrorKind::Shutdown => StoreError::Unavailable(err.to_string()),
        _ => StoreError::Mongo(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regex_metacharacters_are_escaped() {
        assert_eq!(escape_regex("abc_1"), "abc_1");
        assert_eq!(escape_regex(".*"), "\\.\\*");
        assert_eq!(escape_regex("a b"), "a\\ b");
        assert_eq!(
            escape_regex("(?i)^$|[x]{2}\\"),
            "\\(\\?i\\)\\^\\$\\|\\[x\\]\\{2\\}\\\\"
        );
        assert_eq!(escape_regex("grüße"), "grüße");
    }

    #[test]
    fn search_filter_only_uses_regex_on_the_search_field() {
        assert_eq!(search_filter(""), doc! {});
        assert_eq!(
            search_filter("{\"$gt\":\"\"}"),
            doc! { "search": { "$regex": "\\{\\\"\\$gt\\\"\\:\\\"\\\"\\}" } }
        );
    }
}
