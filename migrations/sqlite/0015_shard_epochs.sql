-- Issue 16: the fence of each shard when several nodes share this database
-- (see the MariaDB migration; cluster mode refuses SQLite, the table is here
-- so that both stores keep one schema).
CREATE TABLE shard_epochs (
    shard       INTEGER NOT NULL PRIMARY KEY,
    epoch       INTEGER NOT NULL,
    node        TEXT NOT NULL,
    recorded_at INTEGER NOT NULL
);
