//! The GraphQL schema, name for name the original's.
//!
//! The original frontend and anything else that spoke to the Spring Boot
//! service must work unchanged, so type, field, argument and input names
//! (including the lowercase `createItemInput` and `moveItemInput`),
//! nullability and error messages are copied from its schema;
//! `tests/contract.rs` pins them.
//!
//! Three details need care:
//!
//! * The original frontend sends a list's `id`, a string such as `"2"`, where
//!   the schema says `Int`, and graphql-java coerced it; the
//!   [`NumericStrings`] extension does the same here.
//! * A resolver error nulls only its own field, as in graphql-java; see
//!   [`null_on_error`].
//! * The homepage query asks for every list with its items. The `lists`
//!   resolver looks ahead: when `items` is selected it loads the items of
//!   all returned lists in one query, so a request costs two SQL queries
//!   however many lists there are (the benchmark checks this).

use async_graphql::{
    ComplexObject, Context, EmptySubscription, ID, InputObject, Object, Schema, SimpleObject,
};

use crate::extensions::{LogErrors, NumericStrings};
use crate::store::{ItemRow, ListRow, Store, StoreError};

/// The schema type the HTTP layer executes.
pub type TodoSchema = Schema<Query, Mutation, EmptySubscription>;

/// Deepest selection accepted. The deepest useful query is three levels
/// (`lists { items { id } }`); GraphiQL's introspection query needs about a
/// dozen, so the limit sits above that and far below anything abusive.
pub const MAX_DEPTH: usize = 15;

/// Most complex query accepted (each field costs 1, `lists` costs more as it
/// is a database query). The introspection query costs about 200; the
/// homepage query 9.
pub const MAX_COMPLEXITY: usize = 500;

/// What `lists` costs in the complexity budget: each one is a database
/// round trip, so a query of 100 aliased `lists` fields is refused.
const LISTS_COST: usize = 20;

/// Build the schema around a store.
pub fn build(store: Store) -> TodoSchema {
    Schema::build(Query, Mutation, EmptySubscription)
        .data(store)
        .extension(NumericStrings)
        .extension(LogErrors)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        // The parser's own nesting limit (before depth is even checked), so
        // `{{{{...` cannot exhaust the stack.
        .limit_recursive_depth(64)
        .finish()
}

/// A stored integer as an `Int` result. Values that do not fit in 32 bits
/// (ids past 2^31) cannot be an `Int`; they show as null rather than wrong.
/// The homepage fast path ([`crate::homepage`]) converts with it too.
pub(crate) fn int(value: i64) -> Option<i32> {
    i32::try_from(value).ok()
}

/// `type List { id: ID!  name: String  position: Int  items(positions: [Int]): [Item] }`
#[derive(Debug, Clone, SimpleObject)]
#[graphql(complex, name = "List")]
pub struct List {
    id: ID,
    name: Option<String>,
    position: Option<i32>,
    #[graphql(skip)]
    db_id: i64,
    /// Items loaded together with the other lists' (see module docs).
    #[graphql(skip)]
    preloaded: Option<Vec<Item>>,
}

impl List {
    fn new(row: ListRow, preloaded: Option<Vec<Item>>) -> Self {
        Self {
            id: ID(row.id.to_string()),
            name: row.name,
            position: row.position.and_then(int),
            db_id: row.id,
            preloaded,
        }
    }
}

#[ComplexObject]
impl List {
    /// The list's live items by position; `positions` keeps only those.
    async fn items(
        &self,
        ctx: &Context<'_>,
        positions: Option<Vec<Option<i32>>>,
    ) -> Option<Vec<Option<Item>>> {
        null_on_error(
            ctx,
            async {
                let items = match &self.preloaded {
                    Some(items) => items.clone(),
                    // Not preloaded (e.g. `createList { items { id } }`): load now.
                    None => ctx
                        .data::<Store>()?
                        .items_of(&[self.db_id])
                        .await
                        .map_err(gql_error)?
                        .remove(&self.db_id)
                        .unwrap_or_default()
                        .into_iter()
                        .map(Item::from)
                        .collect(),
                };
                Ok(Some(
                    filter_positions(items, positions.as_deref(), |item| item.position)
                        .into_iter()
                        .map(Some)
                        .collect(),
                ))
            }
            .await,
        )
    }
}

