//! The OpenAPI 3 document, generated from the handlers' annotations. The
//! router also asks it which methods a path has, to answer 405 with `Allow`.

use actix_web::{HttpResponse, get};
use std::sync::LazyLock;
use utoipa::openapi::RefOr;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::routes::{activities, blocks, comments, feed, posts, reports};
use super::routes::{
    addresses, admin, admin_cluster, admin_events, admin_mail, auth, cart, categories, console,
    follows, health, likes, media, metrics, orders, orders_seller, payment_methods, picture,
    products, reviews, skus, users, verification, wishlist,
};

/// The whole document: ops routes at the root, the API nested under the
/// same `/api/v1` scope `http::configure` mounts it at.
#[derive(OpenApi)]
#[openapi(
    info(title = "stampede", description = "Commerce backend built for the preorder drop."),
    paths(
        console::landing,
        console::control_room,
        console::control_room_asset,
        console::explorer_redirect,
        console::explorer,
        console::explorer_asset,
        health::live,
        health::ready,
        metrics::scrape,
        media::object,
        document
    ),
    nest((path = "/api/v1", api = ApiV1)),
    modifiers(&BearerAuth, &ProblemJson),
)]
pub struct ApiDoc;

/// Routes under `/api/v1`, annotated with their path inside that scope.
#[derive(OpenApi)]
#[openapi(
    paths(
        auth::whoami,
        users::me,
        users::update_me,
        users::withdraw,
        picture::set,
        picture::remove,
        skus::availability,
        skus::restock,
        products::create,
        products::list,
        products::detail,
        products::update,
        products::remove,
        products::images::upload,
        products::images::remove,
        products::images::reorder,
        categories::tree,
        categories::create,
        categories::update,
        categories::remove,
        wishlist::list,
        wishlist::add,
        wishlist::remove,
        addresses::list,
        addresses::add,
        addresses::update,
        addresses::remove,
        payment_methods::list,
        payment_methods::add,
        payment_methods::remove,
        reviews::add,
        reviews::list,
        likes::like_post,
        likes::unlike_post,
        likes::like_comment,
        likes::unlike_comment,
        follows::follow,
        follows::unfollow,
        follows::social,
        follows::followers,
        follows::following,
        posts::create,
        posts::detail,
        posts::edit,
        posts::remove,
        posts::by_author,
        comments::add,
        comments::list,
        comments::edit,
        comments::remove,
        feed::feed,
        activities::list,
        activities::unread_count,
        activities::mark_read,
        blocks::block,
        blocks::unblock,
        blocks::list,
        reports::report,
        reports::open,
        reports::resolve,
        orders_seller::seller_orders,
        admin::actors,
        admin::counter_actors,
        admin::sku_actor,
        admin_cluster::cluster,
        admin::sagas,
        admin::saga,
        admin_events::outbox,
        admin_events::feed,
        admin_mail::mail,
        console::live_feed
    ),
    nest(
        (path = "/auth", api = AuthApi),
        (path = "/orders", api = OrdersApi),
        (path = "/cart", api = CartApi)
    ),
)]
struct ApiV1;

/// The cart scope, under the per-user request budget as a whole.
#[derive(OpenApi)]
#[openapi(paths(
    cart::show,
    cart::clear,
    cart::set_item,
    cart::remove_item,
    cart::checkout::checkout
))]
struct CartApi;

/// The orders scope, under the per-user request budget as a whole.
#[derive(OpenApi)]
#[openapi(paths(
    orders::place,
    orders::list,
    orders::pay,
    orders::cancel,
    orders::detail,
    orders::events
))]
struct OrdersApi;

/// The auth scope, rate-limited per client IP as a whole.
#[derive(OpenApi)]
#[openapi(paths(
    auth::signup,
    auth::login,
    auth::refresh,
    auth::logout,
    auth::logout_all,
    verification::verify_email,
    verification::verify_link,
    verification::resend
))]
struct AuthApi;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "metrics_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The configured `metrics_token` (`STAMPEDE_METRICS_TOKEN`)",
                    ))
                    .build(),
            ),
        );
    }
}

/// Error answers are sent as `application/problem+json` (see `problem.rs`);
/// utoipa documents every `body = Problem` as `application/json`, so this
/// renames that media type on each response whose schema is `Problem`.
struct ProblemJson;

const PROBLEM_REF: &str = "#/components/schemas/Problem";

impl Modify for ProblemJson {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            for operation in operations_mut(item) {
                for response in operation.responses.responses.values_mut() {
                    let RefOr::T(response) = response else {
                        continue;
                    };
                    let is_problem = response.content.get("application/json").is_some_and(|c| {
                        matches!(&c, RefOr::T(c) if matches!(&c.schema, Some(RefOr::Ref(r)) if r.ref_location == PROBLEM_REF))
                    });
                    if is_problem
                        && let Some(content) = response.content.shift_remove("application/json")
                    {
                        response
                            .content
                            .insert("application/problem+json".into(), content);
                    }
                }
            }
        }
    }
}

fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}

/// The methods documented for the route `path` matches (its `{param}`
/// segments match any one segment), e.g. `"GET, POST"`; `None` when no
/// documented route matches it.
pub fn allowed_methods(path: &str) -> Option<String> {
    let segments: Vec<&str> = path.split('/').collect();
    let item = DOCUMENT.paths.paths.iter().find_map(|(template, item)| {
        let parts: Vec<&str> = template.split('/').collect();
        let matches = parts.len() == segments.len()
            && parts
                .iter()
                .zip(&segments)
                .all(|(t, s)| (t.starts_with('{') && t.ends_with('}') && !s.is_empty()) || t == s);
        matches.then_some(item)
    })?;
    let methods: Vec<&str> = [
        ("GET", &item.get),
        ("PUT", &item.put),
        ("POST", &item.post),
        ("DELETE", &item.delete),
        ("OPTIONS", &item.options),
        ("HEAD", &item.head),
        ("PATCH", &item.patch),
        ("TRACE", &item.trace),
    ]
    .into_iter()
    .filter_map(|(name, op)| op.as_ref().map(|_| name))
    .collect();
    Some(methods.join(", "))
}

static DOCUMENT: LazyLock<utoipa::openapi::OpenApi> = LazyLock::new(ApiDoc::openapi);

/// This document.
#[utoipa::path(tag = "ops", responses((status = 200, description = "OpenAPI 3 document")))]
#[get("/openapi.json")]
pub async fn document() -> HttpResponse {
    HttpResponse::Ok().json(&*DOCUMENT)
}
