//! The one writer of every counter's changes, on the generic
//! [`group_commit`]: a batch of likes, unlikes, follows and unfollows is
//! one transaction ([`Store::write_memberships`]), each target's counter
//! set once to its actor's last count. A failed batch is kept and retried
//! (its waiting callers hear at once that they are not durable), like the
//! stock persister's; a target whose changes the store refuses is held
//! apart and its actor refuses new decisions meanwhile.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::registry::CounterStats;
use crate::actors::group_commit::{
    self, Commit, Config, GroupCommit, NotDurable, OnFailure, Refused, Skipped, Trigger,
};
use crate::config::CounterSettings;
use crate::domain::counter::Target;
use crate::domain::time::Timestamp;
use crate::persistence::{Membership, Store, StoreError};

/// Called once, after the batch holding its change commits or fails.
pub type Ack = group_commit::Ack<NotDurable>;

/// How counter actors reach the writer; survives restarts.
pub type Writer = GroupCommit<MembershipCommit>;

/// Spawns the writer and its flush timer. Link it to a supervisor.
pub async fn start(store: Store, settings: &CounterSettings) -> Result<Writer, ractor::SpawnErr> {
    let config = Config {
        trigger: Trigger::Every(settings.flush_interval()),
        batch_max: settings.batch_max,
        queue_max: settings.queue_max,
    };
    GroupCommit::start(MembershipCommit { store }, config).await
}

/// Hands a change over on behalf of its actor's `owner` counters.
pub fn write(writer: &Writer, change: Membership, ack: Option<Ack>, owner: &Arc<CounterStats>) {
    owner.unflushed.fetch_add(1, Ordering::Relaxed);
    let write = CounterWrite {
        change,
        owner: Arc::clone(owner),
    };
    if !writer.write(write, ack) {
        owner.unflushed.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A change and the counters of the actor that decided it.
pub struct CounterWrite {
    change: Membership,
    owner: Arc<CounterStats>,
}

pub struct MembershipCommit {
    store: Store,
}

impl Commit for MembershipCommit {
    type Write = CounterWrite;
    type Error = NotDurable;
    const WRITER: &'static str = "relations";
    const ON_FAILURE: OnFailure = OnFailure::KeepAndRetry;
    type Part = Target;

    fn part(write: &CounterWrite) -> Target {
        write.change.target
    }

    async fn commit(&self, writes: &[&CounterWrite]) -> Result<Skipped, StoreError> {
        let changes: Vec<&Membership> = writes.iter().map(|w| &w.change).collect();
        self.store.write_memberships(&changes).await?;
        Ok(Skipped::new())
    }

    fn refusal(_why: Refused) -> NotDurable {
        NotDurable
    }

    /// Tells the target's actor to stop deciding while its changes are held.
    fn held(&self, writes: &[&CounterWrite], held: bool) {
        for w in writes {
            w.owner.held.store(held, Ordering::Relaxed);
        }
    }

    fn committed(&self, writes: &[&CounterWrite], _at: Timestamp) {
        let mut per_owner: HashMap<*const CounterStats, (&CounterStats, i64)> = HashMap::new();
        for w in writes {
            let owner = &*w.owner;
            per_owner
                .entry(owner as *const CounterStats)
                .or_insert((owner, 0))
                .1 += 1;
        }
        for (owner, n) in per_owner.into_values() {
            owner.unflushed.fetch_sub(n, Ordering::Relaxed);
        }
    }
}