/// `type Item { id: ID!  name: String  listId: Int  position: Int }`
#[derive(Debug, Clone, SimpleObject)]
#[graphql(name = "Item")]
pub struct Item {
    id: ID,
    name: Option<String>,
    list_id: Option<i32>,
    position: Option<i32>,
}

impl From<ItemRow> for Item {
    fn from(row: ItemRow) -> Self {
        Self {
            id: ID(row.id.to_string()),
            name: row.name,
            list_id: int(row.list_id),
            position: row.position.and_then(int),
        }
    }
}

/// Keep the entries whose position is in `positions` (all when absent).
fn filter_positions<T>(
    entries: Vec<T>,
    positions: Option<&[Option<i32>]>,
    position_of: impl Fn(&T) -> Option<i32>,
) -> Vec<T> {
    match positions {
        None => entries,
        Some(wanted) => entries
            .into_iter()
            .filter(|entry| position_of(entry).is_some_and(|p| wanted.contains(&Some(p))))
            .collect(),
    }
}

/// `input createItemInput { name: String  listId: Int! }`
#[derive(Debug, InputObject)]
#[graphql(name = "createItemInput")]
pub struct CreateItemInput {
    name: Option<String>,
    list_id: i32,
}

/// `input moveItemInput { listId: Int  position: Int }`
#[derive(Debug, InputObject)]
#[graphql(name = "moveItemInput")]
pub struct MoveItemInput {
    list_id: Option<i32>,
    position: Option<i32>,
}

/// The client-facing form of a store error. Messages the original sent
/// (not found, out of bounds) pass through; database failures are logged
/// here, inside the request's span, and the client gets graphql-java's
/// generic message without internals.
fn gql_error(err: StoreError) -> async_graphql::Error {
    match err {
        StoreError::Db(sqlx::Error::PoolTimedOut) => {
            tracing::warn!("no database connection available");
            async_graphql::Error::new("Database unavailable")
        }
        StoreError::Db(_) => {
            tracing::error!(error = %err, "database error");
            async_graphql::Error::new("Internal Server Error(s) while executing query")
        }
        other => async_graphql::Error::new(other.to_string()),
    }
}

/// Report a resolver's error the way graphql-java did: the field becomes
/// null and the error is listed with its path, the rest of the result
/// stands. async-graphql would otherwise propagate the error past the
/// nullable field and null the whole `data`: async-graphql issue #1272,
/// "Returning a null value for a field if its resolver fails"
/// (<https://github.com/async-graphql/async-graphql/issues/1272>), open for
/// 7.0.16. Resolvers therefore return `Option<T>` and hand their
/// `Result` to this function.
fn null_on_error<T>(ctx: &Context<'_>, result: async_graphql::Result<Option<T>>) -> Option<T> {
    result.unwrap_or_else(|err| {
        ctx.add_error(ctx.set_error_path(err.into_server_error(ctx.item.pos)));
        None
    })
}

/// An `ID` argument as a database id; anything that is not one cannot
/// name a row, so it is "not found" like an id that does not exist.
fn db_id(id: &ID, not_found: StoreError) -> Result<i64, async_graphql::Error> {
    id.trim().parse::<i64>().map_err(|_| gql_error(not_found))
}

/// `type Query`
#[derive(Debug)]
pub struct Query;

