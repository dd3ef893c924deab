-- Issue 13, selling: the category tree, product images and profile pictures.

-- Categories form a tree managed by admins. `path` is the materialised path
-- of ids from the root down to the category itself, e.g. `/1/5/9/`: a
-- category's descendants are the rows whose path starts with its own, found
-- by an indexed range scan (`path >= '/1/5/' AND path < '/1/50'`); utf8mb4_bin
-- so that both backends compare paths byte by byte.
CREATE TABLE categories (
    id         BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    parent_id  BIGINT NULL,
    name       VARCHAR(50) NOT NULL,
    path       VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    KEY categories_by_path (path),
    KEY categories_by_parent (parent_id),
    CONSTRAINT categories_parent FOREIGN KEY (parent_id) REFERENCES categories (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- A product may belong to a category; the free-text `category` stays for
-- existing clients.
ALTER TABLE products
    ADD COLUMN category_id BIGINT NULL,
    ADD KEY products_by_category_id (category_id, deleted_at, id),
    ADD CONSTRAINT products_category FOREIGN KEY (category_id) REFERENCES categories (id);

-- Images of a product, in `position` order. Each image is three objects in
-- the media store (the upload as sent, a display size and a thumbnail);
-- keys name the content's hash plus an upload nonce, so they never change
-- content and are never shared between rows.
CREATE TABLE product_images (
    id               BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    product_id       BIGINT NOT NULL,
    position         BIGINT NOT NULL,
    content_type     VARCHAR(20) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    bytes            BIGINT NOT NULL,
    original_key     VARCHAR(100) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    original_width   BIGINT NOT NULL,
    original_height  BIGINT NOT NULL,
    display_key      VARCHAR(100) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    display_width    BIGINT NOT NULL,
    display_height   BIGINT NOT NULL,
    thumbnail_key    VARCHAR(100) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    thumbnail_width  BIGINT NOT NULL,
    thumbnail_height BIGINT NOT NULL,
    created_at       BIGINT NOT NULL,
    KEY product_images_by_product (product_id, position, id),
    CONSTRAINT product_images_product FOREIGN KEY (product_id) REFERENCES products (id)
) ENGINE = InnoDB;

-- One picture per account, same three objects.
CREATE TABLE user_pictures (
    user_id          BIGINT NOT NULL PRIMARY KEY,
    content_type     VARCHAR(20) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    bytes            BIGINT NOT NULL,
    original_key     VARCHAR(100) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    original_width   BIGINT NOT NULL,
    original_height  BIGINT NOT NULL,
    display_key      VARCHAR(100) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    display_width    BIGINT NOT NULL,
    display_height   BIGINT NOT NULL,
    thumbnail_key    VARCHAR(100) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    thumbnail_width  BIGINT NOT NULL,
    thumbnail_height BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    CONSTRAINT user_pictures_user FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE = InnoDB;
