//! The signed-in account's picture: one per account, uploaded as multipart
//! and kept in three sizes like product images. Setting a new one deletes
//! the old one's objects; `/users/me` shows its URLs.

use actix_multipart::Multipart;
use actix_web::{HttpResponse, delete, put, web};

use crate::domain::image::ImageSet;
use crate::http::auth::AuthUser;
use crate::http::problem::Problem;
use crate::http::upload::{ImageUpload, single_file};
use crate::http::{ApiError, AppState};

/// Sets (or replaces) the caller's picture.
#[utoipa::path(
    tag = "users",
    security(("bearer" = [])),
    request_body(content = ImageUpload, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "The picture now shown, in three sizes", body = ImageSet),
        (status = 400, description = "`VALIDATION_FAILED`: no `file` field, another field, or an image that cannot be decoded", body = Problem),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 413, description = "`PAYLOAD_TOO_LARGE`: over `media.max_bytes` bytes or `media.max_pixels` pixels", body = Problem),
        (status = 415, description = "`VALIDATION_FAILED`: not multipart, or not a PNG, JPEG, WebP or GIF image", body = Problem),
        (status = 503, description = "`OVERLOADED`: every image processing slot is busy; `UNAVAILABLE`", body = Problem),
    )
)]
#[put("/users/me/picture")]
pub async fn set(
    caller: AuthUser,
    state: web::Data<AppState>,
    form: Multipart,
) -> Result<HttpResponse, ApiError> {
    let upload = single_file(form, state.media.max_bytes()).await?;
    let set = state.media.save(upload).await?;
    let replaced = match state.store.set_user_picture(caller.id, &set).await {
        Ok(Some(replaced)) => replaced,
        refused => {
            // Nothing refers to the new objects.
            state.media.remove(set.keys().into_iter()).await;
            return Err(match refused {
                Err(e) => e.into(),
                Ok(_) => ApiError::Unauthorized("this account has been withdrawn"),
            });
        }
    };
    if let Some(old) = replaced {
        state.media.remove(old.keys().into_iter()).await;
    }
    Ok(HttpResponse::Ok().json(set))
}

/// Removes the caller's picture and its objects.
#[utoipa::path(
    tag = "users",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 404, description = "`NOT_FOUND`: the account has no picture", body = Problem),
        (status = 503, description = "`UNAVAILABLE`", body = Problem),
    )
)]
#[delete("/users/me/picture")]
pub async fn remove(
    caller: AuthUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let old = state
        .store
        .remove_user_picture(caller.id)
        .await?
        .ok_or_else(|| ApiError::NotFound("this account has no picture".into()))?;
    state.media.remove(old.keys().into_iter()).await;
    Ok(HttpResponse::NoContent().finish())
}
