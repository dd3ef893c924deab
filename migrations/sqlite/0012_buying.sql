-- Buying (issue 13): carts, address books, saved payment methods, reviews.

-- One row per line of a buyer's cart; the cart survives restarts.
-- `updated_at` tells a checked-out line from one changed afterwards.
CREATE TABLE cart_items (
    user_id    BIGINT NOT NULL REFERENCES users (id),
    sku_id     BIGINT NOT NULL,
    quantity   BIGINT NOT NULL CHECK (quantity > 0),
    added_at   BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, sku_id)
);

-- A buyer's saved shipping addresses; exactly one is the default when any exist.
CREATE TABLE addresses (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     BIGINT NOT NULL REFERENCES users (id),
    recipient   VARCHAR(100) NOT NULL,
    phone       VARCHAR(20) NOT NULL,
    postal_code VARCHAR(16) NOT NULL,
    line1       VARCHAR(200) NOT NULL,
    line2       VARCHAR(200) NULL,
    city        VARCHAR(100) NOT NULL,
    country     VARCHAR(2) NOT NULL,
    is_default  BIGINT NOT NULL DEFAULT 0,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX addresses_by_user ON addresses (user_id, id);

-- Saved payment methods: the provider's token and display data only, never
-- a card number.
CREATE TABLE payment_methods (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id        BIGINT NOT NULL REFERENCES users (id),
    provider_token VARCHAR(128) NOT NULL,
    brand          VARCHAR(20) NOT NULL,
    last4          VARCHAR(4) NOT NULL,
    exp_month      BIGINT NOT NULL,
    exp_year       BIGINT NOT NULL,
    created_at     BIGINT NOT NULL
);
CREATE INDEX payment_methods_by_user ON payment_methods (user_id, id);

-- One review per product per buyer.
CREATE TABLE reviews (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    product_id BIGINT NOT NULL REFERENCES products (id),
    user_id    BIGINT NOT NULL REFERENCES users (id),
    rating     BIGINT NOT NULL CHECK (rating BETWEEN 1 AND 5),
    body       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (product_id, user_id)
);
CREATE INDEX reviews_by_product ON reviews (product_id, id);

-- Running totals, updated in the review's transaction: no scan per read.
ALTER TABLE products ADD COLUMN rating_sum BIGINT NOT NULL DEFAULT 0;
ALTER TABLE products ADD COLUMN rating_count BIGINT NOT NULL DEFAULT 0;

-- The structured shipping address an order was placed with (a JSON copy:
-- the address book may change later), and the saved method's provider token
-- the order is paid with.
ALTER TABLE orders ADD COLUMN shipping_json TEXT NULL;
ALTER TABLE orders ADD COLUMN payment_token VARCHAR(128) NULL;

-- The simulated provider remembers which token paid, as a real one would.
ALTER TABLE simulated_payments ADD COLUMN method_token VARCHAR(128) NULL;
