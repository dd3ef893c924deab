//! The community's hot counters: likes on one post or comment, followers
//! of one account. Built like stock: a viral post's likes are the same
//! problem as a drop's units.
//!
//! - [`counter::CounterActor`]: one per active target; loads the target's
//!   members once and decides each like, unlike, follow and unfollow in
//!   memory, one at a time (idempotent by set membership).
//! - [`writer`]: every counter's changes go to one writer on
//!   [`group_commit`](super::group_commit); each batch writes the rows, sets
//!   each target's counter once, and adds the activities. Replies go out
//!   after the batch commits.
//! - [`supervisor`]: activates counters on first use and restarts them
//!   (and the writer) after a panic, state reloaded from the store.
//! - [`handle::Counters`]: what handlers call; it activates, applies
//!   backpressure, sends and awaits.

pub mod counter;
pub mod error;
pub mod handle;
pub mod registry;
pub mod supervisor;
pub mod views;
pub mod writer;

pub use error::CounterError;
pub use handle::Counters;
