//! Where mails go: a real SMTP relay through `lettre` when `smtp_url` is
//! set, otherwise `.eml` files in a directory a developer can open.

use std::path::PathBuf;

use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::MailSettings;
use crate::persistence::QueuedMail;
use crate::persistence::redacted_url::redacted;

/// The mail settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("mail.from `{0}` is not a mailbox: {1}")]
    From(String, lettre::address::AddressError),
    #[error("smtp_url {0} is unusable: {1}")]
    Url(String, lettre::transport::smtp::Error),
    #[error("cannot create the mail directory {0}: {1}")]
    Dir(String, std::io::Error),
}

/// Why one mail was not sent.
#[derive(Debug, Clone)]
pub struct SendFailure {
    /// Sending it again would fail again (a malformed address, a 5xx).
    pub permanent: bool,
    pub message: String,
}

pub enum Transport {
    Smtp {
        relay: AsyncSmtpTransport<Tokio1Executor>,
        shown: String,
    },
    Files {
        files: AsyncFileTransport<Tokio1Executor>,
        dir: PathBuf,
    },
}

impl Transport {
    pub fn from_settings(m: &MailSettings) -> Result<(Self, Mailbox), TransportError> {
        let from: Mailbox = m
            .from
            .parse()
            .map_err(|e| TransportError::From(m.from.clone(), e))?;
        let transport = match &m.smtp_url {
            Some(url) => {
                let shown = redacted(url);
                let relay = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| TransportError::Url(shown.clone(), e))?
                    .timeout(Some(m.send_timeout()))
                    .build();
                Transport::Smtp { relay, shown }
            }
            None => {
                std::fs::create_dir_all(&m.dir)
                    .map_err(|e| TransportError::Dir(m.dir.clone(), e))?;
                let dir = std::fs::canonicalize(&m.dir)
                    .map_err(|e| TransportError::Dir(m.dir.clone(), e))?;
                Transport::Files {
                    files: AsyncFileTransport::new(&dir),
                    dir,
                }
            }
        };
        Ok((transport, from))
    }

    /// Where mails go, for the start-up log and the admin view.
    pub fn describe(&self) -> String {
        match self {
            Transport::Smtp { shown, .. } => shown.clone(),
            Transport::Files { dir, .. } => format!("files in {}", dir.display()),
        }
    }

    pub async fn send(&self, from: &Mailbox, mail: &QueuedMail) -> Result<(), SendFailure> {
        let permanent = |message: String| SendFailure {
            permanent: true,
            message,
        };
        let to: Mailbox = mail
            .recipient
            .parse()
            .map_err(|e| permanent(format!("recipient {}: {e}", mail.recipient)))?;
        let message = Message::builder()
            .from(from.clone())
            .to(to)
            .subject(mail.subject.clone())
            .header(ContentType::TEXT_PLAIN)
            .body(mail.body.clone())
            .map_err(|e| permanent(format!("building the message: {e}")))?;
        match self {
            Transport::Smtp { relay, .. } => {
                relay
                    .send(message)
                    .await
                    .map(drop)
                    .map_err(|e| SendFailure {
                        permanent: e.is_permanent(),
                        message: e.to_string(),
                    })
            }
            Transport::Files { files, .. } => {
                files
                    .send(message)
                    .await
                    .map(drop)
                    .map_err(|e| SendFailure {
                        permanent: false,
                        message: e.to_string(),
                    })
            }
        }
    }
}
