//! The JetStream KV buckets the cluster keeps its state in.

use async_nats::jetstream::{self, kv};

use super::error::{LeaseError, nats};

/// Opens `bucket`, creating it if missing. `create_key_value` first asks
/// for the account's limits, whose answer async-nats 0.51 cannot read from
/// nats-server 2.9, so the bucket's stream is made here as a KV bucket's
/// is: one value per key, deletes as markers, direct reads.
pub async fn open(js: &jetstream::Context, bucket: &str) -> Result<kv::Store, LeaseError> {
    js.get_or_create_stream(jetstream::stream::Config {
        name: format!("KV_{bucket}"),
        subjects: vec![format!("$KV.{bucket}.>")],
        max_messages_per_subject: 1,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        discard: jetstream::stream::DiscardPolicy::New,
        ..Default::default()
    })
    .await
    .map_err(nats)?;
    js.get_key_value(bucket).await.map_err(nats)
}
