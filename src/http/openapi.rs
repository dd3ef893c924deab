//! The OpenAPI 3 document, generated from the handlers' annotations.

use actix_web::{HttpResponse, get};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::routes::{admin, auth, health, skus};

#[derive(OpenApi)]
#[openapi(
    info(title = "stampede", description = "Commerce backend built for the preorder drop."),
    paths(
        health::live,
        health::ready,
        document,
        auth::login,
        skus::availability,
        admin::actors,
        admin::sku_actor,
    ),
    modifiers(&BearerAuth),
)]
pub struct ApiDoc;

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

/// Paths of the API mounted under `/api/v1`, as the document lists them.
pub const API_PREFIX: &str = "/api/v1";

/// This document.
#[utoipa::path(tag = "ops", responses((status = 200, description = "OpenAPI 3 document")))]
#[get("/openapi.json")]
pub async fn document() -> HttpResponse {
    let mut doc = ApiDoc::openapi();
    // Handlers are annotated with their path inside the scope; publish the
    // full path clients call.
    let paths = std::mem::take(&mut doc.paths.paths);
    for (path, item) in paths {
        let full = if path.starts_with("/health") || path == "/openapi.json" {
            path
        } else {
            format!("{API_PREFIX}{path}")
        };
        doc.paths.paths.insert(full, item);
    }
    HttpResponse::Ok().json(doc)
}
