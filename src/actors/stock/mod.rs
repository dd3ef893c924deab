//! Stock: the single owner of every SKU's units.
//!
//! - [`sku::SkuActor`]: one per active SKU; handles `Reserve`, `Commit`,
//!   `Release`, `Restock`, `SetRules` one at a time against its in-memory
//!   ledger (`domain::ledger` holds every rule, including the per-user
//!   limit and the sale window).
//! - [`persister::Persister`]: group-commits every SKU's decisions (on
//!   [`group_commit`](super::group_commit)); durable replies fire only
//!   after their batch commits.
//! - [`supervisor::SkuSupervisor`]: activates SKU actors on first use,
//!   restarts them (and the persister) after a panic with state reloaded.
//! - [`inventory::Inventory`]: the handle everyone else uses; it activates,
//!   applies backpressure, sends and awaits.
//! - [`intake`]: reserves queue per SKU and reach the actor as one batch
//!   per turn (one wake-up message, not one call per purchase).
//! - [`live`]: each actor's levels and purchase outcomes mirrored into
//!   atomics, read by the control room without a message.
//!
//! What crosses in from orders: [`port::StockPort`] calls keyed by the
//! order id as reservation id. Nothing here knows orders exist.
//!
//! `sku`, `persister` and `registry` import each other: the SKU actor hands
//! changes to the persister, which updates the SKU's shared counters held
//! in the registry entry. They are one mechanism split for reading.

pub mod error;
pub mod intake;
pub mod inventory;
pub mod live;
pub mod persister;
pub mod port;
pub mod registry;
pub mod sku;
pub mod supervisor;
pub mod views;

pub use error::InventoryError;
pub use inventory::Inventory;
pub use port::{Hold, StockPort};
pub use sku::SkuSnapshot;
