//! Category rows: the tree admins manage. Each row keeps its materialised
//! path (see [`CategoryPath`]); moving a category rewrites the paths of its
//! subtree in the same transaction. On MySQL the rows a write decides on
//! are locked (`FOR UPDATE`), so two moves at once cannot make a cycle;
//! SQLite runs one writer at a time anyway.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Backend, Store, StoreError};
use crate::domain::category::{Category, CategoryId, CategoryPath, TreeError};
use crate::domain::time::Timestamp;

/// What became of a category write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CategoryWrite {
    Done(Category),
    /// The category itself does not exist.
    Missing,
    /// The parent named does not exist.
    NoParent(CategoryId),
    /// The move would make a cycle or too deep a tree.
    Refused(TreeError),
}

/// Why a category was not deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CategoryDelete {
    Deleted,
    Missing,
    HasChildren,
    HasProducts,
}

impl Store {
    /// Every category (the tree is small: admins make it by hand).
    pub async fn categories(&self) -> Result<Vec<Category>, StoreError> {
        let rows =
            sqlx::query("SELECT id, parent_id, name, path, created_at, updated_at FROM categories")
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(|r| Ok(row_category(r)?.0)).collect()
    }

    pub async fn category(&self, id: CategoryId) -> Result<Option<Category>, StoreError> {
        Ok(self.category_with_path(id).await?.map(|(c, _)| c))
    }

    /// The `[low, high)` path range of the category and its descendants.
    pub async fn category_range(
        &self,
        id: CategoryId,
    ) -> Result<Option<(String, String)>, StoreError> {
        Ok(self
            .category_with_path(id)
            .await?
            .map(|(_, path)| path.range()))
    }

    async fn category_with_path(
        &self,
        id: CategoryId,
    ) -> Result<Option<(Category, CategoryPath)>, StoreError> {
        let row = sqlx::query(
            "SELECT id, parent_id, name, path, created_at, updated_at FROM categories WHERE id = ?",
        )
        .bind(id.get())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(row_category).transpose()
    }

    pub async fn create_category(
        &self,
        name: &str,
        parent: Option<CategoryId>,
    ) -> Result<CategoryWrite, StoreError> {
        let now = Timestamp::now();
        let mut tx = self.begin_write().await?;
        let parent_path = match parent {
            None => None,
            Some(p) => match self.locked(&mut tx, p).await? {
                Some((_, path)) => Some(path),
                None => return Ok(CategoryWrite::NoParent(p)),
            },
        };
        // The path needs the id: written once the row has one (a refusal
        // below rolls the insert back).
        let insert = sqlx::query(
            "INSERT INTO categories (parent_id, name, path, created_at, updated_at) \
             VALUES (?, ?, '/', ?, ?)",
        )
        .bind(parent.map(CategoryId::get))
        .bind(name.to_owned())
        .bind(now.millis())
        .bind(now.millis());
        let id = CategoryId::new(self.insert_on(&mut tx, insert).await?);
        let path = match &parent_path {
            None => CategoryPath::root(id),
            Some(p) => match p.child(id) {
                Ok(path) => path,
                Err(e) => return Ok(CategoryWrite::Refused(e)),
            },
        };
        sqlx::query("UPDATE categories SET path = ? WHERE id = ?")
            .bind(path.as_str().to_owned())
            .bind(id.get())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(CategoryWrite::Done(Category {
            id,
            parent_id: parent,
            name: name.to_owned(),
            created_at: now,
            updated_at: now,
        }))
    }

    /// Renames and/or moves a category: `parent` `Some(None)` makes it a
    /// root, `Some(Some(p))` moves it under `p` with its whole subtree.
    pub async fn update_category(
        &self,
        id: CategoryId,
        name: Option<&str>,
        parent: Option<Option<CategoryId>>,
    ) -> Result<CategoryWrite, StoreError> {
        let now = Timestamp::now();
        let mut tx = self.begin_write().await?;
        let Some((mut category, path)) = self.locked(&mut tx, id).await? else {
            return Ok(CategoryWrite::Missing);
        };
        if let Some(new_parent) = parent {
            let new_path = match new_parent {
                None => CategoryPath::root(id),
                Some(p) => {
                    let Some((_, parent_path)) = self.locked(&mut tx, p).await? else {
                        return Ok(CategoryWrite::NoParent(p));
                    };
                    if path.contains(&parent_path) {
                        return Ok(CategoryWrite::Refused(TreeError::Cycle));
                    }
                    match parent_path.child(id) {
                        Ok(p) => p,
                        Err(e) => return Ok(CategoryWrite::Refused(e)),
                    }
                }
            };
            if new_path != path {
                if let Err(e) = self.move_subtree(&mut tx, &path, &new_path).await? {
                    return Ok(CategoryWrite::Refused(e));
                }
                sqlx::query("UPDATE categories SET parent_id = ? WHERE id = ?")
                    .bind(new_parent.map(CategoryId::get))
                    .bind(id.get())
                    .execute(&mut *tx)
                    .await?;
            }
            category.parent_id = new_parent;
        }
        if let Some(name) = name {
            sqlx::query("UPDATE categories SET name = ? WHERE id = ?")
                .bind(name.to_owned())
                .bind(id.get())
                .execute(&mut *tx)
                .await?;
            category.name = name.to_owned();
        }
        sqlx::query("UPDATE categories SET updated_at = ? WHERE id = ?")
            .bind(now.millis())
            .bind(id.get())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        category.updated_at = now;
        Ok(CategoryWrite::Done(category))
    }

