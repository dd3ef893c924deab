//! Checking and resizing uploads. The format is told by the first bytes
//! (never the file name or the client's content type); the pixel count is
//! read from the header and refused over the limit before anything is
//! decoded, and the decoder itself runs under `image::Limits`, so a small
//! file claiming a huge image (a decompression bomb) costs nothing.
//!
//! Decoding and resizing are CPU-heavy, so they run on the blocking pool and
//! only a few at once: a semaphore with one permit per core by default. An
//! upload that cannot get a permit within `media.queue_wait_ms` is refused
//! with `Busy` (`503 OVERLOADED`) rather than queueing without bound.

use bytes::Bytes;
use image::{DynamicImage, ImageFormat, ImageReader, Limits};
use std::io::Cursor;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::MediaError;
use crate::config::MediaSettings;
use crate::domain::image::ImageKind;

/// One size of an image, encoded.
#[derive(Debug, Clone)]
pub struct Rendition {
    pub content: Bytes,
    pub kind: ImageKind,
    pub width: u32,
    pub height: u32,
}

/// An accepted upload and the two sizes made from it.
#[derive(Debug, Clone)]
pub struct Processed {
    pub kind: ImageKind,
    /// Length of the upload.
    pub bytes: u64,
    /// The upload as sent (its format and size checked).
    pub original: Rendition,
    pub display: Rendition,
    pub thumbnail: Rendition,
}

#[derive(Debug, Clone, Copy)]
struct Bounds {
    max_pixels: u64,
    display_px: u32,
    thumbnail_px: u32,
}

/// The bounded image processor; cheap to clone.
#[derive(Clone)]
pub struct Processor {
    permits: Arc<Semaphore>,
    wait: Duration,
    max_bytes: usize,
    bounds: Bounds,
}

impl Processor {
    pub fn new(settings: &MediaSettings) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let permits = match settings.concurrency {
            0 => cores,
            n => n,
        };
        Self {
            permits: Arc::new(Semaphore::new(permits)),
            wait: settings.queue_wait(),
            max_bytes: settings.max_bytes,
            bounds: Bounds {
                max_pixels: settings.max_pixels.max(1),
                display_px: settings.display_px.max(1),
                thumbnail_px: settings.thumbnail_px.max(1),
            },
        }
    }

    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// Checks `upload` and makes its display size and thumbnail.
    pub async fn process(&self, upload: Bytes) -> Result<Processed, MediaError> {
        // Cheap refusals first: they need no slot.
        let kind = ImageKind::sniff(&upload).ok_or(MediaError::NotAnImage)?;
        let permit = self.permit().await?;
        let bounds = self.bounds;
        tokio::task::spawn_blocking(move || {
            // Held until the work is done, even if the caller went away.
            let _permit = permit;
            render(bounds, kind, upload)
        })
        .await
        .map_err(|e| MediaError::Internal(format!("image task: {e}")))?
    }

    async fn permit(&self) -> Result<OwnedSemaphorePermit, MediaError> {
        let acquire = Arc::clone(&self.permits).acquire_owned();
        match tokio::time::timeout(self.wait, acquire).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(closed)) => Err(MediaError::Internal(closed.to_string())),
            Err(_) => Err(MediaError::Busy),
        }
    }
}

fn format(kind: ImageKind) -> ImageFormat {
    match kind {
        ImageKind::Png => ImageFormat::Png,
        ImageKind::Jpeg => ImageFormat::Jpeg,
        ImageKind::Webp => ImageFormat::WebP,
        ImageKind::Gif => ImageFormat::Gif,
    }
}

fn reader(kind: ImageKind, upload: &[u8], bounds: Bounds) -> ImageReader<Cursor<&[u8]>> {
    let mut reader = ImageReader::with_format(Cursor::new(upload), format(kind));
    let side = u32::try_from(bounds.max_pixels).unwrap_or(u32::MAX);
    let mut limits = Limits::default();
    limits.max_image_width = Some(side);
    limits.max_image_height = Some(side);
    // Up to 16-bit RGBA (8 bytes a pixel), plus the decoder's own buffers.
    limits.max_alloc = Some(
        bounds
            .max_pixels
            .saturating_mul(8)
            .saturating_add(64 * 1024 * 1024),
    );
    reader.limits(limits);
    reader
}

