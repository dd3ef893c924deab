//! Saved payment methods: the provider's token and display data per
//! buyer, never a card number; and the token an order is paid with.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError};
use crate::domain::card::CardOnFile;
use crate::domain::ids::{OrderId, UserId};
use crate::domain::time::Timestamp;

/// A saved method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedCard {
    pub id: i64,
    pub card: CardOnFile,
    pub created_at: Timestamp,
}

const COLUMNS: &str = "id, provider_token, brand, last4, exp_month, exp_year, created_at";

impl Store {
    /// `user`'s saved methods, oldest first.
    pub async fn payment_methods(&self, user: UserId) -> Result<Vec<SavedCard>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM payment_methods WHERE user_id = ? ORDER BY id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user.get())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(saved).collect()
    }

    /// One of `user`'s methods; others' methods do not exist for them.
    pub async fn payment_method(
        &self,
        user: UserId,
        id: i64,
    ) -> Result<Option<SavedCard>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM payment_methods WHERE id = ? AND user_id = ?");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .bind(user.get())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(saved).transpose()
    }

    /// Saves a method unless `user` already has `max`; `None` when full.
    pub async fn add_payment_method(
        &self,
        user: UserId,
        card: &CardOnFile,
        max: usize,
    ) -> Result<Option<SavedCard>, StoreError> {
        let count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM payment_methods WHERE user_id = ?")
                .bind(user.get())
                .fetch_one(&self.pool)
                .await?;
        if usize::try_from(count).unwrap_or(usize::MAX) >= max {
            return Ok(None);
        }
        let now = Timestamp::now();
        let id = self
            .insert_returning_id(
                sqlx::query(
                    "INSERT INTO payment_methods (user_id, provider_token, brand, last4, \
                     exp_month, exp_year, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                )
                .bind(user.get())
                .bind(card.provider_token.clone())
                .bind(card.brand.clone())
                .bind(card.last4.clone())
                .bind(i64::from(card.exp_month))
                .bind(i64::from(card.exp_year))
                .bind(now.millis()),
            )
            .await?;
        Ok(Some(SavedCard {
            id,
            card: card.clone(),
            created_at: now,
        }))
    }

    /// Deletes one of `user`'s methods; answers whether it existed.
    pub async fn delete_payment_method(&self, user: UserId, id: i64) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM payment_methods WHERE id = ? AND user_id = ?")
            .bind(id)
            .bind(user.get())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Records the provider token an order is paid with, so a saga resumed
    /// after a crash pays with the same method.
    pub async fn set_payment_token(&self, order: OrderId, token: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE orders SET payment_token = ? WHERE id = ?")
            .bind(token.to_owned())
            .bind(order.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

fn saved(r: &AnyRow) -> Result<SavedCard, StoreError> {
    let number = |col: &str| -> Result<u32, StoreError> {
        let n: i64 = r.try_get(col)?;
        u32::try_from(n).map_err(|_| StoreError::Corrupt(format!("payment method {col} {n}")))
    };
    Ok(SavedCard {
        id: r.try_get("id")?,
        card: CardOnFile {
            provider_token: r.try_get("provider_token")?,
            brand: r.try_get("brand")?,
            last4: r.try_get("last4")?,
            exp_month: number("exp_month")?,
            exp_year: number("exp_year")?,
        },
        created_at: Timestamp::from_millis(r.try_get("created_at")?),
    })
}
