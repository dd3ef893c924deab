//! A warehouse team's starting point: a durable pull consumer on the
//! stream stampede's outbox relay publishes to, acting on paid orders.
//!
//! ```sh
//! cargo run --example warehouse -- --nats-url nats://127.0.0.1:4222
//! ```
//!
//! Each `stampede.orders.paid` event is printed as a picking list, then
//! acknowledged. A message not acknowledged within `--ack-wait-secs` (the
//! process died while packing) is delivered again; the durable consumer
//! remembers where the team left off across restarts. JetStream drops
//! repeats of one event id within the stream's duplicate window; beyond it,
//! this consumer dedupes by the CloudEvents `id` itself (a real warehouse
//! would keep that in its own database, with a unique key).

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use async_nats::jetstream::{self, consumer::AckPolicy, consumer::pull};
use clap::Parser;
use futures::StreamExt;
use serde_json::Value;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "nats://127.0.0.1:4222")]
    nats_url: String,
    /// The stream stampede publishes to (`STAMPEDE_NATS_STREAM`).
    #[arg(long, default_value = "STAMPEDE")]
    stream: String,
    /// The subject prefix (`STAMPEDE_NATS_SUBJECT_PREFIX`).
    #[arg(long, default_value = "stampede")]
    prefix: String,
    /// The durable consumer's name: the team's place in the stream.
    #[arg(long, default_value = "warehouse")]
    durable: String,
    #[arg(long, default_value_t = 30)]
    ack_wait_secs: u64,
    /// Stop once no message came for this long (0: run forever).
    #[arg(long, default_value_t = 0)]
    idle_exit_secs: u64,
}

/// Event ids already acted on; bounded, oldest forgotten first.
struct Seen {
    ids: HashSet<String>,
    order: VecDeque<String>,
}

impl Seen {
    const KEEP: usize = 100_000;

    fn first_time(&mut self, id: &str) -> bool {
        if !self.ids.insert(id.to_owned()) {
            return false;
        }
        self.order.push_back(id.to_owned());
        if self.order.len() > Self::KEEP
            && let Some(old) = self.order.pop_front()
        {
            self.ids.remove(&old);
        }
        true
    }
}

fn picking_list(event: &Value) -> String {
    let data = &event["data"];
    let lines: Vec<String> = data["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|i| format!("{} x SKU {}", i["quantity"], i["sku_id"]))
                .collect()
        })
        .unwrap_or_default();
    format!(
        "order {} to {}: {}",
        data["order_id"].as_str().unwrap_or("?"),
        data["shipping_address"].as_str().unwrap_or("?"),
        lines.join(", ")
    )
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let client = async_nats::connect(&args.nats_url).await?;
    let js = jetstream::new(client);
    let stream = js.get_stream(&args.stream).await?;
    let consumer = stream
        .get_or_create_consumer(
            &args.durable,
            pull::Config {
                durable_name: Some(args.durable.clone()),
                filter_subject: format!("{}.orders.paid", args.prefix),
                ack_policy: AckPolicy::Explicit,
                ack_wait: Duration::from_secs(args.ack_wait_secs),
                ..Default::default()
            },
        )
        .await?;
    let mut messages = consumer.messages().await?;
    let mut seen = Seen {
        ids: HashSet::new(),
        order: VecDeque::new(),
    };
    loop {
        let next = if args.idle_exit_secs == 0 {
            messages.next().await
        } else {
            match tokio::time::timeout(Duration::from_secs(args.idle_exit_secs), messages.next())
                .await
            {
                Ok(next) => next,
                Err(_) => break,
            }
        };
        let Some(message) = next else { break };
        let message = message.map_err(|e| anyhow::anyhow!("{e}"))?;
        let event: Value = match serde_json::from_slice(&message.payload) {
            Ok(event) => event,
            Err(e) => {
                // Not ours to fix: acknowledge, so it is not delivered forever.
                eprintln!("skipping a message that is not a CloudEvent: {e}");
                message.ack().await.map_err(|e| anyhow::anyhow!("{e}"))?;
                continue;
            }
        };
        let id = event["id"].as_str().unwrap_or_default();
        if seen.first_time(id) {
            println!("{}", picking_list(&event));
        }
        // After the work is done: a crash before this line redelivers.
        message.ack().await.map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    Ok(())
}
