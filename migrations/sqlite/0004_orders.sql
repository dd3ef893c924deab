-- Orders and their saga. `status` is what the buyer sees, `step` where the
-- saga stands; both move only together with a row appended to order_events.
CREATE TABLE orders (
    id               VARCHAR(36) NOT NULL PRIMARY KEY,
    buyer_id         BIGINT NOT NULL,
    idempotency_key  VARCHAR(255) NOT NULL,
    -- SHA-256 of the canonical request: same key, other body = reuse.
    request_hash     VARCHAR(64) NOT NULL,
    status           VARCHAR(24) NOT NULL,
    step             VARCHAR(24) NOT NULL,
    reason           VARCHAR(32) NULL,
    total            BIGINT NOT NULL,
    currency         VARCHAR(3) NOT NULL,
    shipping_address VARCHAR(500) NOT NULL,
    pay_on_place     BIGINT NOT NULL,
    payment_due_at   BIGINT NOT NULL,
    tracking         VARCHAR(80) NULL,
    attempts         BIGINT NOT NULL DEFAULT 0,
    -- The first answer given for this order, replayed to retries.
    response_status  BIGINT NULL,
    response_body    TEXT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    UNIQUE (buyer_id, idempotency_key)
);
CREATE INDEX orders_by_buyer ON orders (buyer_id, created_at);
CREATE INDEX orders_by_step ON orders (step);

CREATE TABLE order_items (
    order_id   VARCHAR(36) NOT NULL,
    sku_id     BIGINT NOT NULL,
    product_id BIGINT NOT NULL,
    seller_id  BIGINT NOT NULL,
    quantity   BIGINT NOT NULL,
    unit_price BIGINT NOT NULL,
    PRIMARY KEY (order_id, sku_id),
    CONSTRAINT order_items_order FOREIGN KEY (order_id) REFERENCES orders (id),
    CONSTRAINT order_items_positive CHECK (quantity > 0 AND unit_price >= 0)
);
CREATE INDEX order_items_by_seller ON order_items (seller_id, order_id);

CREATE TABLE order_events (
    order_id VARCHAR(36) NOT NULL,
    seq      BIGINT NOT NULL,
    at       BIGINT NOT NULL,
    kind     VARCHAR(40) NOT NULL,
    status   VARCHAR(24) NOT NULL,
    step     VARCHAR(24) NOT NULL,
    detail   VARCHAR(500) NULL,
    PRIMARY KEY (order_id, seq),
    CONSTRAINT order_events_order FOREIGN KEY (order_id) REFERENCES orders (id)
);

-- The simulated providers' own books (see src/providers): what a real
-- provider would remember per idempotency key.
CREATE TABLE simulated_payments (
    order_id   VARCHAR(36) NOT NULL PRIMARY KEY,
    amount     BIGINT NOT NULL,
    state      VARCHAR(16) NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE simulated_shipments (
    order_id   VARCHAR(36) NOT NULL PRIMARY KEY,
    amount     BIGINT NOT NULL,
    state      VARCHAR(16) NOT NULL,
    updated_at BIGINT NOT NULL
);
