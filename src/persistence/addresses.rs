//! Address book rows. Exactly one of a buyer's addresses is the default
//! whenever they have any: the first one becomes it, making another the
//! default unsets the old one in the same transaction, and deleting the
//! default hands it to the newest remaining address.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError};
use crate::domain::address::Address;
use crate::domain::ids::UserId;
use crate::domain::time::Timestamp;

/// A saved address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedAddress {
    pub id: i64,
    pub address: Address,
    pub is_default: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

const COLUMNS: &str = "id, recipient, phone, postal_code, line1, line2, city, country, \
     is_default, created_at, updated_at";

impl Store {
    /// `user`'s addresses, the default first, then oldest first.
    pub async fn addresses(&self, user: UserId) -> Result<Vec<SavedAddress>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM addresses WHERE user_id = ? ORDER BY is_default DESC, id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user.get())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(saved).collect()
    }

    /// One of `user`'s addresses; others' addresses do not exist for them.
    pub async fn address(&self, user: UserId, id: i64) -> Result<Option<SavedAddress>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM addresses WHERE id = ? AND user_id = ?");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .bind(user.get())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(saved).transpose()
    }

    /// Saves an address unless `user` already has `max`; the first one, or
    /// one asked to be, becomes the default. `None` when the book is full.
    pub async fn add_address(
        &self,
        user: UserId,
        address: &Address,
        make_default: bool,
        max: usize,
    ) -> Result<Option<SavedAddress>, StoreError> {
        let now = Timestamp::now().millis();
        let mut tx = self.begin_write().await?;
        // A write first, so that on SQLite the transaction holds the write
        // lock before it reads (a read turned write fails on a busy file).
        sqlx::query("UPDATE addresses SET updated_at = updated_at WHERE user_id = ?")
            .bind(user.get())
            .execute(&mut *tx)
            .await?;
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM addresses WHERE user_id = ?")
            .bind(user.get())
            .fetch_one(&mut *tx)
            .await?;
        if usize::try_from(count).unwrap_or(usize::MAX) >= max {
            return Ok(None);
        }
        let is_default = make_default || count == 0;
        if is_default {
            sqlx::query("UPDATE addresses SET is_default = 0 WHERE user_id = ?")
                .bind(user.get())
                .execute(&mut *tx)
                .await?;
        }
        let insert = sqlx::query(
            "INSERT INTO addresses (user_id, recipient, phone, postal_code, line1, line2, city, \
             country, is_default, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(user.get())
        .bind(address.recipient.clone())
        .bind(address.phone.clone())
        .bind(address.postal_code.clone())
        .bind(address.line1.clone())
        .bind(address.line2.clone())
        .bind(address.city.clone())
        .bind(address.country.clone())
        .bind(i64::from(is_default))
        .bind(now)
        .bind(now);
        let id = self.insert_on(&mut tx, insert).await?;
        tx.commit().await?;
        Ok(Some(SavedAddress {
            id,
            address: address.clone(),
            is_default,
            created_at: Timestamp::from_millis(now),
            updated_at: Timestamp::from_millis(now),
        }))
    }

    /// Replaces one of `user`'s addresses (and makes it the default if
    /// asked); `None` when they have no such address.
    pub async fn update_address(
        &self,
        user: UserId,
        id: i64,
        address: &Address,
        make_default: bool,
    ) -> Result<Option<SavedAddress>, StoreError> {
        let now = Timestamp::now().millis();
        let mut tx = self.begin_write().await?;
        let updated = sqlx::query(
            "UPDATE addresses SET recipient = ?, phone = ?, postal_code = ?, line1 = ?, \
             line2 = ?, city = ?, country = ?, updated_at = ? WHERE id = ? AND user_id = ?",
        )
        .bind(address.recipient.clone())
        .bind(address.phone.clone())
        .bind(address.postal_code.clone())
        .bind(address.line1.clone())
        .bind(address.line2.clone())
        .bind(address.city.clone())
        .bind(address.country.clone())
        .bind(now)
        .bind(id)
        .bind(user.get())
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            return Ok(None);
        }
        if make_default {
            sqlx::query(
                "UPDATE addresses SET is_default = CASE WHEN id = ? THEN 1 ELSE 0 END \
                 WHERE user_id = ?",
            )
            .bind(id)
            .bind(user.get())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        self.address(user, id).await
    }

    /// Deletes one of `user`'s addresses; answers whether it existed. Past
    /// orders keep their own copy, so nothing else changes.
    pub async fn delete_address(&self, user: UserId, id: i64) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let deleted = sqlx::query("DELETE FROM addresses WHERE id = ? AND user_id = ?")
            .bind(id)
            .bind(user.get())
            .execute(&mut *tx)
            .await?;
        if deleted.rows_affected() == 0 {
            return Ok(false);
        }
        let defaults: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM addresses WHERE user_id = ? AND is_default = 1",
        )
        .bind(user.get())
        .fetch_one(&mut *tx)
        .await?;
        if defaults == 0 {
            let newest: Option<i64> =
                sqlx::query_scalar("SELECT MAX(id) FROM addresses WHERE user_id = ?")
                    .bind(user.get())
                    .fetch_one(&mut *tx)
                    .await?;
            if let Some(newest) = newest {
                sqlx::query("UPDATE addresses SET is_default = 1 WHERE id = ?")
                    .bind(newest)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(true)
    }
}

fn saved(r: &AnyRow) -> Result<SavedAddress, StoreError> {
    Ok(SavedAddress {
        id: r.try_get("id")?,
        address: Address {
            recipient: r.try_get("recipient")?,
            phone: r.try_get("phone")?,
            postal_code: r.try_get("postal_code")?,
            line1: r.try_get("line1")?,
            line2: r.try_get("line2")?,
            city: r.try_get("city")?,
            country: r.try_get("country")?,
        },
        is_default: r.try_get::<i64, _>("is_default")? != 0,
        created_at: Timestamp::from_millis(r.try_get("created_at")?),
        updated_at: Timestamp::from_millis(r.try_get("updated_at")?),
    })
}
