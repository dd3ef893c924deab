-- SQLite already compares text byte for byte (BINARY), which is what the
-- application's normalised emails need (see the MySQL 0006 for why).
-- Start-up finds every admin to demote those no longer configured.
CREATE INDEX users_by_role ON users (role);
