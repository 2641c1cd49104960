//! The in-memory store: for running the portal without MongoDB.
//!
//! A `BTreeMap` behind a std `RwLock`. A std lock (not Tokio's) is right
//! here because no lock is ever held across an `.await`: every operation is
//! a short, synchronous piece of work. Lists filter and sort the whole map
//! on every request; that is linear in the number of tools, which is fine
//! for a catalogue a team types in by hand, and keeps the semantics exactly
//! those of the MongoDB query (see the parent module).

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock};

use super::{ListQuery, Page, ToolId};
use crate::tool::{Tool, ToolFields};

#[derive(Debug, Clone)]
struct Entry {
    fields: ToolFields,
    search: String,
    sort_key: String,
}

impl Entry {
    fn new(fields: ToolFields) -> Self {
        Self {
            search: fields.search_text(),
            sort_key: fields.sort_key(),
            fields,
        }
    }
}

/// Tools in this process's memory. Cloning shares the tools.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    // A panic while holding the lock cannot leave an entry half-written (each
    // write is a single map operation), so a poisoned lock is still sound to
    // use: `PoisonError::into_inner` below.
    tools: Arc<RwLock<BTreeMap<ToolId, Entry>>>,
}

fn tool(id: ToolId, entry: &Entry) -> Tool {
    Tool {
        id: id.to_hex(),
        fields: entry.fields.clone(),
    }
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    pub(crate) fn list(&self, query: &ListQuery) -> Page {
        let tools = self.tools.read().unwrap_or_else(PoisonError::into_inner);
        let mut matching: Vec<(&ToolId, &Entry)> = tools
            .iter()
            .filter(|(_, e)| e.search.contains(&query.search))
            .collect();
        matching.sort_by(|(a_id, a), (b_id, b)| a.sort_key.cmp(&b.sort_key).then(a_id.cmp(b_id)));
        let total = matching.len() as u64;
        let items = matching
            .into_iter()
            .skip(usize::try_from(query.offset).unwrap_or(usize::MAX))
            .take(usize::try_from(query.limit).unwrap_or(usize::MAX))
            .map(|(id, e)| tool(*id, e))
            .collect();
        Page {
            items,
            total,
            offset: query.offset,
            limit: query.limit,
        }
    }

    pub(crate) fn get(&self, id: ToolId) -> Option<Tool> {
        let tools = self.tools.read().unwrap_or_else(PoisonError::into_inner);
        tools.get(&id).map(|e| tool(id, e))
    }

    pub(crate) fn create(&self, fields: ToolFields) -> Tool {
        let id = ToolId::new();
        let entry = Entry::new(fields);
        let created = tool(id, &entry);
        self.tools
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, entry);
        created
    }

    pub(crate) fn update(&self, id: ToolId, fields: ToolFields) -> Option<Tool> {
        let mut tools = self.tools.write().unwrap_or_else(PoisonError::into_inner);
        let slot = tools.get_mut(&id)?;
        *slot = Entry::new(fields);
        Some(tool(id, slot))
    }

    pub(crate) fn delete(&self, id: ToolId) -> bool {
        self.tools
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id)
            .is_some()
    }
}
