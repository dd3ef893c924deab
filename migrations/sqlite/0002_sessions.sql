-- A login opens a session (a refresh-token family); each refresh rotates the
-- token inside it. Revoking the session kills every token it ever held.
CREATE TABLE sessions (
    id             VARCHAR(36) NOT NULL PRIMARY KEY,
    user_id        BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    revoked_at     BIGINT NULL,
    revoked_reason VARCHAR(32) NULL
);
CREATE INDEX sessions_by_user ON sessions (user_id);

CREATE TABLE refresh_tokens (
    jti        VARCHAR(36) NOT NULL PRIMARY KEY,
    session_id VARCHAR(36) NOT NULL REFERENCES sessions (id),
    issued_at  BIGINT NOT NULL,
    rotated_at BIGINT NULL
);
CREATE INDEX refresh_tokens_by_session ON refresh_tokens (session_id);
