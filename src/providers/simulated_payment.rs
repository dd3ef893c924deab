//! A payment provider that lives in-process: seeded declines, timeouts and
//! late callbacks (a timed-out authorisation that lands later), with its
//! ledger in our store so it keeps its word across our restarts.
//!
//! Ledger states: `authorized`, `captured`, `declined`, `voided` (also the
//! tombstone a refund leaves when nothing was held, so a late authorisation
//! arriving afterwards is void), `refunded`.

use async_trait::async_trait;

use crate::domain::ids::OrderId;
use crate::domain::money::Amount;
use std::time::Duration;

use super::dice::roll;
use super::{PaymentProvider, ProviderError};
use crate::config::PaymentSimSettings;
use crate::persistence::{SimLedger, Store};
use tokio_util::task::TaskTracker;

pub struct SimulatedPayments {
    settings: PaymentSimSettings,
    store: Store,
    late: TaskTracker,
}

const LEDGER: SimLedger = SimLedger::Payments;

impl SimulatedPayments {
    /// Late callbacks run on `late`, which shutdown waits for.
    pub fn new(settings: PaymentSimSettings, store: Store, late: TaskTracker) -> Self {
        Self {
            settings,
            store,
            late,
        }
    }

    async fn latency(&self) {
        tokio::time::sleep(Duration::from_millis(self.settings.latency_ms)).await;
    }

    fn answer(state: &str) -> Result<(), ProviderError> {
        match state {
            "authorized" | "captured" => Ok(()),
            "declined" => Err(ProviderError::Declined("card declined".into())),
            other => Err(ProviderError::Declined(format!("payment is {other}"))),
        }
    }
}

#[async_trait]
impl PaymentProvider for SimulatedPayments {
    async fn authorize(
        &self,
        order: OrderId,
        amount: Amount,
        method: Option<&str>,
    ) -> Result<(), ProviderError> {
        let order = &order.to_string();
        let amount = amount.minor_units();
        self.latency().await;
        if let Some(known) = self.store.sim_record(LEDGER, order).await? {
            return Self::answer(&known.state);
        }
        let s = &self.settings;
        let fate = roll(s.seed, order, "authorize");
        if fate < s.decline_rate {
            let state = self
                .store
                .sim_insert(LEDGER, order, amount, "declined")
                .await?;
            return Self::answer(&state);
        }
        if fate < s.decline_rate + s.timeout_rate {
            if roll(s.seed, order, "late-callback") < s.late_callback_rate {
                // The authorisation goes through after the caller gave up;
                // a refund that came first has left a tombstone that wins.
                let (store, order) = (self.store.clone(), order.to_string());
                let late = Duration::from_millis(s.late_callback_ms);
                self.late.spawn(async move {
                    tokio::time::sleep(late).await;
                    if let Err(e) = store.sim_insert(LEDGER, &order, amount, "authorized").await {
                        tracing::warn!(error = %e, order, "late authorisation not recorded");
                    }
                });
            }
            tokio::time::sleep(Duration::from_millis(s.timeout_ms)).await;
            return Err(ProviderError::TimedOut);
        }
        let state = self
            .store
            .sim_insert(LEDGER, order, amount, "authorized")
            .await?;
        if let Some(token) = method
            && state == "authorized"
        {
            self.store.sim_note_payment_token(order, token).await?;
        }
        Self::answer(&state)
    }

    async fn capture(&self, order: OrderId) -> Result<(), ProviderError> {
        let order = &order.to_string();
        self.latency().await;
        self.store
            .sim_transition(LEDGER, order, "authorized", "captured")
            .await?;
        match self.store.sim_record(LEDGER, order).await? {
            Some(r) if r.state == "captured" => Ok(()),
            Some(r) => Err(ProviderError::Declined(format!(
                "cannot capture a {} payment",
                r.state
            ))),
            None => Err(ProviderError::Declined("nothing was authorised".into())),
        }
    }

    async fn refund(&self, order: OrderId) -> Result<(), ProviderError> {
        let order = &order.to_string();
        self.latency().await;
        let store = &self.store;
        loop {
            let state = store.sim_insert(LEDGER, order, 0, "voided").await?;
            let (from, to) = match state.as_str() {
                "authorized" => ("authorized", "voided"),
                "captured" => ("captured", "refunded"),
                _ => return Ok(()),
            };
            // Lost only to a capture racing this refund: then look again.
            if store.sim_transition(LEDGER, order, from, to).await? {
                return Ok(());
            }
        }
    }
}