fn render(bounds: Bounds, kind: ImageKind, upload: Bytes) -> Result<Processed, MediaError> {
    let undecodable = |e: image::ImageError| MediaError::Undecodable(e.to_string());
    let (width, height) = reader(kind, &upload, bounds)
        .into_dimensions()
        .map_err(undecodable)?;
    if u64::from(width) * u64::from(height) > bounds.max_pixels {
        return Err(MediaError::TooManyPixels {
            width,
            height,
            max: bounds.max_pixels,
        });
    }
    let image = reader(kind, &upload, bounds)
        .decode()
        .map_err(undecodable)?;
    // JPEG stays JPEG; anything else may have transparency, so PNG.
    let out = match kind {
        ImageKind::Jpeg => ImageKind::Jpeg,
        _ => ImageKind::Png,
    };
    let display = fit(&image, bounds.display_px);
    let thumbnail = fit(&display, bounds.thumbnail_px);
    Ok(Processed {
        kind,
        bytes: upload.len() as u64,
        original: Rendition {
            content: upload,
            kind,
            width,
            height,
        },
        display: encode(&display, out)?,
        thumbnail: encode(&thumbnail, out)?,
    })
}

/// `image` scaled down to fit a `px` square (never up), aspect kept.
fn fit(image: &DynamicImage, px: u32) -> DynamicImage {
    if image.width() <= px && image.height() <= px {
        image.clone()
    } else {
        image.resize(px, px, image::imageops::FilterType::Triangle)
    }
}

fn encode(image: &DynamicImage, kind: ImageKind) -> Result<Rendition, MediaError> {
    // Eight bits a channel: what both encoders take whatever the source was.
    let flat = match kind {
        ImageKind::Jpeg => DynamicImage::ImageRgb8(image.to_rgb8()),
        _ if image.has_alpha() => DynamicImage::ImageRgba8(image.to_rgba8()),
        _ => DynamicImage::ImageRgb8(image.to_rgb8()),
    };
    let mut out = Cursor::new(Vec::new());
    flat.write_to(&mut out, format(kind))
        .map_err(|e| MediaError::Internal(format!("encoding a resized image: {e}")))?;
    Ok(Rendition {
        content: Bytes::from(out.into_inner()),
        kind,
        width: flat.width(),
        height: flat.height(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Bytes {
        let image = DynamicImage::ImageRgb8(image::RgbImage::from_pixel(
            width,
            height,
            image::Rgb([200, 30, 30]),
        ));
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, ImageFormat::Png).expect("png");
        Bytes::from(out.into_inner())
    }

    fn processor(max_pixels: u64) -> Processor {
        Processor::new(&MediaSettings {
            max_pixels,
            display_px: 100,
            thumbnail_px: 20,
            ..MediaSettings::default()
        })
    }

    #[tokio::test]
    async fn sizes_fit_their_squares_and_keep_the_aspect() {
        let done = processor(1_000_000)
            .process(png(400, 200))
            .await
            .expect("processed");
        assert_eq!(done.kind, ImageKind::Png);
        assert_eq!((done.original.width, done.original.height), (400, 200));
        assert_eq!((done.display.width, done.display.height), (100, 50));
        assert_eq!((done.thumbnail.width, done.thumbnail.height), (20, 10));
        let thumb = image::load_from_memory(&done.thumbnail.content).expect("decodes");
        assert_eq!((thumb.width(), thumb.height()), (20, 10));
    }

    #[tokio::test]
    async fn small_images_are_not_enlarged() {
        let done = processor(1_000_000).process(png(10, 8)).await.expect("ok");
        assert_eq!((done.display.width, done.display.height), (10, 8));
        assert_eq!((done.thumbnail.width, done.thumbnail.height), (10, 8));
    }

    #[tokio::test]
    async fn refusals() {
        let p = processor(10_000);
        assert!(matches!(
            p.process(Bytes::from_static(b"not an image at all")).await,
            Err(MediaError::NotAnImage)
        ));
        assert!(matches!(
            p.process(png(101, 100)).await,
            Err(MediaError::TooManyPixels {
                width: 101,
                height: 100,
                ..
            })
        ));
        let mut truncated = png(50, 50).to_vec();
        truncated.truncate(40);
        assert!(matches!(
            p.process(Bytes::from(truncated)).await,
            Err(MediaError::Undecodable(_))
        ));
    }

    #[tokio::test]
    async fn a_full_processor_answers_busy() {
        let p = Processor::new(&MediaSettings {
            concurrency: 1,
            queue_wait_ms: 10,
            ..MediaSettings::default()
        });
        let held = Arc::clone(&p.permits)
            .acquire_owned()
            .await
            .expect("permit");
        assert!(matches!(p.process(png(4, 4)).await, Err(MediaError::Busy)));
        drop(held);
        assert!(p.process(png(4, 4)).await.is_ok());
    }
}
