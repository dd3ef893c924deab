//! Several stampede nodes over one database (issue 16), built a piece at a
//! time. So far only the shard leases (`lease`): who owns a shard, with a
//! fencing epoch, in a JetStream KV bucket. Routing, the per-shard fence in
//! the database and rebalancing are not built yet, and nothing here is
//! wired into the server: a node still claims the whole store
//! (`persistence::owner`).

pub mod lease;
