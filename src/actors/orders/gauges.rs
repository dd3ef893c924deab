//! What the sagas show the control room without being asked: how many live
//! sagas stand in each order status, how many are compensating, how payment
//! authorisations went, how many sagas were restarted. Each saga keeps its
//! place in these counts through a [`Presence`] that leaves them when the
//! saga's state is dropped (it stopped, finished or panicked), so the counts
//! cannot drift from the sagas that run.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use crate::domain::order::{OrderStatus, Step};
use crate::providers::ProviderError;

const STATUSES: usize = OrderStatus::ALL.len();

fn index(status: OrderStatus) -> usize {
    OrderStatus::ALL
        .iter()
        .position(|s| *s == status)
        .unwrap_or_default()
}

/// Counters shared by every saga of one `Orders`.
#[derive(Debug, Default)]
pub struct SagaGauges {
    live: [AtomicI64; STATUSES],
    compensating: AtomicI64,
    /// Sagas that ended, by the final status they ended in.
    ended: [AtomicU64; STATUSES],
    authorised: AtomicU64,
    declined: AtomicU64,
    timed_out: AtomicU64,
    unreachable: AtomicU64,
    restarts: AtomicU64,
}

/// [`SagaGauges`] at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SagaReading {
    /// Live sagas per status, in [`OrderStatus::ALL`] order.
    pub live: [i64; STATUSES],
    pub compensating: i64,
    /// Sagas that ended per final status, in [`OrderStatus::ALL`] order.
    pub ended: [u64; STATUSES],
    pub authorised: u64,
    pub declined: u64,
    pub timed_out: u64,
    pub unreachable: u64,
    pub restarts: u64,
}

impl SagaGauges {
    /// Counts one payment authorisation's answer.
    pub fn authorisation(&self, result: &Result<(), ProviderError>) {
        let counter = match result {
            Ok(()) => &self.authorised,
            Err(ProviderError::Declined(_)) => &self.declined,
            Err(ProviderError::TimedOut) => &self.timed_out,
            Err(ProviderError::Unavailable(_)) => &self.unreachable,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn restarted(&self) {
        self.restarts.fetch_add(1, Ordering::Relaxed);
    }

    pub fn read(&self) -> SagaReading {
        let load = |a: &AtomicI64| a.load(Ordering::Relaxed).max(0);
        SagaReading {
            live: std::array::from_fn(|i| load(&self.live[i])),
            compensating: load(&self.compensating),
            ended: std::array::from_fn(|i| self.ended[i].load(Ordering::Relaxed)),
            authorised: self.authorised.load(Ordering::Relaxed),
            declined: self.declined.load(Ordering::Relaxed),
            timed_out: self.timed_out.load(Ordering::Relaxed),
            unreachable: self.unreachable.load(Ordering::Relaxed),
            restarts: self.restarts.load(Ordering::Relaxed),
        }
    }
}

/// One saga's place in the counts: enters on creation, moves with
/// [`Presence::set`], leaves on drop.
#[derive(Debug)]
pub struct Presence {
    gauges: Arc<SagaGauges>,
    status: OrderStatus,
    compensating: bool,
}

impl Presence {
    pub fn enter(gauges: Arc<SagaGauges>, status: OrderStatus, step: Step) -> Self {
        let presence = Self {
            gauges,
            status,
            compensating: step == Step::Compensate,
        };
        presence.add(1);
        presence
    }

    /// The saga's order moved to `status` and `step`.
    pub fn set(&mut self, status: OrderStatus, step: Step) {
        self.add(-1);
        self.status = status;
        self.compensating = step == Step::Compensate;
        self.add(1);
    }

    fn add(&self, n: i64) {
        self.gauges.live[index(self.status)].fetch_add(n, Ordering::Relaxed);
        if self.compensating {
            self.gauges.compensating.fetch_add(n, Ordering::Relaxed);
        }
    }
}

impl Drop for Presence {
    fn drop(&mut self) {
        self.add(-1);
        if self.status.is_final() {
            self.gauges.ended[index(self.status)].fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saga_is_counted_where_it_stands_until_dropped() {
        let gauges = Arc::new(SagaGauges::default());
        let mut p = Presence::enter(
            Arc::clone(&gauges),
            OrderStatus::AwaitingPayment,
            Step::AwaitPayment,
        );
        assert_eq!(gauges.read().live[index(OrderStatus::AwaitingPayment)], 1);
        p.set(OrderStatus::AwaitingPayment, Step::Compensate);
        assert_eq!(gauges.read().compensating, 1);
        p.set(OrderStatus::Cancelled, Step::Done);
        let r = gauges.read();
        assert_eq!(r.compensating, 0);
        assert_eq!(r.live[index(OrderStatus::AwaitingPayment)], 0);
        assert_eq!(r.live[index(OrderStatus::Cancelled)], 1);
        drop(p);
        let r = gauges.read();
        assert_eq!(r.live.iter().sum::<i64>(), 0);
        assert_eq!(r.ended[index(OrderStatus::Cancelled)], 1);
    }

    #[test]
    fn authorisations_by_answer() {
        let gauges = SagaGauges::default();
        gauges.authorisation(&Ok(()));
        gauges.authorisation(&Err(ProviderError::Declined("card".into())));
        gauges.authorisation(&Err(ProviderError::TimedOut));
        let r = gauges.read();
        assert_eq!((r.authorised, r.declined, r.timed_out), (1, 1, 1));
    }
}
