//! The broker end of the relay: a NATS JetStream connection, the stream
//! made sure of, and one publish per outbox row with its event id as
//! `Nats-Msg-Id`, so the stream drops a row published twice.

use async_nats::jetstream::{self, context::PublishError, message::PublishMessage, stream};
use bytes::Bytes;

use crate::config::NatsSettings;
use crate::domain::events::DomainEvent;
use crate::persistence::redacted_url::redacted;

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("cannot reach NATS at {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("cannot create or read stream {stream}: {reason}")]
    Stream { stream: String, reason: String },
    #[error("publish refused or unanswered: {0}")]
    Publish(String),
    #[error("event could not be encoded: {0}")]
    Encode(#[from] serde_json::Error),
}

/// What the broker said about one publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Published {
    /// Its sequence in the stream.
    pub sequence: u64,
    /// The stream already had this id (within its duplicate window).
    pub duplicate: bool,
}

/// A connected JetStream context bound to our stream and subjects.
pub struct Broker {
    js: jetstream::Context,
    prefix: String,
    source: String,
}

impl Broker {
    /// Connects and makes sure the stream exists (created with our subjects
    /// and duplicate window when missing; an existing one is used as is).
    pub async fn connect(
        settings: &NatsSettings,
        url: &str,
        source: &str,
    ) -> Result<Self, BrokerError> {
        let shown = redacted(url);
        let client = async_nats::ConnectOptions::new()
            .connection_timeout(settings.timeout())
            .connect(url)
            .await
            .map_err(|e| BrokerError::Connect {
                url: shown,
                reason: e.to_string(),
            })?;
        let mut js = jetstream::new(client);
        js.set_timeout(settings.timeout());
        let config = stream::Config {
            name: settings.stream.clone(),
            subjects: vec![format!("{}.>", settings.subject_prefix)],
            duplicate_window: settings.duplicate_window(),
            storage: stream::StorageType::File,
            ..Default::default()
        };
        js.get_or_create_stream(config)
            .await
            .map_err(|e| BrokerError::Stream {
                stream: settings.stream.clone(),
                reason: e.to_string(),
            })?;
        Ok(Self {
            js,
            prefix: settings.subject_prefix.clone(),
            source: source.to_owned(),
        })
    }

    /// The subject `event` is published under.
    pub fn subject(&self, event: &DomainEvent) -> String {
        format!("{}.{}", self.prefix, event.kind.suffix())
    }

    /// Publishes one event and waits for the stream to store it.
    pub async fn publish(&self, event: &DomainEvent) -> Result<Published, BrokerError> {
        let body = Bytes::from(serde_json::to_vec(&event.envelope(&self.source))?);
        let message = PublishMessage::build()
            .payload(body)
            .message_id(event.id.to_string());
        let fail = |e: PublishError| BrokerError::Publish(e.to_string());
        let ack = self
            .js
            .send_publish(self.subject(event), message)
            .await
            .map_err(fail)?
            .await
            .map_err(fail)?;
        Ok(Published {
            sequence: ack.sequence,
            duplicate: ack.duplicate,
        })
    }
}
