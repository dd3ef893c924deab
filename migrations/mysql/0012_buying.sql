-- Buying (issue 13): carts, address books, saved payment methods, reviews.

-- One row per line of a buyer's cart; the cart survives restarts.
-- `updated_at` tells a checked-out line from one changed afterwards.
CREATE TABLE cart_items (
    user_id    BIGINT NOT NULL,
    sku_id     BIGINT NOT NULL,
    quantity   BIGINT NOT NULL,
    added_at   BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, sku_id),
    CONSTRAINT cart_items_user FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT cart_items_positive CHECK (quantity > 0)
) ENGINE = InnoDB;

-- A buyer's saved shipping addresses; exactly one is the default when any exist.
CREATE TABLE addresses (
    id          BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id     BIGINT NOT NULL,
    recipient   VARCHAR(100) NOT NULL,
    phone       VARCHAR(20) NOT NULL,
    postal_code VARCHAR(16) NOT NULL,
    line1       VARCHAR(200) NOT NULL,
    line2       VARCHAR(200) NULL,
    city        VARCHAR(100) NOT NULL,
    country     VARCHAR(2) NOT NULL,
    is_default  BIGINT NOT NULL DEFAULT 0,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    KEY addresses_by_user (user_id, id),
    CONSTRAINT addresses_user FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

-- Saved payment methods: the provider's token and display data only, never
-- a card number.
CREATE TABLE payment_methods (
    id             BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id        BIGINT NOT NULL,
    provider_token VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    brand          VARCHAR(20) NOT NULL,
    last4          VARCHAR(4) NOT NULL,
    exp_month      BIGINT NOT NULL,
    exp_year       BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    KEY payment_methods_by_user (user_id, id),
    CONSTRAINT payment_methods_user FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

-- One review per product per buyer.
CREATE TABLE reviews (
    id         BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    product_id BIGINT NOT NULL,
    user_id    BIGINT NOT NULL,
    rating     BIGINT NOT NULL,
    body       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE KEY reviews_once (product_id, user_id),
    KEY reviews_by_product (product_id, id),
    CONSTRAINT reviews_product FOREIGN KEY (product_id) REFERENCES products (id),
    CONSTRAINT reviews_user FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT reviews_rating CHECK (rating BETWEEN 1 AND 5)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

-- Running totals, updated in the review's transaction: no scan per read.
ALTER TABLE products
    ADD COLUMN rating_sum BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN rating_count BIGINT NOT NULL DEFAULT 0;

-- The structured shipping address an order was placed with (a JSON copy:
-- the address book may change later), and the saved method's provider token
-- the order is paid with.
ALTER TABLE orders
    ADD COLUMN shipping_json TEXT NULL,
    ADD COLUMN payment_token VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NULL;

-- The simulated provider remembers which token paid, as a real one would.
ALTER TABLE simulated_payments
    ADD COLUMN method_token VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NULL;
