-- Email verification, the mail queue and its notifier (issue 13).
--
-- `email_verified_at`: accounts that existed before this migration (and the
-- bootstrapped admin, set by start-up) count as verified. `tokens_revoked_at`:
-- access tokens of the account issued before this instant are refused
-- (`POST /auth/logout-all`).
ALTER TABLE users ADD COLUMN email_verified_at BIGINT NULL, ADD COLUMN tokens_revoked_at BIGINT NULL;
UPDATE users SET email_verified_at = created_at;
CREATE INDEX users_tokens_revoked ON users (tokens_revoked_at);

-- The one live verification code of an account, stored as keyed hashes (of
-- the code and of the link's token); a resend replaces it, a success deletes it.
CREATE TABLE email_verifications (
    user_id       BIGINT NOT NULL PRIMARY KEY,
    code_hash     VARCHAR(64) CHARACTER SET ascii NOT NULL,
    link_hash     VARCHAR(64) CHARACTER SET ascii NOT NULL,
    expires_at    BIGINT NOT NULL,
    attempts_left BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    UNIQUE KEY email_verifications_link (link_hash)
) ENGINE = InnoDB;

-- Mails waiting to go out, sent, or given up on. The sender drains `queued`
-- rows whose `next_attempt_at` has come; `dedupe_key` makes a notification
-- enqueued twice one mail.
CREATE TABLE mail_queue (
    id              BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    kind            VARCHAR(32) NOT NULL,
    recipient       VARCHAR(254) NOT NULL,
    subject         VARCHAR(200) NOT NULL,
    body            TEXT NOT NULL,
    dedupe_key      VARCHAR(100) CHARACTER SET ascii NULL,
    status          VARCHAR(8) NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_error      VARCHAR(500) NULL,
    created_at      BIGINT NOT NULL,
    sent_at         BIGINT NULL,
    UNIQUE KEY mail_queue_dedupe (dedupe_key),
    KEY mail_queue_due (status, next_attempt_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- How far the notifier has read the outbox. It starts at the events already
-- there, so an upgrade does not mail the past.
CREATE TABLE mail_cursor (
    name VARCHAR(32) NOT NULL PRIMARY KEY,
    seq  BIGINT NOT NULL
) ENGINE = InnoDB;
INSERT INTO mail_cursor (name, seq) SELECT 'notifications', COALESCE(MAX(seq), 0) FROM outbox;