    /// Rewrites the path of every category from `from` down to start with
    /// `to` instead; refused when the deepest would go too deep.
    async fn move_subtree(
        &self,
        tx: &mut sqlx::AnyConnection,
        from: &CategoryPath,
        to: &CategoryPath,
    ) -> Result<Result<(), TreeError>, StoreError> {
        let (low, high) = from.range();
        let select = match self.backend {
            Backend::Sqlite => "SELECT id, path FROM categories WHERE path >= ? AND path < ?",
            Backend::MySql => {
                "SELECT id, path FROM categories WHERE path >= ? AND path < ? FOR UPDATE"
            }
        };
        let rows = sqlx::query(select)
            .bind(low)
            .bind(high)
            .fetch_all(&mut *tx)
            .await?;
        let mut moves = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: i64 = row.try_get("id")?;
            let path = stored_path(&row.try_get::<String, _>("path")?)?;
            match path.moved(from, to) {
                Ok(moved) => moves.push((id, moved)),
                Err(e) => return Ok(Err(e)),
            }
        }
        for (id, path) in moves {
            sqlx::query("UPDATE categories SET path = ? WHERE id = ?")
                .bind(path.as_str().to_owned())
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        Ok(Ok(()))
    }

    /// Deletes a category that has no children and no product in the
    /// catalog. Products out of the catalog (deleted, or their seller
    /// withdrew) that still name it lose their category instead.
    pub async fn delete_category(&self, id: CategoryId) -> Result<CategoryDelete, StoreError> {
        let mut tx = self.begin_write().await?;
        if self.locked(&mut tx, id).await?.is_none() {
            return Ok(CategoryDelete::Missing);
        }
        let children: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM categories WHERE parent_id = ?")
                .bind(id.get())
                .fetch_one(&mut *tx)
                .await?;
        if children > 0 {
            return Ok(CategoryDelete::HasChildren);
        }
        let live: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM products p WHERE p.category_id = ? AND p.deleted_at IS NULL \
             AND EXISTS (SELECT 1 FROM users u WHERE u.id = p.seller_id AND u.deleted_at IS NULL)",
        )
        .bind(id.get())
        .fetch_one(&mut *tx)
        .await?;
        if live > 0 {
            return Ok(CategoryDelete::HasProducts);
        }
        sqlx::query("UPDATE products SET category_id = NULL WHERE category_id = ?")
            .bind(id.get())
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM categories WHERE id = ?")
            .bind(id.get())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(CategoryDelete::Deleted)
    }

    /// The category and its path, locked for the transaction on MySQL.
    async fn locked(
        &self,
        tx: &mut sqlx::AnyConnection,
        id: CategoryId,
    ) -> Result<Option<(Category, CategoryPath)>, StoreError> {
        let select = match self.backend {
            Backend::Sqlite => {
                "SELECT id, parent_id, name, path, created_at, updated_at FROM categories WHERE id = ?"
            }
            Backend::MySql => {
                "SELECT id, parent_id, name, path, created_at, updated_at FROM categories \
                 WHERE id = ? FOR UPDATE"
            }
        };
        let row = sqlx::query(select)
            .bind(id.get())
            .fetch_optional(&mut *tx)
            .await?;
        row.as_ref().map(row_category).transpose()
    }
}

fn stored_path(raw: &str) -> Result<CategoryPath, StoreError> {
    CategoryPath::parse(raw).ok_or_else(|| StoreError::Corrupt(format!("category path {raw:?}")))
}

fn row_category(row: &AnyRow) -> Result<(Category, CategoryPath), StoreError> {
    let category = Category {
        id: CategoryId::new(row.try_get("id")?),
        parent_id: row
            .try_get::<Option<i64>, _>("parent_id")?
            .map(CategoryId::new),
        name: row.try_get("name")?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        updated_at: Timestamp::from_millis(row.try_get("updated_at")?),
    };
    Ok((category, stored_path(&row.try_get::<String, _>("path")?)?))
}
