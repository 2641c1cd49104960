-- Not in the original. One row that every change to *list* positions
-- (createList, deleteList) locks with SELECT ... FOR UPDATE, so two replicas
-- cannot both append a list at the same position. Item changes lock their
-- parent LIST_ENTITY row instead. See src/store.rs.
CREATE TABLE IF NOT EXISTS BOARD_LOCK (
    ID INT NOT NULL,
    PRIMARY KEY (ID)
) ENGINE = InnoDB;

INSERT IGNORE INTO BOARD_LOCK (ID) VALUES (1);
