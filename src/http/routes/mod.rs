//! One module per resource.

pub mod addresses;
pub mod admin;
pub mod admin_events;
pub mod admin_mail;
pub mod auth;
pub mod cart;
pub mod categories;
pub mod console;
pub mod health;
pub mod media;
pub mod metrics;
pub mod order_fields;
pub mod orders;
pub mod orders_seller;
pub mod payment_methods;
pub mod picture;
pub mod products;
pub mod reviews;
pub mod skus;
pub mod users;
pub mod verification;
pub mod wishlist;
