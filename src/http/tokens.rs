//! Signed tokens (JWT, HS256), made and checked one way for every kind.
//!
//! A kind of token is a claims type that names its audience; a [`Signer`]
//! for it owns the secret, the lifetime and the validation every token is
//! held to (our issuer, that audience, expiry with 5 s of leeway). Tokens of
//! one kind can never pass for another: the audiences differ, and access and
//! refresh tokens are signed with different secrets besides.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::marker::PhantomData;
use std::time::Duration;

use crate::domain::time::Timestamp;

/// The `iss` of every token we sign, and the only one we accept.
pub const ISSUER: &str = "stampede";

/// Seconds of clock skew tolerated when checking `exp`.
const LEEWAY_SECS: u64 = 5;

/// The claims particular to one kind of token. The registered claims (`iat`,
/// `exp`, `iss`, `aud`) are the [`Signer`]'s to set and check.
pub trait TokenClaims: Serialize + DeserializeOwned {
    /// The `aud` tokens of this kind are signed for and checked against.
    const AUDIENCE: &'static str;
}

/// Why a token could not be made or was refused.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error(transparent)]
    Sign(jsonwebtoken::errors::Error),
    /// Bad signature, issuer, audience or shape, or expired.
    #[error(transparent)]
    Invalid(jsonwebtoken::errors::Error),
}

/// A token as signed: the kind's own claims, then the registered ones.
#[derive(Serialize, Deserialize)]
struct Envelope<C> {
    #[serde(flatten)]
    claims: C,
    iat: i64,
    exp: i64,
    iss: String,
    aud: String,
}

/// Signs and verifies tokens of kind `C`.
pub struct Signer<C> {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
    kind: PhantomData<fn(C) -> C>,
}

impl<C: TokenClaims> Signer<C> {
    pub fn new(secret: &[u8], ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[C::AUDIENCE]);
        validation.leeway = LEEWAY_SECS;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            ttl,
            kind: PhantomData,
        }
    }

    /// How long a token lives from the moment it is signed.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// A token carrying `claims`, issued now and expiring after the TTL.
    pub fn sign(&self, claims: C) -> Result<String, TokenError> {
        let now = Timestamp::now().millis() / 1000;
        let envelope = Envelope {
            claims,
            iat: now,
            exp: now + self.ttl.as_secs() as i64,
            iss: ISSUER.into(),
            aud: C::AUDIENCE.into(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &envelope, &self.encoding)
            .map_err(TokenError::Sign)
    }

    /// The claims of `token` once its signature, issuer, audience and expiry
    /// check out.
    pub fn verify(&self, token: &str) -> Result<C, TokenError> {
        jsonwebtoken::decode::<Envelope<C>>(token, &self.decoding, &self.validation)
            .map(|data| data.claims.claims)
            .map_err(TokenError::Invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Alpha {
        sub: String,
    }

    impl TokenClaims for Alpha {
        const AUDIENCE: &'static str = "test-alpha";
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Beta {
        sub: String,
    }

    impl TokenClaims for Beta {
        const AUDIENCE: &'static str = "test-beta";
    }

    const TTL: Duration = Duration::from_secs(60);

    fn alpha() -> Alpha {
        Alpha { sub: "7".into() }
    }

    #[test]
    fn a_signed_token_verifies_to_its_claims() {
        let signer = Signer::<Alpha>::new(b"secret", TTL);
        let token = signer.sign(alpha()).expect("sign");
        assert_eq!(signer.verify(&token).expect("verify"), alpha());
    }

    #[test]
    fn carries_issuer_audience_and_lifetime() {
        let signer = Signer::<Alpha>::new(b"secret", TTL);
        let token = signer.sign(alpha()).expect("sign");
        let mut loose = Validation::new(Algorithm::HS256);
        loose.validate_aud = false;
        let raw = jsonwebtoken::decode::<serde_json::Value>(
            &token,
            &DecodingKey::from_secret(b"secret"),
            &loose,
        )
        .expect("decode")
        .claims;
        assert_eq!(raw["sub"], "7");
        assert_eq!(raw["iss"], ISSUER);
        assert_eq!(raw["aud"], "test-alpha");
        let lifetime = raw["exp"].as_i64().expect("exp") - raw["iat"].as_i64().expect("iat");
        assert_eq!(lifetime, 60);
    }

    #[test]
    fn refuses_another_audience_or_secret() {
        let token = Signer::<Alpha>::new(b"secret", TTL)
            .sign(alpha())
            .expect("sign");
        assert!(matches!(
            Signer::<Beta>::new(b"secret", TTL).verify(&token),
            Err(TokenError::Invalid(_))
        ));
        assert!(matches!(
            Signer::<Alpha>::new(b"other", TTL).verify(&token),
            Err(TokenError::Invalid(_))
        ));
        assert!(matches!(
            Signer::<Alpha>::new(b"secret", TTL).verify("not.a.jwt"),
            Err(TokenError::Invalid(_))
        ));
    }

    #[test]
    fn refuses_an_expired_token() {
        let signer = Signer::<Alpha>::new(b"secret", Duration::ZERO);
        let now = Timestamp::now().millis() / 1000;
        let stale = Envelope {
            claims: alpha(),
            iat: now - 120,
            exp: now - 60,
            iss: ISSUER.into(),
            aud: Alpha::AUDIENCE.into(),
        };
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &stale,
            &EncodingKey::from_secret(b"secret"),
        )
        .expect("encode");
        assert!(matches!(signer.verify(&token), Err(TokenError::Invalid(_))));
    }
}
