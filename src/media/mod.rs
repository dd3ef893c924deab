//! Media: product images and profile pictures as objects. An upload is
//! checked from its bytes, decoded and resized on the blocking pool a few
//! at a time ([`process`]), and its three sizes are written to an object
//! store, a local directory or an S3-compatible bucket ([`storage`]).
//!
//! This sits beside `persistence` (it is storage, it knows no HTTP) and
//! imports only `domain` and `config`.

pub mod process;
pub mod storage;

pub use process::{Processor, Rendition};
pub use storage::{MediaObject, MediaStore};

use bytes::Bytes;
use sha2::{Digest, Sha256};

use crate::config::MediaSettings;
use crate::domain::image::{ImageFile, ImageKind, ImageSet, MediaKey};

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("the upload is not a PNG, JPEG, WebP or GIF image")]
    NotAnImage,
    #[error("the image is {width}x{height} pixels; at most {max} pixels are accepted")]
    TooManyPixels { width: u32, height: u32, max: u64 },
    #[error("the image cannot be decoded: {0}")]
    Undecodable(String),
    /// Every processing slot stayed taken for the whole wait.
    #[error("too many images are being processed; retry shortly")]
    Busy,
    #[error("the media store failed: {0}")]
    Store(#[from] object_store::Error),
    #[error("invalid media configuration: {0}")]
    Config(String),
    #[error("{0}")]
    Internal(String),
}

/// Processing and storage together; cheap to clone, one per process.
#[derive(Clone)]
pub struct Media {
    pub store: MediaStore,
    processor: Processor,
    images_per_product: u32,
}

impl Media {
    /// The store `settings` name (created if it is a missing directory) and
    /// a processor with their limits.
    pub fn new(settings: &MediaSettings) -> Result<Self, MediaError> {
        Ok(Self {
            store: MediaStore::open(settings)?,
            processor: Processor::new(settings),
            images_per_product: settings.images_per_product,
        })
    }

    pub fn images_per_product(&self) -> u32 {
        self.images_per_product
    }

    pub fn max_bytes(&self) -> usize {
        self.processor.max_bytes()
    }

    /// Checks and resizes `upload`, then writes its three sizes. Nothing
    /// is left in the store when it fails.
    pub async fn save(&self, upload: Bytes) -> Result<ImageSet, MediaError> {
        let processed = self.processor.process(upload).await?;
        let nonce: u64 = rand::random();
        let [original, display, thumbnail] =
            [processed.original, processed.display, processed.thumbnail].map(|r| keyed(r, nonce));
        let [original, display, thumbnail] = [original?, display?, thumbnail?];
        let set = ImageSet {
            content_type: processed.kind.content_type().to_string(),
            bytes: processed.bytes,
            original: original.1.clone(),
            display: display.1.clone(),
            thumbnail: thumbnail.1.clone(),
        };
        let mut written = Vec::with_capacity(3);
        for (content, file) in [original, display, thumbnail] {
            if let Err(e) = self.store.put(&file.key, content).await {
                self.remove(written.iter()).await;
                return Err(e);
            }
            written.push(file.key);
        }
        Ok(set)
    }

    /// Deletes objects, logging (not failing on) what cannot be deleted:
    /// their rows are gone already, so nothing refers to them any more.
    pub async fn remove<'a>(&self, keys: impl Iterator<Item = &'a MediaKey>) {
        for key in keys {
            if let Err(e) = self.store.delete(key).await {
                tracing::warn!(%key, error = %e, "could not delete a media object; it is orphaned");
            }
        }
    }
}

/// A rendition with its content-addressed key.
fn keyed(r: Rendition, nonce: u64) -> Result<(Bytes, ImageFile), MediaError> {
    let hash = hex(&Sha256::digest(&r.content));
    let key = MediaKey::new(&hash, nonce, r.kind)
        .ok_or_else(|| MediaError::Internal(format!("no media key from hash {hash}")))?;
    let file = ImageFile {
        key,
        width: r.width,
        height: r.height,
    };
    Ok((r.content, file))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Only `ImageKind` decides what a stored object is served as.
pub fn content_type(key: &MediaKey) -> &'static str {
    ImageKind::content_type(key.kind())
}