#[Object(name = "Query")]
impl Query {
    /// Live lists by position; `positions` keeps only those.
    #[graphql(complexity = "LISTS_COST + child_complexity")]
    async fn lists(
        &self,
        ctx: &Context<'_>,
        positions: Option<Vec<Option<i32>>>,
    ) -> Option<Vec<Option<List>>> {
        null_on_error(
            ctx,
            async {
                let store = ctx.data::<Store>()?;
                let rows = filter_positions(
                    store.lists().await.map_err(gql_error)?,
                    positions.as_deref(),
                    |row| row.position.and_then(int),
                );
                let mut items = if ctx.look_ahead().field("items").exists() {
                    let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
                    Some(store.items_of(&ids).await.map_err(gql_error)?)
                } else {
                    None
                };
                Ok(Some(
                    rows.into_iter()
                        .map(|row| {
                            let preloaded = items.as_mut().map(|by_list| {
                                by_list
                                    .remove(&row.id)
                                    .unwrap_or_default()
                                    .into_iter()
                                    .map(Item::from)
                                    .collect()
                            });
                            Some(List::new(row, preloaded))
                        })
                        .collect(),
                ))
            }
            .await,
        )
    }
}

/// `type Mutation`
#[derive(Debug)]
pub struct Mutation;

#[Object(name = "Mutation")]
impl Mutation {
    /// Append an item to a list.
    async fn create_item(&self, ctx: &Context<'_>, input: Option<CreateItemInput>) -> Option<Item> {
        null_on_error(
            ctx,
            async {
                let input = input.ok_or_else(|| async_graphql::Error::new("input is required"))?;
                let item = ctx
                    .data::<Store>()?
                    .create_item(i64::from(input.list_id), input.name.as_deref())
                    .await
                    .map_err(gql_error)?;
                Ok(Some(item.into()))
            }
            .await,
        )
    }

    /// Append a list to the board.
    async fn create_list(&self, ctx: &Context<'_>, name: Option<String>) -> Option<List> {
        null_on_error(
            ctx,
            async {
                let row = ctx
                    .data::<Store>()?
                    .create_list(name.as_deref())
                    .await
                    .map_err(gql_error)?;
                // A new list has no items: answer `items` without a query.
                Ok(Some(List::new(row, Some(Vec::new()))))
            }
            .await,
        )
    }

    /// Rename a list. Returns `Item` as the original's schema does (a bug no
    /// client relies on): the list's id, name and position, and a null listId.
    async fn update_list(&self, ctx: &Context<'_>, id: ID, name: Option<String>) -> Option<Item> {
        null_on_error(
            ctx,
            async {
                let id = db_id(&id, StoreError::ListNotFound)?;
                let row = ctx
                    .data::<Store>()?
                    .rename_list(id, name.as_deref())
                    .await
                    .map_err(gql_error)?;
                Ok(Some(Item {
                    id: ID(row.id.to_string()),
                    name: row.name,
                    list_id: None,
                    position: row.position.and_then(int),
                }))
            }
            .await,
        )
    }

    /// Move an item within its list or to another one.
    async fn move_item(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: Option<MoveItemInput>,
    ) -> Option<Item> {
        null_on_error(
            ctx,
            async {
                let id = db_id(&id, StoreError::ItemNotFound)?;
                let (list_id, position) = input
                    .map(|i| (i.list_id, i.position))
                    .unwrap_or((None, None));
                let item = ctx
                    .data::<Store>()?
                    .move_item(id, list_id.map(i64::from), position.map(i64::from))
                    .await
                    .map_err(gql_error)?;
                Ok(Some(item.into()))
            }
            .await,
        )
    }

    /// Soft-delete an item.
    async fn delete_item(&self, ctx: &Context<'_>, id: ID) -> Option<bool> {
        null_on_error(
            ctx,
            async {
                let id = db_id(&id, StoreError::ItemNotFound)?;
                ctx.data::<Store>()?
                    .delete_item(id)
                    .await
                    .map_err(gql_error)?;
                Ok(Some(true))
            }
            .await,
        )
    }

    /// Soft-delete a list and its items.
    async fn delete_list(&self, ctx: &Context<'_>, id: ID) -> Option<bool> {
        null_on_error(
            ctx,
            async {
                let id = db_id(&id, StoreError::ListNotFound)?;
                ctx.data::<Store>()?
                    .delete_list(id)
                    .await
                    .map_err(gql_error)?;
                Ok(Some(true))
            }
            .await,
        )
    }
}
