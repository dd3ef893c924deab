-- The `following` feed (issue 14) reads the newest visible posts of about
-- a hundred authors. With `deleted_at` and `hidden_at` in the index, that
-- read is answered from the index alone (no row lookup per candidate post);
-- measured on 100,000 posts and 100 follows per reader: 3 ms instead of
-- 10 ms per first page.
CREATE INDEX posts_feed ON posts (author_id, id, deleted_at, hidden_at);

-- The `all` feed leaves out withdrawn authors: few, found by this index
-- instead of a scan of every account per read.
CREATE INDEX users_withdrawn ON users (deleted_at);
