-- Kept in step with the MySQL migrations: an index for the homepage's
-- items statement (src/store.rs),
--
--   SELECT ID, NAME, POSITION, LIST_ID FROM ITEM
--   WHERE DELETED = 0 AND LIST_ID IN (...) ORDER BY LIST_ID, POSITION, ID
--
-- which SQLite ran through ITEM_LIST_ID and then sorted (EXPLAIN QUERY PLAN:
-- "USE TEMP B-TREE FOR RIGHT PART OF ORDER BY"). This index holds every
-- column the statement reads, in the order it filters and sorts by, so
-- SQLite reads each list's live items from the index alone, already in
-- order ("SEARCH ITEM USING COVERING INDEX ITEM_BOARD (LIST_ID=? AND
-- DELETED=?)", no temp b-tree). ID has to come before NAME: after it, the
-- order by ID within a position is lost and the sort comes back.
CREATE INDEX IF NOT EXISTS ITEM_BOARD ON ITEM (LIST_ID, DELETED, POSITION, ID, NAME);

-- ITEM_LIST_ID (0001) is a prefix of ITEM_BOARD: every statement it served
-- can use ITEM_BOARD, and keeping it would only cost every write.
DROP INDEX IF EXISTS ITEM_LIST_ID;
