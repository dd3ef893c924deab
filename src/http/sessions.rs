//! Refresh tokens and the sessions behind them. A refresh token is a JWT
//! signed with its own secret and audience (an access token can never pass
//! for one), naming its session and its own id. Presenting it rotates it;
//! presenting a rotated one again means it leaked, so the whole session is
//! revoked. Revocations live in the database and, when configured, Redis.

use serde::{Deserialize, Serialize};
use std::time::Duration;

use super::ApiError;
use super::tokens::{Signer, TokenClaims};
use crate::domain::ids::UserId;
use crate::domain::time::Timestamp;
use crate::persistence::{RevocationCache, RevokeReason, Rotation, Store, StoreError};

#[derive(Debug, Serialize, Deserialize)]
struct RefreshClaims {
    sub: String,
    sid: String,
    jti: String,
}

impl TokenClaims for RefreshClaims {
    const AUDIENCE: &'static str = "stampede-refresh";
}

/// A verified refresh token: whose, which session, which token.
#[derive(Debug)]
pub struct RefreshToken {
    pub user: UserId,
    pub session: String,
    jti: String,
}

pub struct Sessions {
    signer: Signer<RefreshClaims>,
    store: Store,
    revoked: RevocationCache,
}

impl Sessions {
    pub fn new(secret: &[u8], ttl: Duration, store: Store, revoked: RevocationCache) -> Self {
        Self {
            signer: Signer::new(secret, ttl),
            store,
            revoked,
        }
    }

    pub fn ttl(&self) -> Duration {
        self.signer.ttl()
    }

    /// Opens a session for a fresh login and answers its first token.
    pub async fn open(&self, user: UserId) -> Result<String, ApiError> {
        let session = new_id();
        let jti = new_id();
        let expires_at = Timestamp::now().plus(self.ttl());
        self.store
            .open_session(&session, user, &jti, expires_at)
            .await?;
        self.sign(user, &session, &jti)
    }

    /// Checks signature, audience and expiry; says nothing about revocation.
    pub fn verify(&self, token: &str) -> Result<RefreshToken, ApiError> {
        let claims = self
            .signer
            .verify(token)
            .map_err(|_| ApiError::Unauthorized("invalid or expired refresh token"))?;
        let user = claims
            .sub
            .parse()
            .map_err(|_| ApiError::Unauthorized("invalid refresh token subject"))?;
        Ok(RefreshToken {
            user: UserId::new(user),
            session: claims.sid,
            jti: claims.jti,
        })
    }

    /// Exchanges a current refresh token for the next one of its session.
    pub async fn rotate(&self, token: &RefreshToken) -> Result<String, ApiError> {
        if self.revoked.is_marked(&token.session).await {
            return Err(ApiError::Unauthorized("this session has been revoked"));
        }
        let next = new_id();
        let rotation = self
            .store
            .rotate_refresh(&token.session, token.user, &token.jti, &next)
            .await?;
        match rotation {
            Rotation::Rotated => self.sign(token.user, &token.session, &next),
            Rotation::Reused => {
                tracing::warn!(user = token.user.get(), session = %token.session, "refresh token reused; session revoked");
                self.revoked.mark(&token.session, self.ttl()).await;
                Err(ApiError::Unauthorized(
                    "refresh token already used: the session has been revoked, log in again",
                ))
            }
            Rotation::Revoked => {
                // Mirror it: Redis may have restarted since the revocation.
                self.revoked.mark(&token.session, self.ttl()).await;
                Err(ApiError::Unauthorized("this session has been revoked"))
            }
            Rotation::Unknown => Err(ApiError::Unauthorized("unknown refresh token")),
        }
    }

    /// Ends the session `token` belongs to, if it is `caller`'s.
    pub async fn close(&self, token: &RefreshToken, caller: UserId) -> Result<(), ApiError> {
        if token.user != caller {
            return Err(ApiError::Forbidden("that refresh token is not yours"));
        }
        let owned = self
            .store
            .revoke_session(&token.session, caller, RevokeReason::Logout)
            .await?;
        if !owned {
            return Err(ApiError::Unauthorized("unknown refresh token"));
        }
        self.revoked.mark(&token.session, self.ttl()).await;
        Ok(())
    }

    /// Ends every session of `user` (password change, withdrawal, demotion),
    /// in the database and in the Redis mirror.
    pub async fn close_all(&self, user: UserId, reason: RevokeReason) -> Result<(), StoreError> {
        for session in self.store.revoke_user_sessions(user, reason).await? {
            self.revoked.mark(&session, self.ttl()).await;
        }
        Ok(())
    }

    fn sign(&self, user: UserId, session: &str, jti: &str) -> Result<String, ApiError> {
        let claims = RefreshClaims {
            sub: user.get().to_string(),
            sid: session.to_string(),
            jti: jti.to_string(),
        };
        self.signer
            .sign(claims)
            .map_err(|e| ApiError::Internal(format!("signing refresh token: {e}")))
    }
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
