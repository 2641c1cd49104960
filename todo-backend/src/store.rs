//! The to-do board in SQL: lists and items with contiguous positions.
//!
//! # One code path for MySQL and SQLite
//! We use sqlx's `Any` driver rather than a trait with a MySQL and a SQLite
//! implementation. The statements are plain SQL with `?` placeholders that
//! both dialects accept, and the columns are integers and strings, which
//! `Any` carries without loss; only the migrations and the way a write
//! transaction starts differ (see [`Store::begin_write`]). Two copies of
//! every query would be two places for the position arithmetic to drift.
//!
//! # Why positions stay contiguous with two replicas
//! The original guarded position updates with a JVM `synchronized`, which
//! does nothing across its two pods: two concurrent "create item" requests
//! on different replicas could both read "3 items" and both insert position
//! 3. Here every change runs in one database transaction that first locks
//! what the positions hang off:
//!
//! * item changes lock their parent `LIST_ENTITY` row (both rows, in id
//!   order, for a move between lists) with `SELECT ... FOR UPDATE`;
//! * list changes lock the single `BOARD_LOCK` row (migration 0002), then
//!   the list row itself when deleting.
//!
//! Locks are always taken in the order board, then lists by ascending id,
//! so two transactions cannot wait on each other in a cycle. MySQL sessions
//! run at READ COMMITTED (set on connect): once a transaction holds the
//! parent lock, its plain reads see everything committed before it, and
//! InnoDB takes no gap locks on the ITEM index, which under the default
//! REPEATABLE READ make inserts into neighbouring lists deadlock.
//!
//! SQLite has no row locks; a write transaction there starts with
//! `BEGIN IMMEDIATE`, which takes the file's single write lock up front
//! (waiting up to the busy timeout), so it serializes the same way.
//!
//! # Counting statements
//! Every statement sent to the database increments the
//! `todo_sql_queries_total` counter, which the benchmark divides by the
//! number of requests. The count is kept in one place: statements are built
//! only by [`Store::sql`], [`Store::sql_as`] and [`Store::sql_scalar`]
//! (which count them), and transactions only start and end in
//! [`Store::begin_write`] and [`Store::commit`]. `clippy.toml` in this crate
//! forbids calling `sqlx::query*` anywhere else, so a new statement cannot
//! forget the counter.

use std::collections::HashMap;
use std::ops::Range;
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use secrecy::ExposeSecret;
use sqlx::any::{AnyArguments, AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::query::{Query, QueryAs, QueryScalar};
use sqlx::{Any, AnyConnection, AnyPool, Executor, FromRow, Row, Transaction};

use crate::config::{DbTarget, Dialect};

/// Longest name the `VARCHAR(255)` columns hold (MySQL counts characters).
pub const MAX_NAME_CHARS: usize = 255;

/// What can go wrong in the store while serving a request. The first four
/// are the client's doing and become GraphQL errors with the original's
/// messages. (A failed migration is a start-up matter: [`Store::migrate`]
/// has its own error.)
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("Item Not Found")]
    ItemNotFound,
    #[error("List Not Found")]
    ListNotFound,
    #[error("Requested Position out of bounds")]
    PositionOutOfBounds,
    #[error("Name is longer than {MAX_NAME_CHARS} characters")]
    NameTooLong,
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
}

/// A live list as stored: the columns of [`LIST_COLUMNS`], read by
/// position (see "Reading rows" below).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListRow {
    pub id: i64,
    pub name: Option<String>,
    pub position: Option<i64>,
}

/// A live item as stored: the columns of [`ITEM_COLUMNS`], read by position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemRow {
    pub id: i64,
    pub name: Option<String>,
    pub position: Option<i64>,
    pub list_id: i64,
}

// # Reading rows
// By position, not by name. `Any` finds a column by name by hashing the
// name, for every value of every row: on the homepage's 10 x 50 board that
// made reading the rows 0.65 M of the request's 3.85 M instructions, by
// position 0.37 M (callgrind, see BENCHMARKS.md, "To-do backend"). Every
// statement that reads these rows names its columns through the two
// constants below, so the positions are written down in one place each.

