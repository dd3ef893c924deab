//! Access tokens refused before they expire: after `POST /auth/logout-all`
//! an account's tokens issued up to that instant stop working. Checked on
//! every authenticated request, so it is an in-memory map (one lookup, no
//! read); the instant is also stored on the account, and start-up reloads
//! those recent enough to matter (younger than the access token lifetime).
//! Entries older than that are pruned: every token they refuse has expired.
//!
//! On a cluster, the node that took the logout tells the others over NATS
//! (`http::peers`), and a node that was cut off from NATS reloads the
//! stored ones when it reconnects.

use dashmap::DashMap;
use std::time::Duration;

use crate::domain::ids::UserId;
use crate::domain::time::Timestamp;

#[derive(Debug, Default)]
pub struct AccessRevocations {
    /// Per account: tokens issued at or before this instant (ms) are refused.
    before: DashMap<UserId, i64>,
}

impl AccessRevocations {
    /// Refuses `user`'s tokens issued up to `at`.
    pub fn revoke(&self, user: UserId, at: Timestamp) {
        let mut entry = self.before.entry(user).or_insert(at.millis());
        *entry = (*entry).max(at.millis());
    }

    /// Whether a token of `user` issued at `issued_ms` is refused.
    pub fn refuses(&self, user: UserId, issued_ms: i64) -> bool {
        self.before
            .get(&user)
            .is_some_and(|cutoff| issued_ms <= *cutoff)
    }

    /// Forgets revocations older than `ttl` (the access token lifetime).
    pub fn prune(&self, ttl: Duration) {
        let oldest = Timestamp::now().minus(ttl).millis();
        self.before.retain(|_, at| *at >= oldest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_tokens_issued_up_to_the_revocation_only() {
        let r = AccessRevocations::default();
        let user = UserId::new(1);
        let at = Timestamp::from_millis(1_000);
        assert!(!r.refuses(user, 900));
        r.revoke(user, at);
        assert!(r.refuses(user, 900));
        assert!(r.refuses(user, 1_000));
        assert!(!r.refuses(user, 1_001));
        assert!(!r.refuses(UserId::new(2), 900));
        r.revoke(user, Timestamp::from_millis(500));
        assert!(r.refuses(user, 1_000), "an older revocation never narrows");
        r.prune(Duration::from_secs(1));
        assert!(!r.refuses(user, 900), "pruned long after");
    }
}
