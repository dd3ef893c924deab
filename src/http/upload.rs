//! Reading an image upload: one `file` field of a `multipart/form-data`
//! body, at most `media.max_bytes` long, and the media errors as problems.
//! The field's name and content type are never trusted for the format:
//! the processor tells it from the bytes.

use actix_multipart::{Multipart, MultipartError};
use bytes::{Bytes, BytesMut};
use futures::StreamExt;

use super::ApiError;
use crate::media::MediaError;

/// The multipart field holding the image.
pub const FILE_FIELD: &str = "file";

/// After the limit is passed, up to this much more is read (and dropped)
/// so the client gets the answer; a longer body has the connection closed.
const DRAIN_MAX: usize = 8 * 1024 * 1024;

/// The one file of the form, or a problem: no file, two files, another
/// field, not multipart, or over `max` bytes (`413 PAYLOAD_TOO_LARGE`).
pub async fn single_file(mut form: Multipart, max: usize) -> Result<Bytes, ApiError> {
    let mut file = None;
    while let Some(field) = form.next().await {
        let mut field = field.map_err(multipart_error)?;
        if field.name() != Some(FILE_FIELD) {
            return Err(ApiError::Validation(format!(
                "the form takes one field, `{FILE_FIELD}`; got `{}`",
                field.name().unwrap_or_default()
            )));
        }
        if file.is_some() {
            return Err(ApiError::Validation(format!(
                "the form takes one `{FILE_FIELD}`, not several"
            )));
        }
        let mut content = BytesMut::new();
        let mut seen = 0usize;
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(multipart_error)?;
            seen = seen.saturating_add(chunk.len());
            if seen > max.saturating_add(DRAIN_MAX) {
                break;
            }
            if seen <= max {
                content.extend_from_slice(&chunk);
            }
        }
        if seen > max {
            return Err(too_large(max));
        }
        file = Some(content.freeze());
    }
    file.ok_or_else(|| ApiError::Validation(format!("the form has no `{FILE_FIELD}` field")))
}

fn too_large(max: usize) -> ApiError {
    ApiError::TooLarge(format!("the file is larger than {max} bytes"))
}

fn multipart_error(e: MultipartError) -> ApiError {
    match e {
        MultipartError::ContentTypeMissing
        | MultipartError::ContentTypeParse
        | MultipartError::ContentTypeIncompatible
        | MultipartError::BoundaryMissing => {
            ApiError::UnsupportedMediaType("expected Content-Type: multipart/form-data".into())
        }
        other => ApiError::Validation(format!("invalid multipart body: {other}")),
    }
}

impl From<MediaError> for ApiError {
    fn from(e: MediaError) -> Self {
        match e {
            MediaError::NotAnImage => ApiError::UnsupportedMediaType(e.to_string()),
            MediaError::TooManyPixels { .. } => ApiError::TooLarge(e.to_string()),
            MediaError::Undecodable(_) => ApiError::Validation(e.to_string()),
            MediaError::Busy => ApiError::Overloaded("too many images are being processed"),
            MediaError::Store(e) => {
                tracing::error!(error = %e, "media store error");
                ApiError::Unavailable("the media store is unavailable, retry shortly")
            }
            MediaError::Config(why) | MediaError::Internal(why) => ApiError::Internal(why),
        }
    }
}

/// The form an image is uploaded as (for the OpenAPI document).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ImageUpload {
    /// A PNG, JPEG, WebP or GIF image; its format is read from its bytes.
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
}
