//! The homepage query, answered without the generic GraphQL executor.
//!
//! # Why a second path
//! The original frontend re-runs one query after every change it makes:
//!
//! ```graphql
//! query homePageQuery{ lists { id name position items{ id name position listId } } }
//! ```
//!
//! On a board of 10 lists x 50 items that is about 2,000 fields. The schema
//! resolves each of them as its own future, through the extension hooks,
//! into a tree of `async_graphql::Value`s (an ordered map per object), which
//! is then serialised a second time into JSON. The profile in BENCHMARKS.md
//! ("To-do backend") shows where the time went: the executor and the value
//! tree were about three quarters of the instructions, the database reads
//! under a fifth. This module skips them for that one shape of query: it
//! reads the same rows with the same two SQL statements and writes the JSON
//! straight from them.
//!
//! # What it answers, and what it leaves to the schema
//! [`Plan::for_request`] takes a request only if it is a single query, with
//! no variables, directives, fragments or arguments, that selects one
//! `lists` field and, below it, only `id`, `name`, `position`, `__typename`
//! and `items { id name position listId __typename }`, each at most once,
//! in any order, with or without aliases. That covers the homepage query as
//! the original frontend sends it (its GraphQL client adds `__typename` to
//! every selection set) and as tools type it. Everything else, including
//! every mutation, returns `None` and goes to the schema as before.
//!
//! A query the plan accepts cannot fail validation, depth or complexity
//! checks (it is three levels deep and costs at most 30), so the schema
//! would have answered it with data and no errors; that is the only answer
//! written here. If the database fails, [`Plan::answer`] gives up and the
//! caller hands the request to the schema, which reports the error as it
//! always did (a null `lists` and a GraphQL error with its location). That
//! costs a second attempt, only while the database is failing, in exchange
//! for one way of reporting errors rather than two.
//!
//! # The same bytes
//! Values are converted exactly as the schema's resolvers convert them
//! ([`crate::schema::int`] for integers, ids as decimal strings), keys come
//! out in selection order, and strings go through `serde_json`'s escaping,
//! as the schema's response does. `tests/homepage.rs` compares this path's
//! response byte for byte with the schema's on MariaDB and SQLite.
//!
//! # No cache
//! Every request reads the database. A cached board would be wrong as soon
//! as the other replica wrote to the database, and invalidating it across
//! replicas would need a channel between them; with the executor out of the
//! way, reading the board is cheap enough without one.

use async_graphql::Request;
use async_graphql::parser::types::{
    DocumentOperations, Field, OperationType, Selection, SelectionSet,
};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

use crate::schema::int;
use crate::store::{BoardRows, ItemRow, ListRow, Store, StoreError};

/// A field of `List` the plan can write.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ListField {
    Id,
    Name,
    Position,
    Typename,
    Items(Vec<(String, ItemField)>),
}

/// A field of `Item` the plan can write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ItemField {
    Id,
    Name,
    Position,
    ListId,
    Typename,
}

/// How to answer one accepted homepage-shaped query: the response key of
/// `lists`, and the response key and field of each selection below it, in
/// the order the query names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    lists_key: String,
    list_fields: Vec<(String, ListField)>,
}

/// Why [`Plan::answer`] gave up; the schema then answers the request.
#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write the JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("the database read stopped: {0}")]
    Task(#[from] tokio::task::JoinError),
}

