//! Where tools are kept: MongoDB, or this process's memory.
//!
//! The seed's pod runs MongoDB next to the Model, and that is the store in
//! a cluster (`STORE=mongo`). The in-memory store exists so that the
//! portal runs on a laptop with nothing else installed (`STORE=memory`);
//! its tools die with the process, and start-up says so loudly.
//!
//! Both stores keep the same document shape (an ObjectId id, the fields, a
//! lower-cased `search` text and `sort_key`) and answer the same queries the
//! same way: search is a case-insensitive substring match on the `search`
//! text, lists are sorted by `sort_key` then id. The API test suite runs
//! against both to keep it that way.
//!
//! [`Store`] is an enum rather than a trait object: there are exactly two
//! backends, and an enum needs no boxing of async methods.

pub mod memory;
pub mod mongo;

use std::time::Duration;

use crate::tool::{Tool, ToolFields};

pub use memory::MemoryStore;
pub use mongo::MongoStore;

/// Largest page a list request may ask for.
pub const MAX_LIMIT: u64 = 100;
/// Page size when the request does not say.
pub const DEFAULT_LIMIT: u64 = 20;
/// Furthest a list may page. Skipping is linear work in MongoDB; nobody
/// pages a tool catalogue this far, so the bound only stops abuse.
pub const MAX_OFFSET: u64 = 100_000;

/// A tool's id: a MongoDB ObjectId in both stores, so ids look the same
/// whichever store made them.
pub type ToolId = mongodb::bson::oid::ObjectId;

/// Parse an id from a URL. Anything that is not 24 hex digits names no tool.
pub fn parse_id(raw: &str) -> Option<ToolId> {
    ToolId::parse_str(raw).ok()
}

/// One list request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQuery {
    /// Lower-cased search text; empty means everything.
    pub search: String,
    pub offset: u64,
    pub limit: u64,
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Page {
    pub items: Vec<Tool>,
    /// How many tools match the search, over all pages.
    pub total: u64,
    pub offset: u64,
    pub limit: u64,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// MongoDB cannot be reached (not up yet, or lost): the client should
    /// retry later.
    #[error("MongoDB is unavailable: {0}")]
    Unavailable(String),
    /// Anything else MongoDB reported: a bug or a misconfiguration here.
    #[error("MongoDB operation failed: {0}")]
    Mongo(#[source] mongodb::error::Error),
}

/// The store in use.
#[derive(Debug, Clone)]
pub enum Store {
    Memory(MemoryStore),
    Mongo(MongoStore),
}

impl Store {
    pub async fn list(&self, query: &ListQuery) -> Result<Page, StoreError> {
        match self {
            Store::Memory(s) => Ok(s.list(query)),
            Store::Mongo(s) => s.list(query).await,
        }
    }

    pub async fn get(&self, id: ToolId) -> Result<Option<Tool>, StoreError> {
        match self {
            Store::Memory(s) => Ok(s.get(id)),
            Store::Mongo(s) => s.get(id).await,
        }
    }

    pub async fn create(&self, fields: ToolFields) -> Result<Tool, StoreError> {
        match self {
            Store::Memory(s) => Ok(s.create(fields)),
            Store::Mongo(s) => s.create(fields).await,
        }
    }

    /// Replace a tool's fields; `None` if there is no such tool.
    pub async fn update(&self, id: ToolId, fields: ToolFields) -> Result<Option<Tool>, StoreError> {
        match self {
            Store::Memory(s) => Ok(s.update(id, fields)),
            Store::Mongo(s) => s.update(id, fields).await,
        }
    }

    /// Delete a tool; `false` if there was no such tool.
    pub async fn delete(&self, id: ToolId) -> Result<bool, StoreError> {
        match self {
            Store::Memory(s) => Ok(s.delete(id)),
            Store::Mongo(s) => s.delete(id).await,
        }
    }
}

/// Backoff between connection attempts at start: quick at first (MongoDB
/// in the same pod is usually up within a second or two), then settling at
/// a few seconds so a long outage does not flood the log.
pub(crate) fn backoff(attempt: u32) -> Duration {
    let millis = 250u64.saturating_mul(1 << attempt.min(5));
    Duration::from_millis(millis.min(5_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_then_caps() {
        assert_eq!(backoff(0), Duration::from_millis(250));
        assert_eq!(backoff(1), Duration::from_millis(500));
        assert_eq!(backoff(4), Duration::from_millis(4_000));
        assert_eq!(backoff(5), Duration::from_secs(5));
        assert_eq!(backoff(50), Duration::from_secs(5));
    }

    #[test]
    fn ids_are_object_ids() {
        assert!(parse_id("65a1b2c3d4e5f60718293a4b").is_some());
        for bad in [
            "",
            "1",
            "65a1b2c3d4e5f60718293a4g",
            "{\"$gt\":\"\"}",
            "../x",
        ] {
            assert!(parse_id(bad).is_none(), "{bad}");
        }
    }
}
