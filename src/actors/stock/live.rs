//! What a SKU actor shows the control room without being asked: its levels
//! and sale window mirrored into atomics after every decision, and its
//! reserve requests counted by outcome. Reading them costs the actor no
//! message; writing them costs it a few relaxed stores.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

use crate::domain::ledger::Ledger;
use crate::domain::time::Timestamp;

/// How a reserve request ended, as the control room groups them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purchase {
    Reserved,
    OutOfStock,
    Limit,
    NotOnSale,
    /// Refused for load: a full mailbox, a full persister queue, or a SKU
    /// whose changes are held apart.
    Overloaded,
    /// Anything else: a replayed answer, an unknown SKU, a reused id.
    Other,
}

impl Purchase {
    pub const ALL: [Purchase; 6] = [
        Purchase::Reserved,
        Purchase::OutOfStock,
        Purchase::Limit,
        Purchase::NotOnSale,
        Purchase::Overloaded,
        Purchase::Other,
    ];

    fn index(self) -> usize {
        self as usize
    }
}

/// Purchases counted per outcome, since the actor was activated.
pub type PurchaseCounts = [u64; Purchase::ALL.len()];

/// No opening or closing time (a timestamp of 0 ms is never a sale bound
/// worth showing).
const NONE: i64 = i64::MIN;

/// One SKU's mirrored state and counters.
#[derive(Debug)]
pub struct SkuLive {
    loaded: AtomicBool,
    on_hand: AtomicI64,
    reserved: AtomicI64,
    sold: AtomicI64,
    opens_at_ms: AtomicI64,
    closes_at_ms: AtomicI64,
    purchases: [AtomicU64; Purchase::ALL.len()],
}

impl Default for SkuLive {
    fn default() -> Self {
        Self {
            loaded: AtomicBool::new(false),
            on_hand: AtomicI64::new(0),
            reserved: AtomicI64::new(0),
            sold: AtomicI64::new(0),
            opens_at_ms: AtomicI64::new(NONE),
            closes_at_ms: AtomicI64::new(NONE),
            purchases: Default::default(),
        }
    }
}

/// A copy of [`SkuLive`] at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SkuLiveReading {
    pub on_hand: i64,
    pub reserved: i64,
    pub sold: i64,
    pub opens_at: Option<Timestamp>,
    pub closes_at: Option<Timestamp>,
    pub purchases: PurchaseCounts,
}

impl SkuLive {
    /// Called by the actor after every decision that may change the ledger.
    pub fn mirror(&self, ledger: &Ledger) {
        let (levels, rules) = (ledger.levels(), ledger.rules());
        self.on_hand.store(levels.on_hand, Ordering::Relaxed);
        self.reserved.store(levels.reserved, Ordering::Relaxed);
        self.sold.store(levels.sold, Ordering::Relaxed);
        let ms = |t: Option<Timestamp>| t.map_or(NONE, Timestamp::millis);
        self.opens_at_ms
            .store(ms(rules.opens_at), Ordering::Relaxed);
        self.closes_at_ms
            .store(ms(rules.closes_at), Ordering::Relaxed);
        self.loaded.store(true, Ordering::Release);
    }

    pub fn count(&self, purchase: Purchase) {
        self.purchases[purchase.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// The mirrored state, or `None` before the ledger was first loaded.
    /// The fields are read one by one, so a reading taken while the actor
    /// decides may mix two consecutive decisions; the next one is whole.
    pub fn read(&self) -> Option<SkuLiveReading> {
        if !self.loaded.load(Ordering::Acquire) {
            return None;
        }
        let at = |ms: &AtomicI64| {
            let ms = ms.load(Ordering::Relaxed);
            (ms != NONE).then(|| Timestamp::from_millis(ms))
        };
        Some(SkuLiveReading {
            on_hand: self.on_hand.load(Ordering::Relaxed),
            reserved: self.reserved.load(Ordering::Relaxed),
            sold: self.sold.load(Ordering::Relaxed),
            opens_at: at(&self.opens_at_ms),
            closes_at: at(&self.closes_at_ms),
            purchases: std::array::from_fn(|i| self.purchases[i].load(Ordering::Relaxed)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::SkuId;
    use crate::domain::rules::SaleRules;

    #[test]
    fn nothing_before_the_first_mirror() {
        assert_eq!(SkuLive::default().read(), None);
    }

    #[test]
    fn mirrors_levels_and_counts_outcomes() {
        let live = SkuLive::default();
        let opens = Timestamp::from_millis(1_000);
        let rules = SaleRules {
            opens_at: Some(opens),
            ..SaleRules::default()
        };
        live.mirror(&Ledger::fresh(SkuId::new(7), 10, rules));
        live.count(Purchase::Reserved);
        live.count(Purchase::OutOfStock);
        live.count(Purchase::OutOfStock);
        let r = live.read().expect("loaded");
        assert_eq!((r.on_hand, r.reserved, r.sold), (10, 0, 0));
        assert_eq!(r.opens_at, Some(opens));
        assert_eq!(r.closes_at, None);
        assert_eq!(r.purchases, [1, 2, 0, 0, 0, 0]);
    }
}
