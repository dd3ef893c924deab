//! Where media objects live: a local directory by default, or any
//! S3-compatible bucket (`media.url = "s3://bucket"`, with credentials,
//! region and endpoint from the usual `AWS_*` variables), both through
//! `object_store`. Objects are named by their [`MediaKey`] alone.

use bytes::Bytes;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use std::sync::Arc;

use super::MediaError;
use crate::config::MediaSettings;
use crate::domain::image::MediaKey;

/// A handle to the object store; cheap to clone.
#[derive(Clone, Debug)]
pub struct MediaStore {
    objects: Arc<dyn ObjectStore>,
}

/// An object as read back.
#[derive(Debug, Clone)]
pub struct MediaObject {
    pub content: Bytes,
}

impl MediaStore {
    pub fn open(settings: &MediaSettings) -> Result<Self, MediaError> {
        let objects: Arc<dyn ObjectStore> = match settings.url.as_deref() {
            Some(url) if url.starts_with("s3://") => Arc::new(
                AmazonS3Builder::from_env()
                    .with_url(url)
                    .build()
                    .map_err(|e| MediaError::Config(format!("media.url {url}: {e}")))?,
            ),
            Some(url) => {
                return Err(MediaError::Config(format!(
                    "media.url {url}: only s3:// URLs are supported (or unset, for media.dir)"
                )));
            }
            None => {
                std::fs::create_dir_all(&settings.dir).map_err(|e| {
                    MediaError::Config(format!("cannot create media.dir {}: {e}", settings.dir))
                })?;
                Arc::new(
                    LocalFileSystem::new_with_prefix(&settings.dir).map_err(|e| {
                        MediaError::Config(format!("media.dir {}: {e}", settings.dir))
                    })?,
                )
            }
        };
        Ok(Self { objects })
    }

    /// Where the objects go, for the start-up log (no credentials).
    pub fn describe(&self) -> String {
        self.objects.to_string()
    }

    pub async fn put(&self, key: &MediaKey, content: Bytes) -> Result<(), MediaError> {
        self.objects
            .put(&path(key), PutPayload::from(content))
            .await?;
        Ok(())
    }

    /// The object under `key`, or `None` when there is none.
    pub async fn get(&self, key: &MediaKey) -> Result<Option<MediaObject>, MediaError> {
        match self.objects.get(&path(key)).await {
            Ok(found) => Ok(Some(MediaObject {
                content: found.bytes().await?,
            })),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes the object; one already gone counts as deleted.
    pub async fn delete(&self, key: &MediaKey) -> Result<(), MediaError> {
        match self.objects.delete(&path(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// Keys hold no `/` or `..` (see [`MediaKey::parse`]), so each is one
/// object at the root of the store.
fn path(key: &MediaKey) -> Path {
    Path::from(key.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::image::ImageKind;

    #[tokio::test]
    async fn objects_round_trip_in_a_local_directory() {
        let dir = tempfile::tempdir().expect("dir");
        let root = dir.path().join("not-yet-there");
        let settings = MediaSettings {
            dir: root.display().to_string(),
            ..MediaSettings::default()
        };
        let store = MediaStore::open(&settings).expect("open");
        let key = MediaKey::new(&"0".repeat(64), 1, ImageKind::Png).expect("key");
        assert!(store.get(&key).await.expect("get").is_none());
        store
            .put(&key, Bytes::from_static(b"bytes"))
            .await
            .expect("put");
        assert!(root.join(key.as_str()).is_file());
        let found = store.get(&key).await.expect("get").expect("found");
        assert_eq!(found.content, Bytes::from_static(b"bytes"));
        store.delete(&key).await.expect("delete");
        store.delete(&key).await.expect("deleting again is fine");
        assert!(!root.join(key.as_str()).exists());
    }

    #[test]
    fn only_s3_urls_are_taken() {
        let settings = MediaSettings {
            url: Some("ftp://host/bucket".into()),
            ..MediaSettings::default()
        };
        assert!(matches!(
            MediaStore::open(&settings),
            Err(MediaError::Config(_))
        ));
    }
}
