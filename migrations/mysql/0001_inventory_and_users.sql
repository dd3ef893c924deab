-- Stock of every SKU, owned by its SKU actor and written behind in batches.
CREATE TABLE sku_stock (
    sku_id         BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    on_hand        BIGINT NOT NULL,
    reserved       BIGINT NOT NULL DEFAULT 0,
    sold           BIGINT NOT NULL DEFAULT 0,
    opens_at       BIGINT NULL,
    closes_at      BIGINT NULL,
    per_user_limit BIGINT NULL,
    updated_at     BIGINT NOT NULL,
    CONSTRAINT sku_stock_never_oversold
        CHECK (reserved >= 0 AND sold >= 0 AND reserved + sold <= on_hand)
) ENGINE = InnoDB;

-- Every reservation ever made; `reserved` rows are the live ones.
CREATE TABLE reservations (
    sku_id         BIGINT NOT NULL,
    reservation_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    user_id        BIGINT NOT NULL,
    quantity       BIGINT NOT NULL,
    status         VARCHAR(16) NOT NULL,
    expires_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    PRIMARY KEY (sku_id, reservation_id),
    KEY reservations_by_status (sku_id, status),
    KEY reservations_by_update (sku_id, updated_at),
    CONSTRAINT reservations_positive CHECK (quantity > 0),
    CONSTRAINT reservations_sku FOREIGN KEY (sku_id) REFERENCES sku_stock (sku_id)
) ENGINE = InnoDB;

CREATE TABLE users (
    id            BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    email         VARCHAR(254) NOT NULL,
    password_hash VARCHAR(255) NOT NULL,
    name          VARCHAR(100) NOT NULL,
    role          VARCHAR(16) NOT NULL,
    created_at    BIGINT NOT NULL,
    deleted_at    BIGINT NULL,
    UNIQUE KEY users_email (email)
) ENGINE = InnoDB;
