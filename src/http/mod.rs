//! The HTTP API (actix-web). Handlers only validate, send a message to an
//! actor or the store, and await the reply; every error leaves as
//! `application/problem+json` with a stable `code`.

pub mod access_revocations;
pub mod account_budget;
pub mod auth;
pub mod budget;
pub mod catalog_cache;
pub mod client_ip;
pub mod fallback;
pub mod live;
pub mod metrics;
pub mod metrics_token;
pub mod openapi;
pub mod passwords;
pub mod peer_listener;
pub mod peers;
pub mod problem;
pub mod rate_limit;
pub mod routes;
pub mod sessions;
pub mod shared_budget;
pub mod stamp;
pub mod state;
pub mod tokens;
pub mod upload;
pub mod verification;
pub mod viewer;

use actix_web::{middleware, web};

pub use problem::ApiError;
pub use state::AppState;

/// Mounts every route: the API under `/api/v1` (first, since the router
/// tries services in order), ops endpoints at the root.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(problem::json_config())
        .app_data(problem::path_config())
        .app_data(problem::query_config())
        .service(
            web::scope("/api/v1")
                // First: the router tries services in order, matching each
                // path pattern (a regex for those with parameters), and the
                // purchase is the route a drop hammers.
                .service(
                    web::scope("/orders")
                        .wrap(middleware::from_fn(rate_limit::per_user))
                        .service(routes::orders::place)
                        .service(routes::orders::list)
                        .service(routes::orders::pay)
                        .service(routes::orders::cancel)
                        .service(routes::orders::detail)
                        .service(routes::orders::events),
                )
                // Before the auth scope, which would otherwise claim it: a
                // token check costs no password hash, so no IP budget.
                .service(routes::auth::whoami)
                .service(
                    web::scope("/auth")
                        .wrap(middleware::from_fn(rate_limit::per_client_ip))
                        .service(routes::auth::signup)
                        .service(routes::auth::login)
                        .service(routes::auth::refresh)
                        .service(routes::auth::logout)
                        .service(routes::auth::logout_all)
                        .service(routes::verification::verify_email)
                        .service(routes::verification::verify_link)
                        .service(routes::verification::resend),
                )
                .service(routes::users::me)
                .service(routes::users::update_me)
                .service(routes::users::withdraw)
                .service(routes::picture::set)
                .service(routes::picture::remove)
                .service(routes::skus::availability)
                .service(routes::skus::restock)
                .service(routes::products::create)
                .service(routes::products::list)
                .service(routes::products::detail)
                .service(routes::products::update)
                .service(routes::products::remove)
                .service(routes::products::images::upload)
                .service(routes::products::images::remove)
                .service(routes::products::images::reorder)
                .service(routes::categories::tree)
                .service(routes::categories::create)
                .service(routes::categories::update)
                .service(routes::categories::remove)
                .service(routes::wishlist::list)
                .service(routes::wishlist::add)
                .service(routes::wishlist::remove)
                .service(
                    web::scope("/cart")
                        .wrap(middleware::from_fn(rate_limit::per_user))
                        .service(routes::cart::show)
                        .service(routes::cart::clear)
                        .service(routes::cart::set_item)
                        .service(routes::cart::remove_item)
                        .service(routes::cart::checkout::checkout),
                )
                .service(routes::addresses::list)
                .service(routes::addresses::add)
                .service(routes::addresses::update)
                .service(routes::addresses::remove)
                .service(routes::payment_methods::list)
                .service(routes::payment_methods::add)
                .service(routes::payment_methods::remove)
                .service(routes::reviews::add)
                .service(routes::reviews::list)
                .service(routes::likes::like_post)
                .service(routes::likes::unlike_post)
                .service(routes::likes::like_comment)
                .service(routes::likes::unlike_comment)
                .service(routes::follows::follow)
                .service(routes::follows::unfollow)
                .service(routes::follows::social)
                .service(routes::follows::followers)
                .service(routes::follows::following)
                .service(routes::posts::create)
                .service(routes::posts::detail)
                .service(routes::posts::edit)
                .service(routes::posts::remove)
                .service(routes::posts::by_author)
                .service(routes::comments::add)
                .service(routes::comments::list)
                .service(routes::comments::edit)
                .service(routes::comments::remove)
                .service(routes::feed::feed)
                .service(routes::activities::list)
                .service(routes::activities::unread_count)
                .service(routes::activities::mark_read)
                .service(routes::blocks::block)
                .service(routes::blocks::unblock)
                .service(routes::blocks::list)
                .service(routes::reports::report)
                .service(routes::reports::open)
                .service(routes::reports::resolve)
                .service(routes::orders_seller::seller_orders)
                .service(routes::admin::actors)
                .service(routes::admin::counter_actors)
                .service(routes::admin::sku_actor)
                .service(routes::admin_cluster::cluster)
                .service(routes::admin::sagas)
                .service(routes::admin::saga)
                .service(routes::admin_events::outbox)
                .service(routes::admin_events::feed)
                .service(routes::admin_mail::mail)
                .service(routes::console::live_feed),
        )
        .service(routes::console::landing)
        .service(routes::console::control_room)
        .service(routes::console::control_room_asset)
        .service(routes::console::explorer_redirect)
        .service(routes::console::explorer)
        .service(routes::console::explorer_asset)
        .service(routes::health::live)
        .service(routes::health::ready)
        .service(routes::metrics::scrape)
        .service(routes::media::object)
        .service(openapi::document)
        .default_service(web::to(fallback::no_route));
}
