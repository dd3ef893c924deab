//! Several stampede nodes over one database (issue 16), on when
//! `STAMPEDE_NODE_ID` is set. State in NATS: the KV buckets (`bucket`),
//! how long a key stood still on this node's clock (`sightings`), shard
//! leases whose revision is the fencing epoch (`lease`), who is live
//! (`membership`). The keeper holds this node's share of the shards in line
//! with the live nodes (`keeper`, writing `directory`), and its host opens
//! and closes the shards' SKU actors, counter actors and sagas (`host`).
//! Other nodes' shards are reached through `owners` (who owns a shard, and
//! request-reply on a subject per node and service). A SKU's calls reach
//! its owner through `forward` and `serve`, in the messages of `wire`; a buyer's request for a saga reaches its node through `sagas`,
//! in the messages of `saga_wire`; a like or follow reaches the node
//! deciding its target through `counters`. `node` assembles it all and
//! hands every shard over at shutdown.

pub mod bucket;
pub mod counters;
pub mod directory;
pub mod error;
pub mod forward;
pub mod host;
pub mod keeper;
pub mod lease;
pub mod membership;
pub mod node;
pub mod owners;
pub mod saga_wire;
pub mod sagas;
pub mod serve;
pub mod sightings;
pub mod wire;
