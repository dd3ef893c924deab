//! The outbox table: events appended inside the transactions that make
//! their changes durable, read back in order by the relay (and the admin
//! feed), marked once the broker has them, pruned after a retention.

use serde_json::Value;
use uuid::Uuid;

use super::{Backend, Store, StoreError};
use crate::domain::events::{DomainEvent, EventKind};
use crate::domain::time::Timestamp;

/// One stored event with its place in the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxRow {
    pub seq: i64,
    pub event: DomainEvent,
    pub published_at: Option<Timestamp>,
}

/// What waits to be published.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Backlog {
    pub rows: u64,
    /// When the oldest unpublished event happened.
    pub oldest: Option<Timestamp>,
}

/// Events per multi-row INSERT (6 values a row).
const APPEND_CHUNK: usize = 500;

type Tx<'c> = sqlx::Transaction<'c, sqlx::Any>;

/// Appends `events` in the caller's transaction, in the given order.
pub(crate) async fn append(tx: &mut Tx<'_>, events: &[DomainEvent]) -> Result<(), StoreError> {
    for chunk in events.chunks(APPEND_CHUNK) {
        let row = "(?, ?, ?, ?, ?, NULL)";
        let sql = format!(
            "INSERT INTO outbox (event_id, event_type, subject, occurred_at, data, published_at) \
             VALUES {}",
            vec![row; chunk.len()].join(", ")
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for e in chunk {
            q = q
                .bind(e.id.to_string())
                .bind(e.kind.type_name())
                .bind(e.subject.clone())
                .bind(e.time.millis())
                .bind(e.data.to_string());
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

impl Store {
    /// Appends events that may have been appended before (their ids derive
    /// from what they are about): one already there is skipped.
    pub async fn append_events_once(&self, events: &[DomainEvent]) -> Result<u64, StoreError> {
        let verb = match self.backend {
            Backend::Sqlite => "INSERT OR IGNORE",
            Backend::MySql => "INSERT IGNORE",
        };
        let mut added = 0;
        for e in events {
            added += sqlx::query(sqlx::AssertSqlSafe(format!(
                "{verb} INTO outbox (event_id, event_type, subject, occurred_at, data) \
                 VALUES (?, ?, ?, ?, ?)"
            )))
            .bind(e.id.to_string())
            .bind(e.kind.type_name())
            .bind(e.subject.clone())
            .bind(e.time.millis())
            .bind(e.data.to_string())
            .execute(&self.pool)
            .await?
            .rows_affected();
        }
        if added > 0 {
            self.events_appended();
        }
        Ok(added)
    }

    /// Wakes the relay: events were just committed.
    pub(crate) fn events_appended(&self) {
        self.outbox_signal.notify_one();
    }

    /// Resolves when events were committed since the last call (or at once
    /// when some were before anyone waited).
    pub async fn events_committed(&self) {
        self.outbox_signal.notified().await;
    }

    /// Up to `limit` unpublished events, oldest first.
    pub async fn unpublished_events(&self, limit: u32) -> Result<Vec<OutboxRow>, StoreError> {
        let rows: Vec<RawRow> = sqlx::query_as(
            "SELECT seq, event_id, event_type, subject, occurred_at, data, published_at \
             FROM outbox WHERE published_at IS NULL ORDER BY seq LIMIT ?",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(RawRow::parse).collect()
    }

    /// Events after `seq` (published or not), oldest first: the admin feed.
    pub async fn events_after(&self, seq: i64, limit: u32) -> Result<Vec<OutboxRow>, StoreError> {
        let rows: Vec<RawRow> = sqlx::query_as(
            "SELECT seq, event_id, event_type, subject, occurred_at, data, published_at \
             FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
        )
        .bind(seq)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(RawRow::parse).collect()
    }

    /// Notes that the broker acknowledged the events `seqs`.
    pub async fn mark_published(&self, seqs: &[i64], at: Timestamp) -> Result<(), StoreError> {
        for chunk in seqs.chunks(APPEND_CHUNK) {
            let sql = format!(
                "UPDATE outbox SET published_at = ? WHERE seq IN ({})",
                vec!["?"; chunk.len()].join(", ")
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(at.millis());
            for seq in chunk {
                q = q.bind(*seq);
            }
            q.execute(&self.pool).await?;
        }
        Ok(())
    }

    /// How many events wait, and since when.
    pub async fn outbox_backlog(&self) -> Result<Backlog, StoreError> {
        let (rows, oldest): (i64, Option<i64>) = sqlx::query_as(
            "SELECT COUNT(*), MIN(occurred_at) FROM outbox WHERE published_at IS NULL",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(Backlog {
            rows: u64::try_from(rows).unwrap_or(0),
            oldest: oldest.map(Timestamp::from_millis),
        })
    }

    /// Deletes events published before `cutoff`; with `unpublished_too`
    /// (no broker configured: the feed is the only reader) also those that
    /// happened before it.
    pub async fn prune_outbox(
        &self,
        cutoff: Timestamp,
        unpublished_too: bool,
    ) -> Result<u64, StoreError> {
        let at = cutoff.millis();
        let q = if unpublished_too {
            sqlx::query("DELETE FROM outbox WHERE published_at < ? OR occurred_at < ?")
                .bind(at)
                .bind(at)
        } else {
            sqlx::query("DELETE FROM outbox WHERE published_at < ?").bind(at)
        };
        Ok(q.execute(&self.pool).await?.rows_affected())
    }
}

#[derive(sqlx::FromRow)]
struct RawRow {
    seq: i64,
    event_id: String,
    event_type: String,
    subject: String,
    occurred_at: i64,
    data: String,
    published_at: Option<i64>,
}

impl RawRow {
    fn parse(self) -> Result<OutboxRow, StoreError> {
        let corrupt =
            |what: &str| StoreError::Corrupt(format!("outbox row {}: bad {what}", self.seq));
        let id = Uuid::parse_str(&self.event_id).map_err(|_| corrupt("event_id"))?;
        let kind = EventKind::from_type_name(&self.event_type).ok_or_else(|| corrupt("type"))?;
        let data: Value = serde_json::from_str(&self.data).map_err(|_| corrupt("data"))?;
        Ok(OutboxRow {
            seq: self.seq,
            event: DomainEvent {
                id,
                kind,
                subject: self.subject,
                time: Timestamp::from_millis(self.occurred_at),
                data,
            },
            published_at: self.published_at.map(Timestamp::from_millis),
        })
    }
}
