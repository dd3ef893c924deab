//! Resuming the orders a stop left live. At start-up every live order's
//! saga is started again, a bounded number at a time (each loads its order
//! from the store). An order whose saga cannot start (its row unreadable,
//! the store briefly gone) must stop neither the service nor the other
//! orders: it is logged, kept here with the reason, listed in
//! `GET /admin/sagas`, and tried again every `orders.resume_retry_ms` until
//! its saga starts. On a cluster the same timer resumes the sagas of shards
//! taken over and gives back orphaned holds (see `retry_stuck`).

use dashmap::DashMap;
use futures::StreamExt;
use std::time::Duration;

use super::error::OrderError;
use super::handle::Orders;
use super::views::StuckOrderView;
use crate::domain::ids::OrderId;
use crate::domain::order::Step;
use crate::domain::time::Timestamp;

/// Orders whose saga could not be resumed, by their id as stored.
#[derive(Default)]
pub struct Stuck(DashMap<String, StuckOrderView>);

impl Stuck {
    fn failed(&self, raw: &str, reason: String) {
        let now = Timestamp::now();
        let mut entry = self
            .0
            .entry(raw.to_string())
            .or_insert_with(|| StuckOrderView {
                order_id: raw.to_string(),
                reason: String::new(),
                since: now,
                last_attempt_at: now,
                attempts: 0,
            });
        entry.reason = reason;
        entry.last_attempt_at = now;
        entry.attempts += 1;
    }

    fn resumed(&self, raw: &str) {
        self.0.remove(raw);
    }

    /// Drops the orders `pick` selects (their shard went to another node).
    pub(super) fn forget_where(&self, pick: impl Fn(&str) -> bool) {
        self.0.retain(|raw, _| !pick(raw));
    }

    fn ids(&self) -> Vec<String> {
        self.0.iter().map(|e| e.key().clone()).collect()
    }

    /// Every stuck order, by id.
    pub fn list(&self) -> Vec<StuckOrderView> {
        let mut all: Vec<StuckOrderView> = self.0.iter().map(|e| e.value().clone()).collect();
        all.sort_by(|a, b| a.order_id.cmp(&b.order_id));
        all
    }
}

impl Orders {
    /// Starts the sagas of the orders `ids`, at most `resume_concurrency`
    /// at a time; those that cannot start are kept as stuck.
    pub(super) async fn resume(&self, ids: Vec<String>) {
        let at_once = self.deps().settings.resume_concurrency.max(1);
        futures::stream::iter(ids)
            .for_each_concurrent(at_once, |raw| self.resume_one(raw))
            .await;
    }

    async fn resume_one(&self, raw: String) {
        match self.try_resume(&raw).await {
            Ok(()) => self.stuck().resumed(&raw),
            Err(reason) => {
                tracing::warn!(order = %raw, %reason,
                    "could not resume an order; skipped, it is retried later");
                self.stuck().failed(&raw, reason);
            }
        }
    }

    async fn try_resume(&self, raw: &str) -> Result<(), String> {
        let id = OrderId::parse(raw).map_err(|e| format!("unreadable order id: {e}"))?;
        let order = match self.deps().store.order(id).await {
            Ok(Some(order)) => order,
            // Gone, or (once repaired) finished: nothing to resume.
            Ok(None) => return Ok(()),
            Err(e) => return Err(e.to_string()),
        };
        if order.step == Step::Done {
            return Ok(());
        }
        match self.saga(id, Some(order)).await {
            Ok(_) => Ok(()),
            // The spawn error itself is logged where it happens.
            Err(OrderError::Unavailable) => Err("its saga could not be started".into()),
            Err(e) => Err(format!("its saga could not be started: {e}")),
        }
    }

    /// Tries the stuck orders again every `resume_retry_ms`, for as long as
    /// the service runs. A cluster node also looks for live orders of its
    /// shards with no saga running here, every
    /// [`sweep_every`](super::homes::SagaHomes::sweep_every):
    /// the orders of a shard it has just taken over, and orders whose
    /// placing node could not reach it to start their saga.
    pub(super) async fn retry_stuck(self) {
        let retry = self.deps().settings.resume_retry();
        let every = match &self.deps().homes {
            Some(homes) => homes.sweep_every().min(retry),
            None => retry,
        };
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The first tick is immediate: start-up has just tried them all.
        ticks.tick().await;
        let mut since_retry = Duration::ZERO;
        loop {
            ticks.tick().await;
            since_retry += every;
            if since_retry >= retry {
                since_retry = Duration::ZERO;
                let ids = self.stuck().ids();
                if !ids.is_empty() {
                    self.resume(ids).await;
                }
                self.release_cluster_orphans().await;
            }
            if self.deps().homes.is_some() {
                self.sweep().await;
            }
        }
    }

    /// On a cluster, the leading node gives back the holds of purchases a
    /// node was cut short in (killed between hold and order), once they are
    /// older than any purchase still under way. A single process does it
    /// once, at start.
    async fn release_cluster_orphans(&self) {
        if self.deps().homes.is_none() || !self.deps().store.leads() {
            return;
        }
        let age = self.deps().settings.reserve_timeout();
        if let Err(e) = self.release_orphans_older_than(age).await {
            tracing::warn!(error = %e, "could not look for orphaned holds; tried again later");
        }
    }

    /// Starts the sagas of live orders that run here but have none.
    async fn sweep(&self) {
        let live = match self.deps().store.live_order_ids().await {
            Ok(live) => live,
            Err(e) => {
                tracing::debug!(error = %e, "could not list live orders; swept later");
                return;
            }
        };
        let orphans: Vec<String> = self
            .ours(live)
            .into_iter()
            .filter(|raw| OrderId::parse(raw).is_ok_and(|id| !self.runs(id)))
            .collect();
        if !orphans.is_empty() {
            tracing::info!(
                count = orphans.len(),
                "starting the sagas of this node's shards"
            );
            self.resume(orphans).await;
        }
    }
}
