//! Email verification from the HTTP side: drawing codes and link tokens,
//! the mail that carries them, and the budgets of resends (per account and
//! per client IP, `governor` buckets refilling per hour). Wrong codes are
//! budgeted per code, in the store (`persistence/verification.rs`).

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use rand::Rng;
use std::num::NonZeroU32;
use std::time::Duration;

use super::ApiError;
use super::client_ip::ClientKey;
use crate::config::VerificationSettings;
use crate::domain::email::Email;
use crate::domain::ids::UserId;
use crate::domain::mail;
use crate::domain::time::Timestamp;
use crate::domain::verification::{HashKey, LinkToken, VerificationCode};
use crate::persistence::{NewCode, NewMail};

pub struct Verifier {
    key: HashKey,
    ttl: Duration,
    attempts: u32,
    /// Where links point: `<public_url>/api/v1/auth/verify-email?token=…`.
    public_url: String,
    per_account: Option<DefaultKeyedRateLimiter<String>>,
    per_ip: Option<DefaultKeyedRateLimiter<ClientKey>>,
}

impl Verifier {
    /// `secret` keys the stored hashes (see [`HashKey::derive`]); `bind`
    /// makes the link's address when no public URL is configured.
    pub fn new(secret: &[u8], settings: &VerificationSettings, bind: &str) -> Self {
        let public_url = settings
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{bind}"));
        Self {
            key: HashKey::derive(secret),
            ttl: settings.code_ttl(),
            attempts: settings.max_attempts.max(1),
            public_url: public_url.trim_end_matches('/').to_owned(),
            per_account: hourly(settings.resend_per_account_per_hour),
            per_ip: hourly(settings.resend_per_ip_per_hour),
        }
    }

    pub fn key(&self) -> &HashKey {
        &self.key
    }

    /// A fresh code for `user`, with the mail that sends it to `email`.
    pub fn issue(&self, user: UserId, email: &Email) -> NewCode {
        let mut rng = rand::rng();
        let code = VerificationCode::from_number(rng.random_range(0..1_000_000));
        let token = LinkToken::from_bytes(rng.random());
        let link = format!(
            "{}/api/v1/auth/verify-email?token={}",
            self.public_url,
            token.as_str()
        );
        let letter = mail::verification(code.as_str(), &link, self.ttl.as_secs().div_ceil(60));
        NewCode {
            code_hash: self.key.code_hash(user.get(), &code),
            link_hash: self.key.link_hash(&token),
            expires_at: Timestamp::now().plus(self.ttl),
            attempts: self.attempts,
            mail: NewMail {
                kind: letter.kind,
                recipient: email.as_str().to_owned(),
                subject: letter.subject,
                body: letter.body,
                dedupe_key: None,
            },
        }
    }

    /// Spends one resend of `client`'s and of account `email`'s budgets
    /// (the account's whether or not it exists, so a refusal tells nothing).
    pub fn spend_resend(&self, client: Option<&ClientKey>, email: &Email) -> Result<(), ApiError> {
        let refusal = |wait: Duration| ApiError::RateLimited(wait.max(Duration::from_secs(1)));
        if let (Some(limiter), Some(client)) = (&self.per_ip, client) {
            limiter
                .check_key(client)
                .map_err(|n| refusal(n.wait_time_from(DefaultClock::default().now())))?;
        }
        if let Some(limiter) = &self.per_account {
            limiter
                .check_key(&email.as_str().to_owned())
                .map_err(|n| refusal(n.wait_time_from(DefaultClock::default().now())))?;
        }
        Ok(())
    }

    /// Forgets budgets that are full again.
    pub fn prune(&self) {
        if let Some(l) = &self.per_account {
            l.retain_recent();
        }
        if let Some(l) = &self.per_ip {
            l.retain_recent();
        }
    }
}

fn hourly<K: std::hash::Hash + Eq + Clone>(n: u32) -> Option<DefaultKeyedRateLimiter<K>> {
    let n = NonZeroU32::new(n)?;
    Some(RateLimiter::keyed(Quota::per_hour(n).allow_burst(n)))
}
