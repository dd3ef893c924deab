-- The catalog: products, their SKUs (price and label; stock stays in
-- sku_stock, owned by the SKU actors) and wishlists. Text is utf8mb4 (any
-- product name); keys compared exactly use utf8mb4_bin so both backends agree.
CREATE TABLE products (
    id          BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    seller_id   BIGINT NOT NULL,
    name        VARCHAR(200) NOT NULL,
    -- Lower-cased name for case-insensitive search, folded by the application.
    name_folded TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    description TEXT NULL,
    category    VARCHAR(50) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    -- Soft delete: hidden from the catalog, rows that refer to it stay valid.
    deleted_at  BIGINT NULL,
    KEY products_live (deleted_at, id),
    KEY products_by_category (category, deleted_at, id),
    KEY products_by_seller (seller_id, deleted_at, id),
    CONSTRAINT products_seller FOREIGN KEY (seller_id) REFERENCES users (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- A SKU's id is its sku_stock id: one SKU, one stock row, one actor.
CREATE TABLE skus (
    id          BIGINT NOT NULL PRIMARY KEY,
    product_id  BIGINT NOT NULL,
    sku_code    VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    option_name VARCHAR(100) NOT NULL,
    price       BIGINT NOT NULL,
    currency    VARCHAR(3) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    UNIQUE KEY skus_code (product_id, sku_code),
    CONSTRAINT skus_price CHECK (price >= 0),
    CONSTRAINT skus_stock FOREIGN KEY (id) REFERENCES sku_stock (sku_id),
    CONSTRAINT skus_product FOREIGN KEY (product_id) REFERENCES products (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE wishlist_items (
    user_id    BIGINT NOT NULL,
    product_id BIGINT NOT NULL,
    added_at   BIGINT NOT NULL,
    PRIMARY KEY (user_id, product_id),
    KEY wishlist_by_added (user_id, added_at),
    CONSTRAINT wishlist_user FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT wishlist_product FOREIGN KEY (product_id) REFERENCES products (id)
) ENGINE = InnoDB;