const LIST_COLUMNS: &str = "ID, NAME, POSITION";
const ITEM_COLUMNS: &str = "ID, NAME, POSITION, LIST_ID";

impl FromRow<'_, AnyRow> for ListRow {
    fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            id: row.try_get(0)?,
            name: row.try_get(1)?,
            position: row.try_get(2)?,
        })
    }
}

impl FromRow<'_, AnyRow> for ItemRow {
    fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            id: row.try_get(0)?,
            name: row.try_get(1)?,
            position: row.try_get(2)?,
            list_id: row.try_get(3)?,
        })
    }
}

/// The board as [`Store::board`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoardRows {
    /// Live lists by position.
    pub lists: Vec<ListRow>,
    /// The live items of all the lists, by list id, then position: the
    /// items statement's own order, kept as it arrives (no map, no Vec per
    /// list).
    items: Vec<ItemRow>,
    /// `items[spans[i]]` are the items of `lists[i]` (no spans when items
    /// were not asked for: every list then has none).
    spans: Vec<Range<usize>>,
}

impl BoardRows {
    /// The live items of `lists[index]`, by position.
    pub fn items(&self, index: usize) -> &[ItemRow] {
        self.spans
            .get(index)
            .map_or(&[][..], |span| &self.items[span.clone()])
    }
}

/// The database behind the board. Cheap to clone (the pool is shared).
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    dialect: Dialect,
    queries: Counter,
}

static MYSQL_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/mysql");
static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

fn check_name(name: Option<&str>) -> Result<(), StoreError> {
    match name {
        Some(name) if name.chars().count() > MAX_NAME_CHARS => Err(StoreError::NameTooLong),
        _ => Ok(()),
    }
}

impl Store {
    /// A pool that connects on first use, so the service starts (and
    /// answers its probes) while the database is still down.
    pub fn connect_lazy(
        target: &DbTarget,
        pool_size: u32,
        acquire_timeout: Duration,
        queries: Counter,
    ) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let options: AnyConnectOptions = target.url.expose_secret().parse()?;
        let dialect = target.dialect;
        let pool = AnyPoolOptions::new()
            .max_connections(pool_size.max(1))
            .acquire_timeout(acquire_timeout)
            // Connections die when the database restarts; checking each one
            // before use (the default, spelled out) is what lets the pool
            // recover without restarting the backend.
            .test_before_acquire(true)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if dialect == Dialect::MySql {
                        // See the module docs: no gap locks, fresh reads
                        // once the parent row is locked.
                        conn.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect_lazy_with(options);
        Ok(Self {
            pool,
            dialect,
            queries,
        })
    }

