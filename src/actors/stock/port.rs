//! The inventory port: the stock decisions an order saga needs (reserve,
//! commit, release) and the live levels buyers read. The service always
//! wires in [`Inventory`], the SKU actors; the flash-sale load tool wires in
//! the classic designs (a row lock per purchase, a Redis script) behind the
//! same port, so a comparison swaps the stock decision and nothing else.

use async_trait::async_trait;

use super::error::InventoryError;
use super::inventory::Inventory;
use super::sku::SkuSnapshot;
use crate::domain::ids::{ReservationId, SkuId, UserId};
use crate::domain::ledger::{LedgerError, ReservationStatus};
use crate::domain::quantity::Quantity;
use crate::domain::time::Timestamp;

/// Units held for a reservation id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hold {
    /// This call took them; false when it replays an earlier call's hold.
    pub fresh: bool,
    /// When the hold lapses unless committed.
    pub expires_at: Timestamp,
}

#[async_trait]
pub trait StockPort: Send + Sync + 'static {
    /// Holds `quantity` units for `user` under the order's id. Retrying with
    /// the same id must return the first answer; `Ok` means the units are
    /// held now, so a retry of a reservation since given back is an error,
    /// unless `again` asks to judge such an id afresh (placing does, once
    /// it knows no order carries the id).
    async fn reserve(
        &self,
        sku: SkuId,
        id: ReservationId,
        user: UserId,
        quantity: Quantity,
        again: bool,
    ) -> Result<Hold, InventoryError>;
    /// Turns a held reservation into a sale.
    async fn commit(&self, sku: SkuId, id: ReservationId) -> Result<(), InventoryError>;
    /// Gives a reservation's units back.
    async fn release(&self, sku: SkuId, id: ReservationId) -> Result<(), InventoryError>;
    /// Live levels and sale state of one SKU.
    async fn snapshot(&self, sku: SkuId) -> Result<SkuSnapshot, InventoryError>;
}

#[async_trait]
impl StockPort for Inventory {
    async fn reserve(
        &self,
        sku: SkuId,
        id: ReservationId,
        user: UserId,
        quantity: Quantity,
        again: bool,
    ) -> Result<Hold, InventoryError> {
        let held = Inventory::hold(self, sku, id, user, quantity, again).await?;
        let r = held.reservation;
        match r.status {
            ReservationStatus::Reserved | ReservationStatus::Committed => Ok(Hold {
                fresh: held.fresh,
                expires_at: r.expires_at,
            }),
            status => Err(LedgerError::NotCommittable { id: r.id, status }.into()),
        }
    }

    async fn commit(&self, sku: SkuId, id: ReservationId) -> Result<(), InventoryError> {
        Inventory::commit(self, sku, id).await.map(drop)
    }

    async fn release(&self, sku: SkuId, id: ReservationId) -> Result<(), InventoryError> {
        Inventory::release(self, sku, id).await.map(drop)
    }

    async fn snapshot(&self, sku: SkuId) -> Result<SkuSnapshot, InventoryError> {
        Inventory::snapshot(self, sku).await
    }
}
