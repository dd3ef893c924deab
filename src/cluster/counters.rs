//! Counters on a cluster: a like, unlike, follow or unfollow is decided by
//! the counter actor of the node holding its target's shard
//! (`ShardCount::of_counter`), so each target keeps one deciding actor and
//! its absolute counts stay right. [`ClusterCounters::toggle`] decides here
//! or hands the toggle to the owner through [`Owners`], one request per
//! toggle; [`serve`] answers the toggles other nodes hand to this one.
//!
//! As with stock, no owner, no responder or no answer in time is
//! `Unavailable` (503): membership is idempotent, so a retry is safe.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::owners::Owners;
use crate::actors::counters::{CounterError, Counters};
use crate::domain::counter::{Refusal as Rule, Tally, Target, Toggle};
use crate::domain::ids::{CommentId, PostId, UserId};

const SERVICE: &str = "counter";

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
    pub(super) owners: Arc<Owners>,
}

impl ClusterCounters {
    /// [`Counters::toggle`] on the node deciding `target`.
    pub async fn toggle(&self, target: Target, toggle: Toggle) -> Result<Tally, CounterError> {
        let held = &self.owners.held;
        if held.serves_counter(target) {
            return self.local.toggle(target, toggle).await;
        }
        let node = self
            .owners
            .elsewhere(held.count().of_counter(target))
            .ok_or(CounterError::Unavailable)?;
        let reply: Reply = self
            .owners
            .ask(SERVICE, &node, &Call::new(target, toggle))
            .await
            .ok_or(CounterError::Unavailable)?;
        reply
            .map(|(on, count)| Tally { on, count })
            .map_err(|refused| refused.into_error(target))
    }
}

/// Answers the toggles other nodes send this one. A toggle for a target
/// this node does not decide is answered `Unavailable` by
/// [`Counters::toggle`] itself.
pub async fn serve(
    owners: &Owners,
    counters: Counters,
) -> Result<tokio::task::JoinHandle<()>, async_nats::SubscribeError> {
    owners
        .serve(
            SERVICE,
            || Err(Refusal::Unavailable),
            move |call: Call| {
                let counters = counters.clone();
                async move {
                    counters
                        .toggle(call.target(), call.toggle())
                        .await
                        .map(|t| (t.on, t.count))
                        .map_err(|e| Refusal::from(&e))
                }
            },
        )
        .await
}
