//! Plain types and rules of the shop: ids, time, quantities, money, sale
//! rules, the catalog, the community's posts and feed, the stock ledger, and the order saga's decisions. Nothing here does I/O or needs a
//! runtime, so every rule is unit-tested directly.

pub mod activity;
pub mod address;
pub mod card;
pub mod catalog;
pub mod category;
pub mod counter;
pub mod cursor;
pub mod email;
pub mod error;
pub mod events;
pub mod feed;
pub mod ids;
pub mod image;
pub mod ledger;
pub mod mail;
pub mod moderation;
pub mod money;
pub mod order;
pub mod owner;
pub mod page;
pub mod password;
pub mod post;
pub mod quantity;
pub mod reason;
pub mod review;
pub mod role;
pub mod rules;
pub mod saga;
pub mod shard;
pub mod text;
pub mod time;
pub mod verification;

pub use error::ValidationError;
