//! Images as the shop keeps them: which formats are accepted (told by their
//! first bytes, never by a file name or a client's content type), the keys
//! objects are stored under, and the three sizes every image is kept in.

use serde::{Serialize, Serializer};
use std::fmt;
use utoipa::ToSchema;

use super::ids::ProductId;
use super::time::Timestamp;

/// The formats an upload may be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageKind {
    Png,
    Jpeg,
    Webp,
    Gif,
}

impl ImageKind {
    /// The format `bytes` are in, by their signature; `None` for anything
    /// else (text, a PDF, a truncated header).
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Self::Png)
        } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Self::Jpeg)
        } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
            Some(Self::Gif)
        } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
            Some(Self::Webp)
        } else {
            None
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Png => "png",
            Self::Jpeg => "jpg",
            Self::Webp => "webp",
            Self::Gif => "gif",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
            Self::Webp => "image/webp",
            Self::Gif => "image/gif",
        }
    }

    pub fn from_extension(ext: &str) -> Option<Self> {
        [Self::Png, Self::Jpeg, Self::Webp, Self::Gif]
            .into_iter()
            .find(|k| k.extension() == ext)
    }

    pub fn from_content_type(raw: &str) -> Option<Self> {
        [Self::Png, Self::Jpeg, Self::Webp, Self::Gif]
            .into_iter()
            .find(|k| k.content_type() == raw)
    }
}

/// Where one object lives in the media store: `<sha256>-<nonce>.<ext>`,
/// the hex SHA-256 of the content, 16 hex digits unique to the upload, and
/// the format's extension. The content under a key never changes (clients
/// may cache it forever) and no two rows share a key (deleting one row's
/// objects never takes another's).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MediaKey(String);

const HASH_HEX: usize = 64;
const NONCE_HEX: usize = 16;

impl MediaKey {
    /// The key of `content` (its SHA-256, in hex) for one upload.
    pub fn new(sha256_hex: &str, nonce: u64, kind: ImageKind) -> Option<Self> {
        Self::parse(&format!("{sha256_hex}-{nonce:016x}.{}", kind.extension()))
    }

    /// A key as a URL or the store names it; `None` for anything else, so a
    /// path can never reach outside the media store.
    pub fn parse(raw: &str) -> Option<Self> {
        let (stem, ext) = raw.split_once('.')?;
        ImageKind::from_extension(ext)?;
        let (hash, nonce) = stem.split_once('-')?;
        let hex = |s: &str, len: usize| {
            s.len() == len
                && s.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        };
        (hex(hash, HASH_HEX) && hex(nonce, NONCE_HEX)).then(|| Self(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The content's SHA-256 in hex: a strong validator of the object.
    pub fn content_hash(&self) -> &str {
        &self.0[..HASH_HEX]
    }

    pub fn kind(&self) -> ImageKind {
        self.0
            .rsplit_once('.')
            .and_then(|(_, ext)| ImageKind::from_extension(ext))
            .unwrap_or(ImageKind::Png)
    }

    /// Where the binary serves the object.
    pub fn url(&self) -> String {
        format!("/media/{}", self.0)
    }
}

impl fmt::Display for MediaKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// One stored size of an image; sent as `{url, width, height}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ImageFile {
    /// Where the binary serves it: `/media/<key>`.
    #[serde(rename = "url", serialize_with = "as_url")]
    #[schema(value_type = String, example = "/media/5d41402abc4b2a76b9719d911017c592f6b8a2b9dd3e1c0a7b58f8e0b1c6e5f2-00c0ffee00c0ffee.png")]
    pub key: MediaKey,
    pub width: u32,
    pub height: u32,
}

fn as_url<S: Serializer>(key: &MediaKey, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&key.url())
}

/// An image in its three sizes: as uploaded, a display size and a thumbnail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ImageSet {
    /// The format of the upload, e.g. `image/png`.
    pub content_type: String,
    /// Size of the upload in bytes.
    pub bytes: u64,
    pub original: ImageFile,
    pub display: ImageFile,
    pub thumbnail: ImageFile,
}

impl ImageSet {
    /// Every object the set is stored as.
    pub fn keys(&self) -> [&MediaKey; 3] {
        [&self.original.key, &self.display.key, &self.thumbnail.key]
    }
}

/// An image of a product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ProductImage {
    pub id: i64,
    pub product_id: ProductId,
    /// Order among the product's images; the lowest is the cover.
    pub position: i64,
    #[serde(flatten)]
    pub set: ImageSet,
    pub created_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_told_by_their_bytes() {
        assert_eq!(
            ImageKind::sniff(b"\x89PNG\r\n\x1a\n...."),
            Some(ImageKind::Png)
        );
        assert_eq!(
            ImageKind::sniff(&[0xFF, 0xD8, 0xFF, 0xE0]),
            Some(ImageKind::Jpeg)
        );
        assert_eq!(ImageKind::sniff(b"GIF89a..."), Some(ImageKind::Gif));
        assert_eq!(
            ImageKind::sniff(b"RIFF\0\0\0\0WEBPVP8 "),
            Some(ImageKind::Webp)
        );
        assert_eq!(ImageKind::sniff(b"hello, I am a .png"), None);
        assert_eq!(ImageKind::sniff(b"RIFF\0\0\0\0WAVE"), None);
        assert_eq!(ImageKind::sniff(b""), None);
    }

    #[test]
    fn keys_are_hash_nonce_and_extension_only() {
        let hash = "a".repeat(64);
        let key = MediaKey::new(&hash, 0xbeef, ImageKind::Jpeg).expect("key");
        assert_eq!(key.as_str(), format!("{hash}-000000000000beef.jpg"));
        assert_eq!(key.content_hash(), hash);
        assert_eq!(key.kind(), ImageKind::Jpeg);
        assert_eq!(key.url(), format!("/media/{hash}-000000000000beef.jpg"));
        for bad in [
            "../etc/passwd".to_string(),
            format!("{hash}-000000000000beef.exe"),
            format!("{hash}.png"),
            format!("{}-000000000000beef.png", "A".repeat(64)),
            format!("{hash}-000000000000beef.png/x"),
            format!("x/{hash}-000000000000beef.png"),
        ] {
            assert_eq!(MediaKey::parse(&bad), None, "{bad}");
        }
    }
}