impl Plan {
    /// The plan for `request` if this module can answer it, else `None`
    /// (see the module docs for the accepted shape).
    pub fn for_request(request: &Request) -> Option<Self> {
        // Variables and request extensions could change the answer in ways
        // only the schema knows; the frontend's homepage query has neither.
        if !request.variables.is_empty() || !request.extensions.is_empty() {
            return None;
        }
        let document = async_graphql::parser::parse_query(&request.query).ok()?;
        if !document.fragments.is_empty() {
            return None;
        }
        // Which operation runs, chosen as the schema chooses it; a request
        // the schema would refuse (an unknown operation name) is declined.
        let operation = match (&document.operations, request.operation_name.as_deref()) {
            (DocumentOperations::Single(op), None) => op,
            (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name)?,
            (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values().next()?,
            _ => return None,
        };
        let operation = &operation.node;
        if operation.ty != OperationType::Query
            || !operation.variable_definitions.is_empty()
            || !operation.directives.is_empty()
        {
            return None;
        }
        let [(lists_key, lists)] = plain_fields(&operation.selection_set.node)?[..] else {
            return None;
        };
        if lists.name.node != "lists" || lists.selection_set.node.items.is_empty() {
            return None; // another field, or `lists` without a selection set
        }
        let mut list_fields = Vec::new();
        for (key, field) in plain_fields(&lists.selection_set.node)? {
            let selected = match field.name.node.as_str() {
                "items" => ListField::Items(item_fields(field)?),
                scalar => {
                    if !field.selection_set.node.items.is_empty() {
                        return None;
                    }
                    match scalar {
                        "id" => ListField::Id,
                        "name" => ListField::Name,
                        "position" => ListField::Position,
                        "__typename" => ListField::Typename,
                        _ => return None,
                    }
                }
            };
            list_fields.push((key.to_owned(), selected));
        }
        Some(Self {
            lists_key: lists_key.to_owned(),
            list_fields,
        })
    }

    /// Read the board and write the response body the schema would have
    /// written for this query.
    pub async fn answer(&self, store: &Store) -> Result<Vec<u8>, AnswerError> {
        let with_items = self
            .list_fields
            .iter()
            .any(|(_, field)| matches!(field, ListField::Items(_)));
        // The reads run to completion in a task of their own, even when the
        // client goes away and this future is dropped. sqlx connections are
        // not cancellation-safe: a connection dropped halfway through a
        // result set goes back to the pool through a ping that can wait
        // forever, and `Store::close` then never returns (seen at the end
        // of a wrk run, when wrk cut 16 connections mid-request). The
        // schema's resolvers rarely hold a connection when a client leaves;
        // this path spends most of its time holding one.
        let reader = store.clone();
        let rows = tokio::spawn(async move { reader.board(with_items).await }).await??;
        let board = Board {
            plan: self,
            rows: &rows,
        };
        // The 10 x 50 board is about 28 KB: start big enough for it.
        let mut body = Vec::with_capacity(32 * 1024);
        serde_json::to_writer(&mut body, &Response { data: Data(&board) })?;
        Ok(body)
    }
}

/// The fields of a selection set, as (response key, field), if every
/// selection is a plain field: no fragments, no arguments, no directives,
/// and no response key twice (the schema would merge those; we decline).
fn plain_fields(set: &SelectionSet) -> Option<Vec<(&str, &Field)>> {
    let mut fields: Vec<(&str, &Field)> = Vec::with_capacity(set.items.len());
    for selection in &set.items {
        let Selection::Field(field) = &selection.node else {
            return None;
        };
        let field = &field.node;
        let key = field.response_key().node.as_str();
        if !field.arguments.is_empty()
            || !field.directives.is_empty()
            || fields.iter().any(|(seen, _)| *seen == key)
        {
            return None;
        }
        fields.push((key, field));
    }
    Some(fields)
}

/// The selections under `items`: scalars of `Item` only.
fn item_fields(items: &Field) -> Option<Vec<(String, ItemField)>> {
    let selected = plain_fields(&items.selection_set.node)?;
    if selected.is_empty() {
        return None; // `items` without a selection set is a validation error
    }
    selected
        .into_iter()
        .map(|(key, field)| {
            if !field.selection_set.node.items.is_empty() {
                return None;
            }
            let item_field = match field.name.node.as_str() {
                "id" => ItemField::Id,
                "name" => ItemField::Name,
                "position" => ItemField::Position,
                "listId" => ItemField::ListId,
                "__typename" => ItemField::Typename,
                _ => return None,
            };
            Some((key.to_owned(), item_field))
        })
        .collect()
}

// What follows writes `{"data":{"<lists>":[...]}}` with serde, object by
// object, in the plan's key order. `async_graphql::Response` serialises
// `data` first and leaves out empty `extensions` and `errors`, so a
// successful response is exactly this.

struct Response<'a> {
    data: Data<'a>,
}

impl Serialize for Response<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry("data", &self.data)?;
        map.end()
    }
}

struct Data<'a>(&'a Board<'a>);

impl Serialize for Data<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry(&self.0.plan.lists_key, self.0)?;
        map.end()
    }
}

/// The rows to write and the plan to write them by.
struct Board<'a> {
    plan: &'a Plan,
    rows: &'a BoardRows,
}

impl Serialize for Board<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let lists = &self.rows.lists;
        let mut seq = serializer.serialize_seq(Some(lists.len()))?;
        for (index, list) in lists.iter().enumerate() {
            seq.serialize_element(&ListObject {
                board: self,
                index,
                list,
            })?;
        }
        seq.end()
    }
}

