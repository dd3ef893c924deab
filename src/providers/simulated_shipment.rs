//! A carrier that lives in-process: seeded booking failures and timeouts; a
//! booked parcel ships and is delivered after configured delays. Its ledger
//! (`booked`, `failed`, `cancelled`) is in our store, like the payments'.

use async_trait::async_trait;

use crate::domain::ids::OrderId;
use std::time::Duration;

use super::dice::roll;
use super::{Parcel, ProviderError, ShipmentProvider};
use crate::config::ShipmentSimSettings;
use crate::domain::time::Timestamp;
use crate::persistence::{SimLedger, Store};

pub struct SimulatedShipments {
    settings: ShipmentSimSettings,
    store: Store,
}

const LEDGER: SimLedger = SimLedger::Shipments;

impl SimulatedShipments {
    pub fn new(settings: ShipmentSimSettings, store: Store) -> Self {
        Self { settings, store }
    }

    async fn latency(&self) {
        tokio::time::sleep(Duration::from_millis(self.settings.latency_ms)).await;
    }

    fn parcel(&self, booked_at: Timestamp) -> Parcel {
        let age = Timestamp::now().millis() - booked_at.millis();
        let age = u64::try_from(age).unwrap_or(0);
        if age >= self.settings.deliver_after_ms {
            Parcel::Delivered
        } else if age >= self.settings.ship_after_ms {
            Parcel::Shipped
        } else {
            Parcel::Preparing
        }
    }
}

#[async_trait]
impl ShipmentProvider for SimulatedShipments {
    async fn create(&self, order: OrderId) -> Result<String, ProviderError> {
        let order = &order.to_string();
        self.latency().await;
        let s = &self.settings;
        let tracking = format!("SIM-{order}");
        if self.store.sim_record(LEDGER, order).await?.is_none() {
            let fate = roll(s.seed, order, "ship");
            if fate < s.failure_rate {
                self.store.sim_insert(LEDGER, order, 0, "failed").await?;
            } else if fate < s.failure_rate + s.timeout_rate {
                tokio::time::sleep(Duration::from_millis(s.timeout_ms)).await;
                return Err(ProviderError::TimedOut);
            } else {
                self.store.sim_insert(LEDGER, order, 0, "booked").await?;
            }
        }
        match self.store.sim_record(LEDGER, order).await? {
            Some(r) if r.state == "booked" => Ok(tracking),
            Some(r) => Err(ProviderError::Declined(format!("shipment {}", r.state))),
            None => Err(ProviderError::Unavailable(
                "shipment record vanished".into(),
            )),
        }
    }

    async fn track(&self, order: OrderId) -> Result<Parcel, ProviderError> {
        let order = &order.to_string();
        self.latency().await;
        match self.store.sim_record(LEDGER, order).await? {
            Some(r) if r.state == "booked" => Ok(self.parcel(r.updated_at)),
            Some(r) if r.state == "cancelled" => Ok(Parcel::Cancelled),
            Some(r) => Err(ProviderError::Declined(format!("shipment {}", r.state))),
            None => Err(ProviderError::Declined("no such shipment".into())),
        }
    }

    async fn cancel(&self, order: OrderId) -> Result<(), ProviderError> {
        let order = &order.to_string();
        self.latency().await;
        // Leaves a tombstone when nothing was booked, so a booking retried
        // later finds the order cancelled.
        self.store.sim_insert(LEDGER, order, 0, "cancelled").await?;
        match self.store.sim_record(LEDGER, order).await? {
            Some(r) if r.state == "booked" && self.parcel(r.updated_at) == Parcel::Preparing => {
                self.store
                    .sim_transition(LEDGER, order, "booked", "cancelled")
                    .await?;
                Ok(())
            }
            Some(r) if r.state == "booked" => Err(ProviderError::Declined(
                "the parcel has already left".into(),
            )),
            _ => Ok(()),
        }
    }
}
