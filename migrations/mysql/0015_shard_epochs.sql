-- Issue 16: the fence of each shard when several nodes share this database.
-- A node that takes a shard records its lease's epoch here before it loads
-- the shard's state; every write-behind batch for the shard reads the row
-- with a shared lock and rolls back unless the epoch is still its own.
-- Epochs only grow: recording a lower one is refused. Rows appear as shards
-- are first taken (the shard count is a setting, not a schema fact).
CREATE TABLE shard_epochs (
    shard       INT NOT NULL PRIMARY KEY,
    epoch       BIGINT NOT NULL,
    node        VARCHAR(64) NOT NULL,
    recorded_at BIGINT NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