struct ListObject<'a> {
    board: &'a Board<'a>,
    /// Where `list` is in the board's lists (its items are found by it).
    index: usize,
    list: &'a ListRow,
}

impl Serialize for ListObject<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let fields = &self.board.plan.list_fields;
        let list = self.list;
        let mut map = serializer.serialize_map(Some(fields.len()))?;
        for (key, field) in fields {
            match field {
                ListField::Id => map.serialize_entry(key, &DecimalString(list.id))?,
                ListField::Name => map.serialize_entry(key, &list.name)?,
                ListField::Position => map.serialize_entry(key, &list.position.and_then(int))?,
                ListField::Typename => map.serialize_entry(key, "List")?,
                ListField::Items(item_fields) => {
                    let items = self.board.rows.items(self.index);
                    map.serialize_entry(
                        key,
                        &ItemArray {
                            fields: item_fields,
                            items,
                        },
                    )?;
                }
            }
        }
        map.end()
    }
}

struct ItemArray<'a> {
    fields: &'a [(String, ItemField)],
    items: &'a [ItemRow],
}

impl Serialize for ItemArray<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.items.len()))?;
        for item in self.items {
            seq.serialize_element(&ItemObject {
                fields: self.fields,
                item,
            })?;
        }
        seq.end()
    }
}

struct ItemObject<'a> {
    fields: &'a [(String, ItemField)],
    item: &'a ItemRow,
}

impl Serialize for ItemObject<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let item = self.item;
        let mut map = serializer.serialize_map(Some(self.fields.len()))?;
        for (key, field) in self.fields {
            match field {
                ItemField::Id => map.serialize_entry(key, &DecimalString(item.id))?,
                ItemField::Name => map.serialize_entry(key, &item.name)?,
                ItemField::Position => map.serialize_entry(key, &item.position.and_then(int))?,
                ItemField::ListId => map.serialize_entry(key, &int(item.list_id))?,
                ItemField::Typename => map.serialize_entry(key, "Item")?,
            }
        }
        map.end()
    }
}

/// An `ID` as the schema writes it: the database id in decimal, as a JSON
/// string, written without allocating one.
struct DecimalString(i64);

impl Serialize for DecimalString {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(query: &str) -> Option<Plan> {
        Plan::for_request(&Request::new(query))
    }

    #[test]
    fn takes_the_homepage_query_as_the_frontends_send_it() {
        let bench = plan(
            "query homePageQuery{ lists { id name position items{ id name position listId } } }",
        )
        .unwrap();
        assert_eq!(bench.lists_key, "lists");
        assert_eq!(bench.list_fields.len(), 4);
        // Apollo adds __typename to every selection set.
        assert!(plan(
            "query homePageQuery { lists { id name position items { id name position listId __typename } __typename } }"
        )
        .is_some());
        assert!(plan("{ board: lists { n: name items { listId } } }").is_some());
    }

    #[test]
    fn leaves_everything_else_to_the_schema() {
        for query in [
            "mutation { deleteList(id: 1) }",
            "{ lists(positions: [0]) { id } }",
            "{ lists { id items(positions: [0]) { id } } }",
            "{ lists { id @include(if: true) } }",
            "query q($p:[Int]) { lists(positions: $p) { id } }",
            "{ lists { ...f } } fragment f on List { id }",
            "{ lists { ... on List { id } } }",
            "{ lists { id id } }",
            "{ lists { id } lists2: lists { id } }",
            "{ __typename lists { id } }",
            "{ lists { id unknown } }",
            "{ lists { id name { x } } }",
            "{ lists { items } }",
            "{ lists { items { id list { id } } } }",
            "{ lists }",
            "{ lists { id ",
            "query a { lists { id } } query b { lists { id } }",
        ] {
            assert_eq!(plan(query), None, "{query}");
        }
        let named = "query homePageQuery { lists { id } }";
        assert!(Plan::for_request(&Request::new(named).operation_name("homePageQuery")).is_some());
        assert!(Plan::for_request(&Request::new(named).operation_name("other")).is_none());
        let with_variables = Request::new(named).variables(async_graphql::Variables::from_json(
            serde_json::json!({"x": 1}),
        ));
        assert!(Plan::for_request(&with_variables).is_none());
    }
}
