//! Counters on a cluster: a like, unlike, follow or unfollow is decided by
//! the counter actor of the node holding its target's shard
//! (`ShardCount::of_counter`), so each target keeps one deciding actor and
//! its absolute counts stay right. [`ClusterCounters::toggle`] decides here
//! or hands the toggle to the owner over NATS request-reply, one request
//! per toggle; [`serve`] answers the toggles other nodes hand to this one.
//!
//! As with stock, no owner, no responder or no answer in time is
//! `Unavailable` (503): membership is idempotent, so a retry is safe.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use serde::{Deserialize, Serialize};

use super::directory::ShardDirectory;
use crate::actors::counters::{CounterError, Counters};
use crate::domain::counter::{Refusal as Rule, Tally, Target, Toggle};
use crate::domain::ids::{CommentId, PostId, UserId};
use crate::domain::shard::NodeId;
use crate::persistence::shard_fence::HeldShards;

/// The subject a node serves its counters' toggles on.
pub fn subject(prefix: &str, node: &str) -> String {
    format!("{prefix}_cluster.counter.{node}")
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub enum Kind {
    Post,
    Comment,
    Account,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Call {
    pub kind: Kind,
    pub id: i64,
    pub user: i64,
    pub on: bool,
}

#[derive(Debug, Serialize, Deserialize)]
pub enum Refusal {
    NotFound,
    SelfFollow,
    Overloaded,
    Unavailable,
}

pub type Reply = Result<(bool, i64), Refusal>;

impl Call {
    fn new(target: Target, toggle: Toggle) -> Self {
        let (kind, id) = match target {
            Target::Post(id) => (Kind::Post, id.get()),
            Target::Comment(id) => (Kind::Comment, id.get()),
            Target::Account(id) => (Kind::Account, id.get()),
        };
        Self {
            kind,
            id,
            user: toggle.user.get(),
            on: toggle.on,
        }
    }

    fn target(&self) -> Target {
        match self.kind {
            Kind::Post => Target::Post(PostId::new(self.id)),
            Kind::Comment => Target::Comment(CommentId::new(self.id)),
            Kind::Account => Target::Account(UserId::new(self.id)),
        }
    }

    fn toggle(&self) -> Toggle {
        Toggle {
            user: UserId::new(self.user),
            on: self.on,
        }
    }
}

impl From<&CounterError> for Refusal {
    fn from(e: &CounterError) -> Self {
        match e {
            CounterError::NotFound(_) => Refusal::NotFound,
            CounterError::Refused(Rule::SelfFollow) => Refusal::SelfFollow,
            CounterError::Overloaded => Refusal::Overloaded,
            CounterError::Unavailable | CounterError::Retired | CounterError::Store(_) => {
                Refusal::Unavailable
            }
        }
    }
}

impl Refusal {
    fn into_error(self, target: Target) -> CounterError {
        match self {
            Refusal::NotFound => CounterError::NotFound(target),
            Refusal::SelfFollow => CounterError::Refused(Rule::SelfFollow),
            Refusal::Overloaded => CounterError::Overloaded,
            Refusal::Unavailable => CounterError::Unavailable,
        }
    }
}

pub struct ClusterCounters {
    pub(super) local: Counters,
    pub(super) held: Arc<HeldShards>,
    pub(super) directory: Arc<ShardDirectory>,
    pub(super) me: NodeId,
    pub(super) nats: async_nats::Client,
    pub(super) prefix: String,
    pub(super) timeout: Duration,
}

impl ClusterCounters {
    /// [`Counters::toggle`] on the node deciding `target`.
    pub async fn toggle(&self, target: Target, toggle: Toggle) -> Result<Tally, CounterError> {
        if self.held.serves_counter(target) {
            return self.local.toggle(target, toggle).await;
        }
        let node = match self.directory.owner(self.held.count().of_counter(target)) {
            Some(node) if node != self.me.as_str() => node,
            // Free, or ours and being handed over: nobody decides it now.
            _ => return Err(CounterError::Unavailable),
        };
        let payload = serde_json::to_vec(&Call::new(target, toggle)).map_err(|e| {
            tracing::error!(error = %e, "could not encode a counter toggle");
            CounterError::Unavailable
        })?;
        let answer = tokio::time::timeout(
            self.timeout,
            self.nats
                .request(subject(&self.prefix, &node), payload.into()),
        )
        .await
        .map_err(|_| CounterError::Unavailable)?
        .map_err(|e| {
            tracing::debug!(error = %e, %node, "a counter toggle got no answer");
            CounterError::Unavailable
        })?;
        let reply: Reply = serde_json::from_slice(&answer.payload).map_err(|e| {
            tracing::warn!(error = %e, %node, "a counter's node answered something unreadable");
            CounterError::Unavailable
        })?;
        reply
            .map(|(on, count)| Tally { on, count })
            .map_err(|refused| refused.into_error(target))
    }
}

/// Answers the toggles other nodes send this one until the subscription
/// ends (the client closes). A toggle for a target this node does not
/// decide is answered `Unavailable` by [`Counters::toggle`] itself.
pub async fn serve(
    nats: async_nats::Client,
    prefix: &str,
    node: &str,
    counters: Counters,
) -> Result<tokio::task::JoinHandle<()>, async_nats::SubscribeError> {
    let mut requests = nats.subscribe(subject(prefix, node)).await?;
    Ok(tokio::spawn(async move {
        while let Some(message) = requests.next().await {
            let Some(reply_to) = message.reply.clone() else {
                continue;
            };
            let (nats, counters) = (nats.clone(), counters.clone());
            tokio::spawn(async move {
                let reply: Reply = match serde_json::from_slice::<Call>(&message.payload) {
                    Ok(call) => counters
                        .toggle(call.target(), call.toggle())
                        .await
                        .map(|t| (t.on, t.count))
                        .map_err(|e| Refusal::from(&e)),
                    Err(e) => {
                        tracing::warn!(error = %e, "a counter toggle could not be read");
                        Err(Refusal::Unavailable)
                    }
                };
                match serde_json::to_vec(&reply) {
                    Ok(body) => {
                        if let Err(e) = nats.publish(reply_to, body.into()).await {
                            tracing::warn!(error = %e, "could not answer a counter toggle");
                        }
                    }
                    Err(e) => tracing::error!(error = %e, "could not encode a counter answer"),
                }
            });
        }
    }))
}
