//! What a cluster node tells the others so that their in-process state does
//! not go stale (issue 16): a catalog write (their caches of products,
//! listing pages, offers and missing SKUs), a logout everywhere (their
//! access-token revocations), and a post or comment removed (whichever
//! node decides its likes must forget its counter actor). Rate-limit budgets stay per node: see
//! docs/cluster.md.
//!
//! Notes go over plain NATS publish/subscribe on
//! `<prefix>_cluster.notes`: at most once, no JetStream. A node that was
//! cut off from NATS may have missed some, so when its connection comes
//! back it empties its catalog caches and reloads recent revocations from
//! the database (where `logout-all` stores them first).

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use super::state::AppState;
use crate::domain::counter::Target;
use crate::domain::ids::{CommentId, PostId, ProductId, UserId};
use crate::domain::time::Timestamp;

/// How often the listener looks at its NATS connection.
const WATCH_EVERY: Duration = Duration::from_millis(500);

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Note {
    /// A product was written: its page and every listing.
    Product(i64),
    /// A product was added: listings only.
    Listings,
    /// Anything may have changed (a seller withdrew).
    Everything,
    /// `user`'s access tokens issued up to `at_ms` are refused.
    Revoked {
        user: i64,
        at_ms: i64,
    },
    /// A post was deleted or hidden: its counter and its comments' go.
    ForgetPost(i64),
    /// A comment or account went: its counter goes.
    ForgetComment(i64),
    ForgetAccount(i64),
}

impl Note {
    /// The note that makes the other nodes forget `target`'s counter.
    pub fn forget(target: Target) -> Self {
        match target {
            Target::Post(id) => Note::ForgetPost(id.get()),
            Target::Comment(id) => Note::ForgetComment(id.get()),
            Target::Account(id) => Note::ForgetAccount(id.get()),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Envelope {
    from: String,
    note: Note,
}

/// This node's mouth to the others.
#[derive(Clone)]
pub struct Peers {
    inner: Arc<Inner>,
}

struct Inner {
    nats: async_nats::Client,
    subject: String,
    me: String,
}

impl Peers {
    pub fn new(nats: async_nats::Client, prefix: &str, me: &str) -> Self {
        Self {
            inner: Arc::new(Inner {
                nats,
                subject: format!("{prefix}_cluster.notes"),
                me: me.to_string(),
            }),
        }
    }

    /// Tells every other node, without waiting: a note that cannot go out
    /// (NATS down) is made up for by the receivers' reconnect.
    pub fn tell(&self, note: Note) {
        let envelope = Envelope {
            from: self.inner.me.clone(),
            note,
        };
        let body = match serde_json::to_vec(&envelope) {
            Ok(body) => body,
            Err(e) => {
                tracing::error!(error = %e, "could not encode a note to the other nodes");
                return;
            }
        };
        let inner = Arc::clone(&self.inner);
        tokio::spawn(async move {
            if let Err(e) = inner.nats.publish(inner.subject.clone(), body.into()).await {
                tracing::warn!(error = %e, "could not tell the other nodes; they catch up on reconnect");
            }
        });
    }

    /// Applies the other nodes' notes to `state` until the connection
    /// closes, and catches up after every reconnect.
    pub async fn listen(
        &self,
        state: web::Data<AppState>,
    ) -> Result<tokio::task::JoinHandle<()>, async_nats::SubscribeError> {
        let mut notes = self
            .inner
            .nats
            .subscribe(self.inner.subject.clone())
            .await?;
        let inner = Arc::clone(&self.inner);
        Ok(tokio::spawn(async move {
            let mut watch = tokio::time::interval(WATCH_EVERY);
            let mut was_connected = true;
            loop {
                tokio::select! {
                    message = notes.next() => {
                        let Some(message) = message else { break };
                        match serde_json::from_slice::<Envelope>(&message.payload) {
                            Ok(e) if e.from == inner.me => {}
                            Ok(e) => apply(&state, e.note),
                            Err(e) => tracing::warn!(error = %e, "a note from another node could not be read"),
                        }
                    }
                    _ = watch.tick() => {
                        let connected = inner.nats.connection_state()
                            == async_nats::connection::State::Connected;
                        if connected && !was_connected {
                            catch_up(&state).await;
                        }
                        was_connected = connected;
                    }
                }
            }
        }))
    }
}

fn apply(state: &AppState, note: Note) {
    match note {
        Note::Product(id) => {
            state.catalog.forget(ProductId::new(id));
            state.store.forget_cached_catalog();
        }
        Note::Listings => {
            state.catalog.forget_listings();
            state.store.forget_cached_catalog();
        }
        Note::Everything => {
            state.catalog.forget_all();
            state.store.forget_cached_catalog();
        }
        Note::Revoked { user, at_ms } => state
            .tokens
            .revocations()
            .revoke(UserId::new(user), Timestamp::from_millis(at_ms)),
        Note::ForgetPost(id) => state.counters.forget_post(PostId::new(id)),
        Note::ForgetComment(id) => state.counters.forget(Target::Comment(CommentId::new(id))),
        Note::ForgetAccount(id) => state.counters.forget(Target::Account(UserId::new(id))),
    }
}

/// After a gap in the connection: what notes may have been missed.
async fn catch_up(state: &AppState) {
    tracing::info!("NATS is back: emptying catalog caches and reloading revocations");
    state.catalog.forget_all();
    state.store.forget_cached_catalog();
    let recent = Timestamp::now().minus(state.tokens.ttl());
    match state.store.access_revocations_since(recent).await {
        Ok(revoked) => {
            for (user, at) in revoked {
                state.tokens.revocations().revoke(user, at);
            }
        }
        Err(e) => tracing::warn!(error = %e, "could not reload access revocations"),
    }
}
