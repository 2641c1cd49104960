-- Kept in step with the MySQL migrations. SQLite has no row locks: a write
-- transaction there starts by touching this row, which takes the database's
-- single write lock (see src/store.rs).
CREATE TABLE IF NOT EXISTS BOARD_LOCK (
    ID INTEGER PRIMARY KEY
);

INSERT OR IGNORE INTO BOARD_LOCK (ID) VALUES (1);
