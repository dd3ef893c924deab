//! The outbox relay: one task that publishes outbox rows to the broker in
//! `seq` order, one at a time, and marks them published once the stream
//! acknowledged them.
//!
//! At-least-once: a crash between the ack and the mark publishes the rows
//! again on restart, with the same `Nats-Msg-Id`, which the stream drops
//! within its duplicate window. While the broker is down or slow the rows
//! wait in the outbox (the shop keeps selling), the lag shows in `/metrics`
//! and `/admin/outbox`, and they flow in order once it is back. Publishing
//! one at a time keeps the stream in outbox order even when a publish fails
//! halfway through a batch.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::broker::Broker;
use super::status::{BrokerState, RelayStatus};
use crate::config::{NatsSettings, OutboxSettings};
use crate::domain::time::Timestamp;
use crate::persistence::{OutboxRow, Store};
use crate::prometheus::{OUTBOX_FAILURES, OUTBOX_LAG, OUTBOX_PENDING, OUTBOX_PUBLISHED};

/// First wait after a failed connect or publish; doubles up to [`BACKOFF_MAX`].
const BACKOFF_MIN: Duration = Duration::from_millis(200);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// How long shutdown lets the relay publish what the last batches appended.
const FINAL_PASS: Duration = Duration::from_secs(3);

pub struct Relay {
    store: Store,
    nats: NatsSettings,
    outbox: OutboxSettings,
    status: Arc<RelayStatus>,
    stop: CancellationToken,
}

impl Relay {
    pub fn new(
        store: Store,
        nats: NatsSettings,
        outbox: OutboxSettings,
        status: Arc<RelayStatus>,
        stop: CancellationToken,
    ) -> Self {
        Self {
            store,
            nats,
            outbox,
            status,
            stop,
        }
    }

    /// Runs until `stop` is cancelled, then takes one last bounded pass so
    /// that events committed by the final drains go out too.
    pub async fn run(self) {
        let Some(url) = self.nats.url.clone() else {
            self.watch_only().await;
            return;
        };
        let mut broker: Option<Broker> = None;
        let mut backoff = BACKOFF_MIN;
        while !self.stop.is_cancelled() {
            match self.pass(&url, &mut broker).await {
                Pass::Drained => {
                    backoff = BACKOFF_MIN;
                    self.idle().await;
                }
                Pass::More => backoff = BACKOFF_MIN,
                Pass::Failed => {
                    broker = None;
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => {}
                        () = self.stop.cancelled() => {}
                    }
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                }
            }
        }
        let last = async { while let Pass::More = self.pass(&url, &mut broker).await {} };
        if tokio::time::timeout(FINAL_PASS, last).await.is_err() {
            tracing::warn!(
                "outbox relay stopped with events unpublished; the next start sends them"
            );
        }
    }

    /// Without a broker: keeps the backlog figures fresh for the admin
    /// views (the feed is the only reader). Once per poll period, not per
    /// commit: nothing is published, so the backlog is the whole outbox and
    /// counting it is a scan that grows with it (in a drop, a scan per batch).
    async fn watch_only(self) {
        self.status.set_broker(BrokerState::Unconfigured);
        while !self.stop.is_cancelled() {
            self.refresh_backlog().await;
            tokio::select! {
                () = tokio::time::sleep(self.outbox.poll()) => {}
                () = self.stop.cancelled() => {}
            }
        }
    }

    /// Waits to be woken by a commit that appended events, the poll period
    /// or shutdown.
    async fn idle(&self) {
        tokio::select! {
            () = self.store.events_committed() => {}
            () = tokio::time::sleep(self.outbox.poll()) => {}
            () = self.stop.cancelled() => {}
        }
    }

    /// Publishes up to one batch; nothing on a cluster node that does not
    /// lead (another node's relay publishes the same rows).
    async fn pass(&self, url: &str, broker: &mut Option<Broker>) -> Pass {
        if !self.store.leads() {
            return Pass::Drained;
        }
        if broker.is_none() {
            self.status.set_broker(BrokerState::Connecting);
            match Broker::connect(&self.nats, url, &self.outbox.source).await {
                Ok(b) => {
                    tracing::info!(stream = %self.nats.stream, "outbox relay connected to NATS");
                    *broker = Some(b);
                }
                Err(e) => {
                    self.failed(&e.to_string());
                    self.refresh_backlog().await;
                    return Pass::Failed;
                }
            }
        }
        let Some(b) = broker.as_ref() else {
            return Pass::Failed;
        };
        self.status.set_broker(BrokerState::Up);
        let rows = match self.store.unpublished_events(self.outbox.batch_max).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(error = %e, "outbox relay cannot read the outbox; retrying");
                self.status.note_error(&format!("reading the outbox: {e}"));
                return Pass::Failed;
            }
        };
        if rows.is_empty() {
            self.refresh_backlog().await;
            return Pass::Drained;
        }
        let full = rows.len() >= self.outbox.batch_max as usize;
        let (sent, failure) = self.publish_in_order(b, &rows).await;
        if !sent.is_empty() {
            if let Err(e) = self.store.mark_published(&sent, Timestamp::now()).await {
                // Published but not marked: the next pass publishes them
                // again and the stream drops the repeats.
                tracing::warn!(error = %e, "outbox relay cannot mark published rows");
                self.status
                    .note_error(&format!("marking published rows: {e}"));
                return Pass::Failed;
            }
            if let Some(last) = sent.last() {
                self.status.published(sent.len() as u64, *last);
            }
        }
        self.refresh_backlog().await;
        match failure {
            Some(e) => {
                self.failed(&e);
                Pass::Failed
            }
            None if full => Pass::More,
            None => Pass::Drained,
        }
    }

    /// Publishes `rows` one after the other, stopping at the first failure
    /// so that nothing overtakes it. Answers the published seqs and the
    /// failure, if any.
    async fn publish_in_order(&self, b: &Broker, rows: &[OutboxRow]) -> (Vec<i64>, Option<String>) {
        let mut sent = Vec::with_capacity(rows.len());
        for row in rows {
            match b.publish(&row.event).await {
                Ok(p) => {
                    let duplicate = if p.duplicate { "true" } else { "false" };
                    metrics::counter!(OUTBOX_PUBLISHED, "duplicate" => duplicate).increment(1);
                    sent.push(row.seq);
                }
                Err(e) => return (sent, Some(e.to_string())),
            }
        }
        (sent, None)
    }

    fn failed(&self, why: &str) {
        metrics::counter!(OUTBOX_FAILURES).increment(1);
        // Every retry would log the same line while the broker is down.
        if self.status.broker() != BrokerState::Down {
            tracing::warn!(error = %why, "outbox relay cannot publish; events wait in the outbox");
        }
        self.status.set_broker(BrokerState::Down);
        self.status.note_error(why);
    }

    async fn refresh_backlog(&self) {
        match self.store.outbox_backlog().await {
            Ok(b) => {
                let lag = b
                    .oldest
                    .map_or(0, |t| (Timestamp::now().millis() - t.millis()).max(0));
                self.status.set_backlog(b.rows, lag);
                metrics::gauge!(OUTBOX_PENDING).set(b.rows as f64);
                metrics::gauge!(OUTBOX_LAG).set(lag as f64 / 1000.0);
            }
            Err(e) => tracing::debug!(error = %e, "outbox backlog unread"),
        }
    }
}

enum Pass {
    /// Nothing (more) to publish right now.
    Drained,
    /// A full batch went out: more may wait.
    More,
    /// The broker or the store failed: back off, reconnect.
    Failed,
}
