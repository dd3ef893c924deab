//! The category tree: anyone reads it whole; admins create, rename, move
//! and delete categories. A move may not put a category under itself or a
//! descendant (`409 CONFLICT`), nor make the tree deeper than ten levels
//! (`400`). A category with sub-categories or with products in the catalog
//! is not deleted (`409 CONFLICT`): move or delete those first.

use actix_web::http::header;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use serde::{Deserialize, Deserializer};
use utoipa::ToSchema;

use crate::domain::category::{self, Category, CategoryId, CategoryNode, TreeError};
use crate::http::auth::Admin;
use crate::http::problem::Problem;
use crate::http::rate_limit::PublicRead;
use crate::http::{ApiError, AppState};
use crate::persistence::{CategoryDelete, CategoryWrite};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCategory {
    /// 1 to 50 characters.
    pub name: String,
    /// The parent category; absent or `null` for a root.
    #[serde(default)]
    pub parent_id: Option<i64>,
}

/// Every field is optional; absent fields stay as they are.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryChange {
    /// 1 to 50 characters.
    #[serde(default)]
    pub name: Option<String>,
    /// Moves the category (with everything below it) under this one;
    /// `null` makes it a root.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, nullable)]
    pub parent_id: Option<Option<i64>>,
}

/// Tells a field given as `null` (`Some(None)`) from an absent one (`None`).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<i64>>, D::Error> {
    Option::<i64>::deserialize(d).map(Some)
}

/// The whole tree: root categories, each with its children, by name.
#[utoipa::path(
    tag = "catalog",
    responses(
        (status = 200, description = "The category tree", body = Vec<CategoryNode>),
        (status = 429, description = "`RATE_LIMITED`: the client IP's public-read budget is spent", body = Problem),
        (status = 503, description = "`UNAVAILABLE`", body = Problem),
    )
)]
#[get("/categories")]
pub async fn tree(
    _budget: PublicRead,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let all = state.store.categories().await?;
    Ok(HttpResponse::Ok().json(category::tree(all)))
}

/// Creates a category, at the root or under `parent_id`.
#[utoipa::path(
    tag = "catalog",
    security(("bearer" = [])),
    request_body = NewCategory,
    responses(
        (status = 201, description = "Created", body = Category, headers(("Location" = String, description = "The tree, where it now is"))),
        (status = 400, description = "`VALIDATION_FAILED`: name, or too deep a tree", body = Problem),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 403, description = "`FORBIDDEN`: not an admin", body = Problem),
        (status = 404, description = "`NOT_FOUND`: no such parent", body = Problem),
        (status = 415, description = "`VALIDATION_FAILED`: not JSON", body = Problem),
        (status = 503, description = "`UNAVAILABLE`", body = Problem),
    )
)]
#[post("/categories")]
pub async fn create(
    _admin: Admin,
    state: web::Data<AppState>,
    body: web::Json<NewCategory>,
) -> Result<HttpResponse, ApiError> {
    let name = category::category_name(&body.name)?;
    let parent = body.parent_id.map(CategoryId::new);
    let written = state.store.create_category(&name, parent).await?;
    let created = answer(written)?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, "/api/v1/categories"))
        .json(created))
}

/// Renames and/or moves a category; its products and sub-categories move
/// with it.
#[utoipa::path(
    tag = "catalog",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Category id")),
    request_body = CategoryChange,
    responses(
        (status = 200, description = "The category as it is now", body = Category),
        (status = 400, description = "`VALIDATION_FAILED`: name, nothing to change, or too deep a tree", body = Problem),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 403, description = "`FORBIDDEN`: not an admin", body = Problem),
        (status = 404, description = "`NOT_FOUND`: no such category or parent", body = Problem),
        (status = 409, description = "`CONFLICT`: the move would put the category under itself", body = Problem),
        (status = 415, description = "`VALIDATION_FAILED`: not JSON", body = Problem),
        (status = 503, description = "`UNAVAILABLE`", body = Problem),
    )
)]
#[patch("/categories/{id}")]
pub async fn update(
    _admin: Admin,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Json<CategoryChange>,
) -> Result<HttpResponse, ApiError> {
    let name = body
        .name
        .as_deref()
        .map(category::category_name)
        .transpose()?;
    if name.is_none() && body.parent_id.is_none() {
        return Err(ApiError::Validation(
            "give `name` and/or `parent_id` to change".into(),
        ));
    }
    let id = CategoryId::new(id.into_inner());
    let parent = body.parent_id.map(|p| p.map(CategoryId::new));
    let written = state
        .store
        .update_category(id, name.as_deref(), parent)
        .await;
    // A move changes which products a category filter finds.
    state.catalog.invalidate_listings();
    Ok(HttpResponse::Ok().json(answer(written?)?))
}

/// Deletes a category with no sub-categories and no products in the
/// catalog.
#[utoipa::path(
    tag = "catalog",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Category id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "`VALIDATION_FAILED`", body = Problem),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 403, description = "`FORBIDDEN`: not an admin", body = Problem),
        (status = 404, description = "`NOT_FOUND`: no such category", body = Problem),
        (status = 409, description = "`CONFLICT`: it has sub-categories or products", body = Problem),
        (status = 503, description = "`UNAVAILABLE`", body = Problem),
    )
)]
#[delete("/categories/{id}")]
pub async fn remove(
    _admin: Admin,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = CategoryId::new(id.into_inner());
    let deleted = state.store.delete_category(id).await;
    // Every catalog write invalidates, even one no cached page can show.
    state.catalog.invalidate_listings();
    match deleted? {
        CategoryDelete::Deleted => Ok(HttpResponse::NoContent().finish()),
        CategoryDelete::Missing => Err(missing(id)),
        CategoryDelete::HasChildren => Err(ApiError::Conflict(format!(
            "category {id} has sub-categories: move or delete them first"
        ))),
        CategoryDelete::HasProducts => Err(ApiError::Conflict(format!(
            "category {id} has products: move them to another category first"
        ))),
    }
}

fn answer(written: CategoryWrite) -> Result<Category, ApiError> {
    match written {
        CategoryWrite::Done(category) => Ok(category),
        CategoryWrite::Missing => Err(ApiError::NotFound("no such category".into())),
        CategoryWrite::NoParent(p) => Err(missing(p)),
        CategoryWrite::Refused(e @ TreeError::Cycle) => Err(ApiError::Conflict(e.to_string())),
        CategoryWrite::Refused(e @ TreeError::TooDeep) => {
            Err(ApiError::Validation(format!("parent_id: {e}")))
        }
    }
}

fn missing(id: CategoryId) -> ApiError {
    ApiError::NotFound(format!("category {id} does not exist"))
}
