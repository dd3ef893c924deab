-- Stock of every SKU, owned by its SKU actor and written behind in batches.
CREATE TABLE sku_stock (
    sku_id         INTEGER PRIMARY KEY AUTOINCREMENT,
    on_hand        BIGINT NOT NULL,
    reserved       BIGINT NOT NULL DEFAULT 0,
    sold           BIGINT NOT NULL DEFAULT 0,
    opens_at       BIGINT NULL,
    closes_at      BIGINT NULL,
    per_user_limit BIGINT NULL,
    updated_at     BIGINT NOT NULL,
    CHECK (reserved >= 0 AND sold >= 0 AND reserved + sold <= on_hand)
);

-- Every reservation ever made; `reserved` rows are the live ones.
CREATE TABLE reservations (
    sku_id         BIGINT NOT NULL REFERENCES sku_stock (sku_id),
    reservation_id VARCHAR(64) NOT NULL,
    user_id        BIGINT NOT NULL,
    quantity       BIGINT NOT NULL CHECK (quantity > 0),
    status         VARCHAR(16) NOT NULL,
    expires_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    PRIMARY KEY (sku_id, reservation_id)
);
CREATE INDEX reservations_by_status ON reservations (sku_id, status);
CREATE INDEX reservations_by_update ON reservations (sku_id, updated_at);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    email         VARCHAR(254) NOT NULL UNIQUE,
    password_hash VARCHAR(255) NOT NULL,
    name          VARCHAR(100) NOT NULL,
    role          VARCHAR(16) NOT NULL,
    created_at    BIGINT NOT NULL,
    deleted_at    BIGINT NULL
);
