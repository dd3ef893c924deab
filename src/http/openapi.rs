//! The OpenAPI 3 document, generated from the handlers' annotations.

use actix_web::{HttpResponse, get};
use std::sync::LazyLock;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::routes::{
    admin, auth, health, metrics, orders, orders_seller, products, skus, users, wishlist,
};

/// The whole document: ops routes at the root, the API nested under the
/// same `/api/v1` scope `http::configure` mounts it at.
#[derive(OpenApi)]
#[openapi(
    info(title = "stampede", description = "Commerce backend built for the preorder drop."),
    paths(health::live, health::ready, metrics::scrape, document),
    nest((path = "/api/v1", api = ApiV1)),
    modifiers(&BearerAuth),
)]
pub struct ApiDoc;

/// Routes under `/api/v1`, annotated with their path inside that scope.
#[derive(OpenApi)]
#[openapi(
    paths(
        users::me,
        users::update_me,
        users::withdraw,
        skus::availability,
        skus::restock,
        products::create,
        products::list,
        products::detail,
        products::update,
        products::remove,
        wishlist::list,
        wishlist::add,
        wishlist::remove,
        orders_seller::seller_orders,
        admin::actors,
        admin::sku_actor,
        admin::sagas,
        admin::saga
    ),
    nest((path = "/auth", api = AuthApi), (path = "/orders", api = OrdersApi)),
)]
struct ApiV1;

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
#[openapi(paths(auth::signup, auth::login, auth::refresh, auth::logout))]
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
    }
}

static DOCUMENT: LazyLock<utoipa::openapi::OpenApi> = LazyLock::new(ApiDoc::openapi);

/// This document.
#[utoipa::path(tag = "ops", responses((status = 200, description = "OpenAPI 3 document")))]
#[get("/openapi.json")]
pub async fn document() -> HttpResponse {
    HttpResponse::Ok().json(&*DOCUMENT)
}
