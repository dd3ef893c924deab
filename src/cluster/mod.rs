//! Several stampede nodes over one database (issue 16), built a piece at a
//! time: the KV buckets (`bucket`), how long a key stood still on this
//! node's clock (`sightings`), shard leases with a fencing epoch (`lease`),
//! who is live (`membership`), and the keeper that holds this node's share
//! of the shards in line with the live nodes (`keeper`). Routing and the
//! host that would serve a shard's actors are not built, and nothing here
//! is wired into the server yet: a node still claims the whole store
//! (`persistence::owner`).

pub mod bucket;
pub mod directory;
pub mod error;
pub mod forward;
pub mod keeper;
pub mod lease;
pub mod membership;
pub mod node;
pub mod serve;
pub mod sightings;
pub mod stock_host;
pub mod wire;
