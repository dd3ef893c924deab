//! Image rows: a product's images (in `position` order) and each account's
//! picture. The objects themselves are in the media store; these rows say
//! which keys belong to what. A write here answers the keys it replaced or
//! removed, for the caller to delete from the media store once committed.

use sqlx::any::AnyRow;
use sqlx::{Any, QueryBuilder, Row};
use std::collections::HashMap;

use super::{Backend, Store, StoreError};
use crate::domain::ids::{ProductId, UserId};
use crate::domain::image::{ImageFile, ImageSet, MediaKey, ProductImage};
use crate::domain::time::Timestamp;

/// What became of adding an image to a product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageAdd {
    Added(ProductImage),
    /// The product is not live (deleted meanwhile); nothing was written.
    ProductMissing,
    /// The product has its share of images already.
    TooMany,
}

const IMAGE_COLUMNS: &str = "id, product_id, position, created_at, content_type, bytes, \
     original_key, original_width, original_height, display_key, display_width, \
     display_height, thumbnail_key, thumbnail_width, thumbnail_height";

impl Store {
    /// A product's images, cover first.
    pub async fn product_images(
        &self,
        product: ProductId,
    ) -> Result<Vec<ProductImage>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, product_id, position, created_at, content_type, bytes, \
             original_key, original_width, original_height, display_key, display_width, \
             display_height, thumbnail_key, thumbnail_width, thumbnail_height \
             FROM product_images WHERE product_id = ? ORDER BY position, id",
        )
        .bind(product.get())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(product_image).collect()
    }

    /// The cover (first image) of each of `products` that has one.
    pub(super) async fn covers(
        &self,
        products: &[i64],
    ) -> Result<HashMap<i64, ProductImage>, StoreError> {
        if products.is_empty() {
            return Ok(HashMap::new());
        }
        let mut q = QueryBuilder::<Any>::new(format!(
            "SELECT {IMAGE_COLUMNS} FROM product_images WHERE product_id IN ("
        ));
        let mut ids = q.separated(", ");
        for id in products {
            ids.push_bind(*id);
        }
        q.push(") ORDER BY product_id, position, id");
        let mut covers = HashMap::with_capacity(products.len());
        for row in q.build().fetch_all(&self.pool).await? {
            let image = product_image(&row)?;
            covers.entry(image.product_id.get()).or_insert(image);
        }
        Ok(covers)
    }

    /// Adds an image after the product's others, if the product is live and
    /// has fewer than `max` images.
    pub async fn add_product_image(
        &self,
        product: ProductId,
        set: &ImageSet,
        max: u32,
    ) -> Result<ImageAdd, StoreError> {
        let now = Timestamp::now();
        let mut tx = self.begin_write().await?;
        // Concurrent uploads to one product take turns from the count to
        // the insert, or each would count below `max` and all would insert:
        // SQLite's write transaction is exclusive already; on MariaDB the
        // product's row lock does it (an upload, never the purchase path).
        if self.backend == Backend::MySql {
            sqlx::query("SELECT id FROM products WHERE id = ? FOR UPDATE")
                .bind(product.get())
                .fetch_optional(&mut *tx)
                .await?;
        }
        let row = sqlx::query(
            "SELECT COUNT(*), COALESCE(MAX(position), 0) FROM product_images WHERE product_id = ?",
        )
        .bind(product.get())
        .fetch_one(&mut *tx)
        .await?;
        let (count, last): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
        if count >= i64::from(max) {
            return Ok(ImageAdd::TooMany);
        }
        let position = last + 1;
        // The SELECT makes "live product" and the insert one statement.
        let insert = sqlx::query(
            "INSERT INTO product_images (product_id, position, created_at, content_type, bytes, \
             original_key, original_width, original_height, display_key, display_width, \
             display_height, thumbnail_key, thumbnail_width, thumbnail_height) \
             SELECT id, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM products \
             WHERE id = ? AND deleted_at IS NULL",
        )
        .bind(position)
        .bind(now.millis());
        let insert = bind_set(insert, set).bind(product.get());
        let inserted = insert.execute(&mut *tx).await?.rows_affected();
        if inserted == 0 {
            return Ok(ImageAdd::ProductMissing);
        }
        let read_back = match self.backend {
            Backend::Sqlite => "SELECT last_insert_rowid()",
            Backend::MySql => "SELECT LAST_INSERT_ID()",
        };
        let id: i64 = sqlx::query_scalar(read_back).fetch_one(&mut *tx).await?;
        tx.commit().await?;
        Ok(ImageAdd::Added(ProductImage {
            id,
            product_id: product,
            position,
            set: set.clone(),
            created_at: now,
        }))
    }

    /// Removes one image of a product; answers what it was, or `None` if
    /// the product has no such image.
    pub async fn remove_product_image(
        &self,
        product: ProductId,
        image: i64,
    ) -> Result<Option<ImageSet>, StoreError> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "SELECT id, product_id, position, created_at, content_type, bytes, \
             original_key, original_width, original_height, display_key, display_width, \
             display_height, thumbnail_key, thumbnail_width, thumbnail_height \
             FROM product_images WHERE id = ? AND product_id = ?",
        )
        .bind(image)
        .bind(product.get())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let removed = product_image(&row)?.set;
        let deleted = sqlx::query("DELETE FROM product_images WHERE id = ? AND product_id = ?")
            .bind(image)
            .bind(product.get())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok((deleted > 0).then_some(removed))
    }

    /// Puts a product's images in the order of `ids`, which must name each
    /// of them once; answers false (nothing written) when they do not.
    pub async fn reorder_product_images(
        &self,
        product: ProductId,
        ids: &[i64],
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let mut current: Vec<i64> =
            sqlx::query_scalar("SELECT id FROM product_images WHERE product_id = ?")
                .bind(product.get())
                .fetch_all(&mut *tx)
                .await?;
        let mut wanted = ids.to_vec();
        current.sort_unstable();
        wanted.sort_unstable();
        if current != wanted {
            return Ok(false);
        }
        for (position, id) in (1_i64..).zip(ids) {
            sqlx::query("UPDATE product_images SET position = ? WHERE id = ? AND product_id = ?")
                .bind(position)
                .bind(*id)
                .bind(product.get())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Removes every image row of a product (it was deleted); answers
    /// them, for their objects to be deleted.
    pub async fn take_product_images(
        &self,
        product: ProductId,
    ) -> Result<Vec<ImageSet>, StoreError> {
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query(
            "SELECT id, product_id, position, created_at, content_type, bytes, \
             original_key, original_width, original_height, display_key, display_width, \
             display_height, thumbnail_key, thumbnail_width, thumbnail_height \
             FROM product_images WHERE product_id = ?",
        )
        .bind(product.get())
        .fetch_all(&mut *tx)
        .await?;
        let taken = rows
            .iter()
            .map(|r| product_image(r).map(|i| i.set))
            .collect::<Result<Vec<_>, _>>()?;
        sqlx::query("DELETE FROM product_images WHERE product_id = ?")
            .bind(product.get())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(taken)
    }

    pub async fn user_picture(&self, user: UserId) -> Result<Option<ImageSet>, StoreError> {
        let row = sqlx::query(
            "SELECT content_type, bytes, original_key, original_width, original_height, \
             display_key, display_width, display_height, thumbnail_key, thumbnail_width, \
             thumbnail_height FROM user_pictures WHERE user_id = ?",
        )
        .bind(user.get())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(image_set).transpose()
    }

    /// Makes `set` the live account's picture. Answers `None` when the
    /// account is gone (nothing written), else the picture it replaced.
    pub async fn set_user_picture(
        &self,
        user: UserId,
        set: &ImageSet,
    ) -> Result<Option<Option<ImageSet>>, StoreError> {
        let mut tx = self.begin_write().await?;
        // The account row serialises two changes of one picture on MySQL.
        let lock = match self.backend {
            Backend::Sqlite => "SELECT id FROM users WHERE id = ? AND deleted_at IS NULL",
            Backend::MySql => "SELECT id FROM users WHERE id = ? AND deleted_at IS NULL FOR UPDATE",
        };
        if sqlx::query(lock)
            .bind(user.get())
            .fetch_optional(&mut *tx)
            .await?
            .is_none()
        {
            return Ok(None);
        }
        let old = sqlx::query(
            "SELECT content_type, bytes, original_key, original_width, original_height, \
             display_key, display_width, display_height, thumbnail_key, thumbnail_width, \
             thumbnail_height FROM user_pictures WHERE user_id = ?",
        )
        .bind(user.get())
        .fetch_optional(&mut *tx)
        .await?;
        let old = old.as_ref().map(image_set).transpose()?;
        sqlx::query("DELETE FROM user_pictures WHERE user_id = ?")
            .bind(user.get())
            .execute(&mut *tx)
            .await?;
        let insert = sqlx::query(
            "INSERT INTO user_pictures (user_id, updated_at, content_type, bytes, \
             original_key, original_width, original_height, display_key, display_width, \
             display_height, thumbnail_key, thumbnail_width, thumbnail_height) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(user.get())
        .bind(Timestamp::now().millis());
        bind_set(insert, set).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(Some(old))
    }

    /// Removes the account's picture; answers it, or `None` if it had none.
    pub async fn remove_user_picture(&self, user: UserId) -> Result<Option<ImageSet>, StoreError> {
        let mut tx = self.begin_write().await?;
        let old = sqlx::query(
            "SELECT content_type, bytes, original_key, original_width, original_height, \
             display_key, display_width, display_height, thumbnail_key, thumbnail_width, \
             thumbnail_height FROM user_pictures WHERE user_id = ?",
        )
        .bind(user.get())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(old) = old.as_ref().map(image_set).transpose()? else {
            return Ok(None);
        };
        sqlx::query("DELETE FROM user_pictures WHERE user_id = ?")
            .bind(user.get())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(old))
    }
}

type AnyQuery<'q> = sqlx::query::Query<'q, Any, sqlx::any::AnyArguments>;

/// Binds the set's eleven columns in the order the statements list them.
fn bind_set<'q>(q: AnyQuery<'q>, set: &ImageSet) -> AnyQuery<'q> {
    let bytes = i64::try_from(set.bytes).unwrap_or(i64::MAX);
    let mut q = q.bind(set.content_type.clone()).bind(bytes);
    for file in [&set.original, &set.display, &set.thumbnail] {
        q = q
            .bind(file.key.as_str().to_owned())
            .bind(i64::from(file.width))
            .bind(i64::from(file.height));
    }
    q
}

