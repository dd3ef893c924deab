-- The catalog: products, their SKUs (price and label; stock stays in
-- sku_stock, owned by the SKU actors) and wishlists.
CREATE TABLE products (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    seller_id   BIGINT NOT NULL REFERENCES users (id),
    name        VARCHAR(200) NOT NULL,
    -- Lower-cased name for case-insensitive search (SQLite folds ASCII only).
    name_folded TEXT NOT NULL,
    description TEXT NULL,
    category    VARCHAR(50) NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    -- Soft delete: hidden from the catalog, rows that refer to it stay valid.
    deleted_at  BIGINT NULL
);
CREATE INDEX products_live ON products (deleted_at, id);
CREATE INDEX products_by_category ON products (category, deleted_at, id);
CREATE INDEX products_by_seller ON products (seller_id, deleted_at, id);

-- A SKU's id is its sku_stock id: one SKU, one stock row, one actor.
CREATE TABLE skus (
    id          BIGINT NOT NULL PRIMARY KEY REFERENCES sku_stock (sku_id),
    product_id  BIGINT NOT NULL REFERENCES products (id),
    sku_code    VARCHAR(64) NOT NULL,
    option_name VARCHAR(100) NOT NULL,
    price       BIGINT NOT NULL CHECK (price >= 0),
    currency    VARCHAR(3) NOT NULL,
    UNIQUE (product_id, sku_code)
);

CREATE TABLE wishlist_items (
    user_id    BIGINT NOT NULL REFERENCES users (id),
    product_id BIGINT NOT NULL REFERENCES products (id),
    added_at   BIGINT NOT NULL,
    PRIMARY KEY (user_id, product_id)
);
CREATE INDEX wishlist_by_added ON wishlist_items (user_id, added_at);
