//! One module per resource.

pub mod admin;
pub mod admin_events;
pub mod admin_mail;
pub mod auth;
pub mod console;
pub mod health;
pub mod metrics;
pub mod orders;
pub mod orders_seller;
pub mod products;
pub mod skus;
pub mod users;
pub mod verification;
pub mod wishlist;
