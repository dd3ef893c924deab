//! What a cluster node tells the others so that their in-process state does
//! not go stale (issue 16): a catalog write (their caches of products,
//! listing pages, offers and missing SKUs), a logout everywhere (their
//! access-token revocations), and a post or comment removed (whichever
//! node decides its likes must forget its counter actor). Rate-limit budgets stay per node: see
//! docs/cluster.md.
//!
//! Notes go over plain NATS publish/subscribe on
//! `<prefix>_cluster.notes`: at most once, no JetStream. What a node does
//! with the others' notes, and after a gap in its connection, is
//! `peer_listener`'s.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::domain::counter::Target;

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
pub(super) struct Envelope {
    from: String,
    pub(super) note: Note,
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

    /// Subscribes to the other nodes' notes.
    pub(super) async fn subscribe(
        &self,
    ) -> Result<async_nats::Subscriber, async_nats::SubscribeError> {
        self.inner.nats.subscribe(self.inner.subject.clone()).await
    }

    /// True when a note came from this node (it hears its own).
    pub(super) fn is_mine(&self, envelope: &Envelope) -> bool {
        envelope.from == self.inner.me
    }

    pub(super) fn connected(&self) -> bool {
        self.inner.nats.connection_state() == async_nats::connection::State::Connected
    }
}
