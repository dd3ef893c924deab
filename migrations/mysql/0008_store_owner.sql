-- The one process that sells from this database (issue 11, item 15). Its
-- epoch grows with every change of hands; every write-behind batch checks,
-- inside its transaction, that the epoch is still its own, so a process
-- that was taken over can no longer commit. `renewed_at` and `lease_ms` say
-- until when the holder counts as alive (the database's clock, in ms);
-- `host`, `pid` and `started` name its process, so a restart on the same
-- machine can see that the holder has ended. Exactly one row, id 1.
CREATE TABLE store_owner (
    id         INT NOT NULL PRIMARY KEY,
    epoch      BIGINT NOT NULL,
    host       VARCHAR(255) NOT NULL,
    pid        BIGINT NOT NULL,
    started    BIGINT NOT NULL,
    label      VARCHAR(255) NOT NULL,
    lease_ms   BIGINT NOT NULL,
    claimed_at BIGINT NOT NULL,
    renewed_at BIGINT NOT NULL,
    CONSTRAINT store_owner_one_row CHECK (id = 1)
) ENGINE = InnoDB;

INSERT INTO store_owner (id, epoch, host, pid, started, label, lease_ms, claimed_at, renewed_at)
VALUES (1, 0, '', 0, 0, '', 0, 0, 0);
