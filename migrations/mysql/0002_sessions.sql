-- A login opens a session (a refresh-token family); each refresh rotates the
-- token inside it. Revoking the session kills every token it ever held.
CREATE TABLE sessions (
    id             VARCHAR(36) CHARACTER SET ascii NOT NULL PRIMARY KEY,
    user_id        BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    revoked_at     BIGINT NULL,
    revoked_reason VARCHAR(32) NULL,
    KEY sessions_by_user (user_id)
) ENGINE = InnoDB;

CREATE TABLE refresh_tokens (
    jti        VARCHAR(36) CHARACTER SET ascii NOT NULL PRIMARY KEY,
    session_id VARCHAR(36) CHARACTER SET ascii NOT NULL,
    issued_at  BIGINT NOT NULL,
    rotated_at BIGINT NULL,
    KEY refresh_tokens_by_session (session_id),
    CONSTRAINT refresh_tokens_session FOREIGN KEY (session_id) REFERENCES sessions (id)
) ENGINE = InnoDB;
