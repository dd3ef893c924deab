//! The actor system: one [`sku::SkuActor`] per active SKU, the
//! [`persister::Persister`] that group-commits their decisions, the
//! [`supervisor::SkuSupervisor`] that activates and restarts SKU actors, and
//! the [`inventory::Inventory`] handle through which the rest of the program
//! talks to them.

pub mod error;
pub mod inventory;
pub mod order_error;
pub mod order_views;
pub mod order_writer;
pub mod orders;
pub mod persister;
pub mod placing;
pub mod registry;
pub mod saga;
pub mod saga_supervisor;
pub mod sku;
pub mod stock_port;
pub mod supervisor;
pub mod views;

pub use error::InventoryError;
pub use inventory::Inventory;
pub use order_error::OrderError;
pub use orders::Orders;
pub use stock_port::StockPort;
