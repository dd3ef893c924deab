-- Issue 13, selling: the category tree, product images and profile pictures.

-- Categories form a tree managed by admins. `path` is the materialised path
-- of ids from the root down to the category itself, e.g. `/1/5/9/`: a
-- category's descendants are the rows whose path starts with its own, found
-- by an indexed range scan (`path >= '/1/5/' AND path < '/1/50'`).
CREATE TABLE categories (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    parent_id  BIGINT NULL REFERENCES categories (id),
    name       VARCHAR(50) NOT NULL,
    path       VARCHAR(255) NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX categories_by_path ON categories (path);
CREATE INDEX categories_by_parent ON categories (parent_id);

-- A product may belong to a category; the free-text `category` stays for
-- existing clients.
ALTER TABLE products ADD COLUMN category_id BIGINT NULL REFERENCES categories (id);
CREATE INDEX products_by_category_id ON products (category_id, deleted_at, id);

-- Images of a product, in `position` order. Each image is three objects in
-- the media store (the upload as sent, a display size and a thumbnail);
-- keys name the content's hash plus an upload nonce, so they never change
-- content and are never shared between rows.
CREATE TABLE product_images (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    product_id       BIGINT NOT NULL REFERENCES products (id),
    position         BIGINT NOT NULL,
    content_type     VARCHAR(20) NOT NULL,
    bytes            BIGINT NOT NULL,
    original_key     VARCHAR(100) NOT NULL,
    original_width   BIGINT NOT NULL,
    original_height  BIGINT NOT NULL,
    display_key      VARCHAR(100) NOT NULL,
    display_width    BIGINT NOT NULL,
    display_height   BIGINT NOT NULL,
    thumbnail_key    VARCHAR(100) NOT NULL,
    thumbnail_width  BIGINT NOT NULL,
    thumbnail_height BIGINT NOT NULL,
    created_at       BIGINT NOT NULL
);
CREATE INDEX product_images_by_product ON product_images (product_id, position, id);

-- One picture per account, same three objects.
CREATE TABLE user_pictures (
    user_id          BIGINT NOT NULL PRIMARY KEY REFERENCES users (id),
    content_type     VARCHAR(20) NOT NULL,
    bytes            BIGINT NOT NULL,
    original_key     VARCHAR(100) NOT NULL,
    original_width   BIGINT NOT NULL,
    original_height  BIGINT NOT NULL,
    display_key      VARCHAR(100) NOT NULL,
    display_width    BIGINT NOT NULL,
    display_height   BIGINT NOT NULL,
    thumbnail_key    VARCHAR(100) NOT NULL,
    thumbnail_width  BIGINT NOT NULL,
    thumbnail_height BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
