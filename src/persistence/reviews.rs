//! Product reviews, and the running rating totals on the product row they
//! update in the same transaction (so reads never scan the reviews).

use sqlx::Row;

use super::{Store, StoreError};
use crate::domain::ids::{ProductId, UserId};
use crate::domain::order::OrderStatus;
use crate::domain::page::PageRequest;
use crate::domain::review::NewReview;
use crate::domain::time::Timestamp;

/// A review as shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewRecord {
    pub id: i64,
    pub product_id: ProductId,
    pub user_id: UserId,
    /// The reviewer's display name.
    pub author: String,
    pub rating: u8,
    pub text: String,
    pub created_at: Timestamp,
}

/// What writing a review did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReviewAdd {
    Added(ReviewRecord),
    /// No live product has this id.
    NoSuchProduct,
    /// The buyer has no delivered order line of this product.
    NotDelivered,
    /// The buyer has reviewed this product already.
    AlreadyReviewed,
}

impl Store {
    /// Whether `product` is in the catalog (not deleted, seller not withdrawn).
    pub async fn product_is_live(&self, product: ProductId) -> Result<bool, StoreError> {
        let live: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM products p JOIN users u ON u.id = p.seller_id \
             WHERE p.id = ? AND p.deleted_at IS NULL AND u.deleted_at IS NULL",
        )
        .bind(product.get())
        .fetch_one(&self.pool)
        .await?;
        Ok(live > 0)
    }

    /// Writes `user`'s review of `product` if an order line of theirs for
    /// it was delivered and they have not reviewed it yet, and adds its
    /// rating to the product's totals in the same transaction.
    pub async fn add_review(
        &self,
        user: UserId,
        product: ProductId,
        review: &NewReview,
    ) -> Result<ReviewAdd, StoreError> {
        if !self.product_is_live(product).await? {
            return Ok(ReviewAdd::NoSuchProduct);
        }
        let delivered: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM order_items i JOIN orders o ON o.id = i.order_id \
             WHERE o.buyer_id = ? AND i.product_id = ? AND o.status = ?",
        )
        .bind(user.get())
        .bind(product.get())
        .bind(OrderStatus::Delivered.as_str())
        .fetch_one(&self.pool)
        .await?;
        if delivered == 0 {
            return Ok(ReviewAdd::NotDelivered);
        }
        let now = Timestamp::now();
        let mut tx = self.begin_write().await?;
        // The totals first: the review's foreign key takes a shared lock on
        // the product's row, and taking that before the update's exclusive
        // one deadlocks two reviews of the product at once. A refused
        // insert rolls the update back with the transaction.
        sqlx::query(
            "UPDATE products SET rating_sum = rating_sum + ?, rating_count = rating_count + 1 \
             WHERE id = ?",
        )
        .bind(i64::from(review.rating))
        .bind(product.get())
        .execute(&mut *tx)
        .await?;
        let insert = sqlx::query(
            "INSERT INTO reviews (product_id, user_id, rating, body, created_at) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(product.get())
        .bind(user.get())
        .bind(i64::from(review.rating))
        .bind(review.text.clone())
        .bind(now.millis());
        let id = match self.insert_on(&mut tx, insert).await {
            Ok(id) => id,
            Err(StoreError::Database(e)) => {
                return match StoreError::unique(e, "review") {
                    StoreError::Duplicate(_) => Ok(ReviewAdd::AlreadyReviewed),
                    other => Err(other),
                };
            }
            Err(e) => return Err(e),
        };
        tx.commit().await?;
        let author: String = sqlx::query_scalar("SELECT name FROM users WHERE id = ?")
            .bind(user.get())
            .fetch_one(&self.pool)
            .await?;
        Ok(ReviewAdd::Added(ReviewRecord {
            id,
            product_id: product,
            user_id: user,
            author,
            rating: review.rating,
            text: review.text.clone(),
            created_at: now,
        }))
    }

    /// A page of `product`'s reviews, newest first, and how many there are.
    pub async fn reviews(
        &self,
        product: ProductId,
        page: PageRequest,
    ) -> Result<(Vec<ReviewRecord>, i64), StoreError> {
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM reviews WHERE product_id = ?")
            .bind(product.get())
            .fetch_one(&self.pool)
            .await?;
        if total <= page.offset() {
            return Ok((Vec::new(), total));
        }
        let rows = sqlx::query(
            "SELECT r.id, r.user_id, u.name, r.rating, r.body, r.created_at \
             FROM reviews r JOIN users u ON u.id = r.user_id \
             WHERE r.product_id = ? ORDER BY r.id DESC LIMIT ? OFFSET ?",
        )
        .bind(product.get())
        .bind(page.limit())
        .bind(page.offset())
        .fetch_all(&self.pool)
        .await?;
        let reviews = rows
            .iter()
            .map(|r| {
                let rating: i64 = r.try_get(3)?;
                Ok(ReviewRecord {
                    id: r.try_get(0)?,
                    product_id: product,
                    user_id: UserId::new(r.try_get(1)?),
                    author: r.try_get(2)?,
                    rating: u8::try_from(rating)
                        .map_err(|_| StoreError::Corrupt(format!("review rating {rating}")))?,
                    text: r.try_get(4)?,
                    created_at: Timestamp::from_millis(r.try_get(5)?),
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok((reviews, total))
    }
}
