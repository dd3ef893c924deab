-- The buyers' community (issue 14): posts, comments, likes, follows,
-- blocks, reports and activity notifications.
--
-- Counters (`like_count`, `comment_count`, `follower_count`,
-- `following_count`) are written only by the batches that write the rows
-- they count, so a count and its rows commit together; no request runs
-- `UPDATE … SET n = n + 1` on a hot row.

-- Post and comment ids grow with time: the feed sorts by date on the id.
-- A deleted or hidden post keeps its row (its likes and comments still
-- point at it) and is left out of every read.
CREATE TABLE posts (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    author_id     BIGINT NOT NULL REFERENCES users (id),
    body          TEXT NOT NULL,
    like_count    BIGINT NOT NULL DEFAULT 0,
    comment_count BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    hidden_at     BIGINT NULL,
    deleted_at    BIGINT NULL
);
CREATE INDEX posts_by_author ON posts (author_id, id);
CREATE INDEX posts_by_likes ON posts (like_count, id);

CREATE TABLE comments (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    post_id    BIGINT NOT NULL REFERENCES posts (id),
    author_id  BIGINT NOT NULL REFERENCES users (id),
    body       TEXT NOT NULL,
    like_count BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted_at BIGINT NULL
);
CREATE INDEX comments_by_post ON comments (post_id, id);

-- One row per user who likes a post (or a comment) now; unlike deletes it.
CREATE TABLE post_likes (
    post_id    BIGINT NOT NULL REFERENCES posts (id),
    user_id    BIGINT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (post_id, user_id)
);
CREATE INDEX post_likes_by_user ON post_likes (user_id, post_id);

CREATE TABLE comment_likes (
    comment_id BIGINT NOT NULL REFERENCES comments (id),
    user_id    BIGINT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (comment_id, user_id)
);
CREATE INDEX comment_likes_by_user ON comment_likes (user_id, comment_id);

-- The follow graph; the feed reads it by follower, the followers list by
-- followee.
CREATE TABLE follows (
    follower_id BIGINT NOT NULL REFERENCES users (id),
    followee_id BIGINT NOT NULL REFERENCES users (id),
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (follower_id, followee_id),
    CHECK (follower_id <> followee_id)
);
CREATE INDEX follows_by_followee ON follows (followee_id, follower_id);

ALTER TABLE users ADD COLUMN follower_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN following_count BIGINT NOT NULL DEFAULT 0;

-- A user hides another's posts and comments from what they read.
CREATE TABLE blocks (
    blocker_id BIGINT NOT NULL REFERENCES users (id),
    blocked_id BIGINT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (blocker_id, blocked_id),
    CHECK (blocker_id <> blocked_id)
);

-- A user reports a post to the admins, once per post; an admin resolves
-- it (hiding the post or dismissing the report).
CREATE TABLE post_reports (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    post_id     BIGINT NOT NULL REFERENCES posts (id),
    reporter_id BIGINT NOT NULL REFERENCES users (id),
    reason      VARCHAR(500) NOT NULL,
    created_at  BIGINT NOT NULL,
    resolved_at BIGINT NULL,
    resolution  VARCHAR(16) NULL,
    UNIQUE (post_id, reporter_id)
);
CREATE INDEX post_reports_open ON post_reports (resolved_at, id);

-- What happened to a user's account and posts: someone followed them,
-- liked their post or comment, commented on their post. Targets are 0 when
-- they do not apply, so the unique key (one activity per actor, kind and
-- target: a like, unlike and like again notifies once) can hold.
CREATE TABLE activities (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    recipient_id BIGINT NOT NULL REFERENCES users (id),
    actor_id     BIGINT NOT NULL,
    kind         VARCHAR(16) NOT NULL,
    post_id      BIGINT NOT NULL DEFAULT 0,
    comment_id   BIGINT NOT NULL DEFAULT 0,
    created_at   BIGINT NOT NULL,
    read_at      BIGINT NULL,
    UNIQUE (recipient_id, actor_id, kind, post_id, comment_id)
);
CREATE INDEX activities_by_recipient ON activities (recipient_id, id);
CREATE INDEX activities_unread ON activities (recipient_id, read_at);
