//! stampede: a commerce backend built for the preorder drop.
//!
//! Every SKU's stock is owned by one actor ([`actors`]); decisions are
//! written behind in group commits ([`persistence`]); HTTP handlers only
//! validate, send a message and await the reply ([`http`]).

pub mod actors;
pub mod admin_bootstrap;
pub mod cluster;
pub mod config;
pub mod domain;
pub mod events;
pub mod http;
pub mod mail;
pub mod media;
pub mod persistence;
pub mod prometheus;
pub mod providers;
pub mod secrets;
pub mod startup;
pub mod telemetry;
