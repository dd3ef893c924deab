//! How a node reaches the owner of a shard: who owns it now, as the last
//! lease read says (never this node while it hands the shard over), and a
//! NATS request-reply to that node on a subject of its own per service
//! (`<prefix>_cluster.<service>.<node>`). Stock batches its calls per link
//! on top of this (`forward`); sagas and counters send one request per
//! call. [`Owners::serve`] is the other side: it answers one service's
//! requests.
//!
//! Per-node subjects, not per-shard ones: a paused node keeps its
//! subscriptions until the server notices it is gone, and must not be the
//! one a request for a shard it lost reaches.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::directory::ShardDirectory;
use crate::domain::shard::{NodeId, ShardId};
use crate::persistence::shard_fence::HeldShards;

/// The subject `node` serves `service` on.
pub fn subject(prefix: &str, service: &str, node: &str) -> String {
    format!("{prefix}_cluster.{service}.{node}")
}

pub struct Owners {
    pub held: Arc<HeldShards>,
    pub directory: Arc<ShardDirectory>,
    pub me: NodeId,
    pub nats: async_nats::Client,
    pub prefix: String,
    /// How long a request may take before its caller hears `503`.
    pub timeout: Duration,
}

impl Owners {
    /// The other node owning `shard` now; `None` when it is free, or ours
    /// and being handed over: nobody decides for it now.
    pub fn elsewhere(&self, shard: ShardId) -> Option<String> {
        self.directory
            .owner(shard)
            .filter(|node| node != self.me.as_str())
    }

    pub fn subject(&self, service: &str, node: &str) -> String {
        subject(&self.prefix, service, node)
    }

    /// Sends `call` to `node`'s `service` and reads its reply; `None` when
    /// none came in time or it could not be read (logged).
    pub async fn ask<C: Serialize, R: DeserializeOwned>(
        &self,
        service: &str,
        node: &str,
        call: &C,
    ) -> Option<R> {
        let payload = serde_json::to_vec(call)
            .map_err(|e| tracing::error!(error = %e, service, "could not encode a request"))
            .ok()?;
        let request = self
            .nats
            .request(self.subject(service, node), payload.into());
        let answer = match tokio::time::timeout(self.timeout, request).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(e)) => {
                tracing::debug!(error = %e, service, node, "a request got no answer");
                return None;
            }
            Err(_) => {
                tracing::debug!(service, node, "a request timed out");
                return None;
            }
        };
        serde_json::from_slice(&answer.payload)
            .map_err(|e| tracing::warn!(error = %e, service, node, "an answer could not be read"))
            .ok()
    }
}

impl Owners {
    /// Answers the requests other nodes send this one's `service` with
    /// `handle`, each in a task of its own, until the subscription ends
    /// (the client closes). A request that cannot be read is answered
    /// `unreadable()`.
    pub async fn serve<C, R, F, Fut>(
        &self,
        service: &str,
        unreadable: fn() -> R,
        handle: F,
    ) -> Result<tokio::task::JoinHandle<()>, async_nats::SubscribeError>
    where
        C: DeserializeOwned + Send + 'static,
        R: Serialize + Send + 'static,
        F: Fn(C) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = R> + Send + 'static,
    {
        let subject = self.subject(service, self.me.as_str());
        let nats = self.nats.clone();
        let mut requests = nats.subscribe(subject.clone()).await?;
        let handle = Arc::new(handle);
        Ok(tokio::spawn(async move {
            while let Some(message) = requests.next().await {
                let Some(reply_to) = message.reply.clone() else {
                    continue;
                };
                let (nats, handle) = (nats.clone(), Arc::clone(&handle));
                let subject = subject.clone();
                tokio::spawn(async move {
                    let reply = match serde_json::from_slice::<C>(&message.payload) {
                        Ok(call) => handle(call).await,
                        Err(e) => {
                            tracing::warn!(error = %e, %subject, "a request could not be read");
                            unreadable()
                        }
                    };
                    match serde_json::to_vec(&reply) {
                        Ok(body) => {
                            if let Err(e) = nats.publish(reply_to, body.into()).await {
                                tracing::warn!(error = %e, %subject, "could not answer a request");
                            }
                        }
                        Err(e) => {
                            tracing::error!(error = %e, %subject, "could not encode an answer")
                        }
                    }
                });
            }
        }))
    }
}
