-- The transactional outbox (issue 12): every event other systems care about
-- is appended here in the transaction that makes its change durable, then
-- relayed in `seq` order to NATS JetStream. `event_id` is the CloudEvents id
-- and the JetStream `Nats-Msg-Id`, so a relay that publishes a row twice is
-- deduplicated by the stream; UNIQUE lets time-based events (a sale opening)
-- be appended with insert-or-skip. `published_at` stays NULL until the
-- broker acknowledged the row; published rows are pruned after a retention.
CREATE TABLE outbox (
    seq          BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    event_id     VARCHAR(36) NOT NULL,
    event_type   VARCHAR(100) NOT NULL,
    subject      VARCHAR(100) NOT NULL,
    occurred_at  BIGINT NOT NULL,
    data         TEXT NOT NULL,
    published_at BIGINT NULL,
    UNIQUE KEY outbox_event_id (event_id),
    KEY outbox_unpublished (published_at, seq)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- The sale clock looks for windows that opened or closed since its last look.
CREATE INDEX sku_stock_opens_at ON sku_stock (opens_at);
CREATE INDEX sku_stock_closes_at ON sku_stock (closes_at);
