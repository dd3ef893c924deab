-- The users table declares its character set and collations instead of
-- taking the server's. Emails are normalised by the application (trimmed,
-- lower-cased, Unicode NFC: src/domain/email.rs), so the store compares them
-- byte for byte: utf8mb4_bin. A case- or accent-insensitive collation (the
-- server default is often utf8mb4_general_ci) would merge addresses the
-- application keeps apart: "jose@" and "josé@" would share the unique key,
-- and a login for one could read the other's row. utf8mb4_bin pads with
-- spaces when comparing, which cannot matter: emails hold no whitespace.
-- Names compare like the catalog's text (utf8mb4_unicode_ci); the hash and
-- the role are ASCII.
ALTER TABLE users
    DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci,
    MODIFY email         VARCHAR(254) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    MODIFY password_hash VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    MODIFY name          VARCHAR(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NOT NULL,
    MODIFY role          VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL;

-- Start-up finds every admin to demote those no longer configured.
CREATE INDEX users_by_role ON users (role);
