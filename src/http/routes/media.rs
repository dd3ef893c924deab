//! Serves media objects: `GET /media/{key}`. Keys are content-addressed
//! (the content's SHA-256 plus an upload nonce), so an object never changes:
//! it is sent with a strong `ETag` (that hash) and cached for a year as
//! immutable; `If-None-Match` with the tag answers `304` without reading it.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, get, web};

use crate::domain::image::MediaKey;
use crate::http::problem::Problem;
use crate::http::rate_limit::PublicRead;
use crate::http::{ApiError, AppState};
use crate::media;

const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// One media object: an image as uploaded, its display size or thumbnail.
#[utoipa::path(
    tag = "media",
    params(("key" = String, Path, description = "The object's key, as image URLs name it")),
    responses(
        (status = 200, description = "The image, with `ETag` and `Cache-Control: public, max-age=31536000, immutable`",
            content((Vec<u8> = "image/png"), (Vec<u8> = "image/jpeg"), (Vec<u8> = "image/webp"), (Vec<u8> = "image/gif"))),
        (status = 304, description = "`If-None-Match` names this object's `ETag`"),
        (status = 404, description = "`NOT_FOUND`: no such object (or not a key)", body = Problem),
        (status = 429, description = "`RATE_LIMITED`: the client IP's public-read budget is spent", body = Problem),
        (status = 503, description = "`UNAVAILABLE`: the media store cannot be reached", body = Problem),
    )
)]
#[get("/media/{key}")]
pub async fn object(
    _budget: PublicRead,
    state: web::Data<AppState>,
    key: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let key = MediaKey::parse(&key).ok_or_else(not_found)?;
    let etag = format!("\"{}\"", key.content_hash());
    if names_tag(&req, &etag) {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .insert_header((header::CACHE_CONTROL, IMMUTABLE))
            .finish());
    }
    let found = state.media.store.get(&key).await?.ok_or_else(not_found)?;
    Ok(HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static(media::content_type(&key)),
        ))
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, IMMUTABLE))
        .body(found.content))
}

fn not_found() -> ApiError {
    ApiError::NotFound("no such media object".into())
}

/// True when `If-None-Match` lists `etag` (weakly compared, as RFC 9110
/// says for this header) or is `*`.
fn names_tag(req: &HttpRequest, etag: &str) -> bool {
    req.headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}
