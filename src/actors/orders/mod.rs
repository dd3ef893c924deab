//! Orders: placing them and driving each one to delivery or cancellation.
//!
//! - [`placing`]: stock first. Every line is reserved (through
//!   [`StockPort`](super::StockPort)) under the order's id before anything is
//!   written; a refusal is answered at once and recorded behind.
//! - [`saga::OrderSaga`]: one actor per live order. It runs the commands
//!   `domain::saga` decides (authorize, capture, commit stock, book the
//!   carrier, refund, release) and feeds their results back; the decisions
//!   themselves (retry or compensate, expiry of unpaid orders, which refund)
//!   are pure functions there, unit-tested without a runtime.
//! - [`supervisor::SagaSupervisor`]: starts one saga per live order and
//!   restarts a panicked saga at its recorded step.
//! - [`writer::OrderWriter`]: group-commits new orders and saga steps
//!   (on [`group_commit`](super::group_commit), like the stock persister).
//! - [`handle::Orders`]: the handle HTTP and tests use to place, pay, cancel
//!   and inspect orders.
//! - [`answered`]: the first answers of keys placed moments ago, so that a
//!   burst of retries is answered in memory, not by the order writer.
//! - [`homes`]: where each saga runs; on a cluster node, requests for
//!   the sagas of other nodes' order shards are handed to them.
//! - [`resume`]: restarting the sagas of live orders at start-up, a bounded
//!   number at a time; an order whose saga cannot start is listed as stuck
//!   and retried, never fatal.
//! - [`gauges`]: live sagas by status, compensations, payment answers and
//!   restarts, counted in memory for the control room.
//! - [`failure`]: what events and refusals say about a failed call (our
//!   phrase; the raw error goes to the log).
//!
//! What crosses into stock: reserve, commit and release of the order's
//! lines, keyed by the order id. The per-user limit and the sale window are
//! enforced by the SKU actor, not here.
//!
//! `handle`, `saga` and `supervisor` import each other: the handle asks the
//! supervisor for a saga's `ActorRef`, and the supervisor spawns sagas with
//! their `Arguments`; a saga is only reachable through those handles.

pub mod answered;
pub mod error;
pub mod failure;
pub mod gauges;
pub mod handle;
pub mod homes;
pub mod placing;
pub mod resume;
pub mod saga;
pub mod supervisor;
pub mod views;
pub mod writer;

pub use error::OrderError;
pub use handle::Orders;
