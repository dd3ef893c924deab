//! The bearer token `GET /metrics` may require (`metrics_token`). Only a
//! digest is kept, and a presented token is compared by digest in constant
//! time, so neither the comparison's timing nor its length gives away how
//! much of a guess was right.

use actix_web::HttpRequest;
use actix_web::http::header;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::ApiError;

/// Shorter tokens are refused at start-up: guessable.
pub const MIN_LEN: usize = 16;

pub struct MetricsToken {
    digest: [u8; 32],
}

impl MetricsToken {
    pub fn new(token: &str) -> Result<Self, String> {
        if token.len() < MIN_LEN {
            return Err(format!(
                "metrics_token must be at least {MIN_LEN} characters"
            ));
        }
        Ok(Self {
            digest: Sha256::digest(token.as_bytes()).into(),
        })
    }

    /// `401` without a bearer token, `403` with another one.
    pub fn admit(&self, req: &HttpRequest) -> Result<(), ApiError> {
        let presented = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(ApiError::Unauthorized(
                "GET /metrics needs the metrics bearer token",
            ))?;
        let digest: [u8; 32] = Sha256::digest(presented.trim().as_bytes()).into();
        if bool::from(digest.ct_eq(&self.digest)) {
            Ok(())
        } else {
            Err(ApiError::Forbidden("wrong metrics token"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn only_the_configured_token_is_admitted() {
        let token = MetricsToken::new("scrape-me-0123456789").expect("token");
        let with = |auth: &str| {
            TestRequest::default()
                .insert_header((header::AUTHORIZATION, auth))
                .to_http_request()
        };
        assert!(token.admit(&with("Bearer scrape-me-0123456789")).is_ok());
        assert!(matches!(
            token.admit(&TestRequest::default().to_http_request()),
            Err(ApiError::Unauthorized(_))
        ));
        assert!(matches!(
            token.admit(&with("Basic abc")),
            Err(ApiError::Unauthorized(_))
        ));
        for wrong in [
            "Bearer scrape-me-012345678",
            "Bearer scrape-me-01234567890",
            "Bearer ",
        ] {
            assert!(matches!(
                token.admit(&with(wrong)),
                Err(ApiError::Forbidden(_))
            ));
        }
        assert!(MetricsToken::new("short").is_err());
    }
}
