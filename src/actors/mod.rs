//! The actor system, in two subsystems that meet at one port.
//!
//! - [`stock`]: one `SkuActor` per active SKU owns its stock and decides
//!   reserve, commit, release and restock in memory; the `Persister`
//!   group-commits those decisions; `SkuSupervisor` activates and restarts
//!   SKU actors. Reached through the [`Inventory`] handle.
//! - [`orders`]: one `OrderSaga` per live order drives it through payment,
//!   stock commit and shipment, compensating on failure; `SagaSupervisor`
//!   starts and restarts sagas; placing reserves stock before any write.
//!   Reached through the [`Orders`] handle.
//!
//! - [`counters`]: the community's hot counters (likes, followers), one
//!   actor per post, comment or account, on the same pattern as stock.
//!
//! Both supervisors have one shape, [`supervision::Supervisor`]; what
//! differs (how a child starts, what its restarts keep) is a
//! [`supervision::Children`] implementation in each subsystem.
//!
//! Both group-commit writers, the stock `Persister` and the `OrderWriter`,
//! are one mechanism, [`group_commit`], told how to commit a batch and what
//! a failed batch means.
//!
//! What the control room reads of both lives beside them: each SKU's
//! mirrored levels (`stock::live`), the sagas' counts (`orders::gauges`) and
//! the ring of recent [`incidents`].
//!
//! Orders cross into stock only through [`StockPort`] (reserve, commit,
//! release, snapshot), so the flash-sale tool can swap the stock decision
//! and nothing else. Stock never calls into orders.

pub mod comment_writer;
pub mod counters;
pub mod group_commit;
pub mod incidents;
pub mod orders;
pub mod stock;
pub mod supervision;

pub use comment_writer::CommentWriter;
pub use counters::{CounterError, Counters};
pub use orders::{OrderError, Orders};
pub use stock::{Inventory, InventoryError, SkuSnapshot, StockPort};
