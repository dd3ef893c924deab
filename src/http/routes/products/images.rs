//! A product's images: its seller (or an admin) uploads and deletes them.
//! An upload is read as multipart, checked and resized (see `media`), its
//! objects written, then its row; a row therefore never names a missing
//! object, and objects whose row could not be written are deleted again.

use actix_multipart::Multipart;
use actix_web::{HttpResponse, delete, patch, post, web};
use serde::Deserialize;
use utoipa::ToSchema;

use super::{load, may_manage, product_not_found, refuse_customers};
use crate::domain::ids::ProductId;
use crate::domain::image::ProductImage;
use crate::http::auth::AuthUser;
use crate::http::problem::Problem;
use crate::http::upload::{ImageUpload, single_file};
use crate::http::{ApiError, AppState};
use crate::persistence::ImageAdd;

/// Adds an image to a product, after its others. The upload's format,
/// size and pixel count are checked from its bytes; a display size and a
/// thumbnail are made from it.
#[utoipa::path(
    tag = "catalog",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Product id")),
    request_body(content = ImageUpload, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "Added: its three sizes with their URLs", body = ProductImage),
        (status = 400, description = "`VALIDATION_FAILED`: no `file` field, another field, or an image that cannot be decoded", body = Problem),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 403, description = "`FORBIDDEN`: not this product's seller nor an admin", body = Problem),
        (status = 404, description = "`NOT_FOUND`: unknown or deleted product", body = Problem),
        (status = 409, description = "`CONFLICT`: the product has as many images as it may", body = Problem),
        (status = 413, description = "`PAYLOAD_TOO_LARGE`: over `media.max_bytes` bytes or `media.max_pixels` pixels", body = Problem),
        (status = 415, description = "`VALIDATION_FAILED`: not multipart, or not a PNG, JPEG, WebP or GIF image", body = Problem),
        (status = 503, description = "`OVERLOADED`: every image processing slot is busy; `UNAVAILABLE`", body = Problem),
    )
)]
#[post("/products/{id}/images")]
pub async fn upload(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: Multipart,
) -> Result<HttpResponse, ApiError> {
    refuse_customers(&user)?;
    let id = ProductId::new(id.into_inner());
    let product = load(&state, id).await?;
    may_manage(&user, &product)?;
    let max = state.media.images_per_product();
    if product.images.len() >= max as usize {
        return Err(too_many(max));
    }
    let upload = single_file(form, state.media.max_bytes()).await?;
    let set = state.media.save(upload).await?;
    let added = state.store.add_product_image(id, &set, max).await;
    state.catalog.invalidate(id);
    let refused = match added {
        Ok(ImageAdd::Added(image)) => return Ok(HttpResponse::Created().json(image)),
        Ok(ImageAdd::ProductMissing) => product_not_found(id),
        Ok(ImageAdd::TooMany) => too_many(max),
        Err(e) => ApiError::from(e),
    };
    state.media.remove(set.keys().into_iter()).await;
    Err(refused)
}

/// Deletes one of a product's images, and its objects.
#[utoipa::path(
    tag = "catalog",
    security(("bearer" = [])),
    params(
        ("id" = i64, Path, description = "Product id"),
        ("image_id" = i64, Path, description = "Image id"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "`VALIDATION_FAILED`", body = Problem),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 403, description = "`FORBIDDEN`: not this product's seller nor an admin", body = Problem),
        (status = 404, description = "`NOT_FOUND`: unknown or deleted product, or no such image of it", body = Problem),
        (status = 503, description = "`UNAVAILABLE`", body = Problem),
    )
)]
#[delete("/products/{id}/images/{image_id}")]
pub async fn remove(
    user: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, ApiError> {
    refuse_customers(&user)?;
    let (id, image) = path.into_inner();
    let id = ProductId::new(id);
    let product = load(&state, id).await?;
    may_manage(&user, &product)?;
    let removed = state.store.remove_product_image(id, image).await;
    state.catalog.invalidate(id);
    let removed =
        removed?.ok_or_else(|| ApiError::NotFound(format!("product {id} has no image {image}")))?;
    state.media.remove(removed.keys().into_iter()).await;
    Ok(HttpResponse::NoContent().finish())
}

/// The new order of a product's images.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImageOrder {
    /// Every image id of the product, once each, cover first.
    #[schema(max_items = 100)]
    pub order: Vec<i64>,
}

/// Reorders a product's images; the first becomes the cover.
#[utoipa::path(
    tag = "catalog",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Product id")),
    request_body = ImageOrder,
    responses(
        (status = 200, description = "The images in their new order", body = Vec<ProductImage>),
        (status = 400, description = "`VALIDATION_FAILED`: `order` does not name each of the product's images once", body = Problem),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 403, description = "`FORBIDDEN`: not this product's seller nor an admin", body = Problem),
        (status = 404, description = "`NOT_FOUND`: unknown or deleted product", body = Problem),
        (status = 415, description = "`VALIDATION_FAILED`: not JSON", body = Problem),
        (status = 503, description = "`UNAVAILABLE`", body = Problem),
    )
)]
#[patch("/products/{id}/images")]
pub async fn reorder(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Json<ImageOrder>,
) -> Result<HttpResponse, ApiError> {
    refuse_customers(&user)?;
    let id = ProductId::new(id.into_inner());
    let product = load(&state, id).await?;
    may_manage(&user, &product)?;
    let done = state.store.reorder_product_images(id, &body.order).await;
    state.catalog.invalidate(id);
    if !done? {
        return Err(ApiError::Validation(
            "order: must name each of the product's images once".into(),
        ));
    }
    Ok(HttpResponse::Ok().json(load(&state, id).await?.images.clone()))
}

fn too_many(max: u32) -> ApiError {
    ApiError::Conflict(format!("a product may have at most {max} images"))
}