fn product_image(row: &AnyRow) -> Result<ProductImage, StoreError> {
    Ok(ProductImage {
        id: row.try_get("id")?,
        product_id: ProductId::new(row.try_get("product_id")?),
        position: row.try_get("position")?,
        set: image_set(row)?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
    })
}

fn image_set(row: &AnyRow) -> Result<ImageSet, StoreError> {
    let bytes: i64 = row.try_get("bytes")?;
    Ok(ImageSet {
        content_type: row.try_get("content_type")?,
        bytes: u64::try_from(bytes)
            .map_err(|_| StoreError::Corrupt(format!("image of {bytes} bytes")))?,
        original: file(row, "original")?,
        display: file(row, "display")?,
        thumbnail: file(row, "thumbnail")?,
    })
}

fn file(row: &AnyRow, size: &str) -> Result<ImageFile, StoreError> {
    let key: String = row.try_get(format!("{size}_key").as_str())?;
    let px = |what: &str| -> Result<u32, StoreError> {
        let n: i64 = row.try_get(format!("{size}_{what}").as_str())?;
        u32::try_from(n).map_err(|_| StoreError::Corrupt(format!("image {what} {n}")))
    };
    Ok(ImageFile {
        key: MediaKey::parse(&key)
            .ok_or_else(|| StoreError::Corrupt(format!("media key {key:?}")))?,
        width: px("width")?,
        height: px("height")?,
    })
}
