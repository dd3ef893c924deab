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
    id            BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    author_id     BIGINT NOT NULL,
    body          TEXT NOT NULL,
    like_count    BIGINT NOT NULL DEFAULT 0,
    comment_count BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    hidden_at     BIGINT NULL,
    deleted_at    BIGINT NULL,
    KEY posts_by_author (author_id, id),
    KEY posts_by_likes (like_count, id),
    CONSTRAINT posts_author FOREIGN KEY (author_id) REFERENCES users (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE comments (
    id         BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    post_id    BIGINT NOT NULL,
    author_id  BIGINT NOT NULL,
    body       TEXT NOT NULL,
    like_count BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted_at BIGINT NULL,
    KEY comments_by_post (post_id, id),
    CONSTRAINT comments_post FOREIGN KEY (post_id) REFERENCES posts (id),
    CONSTRAINT comments_author FOREIGN KEY (author_id) REFERENCES users (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- One row per user who likes a post (or a comment) now; unlike deletes it.
CREATE TABLE post_likes (
    post_id    BIGINT NOT NULL,
    user_id    BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (post_id, user_id),
    KEY post_likes_by_user (user_id, post_id),
    CONSTRAINT post_likes_post FOREIGN KEY (post_id) REFERENCES posts (id),
    CONSTRAINT post_likes_user FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE = InnoDB;

CREATE TABLE comment_likes (
    comment_id BIGINT NOT NULL,
    user_id    BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (comment_id, user_id),
    KEY comment_likes_by_user (user_id, comment_id),
    CONSTRAINT comment_likes_comment FOREIGN KEY (comment_id) REFERENCES comments (id),
    CONSTRAINT comment_likes_user FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE = InnoDB;

-- The follow graph; the feed reads it by follower, the followers list by
-- followee.
CREATE TABLE follows (
    follower_id BIGINT NOT NULL,
    followee_id BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (follower_id, followee_id),
    KEY follows_by_followee (followee_id, follower_id),
    CONSTRAINT follows_follower FOREIGN KEY (follower_id) REFERENCES users (id),
    CONSTRAINT follows_followee FOREIGN KEY (followee_id) REFERENCES users (id),
    CONSTRAINT follows_not_self CHECK (follower_id <> followee_id)
) ENGINE = InnoDB;

ALTER TABLE users
    ADD COLUMN follower_count  BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN following_count BIGINT NOT NULL DEFAULT 0;

-- A user hides another's posts and comments from what they read.
CREATE TABLE blocks (
    blocker_id BIGINT NOT NULL,
    blocked_id BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (blocker_id, blocked_id),
    CONSTRAINT blocks_blocker FOREIGN KEY (blocker_id) REFERENCES users (id),
    CONSTRAINT blocks_blocked FOREIGN KEY (blocked_id) REFERENCES users (id),
    CONSTRAINT blocks_not_self CHECK (blocker_id <> blocked_id)
) ENGINE = InnoDB;

-- A user reports a post to the admins, once per post; an admin resolves
-- it (hiding the post or dismissing the report).
CREATE TABLE post_reports (
    id          BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    post_id     BIGINT NOT NULL,
    reporter_id BIGINT NOT NULL,
    reason      VARCHAR(500) NOT NULL,
    created_at  BIGINT NOT NULL,
    resolved_at BIGINT NULL,
    resolution  VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NULL,
    UNIQUE KEY post_reports_once (post_id, reporter_id),
    KEY post_reports_open (resolved_at, id),
    CONSTRAINT post_reports_post FOREIGN KEY (post_id) REFERENCES posts (id),
    CONSTRAINT post_reports_reporter FOREIGN KEY (reporter_id) REFERENCES users (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- What happened to a user's account and posts: someone followed them,
-- liked their post or comment, commented on their post. Targets are 0 when
-- they do not apply, so the unique key (one activity per actor, kind and
-- target: a like, unlike and like again notifies once) can hold.
CREATE TABLE activities (
    id           BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    recipient_id BIGINT NOT NULL,
    actor_id     BIGINT NOT NULL,
    kind         VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    post_id      BIGINT NOT NULL DEFAULT 0,
    comment_id   BIGINT NOT NULL DEFAULT 0,
    created_at   BIGINT NOT NULL,
    read_at      BIGINT NULL,
    UNIQUE KEY activities_once (recipient_id, actor_id, kind, post_id, comment_id),
    KEY activities_by_recipient (recipient_id, id),
    KEY activities_unread (recipient_id, read_at),
    CONSTRAINT activities_recipient FOREIGN KEY (recipient_id) REFERENCES users (id)
) ENGINE = InnoDB;
