//! One module per resource.

pub mod admin;
pub mod admin_events;
pub mod auth;
pub mod categories;
pub mod console;
pub mod health;
pub mod media;
pub mod metrics;
pub mod orders;
pub mod orders_seller;
pub mod picture;
pub mod products;
pub mod skus;
pub mod users;
pub mod wishlist;
