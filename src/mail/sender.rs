//! The sender: one task that drains the mail queue. A mail that fails is
//! retried with a doubling backoff until `max_attempts`, then marked failed
//! (at once for a permanent refusal); both show in `/admin/mail` and
//! `/metrics`. At least once: a crash between the relay's acceptance and the
//! row's update sends that mail again on restart.

use std::sync::Arc;
use std::time::Duration;

use lettre::message::Mailbox;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::transport::Transport;
use crate::config::MailSettings;
use crate::domain::time::Timestamp;
use crate::persistence::{QueuedMail, Store, StoreError};
use crate::prometheus::{MAIL_FAILURES, MAIL_QUEUE, MAIL_SENT};

/// Mails one pass takes from the queue.
const BATCH: u32 = 32;
/// How long shutdown lets the sender send what is due.
const FINAL_PASS: Duration = Duration::from_secs(3);
/// How often sent mails older than the retention are deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(60 * 60);

pub struct Sender {
    pub store: Store,
    pub transport: Arc<Transport>,
    pub from: Mailbox,
    pub settings: MailSettings,
    pub wake: Arc<Notify>,
    pub stop: CancellationToken,
}

impl Sender {
    /// Runs until `stop`, then one bounded pass over what is due.
    pub async fn run(self) {
        let mut pruned = tokio::time::Instant::now();
        loop {
            let full = match self.pass().await {
                Ok(n) => n == BATCH as usize,
                Err(e) => {
                    tracing::warn!(error = %e, "mail queue unreadable; trying again");
                    false
                }
            };
            if pruned.elapsed() >= PRUNE_EVERY {
                pruned = tokio::time::Instant::now();
                self.prune().await;
            }
            if full {
                continue;
            }
            tokio::select! {
                () = self.stop.cancelled() => break,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(self.settings.poll()) => {}
            }
        }
        if tokio::time::timeout(FINAL_PASS, self.pass()).await.is_err() {
            tracing::warn!("mail sender stopped with mails still due; they go at the next start");
        }
    }

    /// Sends what is due now; answers how many mails it took. Nothing on a
    /// cluster node that does not lead: another node sends the same queue.
    async fn pass(&self) -> Result<usize, StoreError> {
        if !self.store.leads() {
            return Ok(0);
        }
        let due = self.store.due_mails(Timestamp::now(), BATCH).await?;
        for mail in &due {
            self.send(mail).await?;
        }
        let counts = self.store.mail_counts().await?;
        metrics::gauge!(MAIL_QUEUE, "status" => "queued").set(counts.queued as f64);
        metrics::gauge!(MAIL_QUEUE, "status" => "failed").set(counts.failed as f64);
        Ok(due.len())
    }

    async fn send(&self, mail: &QueuedMail) -> Result<(), StoreError> {
        let attempts = mail.attempts + 1;
        let sent = tokio::time::timeout(
            self.settings.send_timeout(),
            self.transport.send(&self.from, mail),
        )
        .await
        .unwrap_or_else(|_| {
            Err(super::transport::SendFailure {
                permanent: false,
                message: "timed out".into(),
            })
        });
        match sent {
            Ok(()) => {
                metrics::counter!(MAIL_SENT).increment(1);
                self.store
                    .mail_sent(mail.id, attempts, Timestamp::now())
                    .await
            }
            Err(failure) => {
                let spent = attempts >= i64::from(self.settings.max_attempts.max(1));
                let give_up = failure.permanent || spent;
                let retry_at = (!give_up).then(|| {
                    let attempt = u32::try_from(attempts).unwrap_or(u32::MAX);
                    Timestamp::now().plus(self.settings.backoff(attempt))
                });
                let final_label = if give_up { "true" } else { "false" };
                metrics::counter!(MAIL_FAILURES, "final" => final_label).increment(1);
                tracing::warn!(mail = mail.id, attempts, give_up, error = %failure.message, "mail not sent");
                self.store
                    .mail_attempt_failed(mail.id, attempts, &failure.message, retry_at)
                    .await
            }
        }
    }

    async fn prune(&self) {
        if !self.store.leads() {
            return;
        }
        let cutoff = Timestamp::now().minus(self.settings.keep());
        match self.store.prune_sent_mail(cutoff).await {
            Ok(n) => tracing::info!(mails = n, "pruned sent mails"),
            Err(e) => tracing::warn!(error = %e, "mail pruning failed; trying again later"),
        }
    }
}
