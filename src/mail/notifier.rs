//! The notifier: turns outbox events into queued mails (welcome at signup;
//! order paid, shipped, delivered, cancelled). It reads the outbox after its
//! cursor, which it advances in the transaction that queues the mails of the
//! events passed (`Store::advance_notifications`): a crash before that
//! commit reads the same events again, after it none of them. Each mail
//! also carries its event's id as a dedupe key. No broker is involved.
//!
//! Positions are handed out when a transaction inserts, not when it commits,
//! so a position may show up after a later one. The notifier stops before a
//! gap and reads past it only once it has stayed open `gap_wait` (the
//! transaction rolled back, or a row was pruned).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::config::MailSettings;
use crate::domain::events::EventKind;
use crate::domain::ids::UserId;
use crate::domain::mail::{is_notified, notification, recipient_of};
use crate::domain::role::Role;
use crate::persistence::{NewMail, OutboxRow, Store, StoreError};

/// Events one pass reads.
const BATCH: u32 = 200;

pub struct Notifier {
    pub store: Store,
    pub settings: MailSettings,
    /// Rung after mails were queued: wakes the sender.
    pub sender: Arc<Notify>,
    pub stop: CancellationToken,
}

/// A gap the notifier is waiting on: the position missing, and since when.
type Gap = Option<(i64, tokio::time::Instant)>;

impl Notifier {
    /// Runs until `stop`, then one last pass over what the drains appended.
    pub async fn run(self) {
        let mut gap: Gap = None;
        loop {
            let more = match self.pass(&mut gap).await {
                Ok(more) => more,
                Err(e) => {
                    tracing::warn!(error = %e, "mail notifier could not read the outbox; trying again");
                    false
                }
            };
            if more {
                continue;
            }
            tokio::select! {
                () = self.stop.cancelled() => break,
                () = tokio::time::sleep(self.settings.poll()) => {}
            }
        }
        let last = tokio::time::timeout(Duration::from_secs(3), self.pass(&mut gap)).await;
        if !matches!(last, Ok(Ok(_))) {
            tracing::warn!("mail notifier stopped before its last pass finished");
        }
    }

    /// One batch; answers whether a full batch was taken (more may wait).
    /// Nothing on a cluster node that does not lead: the leading node reads
    /// the same outbox and moves the one cursor.
    async fn pass(&self, gap: &mut Gap) -> Result<bool, StoreError> {
        if !self.store.leads() {
            return Ok(false);
        }
        let cursor = self.store.notification_cursor().await?;
        let rows = self.store.events_after(cursor, BATCH).await?;
        let Some(first) = rows.first() else {
            return Ok(false);
        };
        // The first position this pass may not pass, if any.
        let mut expected = cursor + 1;
        if first.seq != expected && !self.gap_waited(gap, expected) {
            return Ok(false);
        }
        expected = first.seq;
        let mut taken = Vec::new();
        for row in &rows {
            if row.seq != expected && !self.gap_waited(gap, expected) {
                break;
            }
            taken.push(row);
            expected = row.seq + 1;
        }
        let Some(last) = taken.last() else {
            return Ok(false);
        };
        let to = last.seq;
        let mut mails = Vec::new();
        if self.settings.notifications {
            for row in &taken {
                if let Some(mail) = self.mail_of(row).await? {
                    mails.push(mail);
                }
            }
        }
        if !self.store.advance_notifications(cursor, to, &mails).await? {
            tracing::warn!("another process moved the mail cursor; reading again");
            return Ok(false);
        }
        *gap = None;
        if !mails.is_empty() {
            self.sender.notify_one();
        }
        Ok(rows.len() == BATCH as usize && taken.len() == rows.len())
    }

    /// True once position `missing` has been missing for `gap_wait`.
    fn gap_waited(&self, gap: &mut Gap, missing: i64) -> bool {
        match gap {
            Some((seq, since)) if *seq == missing => since.elapsed() >= self.settings.gap_wait(),
            _ => {
                *gap = Some((missing, tokio::time::Instant::now()));
                self.settings.gap_wait().is_zero()
            }
        }
    }

    /// The mail of one event, if it is news for a live account.
    async fn mail_of(&self, row: &OutboxRow) -> Result<Option<NewMail>, StoreError> {
        let event = &row.event;
        if !is_notified(event.kind) {
            return Ok(None);
        }
        let Some(user) = recipient_of(event) else {
            return Ok(None);
        };
        // Withdrawn accounts get nothing; the configured admin is no customer.
        let Some(user) = self
            .store
            .find_user(UserId::new(user))
            .await?
            .filter(|u| !u.deleted && u.role != Role::Admin)
        else {
            return Ok(None);
        };
        let paid = match event.data.get("order_id").and_then(|v| v.as_str()) {
            Some(order) if event.kind == EventKind::OrderCancelled => {
                self.store.payment_taken(order).await?
            }
            _ => false,
        };
        Ok(notification(event, &user.name, paid).map(|letter| NewMail {
            kind: letter.kind,
            recipient: user.email,
            subject: letter.subject,
            body: letter.body,
            dedupe_key: Some(event.id.to_string()),
        }))
    }
}