    /// A statement; see "Counting statements" in the module docs.
    #[allow(clippy::disallowed_methods)] // the one place that may
    fn sql<'q>(&self, sql: &'q str) -> Query<'q, Any, AnyArguments<'q>> {
        self.queries.inc();
        sqlx::query(sql)
    }

    /// A statement whose rows are read into `T`.
    #[allow(clippy::disallowed_methods)] // the one place that may
    fn sql_as<'q, T>(&self, sql: &'q str) -> QueryAs<'q, Any, T, AnyArguments<'q>>
    where
        T: for<'r> FromRow<'r, AnyRow>,
    {
        self.queries.inc();
        sqlx::query_as(sql)
    }

    /// A statement whose one column is the answer (`COUNT(*)`, an id).
    #[allow(clippy::disallowed_methods)] // the one place that may
    fn sql_scalar<'q, T>(&self, sql: &'q str) -> QueryScalar<'q, Any, T, AnyArguments<'q>>
    where
        (T,): for<'r> FromRow<'r, AnyRow>,
    {
        self.queries.inc();
        sqlx::query_scalar(sql)
    }

    /// Answer `SELECT 1`: is the database reachable right now?
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.sql("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Apply the embedded migrations. MySQL's migrator takes a named lock,
    /// so two replicas starting together do not both run them.
    pub async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError> {
        let migrator = match self.dialect {
            Dialect::MySql => &MYSQL_MIGRATIONS,
            Dialect::Sqlite => &SQLITE_MIGRATIONS,
        };
        migrator.run(&self.pool).await?;
        Ok(())
    }

    /// Close every connection (at shutdown).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Start a transaction that will change positions; see the module docs.
    async fn begin_write(&self) -> Result<Transaction<'static, Any>, StoreError> {
        self.queries.inc();
        let tx = match self.dialect {
            Dialect::MySql => self.pool.begin().await?,
            Dialect::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
        };
        Ok(tx)
    }

    async fn commit(&self, tx: Transaction<'static, Any>) -> Result<(), StoreError> {
        self.queries.inc();
        tx.commit().await?;
        Ok(())
    }

    /// ` FOR UPDATE` where row locks exist; SQLite already holds the whole
    /// database's write lock inside a write transaction.
    fn for_update(&self) -> &'static str {
        match self.dialect {
            Dialect::MySql => " FOR UPDATE",
            Dialect::Sqlite => "",
        }
    }

    /// Live lists by position.
    pub async fn lists(&self) -> Result<Vec<ListRow>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        self.lists_on(&mut conn).await
    }

    /// Live items of the given lists, by position, in one query per 500
    /// lists (the homepage costs two queries however many lists there are).
    pub async fn items_of(
        &self,
        list_ids: &[i64],
    ) -> Result<HashMap<i64, Vec<ItemRow>>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        self.items_on(&mut conn, list_ids).await
    }

    /// The whole board: live lists by position and, if `with_items`, their
    /// live items, as [`Store::lists`] and [`Store::items_of`] read them but
    /// on one connection. Each connection taken from the pool is checked
    /// first (a round trip, see [`Store::connect_lazy`]), so one connection
    /// for both statements saves a round trip per homepage request.
    pub async fn board(&self, with_items: bool) -> Result<BoardRows, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let lists = self.lists_on(&mut conn).await?;
        if !with_items {
            return Ok(BoardRows {
                lists,
                items: Vec::new(),
                spans: Vec::new(),
            });
        }
        let ids: Vec<i64> = lists.iter().map(|list| list.id).collect();
        let items = self.items_by_list_id(&mut conn, ids).await?;
        // `items` is sorted by list id, so each list's items are one run of
        // it: find its ends by binary search rather than grouping into a map.
        let spans = lists
            .iter()
            .map(|list| {
                let start = items.partition_point(|item| item.list_id < list.id);
                let end = items.partition_point(|item| item.list_id <= list.id);
                start..end
            })
            .collect();
        Ok(BoardRows {
            lists,
            items,
            spans,
        })
    }

    async fn lists_on(&self, conn: &mut AnyConnection) -> Result<Vec<ListRow>, StoreError> {
        let rows = self
            .sql_as(&format!(
                "SELECT {LIST_COLUMNS} FROM LIST_ENTITY WHERE DELETED = 0 ORDER BY POSITION, ID"
            ))
            .fetch_all(&mut *conn)
            .await?;
        Ok(rows)
    }

    async fn items_on(
        &self,
        conn: &mut AnyConnection,
        list_ids: &[i64],
    ) -> Result<HashMap<i64, Vec<ItemRow>>, StoreError> {
        let mut by_list: HashMap<i64, Vec<ItemRow>> =
            list_ids.iter().map(|&id| (id, Vec::new())).collect();
        for item in self.items_by_list_id(conn, list_ids.to_vec()).await? {
            by_list.entry(item.list_id).or_default().push(item);
        }
        Ok(by_list)
    }

    /// Live items of the given lists, sorted by list id, then position, in
    /// one statement per 500 lists. The ids are sorted first so that the
    /// chunks, each in list id order, follow each other in that order too.
    async fn items_by_list_id(
        &self,
        conn: &mut AnyConnection,
        mut list_ids: Vec<i64>,
    ) -> Result<Vec<ItemRow>, StoreError> {
        list_ids.sort_unstable();
        let mut items = Vec::new();
        // Placeholder counts are limited (SQLite: 32766); chunk to stay far below.
        for chunk in list_ids.chunks(500) {
            let placeholders = vec!["?"; chunk.len()].join(", ");
            // Migration 0003's index serves this statement in this order,
            // without a sort.
            let sql = format!(
                "SELECT {ITEM_COLUMNS} FROM ITEM WHERE DELETED = 0 AND LIST_ID IN ({placeholders}) \
                 ORDER BY LIST_ID, POSITION, ID"
            );
            let mut query = self.sql_as::<ItemRow>(&sql);
            for id in chunk {
                query = query.bind(*id);
            }
            let rows = query.fetch_all(&mut *conn).await?;
            // One chunk is the usual case: keep its Vec rather than copy it.
            if items.is_empty() {
                items = rows;
            } else {
                items.extend(rows);
            }
        }
        Ok(items)
    }

    /// Append a list at the end of the board.
    pub async fn create_list(&self, name: Option<&str>) -> Result<ListRow, StoreError> {
        check_name(name)?;
        let mut tx = self.begin_write().await?;
        self.lock_board(&mut tx).await?;
        let position = self.count_lists(&mut tx).await?;
        let done = self
            .sql(
                "INSERT INTO LIST_ENTITY (NAME, POSITION, DELETED, CREATED_ON, MODIFIED_ON) \
             VALUES (?, ?, 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
            )
            .bind(name)
            .bind(position)
            .execute(&mut *tx)
            .await?;
        let id = self.inserted_id(&mut tx, done.last_insert_id()).await?;
        self.commit(tx).await?;
        Ok(ListRow {
            id,
            name: name.map(str::to_owned),
            position: Some(position),
        })
    }

    /// Rename a live list.
    pub async fn rename_list(&self, id: i64, name: Option<&str>) -> Result<ListRow, StoreError> {
        check_name(name)?;
        let mut tx = self.begin_write().await?;
        let list = self.lock_list(&mut tx, id).await?;
        self.sql("UPDATE LIST_ENTITY SET NAME = ?, MODIFIED_ON = CURRENT_TIMESTAMP WHERE ID = ?")
            .bind(name)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        self.commit(tx).await?;
        Ok(ListRow {
            name: name.map(str::to_owned),
            ..list
        })
    }

    /// Soft-delete a list and its items; later lists move up by one.
    pub async fn delete_list(&self, id: i64) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        self.lock_board(&mut tx).await?;
        let list = self.lock_list(&mut tx, id).await?;
        self.sql(
            "UPDATE ITEM SET DELETED = 1, MODIFIED_ON = CURRENT_TIMESTAMP \
             WHERE LIST_ID = ? AND DELETED = 0",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        self.sql(
            "UPDATE LIST_ENTITY SET DELETED = 1, MODIFIED_ON = CURRENT_TIMESTAMP WHERE ID = ?",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if let Some(position) = list.position {
            self.sql(
                "UPDATE LIST_ENTITY SET POSITION = POSITION - 1 \
                 WHERE DELETED = 0 AND POSITION > ?",
            )
            .bind(position)
            .execute(&mut *tx)
            .await?;
        }
        self.commit(tx).await
    }

    /// Append an item to a live list.
    pub async fn create_item(
        &self,
        list_id: i64,
        name: Option<&str>,
    ) -> Result<ItemRow, StoreError> {
        check_name(name)?;
        let mut tx = self.begin_write().await?;
        self.lock_list(&mut tx, list_id).await?;
        let position = self.count_items(&mut tx, list_id).await?;
        let done = self
            .sql(
                "INSERT INTO ITEM (NAME, POSITION, LIST_ID, DELETED, CREATED_ON, MODIFIED_ON) \
             VALUES (?, ?, ?, 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
            )
            .bind(name)
            .bind(position)
            .bind(list_id)
            .execute(&mut *tx)
            .await?;
        let id = self.inserted_id(&mut tx, done.last_insert_id()).await?;
        self.commit(tx).await?;
        Ok(ItemRow {
            id,
            name: name.map(str::to_owned),
            position: Some(position),
            list_id,
        })
    }

    /// Soft-delete an item; later items of its list move up by one.
    pub async fn delete_item(&self, id: i64) -> Result<(), StoreError> {
        loop {
            // Which list to lock is only known by reading the item, and it
            // may move between that read and the lock: re-check under the
            // lock and start over if it did.
            let seen = self.live_item(id).await?;
            let mut tx = self.begin_write().await?;
            self.lock_list(&mut tx, seen.list_id).await?;
            let item = self.live_item_in(&mut tx, id).await?;
            if item.list_id != seen.list_id {
                continue; // dropping tx rolls it back
            }
            self.sql("UPDATE ITEM SET DELETED = 1, MODIFIED_ON = CURRENT_TIMESTAMP WHERE ID = ?")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            if let Some(position) = item.position {
                self.sql(
                    "UPDATE ITEM SET POSITION = POSITION - 1 \
                     WHERE LIST_ID = ? AND DELETED = 0 AND POSITION > ?",
                )
                .bind(item.list_id)
                .bind(position)
                .execute(&mut *tx)
                .await?;
            }
            return self.commit(tx).await;
        }
    }

    /// Move an item to `position` in list `to_list` (default: its own list;
    /// default position: the end).
    ///
    /// As in the original, `position` may range over 0..=n where n is the
    /// number of live items in the target list. Within the item's own list n
    /// counts the item itself, so n means "last" (n - 1): the original wrote
    /// n there and left a gap, which is the bug this fixes.
    pub async fn move_item(
        &self,
        id: i64,
        to_list: Option<i64>,
        position: Option<i64>,
    ) -> Result<ItemRow, StoreError> {
        loop {
            let seen = self.live_item(id).await?;
            let from = seen.list_id;
            let to = to_list.unwrap_or(from);
            let mut tx = self.begin_write().await?;
            // Both lists, in id order (one statement locks them in index
            // order): the target must exist and be live.
            let locked = self.lock_lists(&mut tx, from, to).await?;
            if !locked.contains(&to) {
                return Err(StoreError::ListNotFound);
            }
            let item = self.live_item_in(&mut tx, id).await?;
            if item.list_id != from || !locked.contains(&from) {
                continue; // moved meanwhile (or its list went away): retry
            }
            let count = self.count_items(&mut tx, to).await?;
            let requested = position.unwrap_or(count);
            if requested < 0 || requested > count {
                return Err(StoreError::PositionOutOfBounds);
            }
            let old = item.position.unwrap_or(count);
            let new = if to == from {
                requested.min(count - 1)
            } else {
                requested
            };
            if to == from {
                // Close the gap at `old` and open one at `new` in one go.
                if new < old {
                    self.shift(&mut tx, to, 1, new, old).await?;
                } else if new > old {
                    self.shift(&mut tx, to, -1, old + 1, new + 1).await?;
                }
            } else {
                self.shift(&mut tx, from, -1, old + 1, i64::MAX).await?;
                self.shift(&mut tx, to, 1, new, i64::MAX).await?;
            }
            self.sql(
                "UPDATE ITEM SET LIST_ID = ?, POSITION = ?, MODIFIED_ON = CURRENT_TIMESTAMP \
                 WHERE ID = ?",
            )
            .bind(to)
            .bind(new)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            self.commit(tx).await?;
            return Ok(ItemRow {
                list_id: to,
                position: Some(new),
                ..item
            });
        }
    }

    /// Add `delta` to the positions in `from..to` of the live items of `list`.
    async fn shift(
        &self,
        tx: &mut Transaction<'static, Any>,
        list: i64,
        delta: i64,
        from: i64,
        to: i64,
    ) -> Result<(), StoreError> {
        self.sql(
            "UPDATE ITEM SET POSITION = POSITION + ? \
             WHERE LIST_ID = ? AND DELETED = 0 AND POSITION >= ? AND POSITION < ?",
        )
        .bind(delta)
        .bind(list)
        .bind(from)
        .bind(to)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// The id the last INSERT generated. MySQL reports it with the result;
    /// sqlx's `Any` driver drops SQLite's, so ask SQLite on the same
    /// connection (still inside the transaction).
    async fn inserted_id(
        &self,
        tx: &mut Transaction<'static, Any>,
        reported: Option<i64>,
    ) -> Result<i64, StoreError> {
        if let Some(id) = reported {
            return Ok(id);
        }
        let id = self
            .sql_scalar("SELECT last_insert_rowid()")
            .fetch_one(&mut **tx)
            .await?;
        Ok(id)
    }

    async fn lock_board(&self, tx: &mut Transaction<'static, Any>) -> Result<(), StoreError> {
        self.sql(&format!(
            "SELECT ID FROM BOARD_LOCK WHERE ID = 1{}",
            self.for_update()
        ))
        .fetch_optional(&mut **tx)
        .await?;
        Ok(())
    }

    /// Lock a live list's row; `ListNotFound` if there is no such live list.
    async fn lock_list(
        &self,
        tx: &mut Transaction<'static, Any>,
        id: i64,
    ) -> Result<ListRow, StoreError> {
        self.sql_as(&format!(
            "SELECT {LIST_COLUMNS} FROM LIST_ENTITY WHERE ID = ? AND DELETED = 0{}",
            self.for_update()
        ))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(StoreError::ListNotFound)
    }

    /// Lock the rows of lists `a` and `b` (which may be equal); returns the
    /// ids of those that exist and are live.
    async fn lock_lists(
        &self,
        tx: &mut Transaction<'static, Any>,
        a: i64,
        b: i64,
    ) -> Result<Vec<i64>, StoreError> {
        let ids = self
            .sql_scalar(&format!(
                "SELECT ID FROM LIST_ENTITY WHERE ID IN (?, ?) AND DELETED = 0 ORDER BY ID{}",
                self.for_update()
            ))
            .bind(a.min(b))
            .bind(a.max(b))
            .fetch_all(&mut **tx)
            .await?;
        Ok(ids)
    }

    async fn count_lists(&self, tx: &mut Transaction<'static, Any>) -> Result<i64, StoreError> {
        let count = self
            .sql_scalar("SELECT COUNT(*) FROM LIST_ENTITY WHERE DELETED = 0")
            .fetch_one(&mut **tx)
            .await?;
        Ok(count)
    }

    async fn count_items(
        &self,
        tx: &mut Transaction<'static, Any>,
        list: i64,
    ) -> Result<i64, StoreError> {
        let count = self
            .sql_scalar("SELECT COUNT(*) FROM ITEM WHERE LIST_ID = ? AND DELETED = 0")
            .bind(list)
            .fetch_one(&mut **tx)
            .await?;
        Ok(count)
    }

    /// A live item, read outside any transaction.
    async fn live_item(&self, id: i64) -> Result<ItemRow, StoreError> {
        self.sql_as(&format!(
            "SELECT {ITEM_COLUMNS} FROM ITEM WHERE ID = ? AND DELETED = 0"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::ItemNotFound)
    }

    /// A live item, read inside a write transaction.
    async fn live_item_in(
        &self,
        tx: &mut Transaction<'static, Any>,
        id: i64,
    ) -> Result<ItemRow, StoreError> {
        self.sql_as(&format!(
            "SELECT {ITEM_COLUMNS} FROM ITEM WHERE ID = ? AND DELETED = 0"
        ))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(StoreError::ItemNotFound)
    }
}
