//! Authentication: access tokens (JWT, HS256, signed and checked by
//! [`tokens`](super::tokens)) and the extractors handlers use to say who may
//! call them. `AuthUser` is any signed-in account; `Admin`
//! additionally requires the admin role.
//!
//! Whether the caller's email is verified travels in the access token
//! (`ev`), set at login and refresh: the purchase path checks a claim it has
//! already decoded instead of reading the account (a refresh after verifying
//! brings the new claim). Tokens are refused after their account logged out
//! everywhere through [`AccessRevocations`], an in-memory map: no read either.

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, http::header, web};
use serde::{Deserialize, Serialize};
use std::future::{Ready, ready};
use std::time::Duration;

use super::access_revocations::AccessRevocations;
use super::tokens::{Signer, TokenClaims};
use super::{ApiError, AppState};
use crate::domain::ids::UserId;
use crate::domain::role::Role;
use crate::domain::time::Timestamp;

#[derive(Debug, Serialize, Deserialize)]
struct AccessClaims {
    sub: String,
    role: Role,
    /// The email was verified when the token was issued. Tokens from before
    /// verification existed lack it: their accounts count as verified.
    #[serde(default = "verified_by_default")]
    ev: bool,
    /// Issue instant in milliseconds (`iat` has only seconds), compared with
    /// the account's last logout everywhere.
    #[serde(default)]
    ms: i64,
}

fn verified_by_default() -> bool {
    true
}

impl TokenClaims for AccessClaims {
    const AUDIENCE: &'static str = "stampede-api";
}

/// Signs and checks access tokens.
pub struct TokenKeys {
    signer: Signer<AccessClaims>,
    revoked: AccessRevocations,
}

impl TokenKeys {
    pub fn new(secret: &[u8], ttl: Duration) -> Self {
        Self {
            signer: Signer::new(secret, ttl),
            revoked: AccessRevocations::default(),
        }
    }

    /// Accounts whose earlier access tokens are refused.
    pub fn revocations(&self) -> &AccessRevocations {
        &self.revoked
    }

    pub fn ttl(&self) -> Duration {
        self.signer.ttl()
    }

    pub fn issue(&self, user: UserId, role: Role, verified: bool) -> Result<String, ApiError> {
        let claims = AccessClaims {
            sub: user.get().to_string(),
            role,
            ev: verified,
            ms: Timestamp::now().millis(),
        };
        self.signer
            .sign(claims)
            .map_err(|e| ApiError::Internal(format!("signing token: {e}")))
    }

    fn verify(&self, token: &str) -> Result<AuthUser, ApiError> {
        let claims = self
            .signer
            .verify(token)
            .map_err(|_| ApiError::Unauthorized("invalid or expired access token"))?;
        let id = claims
            .sub
            .parse()
            .map_err(|_| ApiError::Unauthorized("invalid access token subject"))?;
        let id = UserId::new(id);
        if self.revoked.refuses(id, claims.ms) {
            return Err(ApiError::Unauthorized(
                "this access token was revoked: log in again",
            ));
        }
        Ok(AuthUser {
            id,
            role: claims.role,
            email_verified: claims.ev,
        })
    }
}

/// A caller with a valid access token.
#[derive(Debug, Clone, Copy)]
pub struct AuthUser {
    pub id: UserId,
    pub role: Role,
    /// As of the token's issue (see the module comment).
    pub email_verified: bool,
}

impl AuthUser {
    /// Refuses `403 EMAIL_NOT_VERIFIED` when the shop requires a verified
    /// email to buy and this caller's token says it is not.
    pub fn require_verified(&self, state: &AppState) -> Result<(), ApiError> {
        if state.require_verified_email && !self.email_verified {
            return Err(ApiError::EmailNotVerified);
        }
        Ok(())
    }
}

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req))
    }
}

/// The caller behind a request: verified once, then remembered in the
/// request's extensions (the per-user rate limit may have done it already).
pub(crate) fn authenticate(req: &HttpRequest) -> Result<AuthUser, ApiError> {
    if let Some(user) = req.extensions().get::<AuthUser>() {
        return Ok(*user);
    }
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::Internal("app state missing".into()))?;
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or(ApiError::Unauthorized(
            "missing Authorization: Bearer token",
        ))?;
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(ApiError::Unauthorized(
            "Authorization must be a Bearer token",
        ))?;
    state.tokens.verify(token.trim())
}

/// Declares an extractor that admits only callers with one role. Handlers
/// state who may call them by the extractor they take: `AuthUser` (anyone
/// signed in), `Customer`, `Seller` or `Admin`.
macro_rules! role_extractor {
    ($(#[$doc:meta])* $name:ident, $role:expr, $refusal:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        pub struct $name(pub AuthUser);

        impl $name {
            pub fn id(&self) -> UserId {
                self.0.id
            }
        }

        impl FromRequest for $name {
            type Error = ApiError;
            type Future = Ready<Result<Self, ApiError>>;

            fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
                ready(authenticate(req).and_then(|user| {
                    if user.role == $role {
                        Ok($name(user))
                    } else {
                        Err(ApiError::Forbidden($refusal))
                    }
                }))
            }
        }
    };
}

role_extractor!(
    /// A caller signed in as a buyer.
    Customer,
    Role::Customer,
    "this route is for customers"
);
role_extractor!(
    /// A caller signed in as a seller.
    Seller,
    Role::Seller,
    "this route is for sellers"
);
role_extractor!(
    /// A caller signed in as an operator.
    Admin,
    Role::Admin,
    "this route is for admins"
);
