//! The mail queue: mails waiting to go out, sent, or given up on, drained by
//! the sender (`crate::mail`). Requests only insert rows, so sending never
//! holds a request up. The notifier's cursor over the outbox lives here too:
//! it advances in the transaction that queues the mails of the events it
//! passed, so a crash neither loses nor repeats a notification.

use super::{Backend, Store, StoreError};
use crate::domain::mail::MailKind;
use crate::domain::time::Timestamp;

type Tx<'c> = sqlx::Transaction<'c, sqlx::Any>;

/// A mail to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMail {
    pub kind: MailKind,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    /// Queued at most once per key (a notification: the event's id).
    pub dedupe_key: Option<String>,
}

/// A queued mail, as the sender takes it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct QueuedMail {
    pub id: i64,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub attempts: i64,
}

/// How many mails are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MailCounts {
    pub queued: u64,
    pub sent: u64,
    pub failed: u64,
}

/// A mail whose last attempt failed (queued for a retry, or given up on).
#[derive(Debug, Clone)]
pub struct MailFailure {
    pub id: i64,
    pub kind: String,
    pub recipient: String,
    /// `queued` (will be retried) or `failed` (given up).
    pub status: String,
    pub attempts: i64,
    pub last_error: String,
    pub next_attempt_at: Timestamp,
}

/// Queues `mail` in the caller's transaction; a repeated `dedupe_key` is
/// skipped.
pub(crate) async fn enqueue_on(
    tx: &mut Tx<'_>,
    backend: Backend,
    mail: &NewMail,
) -> Result<(), StoreError> {
    let verb = match backend {
        Backend::Sqlite => "INSERT OR IGNORE",
        Backend::MySql => "INSERT IGNORE",
    };
    let now = Timestamp::now().millis();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "{verb} INTO mail_queue (kind, recipient, subject, body, dedupe_key, status, attempts, \
         next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, 'queued', 0, ?, ?)"
    )))
    .bind(mail.kind.as_str())
    .bind(mail.recipient.clone())
    .bind(mail.subject.clone())
    .bind(mail.body.clone())
    .bind(mail.dedupe_key.clone())
    .bind(now)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The notifier's cursor's name.
const NOTIFICATIONS: &str = "notifications";

impl Store {
    /// Queued mails whose next attempt is due at `now`, oldest first.
    pub async fn due_mails(
        &self,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<QueuedMail>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT id, recipient, subject, body, attempts FROM mail_queue \
             WHERE status = 'queued' AND next_attempt_at <= ? ORDER BY id LIMIT ?",
        )
        .bind(now.millis())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn mail_sent(&self, id: i64, attempts: i64, at: Timestamp) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE mail_queue SET status = 'sent', attempts = ?, sent_at = ? WHERE id = ?",
        )
        .bind(attempts)
        .bind(at.millis())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records a failed attempt: the mail is tried again at `retry_at`, or,
    /// with none, given up on.
    pub async fn mail_attempt_failed(
        &self,
        id: i64,
        attempts: i64,
        error: &str,
        retry_at: Option<Timestamp>,
    ) -> Result<(), StoreError> {
        let error: String = error.chars().take(500).collect();
        let (status, next) = match retry_at {
            Some(at) => ("queued", at.millis()),
            None => ("failed", Timestamp::now().millis()),
        };
        sqlx::query(
            "UPDATE mail_queue SET status = ?, attempts = ?, last_error = ?, next_attempt_at = ? \
             WHERE id = ?",
        )
        .bind(status)
        .bind(attempts)
        .bind(error)
        .bind(next)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn mail_counts(&self) -> Result<MailCounts, StoreError> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT status, COUNT(*) FROM mail_queue GROUP BY status")
                .fetch_all(&self.pool)
                .await?;
        let mut counts = MailCounts::default();
        for (status, n) in rows {
            let n = u64::try_from(n).unwrap_or(0);
            match status.as_str() {
                "queued" => counts.queued = n,
                "sent" => counts.sent = n,
                "failed" => counts.failed = n,
                _ => {}
            }
        }
        Ok(counts)
    }

    /// The latest mails whose last attempt failed, newest first.
    pub async fn mail_failures(&self, limit: u32) -> Result<Vec<MailFailure>, StoreError> {
        let rows: Vec<(i64, String, String, String, i64, String, i64)> = sqlx::query_as(
            "SELECT id, kind, recipient, status, attempts, last_error, next_attempt_at \
             FROM mail_queue WHERE last_error IS NOT NULL AND status <> 'sent' \
             ORDER BY id DESC LIMIT ?",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(id, kind, recipient, status, attempts, last_error, next)| MailFailure {
                    id,
                    kind,
                    recipient,
                    status,
                    attempts,
                    last_error,
                    next_attempt_at: Timestamp::from_millis(next),
                },
            )
            .collect())
    }

    /// Deletes mails sent before `cutoff`.
    pub async fn prune_sent_mail(&self, cutoff: Timestamp) -> Result<u64, StoreError> {
        Ok(
            sqlx::query("DELETE FROM mail_queue WHERE status = 'sent' AND sent_at < ?")
                .bind(cutoff.millis())
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }

    /// The last outbox position the notifier has passed.
    pub async fn notification_cursor(&self) -> Result<i64, StoreError> {
        let seq: Option<i64> = sqlx::query_scalar("SELECT seq FROM mail_cursor WHERE name = ?")
            .bind(NOTIFICATIONS)
            .fetch_optional(&self.pool)
            .await?;
        Ok(seq.unwrap_or(0))
    }

    /// Moves the cursor from `from` to `to` and queues `mails`, in one
    /// transaction. Answers false (and changes nothing) when the cursor was
    /// no longer at `from`: another process moved it.
    pub async fn advance_notifications(
        &self,
        from: i64,
        to: i64,
        mails: &[NewMail],
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let moved = sqlx::query("UPDATE mail_cursor SET seq = ? WHERE name = ? AND seq = ?")
            .bind(to)
            .bind(NOTIFICATIONS)
            .bind(from)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
        if !moved {
            return Ok(false);
        }
        for mail in mails {
            enqueue_on(&mut tx, self.backend, mail).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Whether order `order_id`'s money was ever authorised (its
    /// cancellation then refunds it).
    pub async fn payment_taken(&self, order_id: &str) -> Result<bool, StoreError> {
        let row = sqlx::query(
            "SELECT 1 FROM order_events WHERE order_id = ? \
             AND kind IN ('payment_authorized', 'payment_captured') LIMIT 1",
        )
        .bind(order_id.to_owned())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some())
    }
}
