//! Mail out of the shop: a durable queue (`persistence/mail_queue.rs`)
//! filled by requests (verification codes) and by the [`notifier`] (from
//! the outbox), drained by the [`sender`] through the configured
//! [`transport`]: an SMTP relay, or `.eml` files in a directory. Neither task
//! runs on a request's path: a request only inserts a row.
//!
//! Shutdown (`Mail::shutdown`, after the events' last drain): the notifier
//! takes one last pass over the outbox, then the sender one bounded pass
//! over what is due; what is left stays queued for the next start.

mod notifier;
mod sender;
pub mod transport;

use std::sync::Arc;

use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::MailSettings;
use crate::persistence::Store;
use notifier::Notifier;
use sender::Sender;
pub use transport::TransportError;

/// The running notifier and sender; cheap to clone.
#[derive(Clone)]
pub struct Mail {
    wake: Arc<Notify>,
    transport: String,
    notifier_stop: CancellationToken,
    sender_stop: CancellationToken,
    tasks: Arc<std::sync::Mutex<Vec<JoinHandle<()>>>>,
}

impl Mail {
    /// Starts both tasks; fails when the settings cannot work (a bad `from`
    /// or URL, a mail directory that cannot be made).
    pub fn start(store: Store, settings: &MailSettings) -> Result<Self, TransportError> {
        let (transport, from) = transport::Transport::from_settings(settings)?;
        let shown = transport.describe();
        tracing::info!(to = %shown, "mail goes out to {shown}");
        let wake = Arc::new(Notify::new());
        let notifier_stop = CancellationToken::new();
        let sender_stop = CancellationToken::new();
        let notifier = Notifier {
            store: store.clone(),
            settings: settings.clone(),
            sender: Arc::clone(&wake),
            stop: notifier_stop.clone(),
        };
        let sender = Sender {
            store,
            transport: Arc::new(transport),
            from,
            settings: settings.clone(),
            wake: Arc::clone(&wake),
            stop: sender_stop.clone(),
        };
        let tasks = vec![tokio::spawn(notifier.run()), tokio::spawn(sender.run())];
        Ok(Self {
            wake,
            transport: shown,
            notifier_stop,
            sender_stop,
            tasks: Arc::new(std::sync::Mutex::new(tasks)),
        })
    }

    /// Tells the sender mails were just queued.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Where mails go: the relay's URL (password masked) or the directory.
    pub fn transport(&self) -> &str {
        &self.transport
    }

    /// Stops the notifier (after its last pass), then the sender (after
    /// its last bounded pass), and waits for both.
    pub async fn shutdown(&self) {
        let tasks = match self.tasks.lock() {
            Ok(mut tasks) => std::mem::take(&mut *tasks),
            Err(_) => Vec::new(),
        };
        self.notifier_stop.cancel();
        let mut tasks = tasks.into_iter();
        if let Some(notifier) = tasks.next()
            && let Err(e) = notifier.await
        {
            tracing::error!(error = %e, "mail notifier ended abnormally");
        }
        self.sender_stop.cancel();
        for task in tasks {
            if let Err(e) = task.await {
                tracing::error!(error = %e, "mail sender ended abnormally");
            }
        }
    }
}
