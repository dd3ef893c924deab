//! Which SKUs the control room shows, and how fast each is being bought:
//! every active SKU actor's mirrored counters are compared with the
//! previous pulse's, and the busiest [`SHOWN`] are kept. The previous
//! counts are kept only for SKUs still active, so this stays as large as
//! the set of SKU actors in memory.

use std::collections::HashMap;

use super::snapshot::{HotSku, PurchaseRates, PurchaseTally};
use crate::actors::Inventory;
use crate::actors::stock::live::{PurchaseCounts, SkuLiveReading};
use crate::domain::ids::SkuId;
use crate::domain::rules::SaleRules;
use crate::domain::time::Timestamp;

/// SKUs shown at most.
pub const SHOWN: usize = 20;

#[derive(Default)]
pub struct HotSkus {
    previous: HashMap<SkuId, PurchaseCounts>,
}

struct Seen {
    sku: SkuId,
    reading: SkuLiveReading,
    depth: i64,
    delta: PurchaseCounts,
    recent: u64,
    total: u64,
}

impl HotSkus {
    /// The busiest SKUs now; `elapsed_secs` is the time since the last call.
    pub fn take(
        &mut self,
        inventory: &Inventory,
        now: Timestamp,
        elapsed_secs: f64,
    ) -> Vec<HotSku> {
        let mut seen = Vec::new();
        let mut next = HashMap::with_capacity(self.previous.len());
        inventory.live_skus(|sku, reading, depth| {
            let before = self.previous.get(&sku).copied().unwrap_or_default();
            let delta: PurchaseCounts =
                std::array::from_fn(|i| reading.purchases[i].saturating_sub(before[i]));
            next.insert(sku, reading.purchases);
            seen.push(Seen {
                sku,
                reading,
                depth,
                recent: delta.iter().sum(),
                total: reading.purchases.iter().sum(),
                delta,
            });
        });
        self.previous = next;
        rank(&mut seen);
        seen.truncate(SHOWN);
        seen.into_iter()
            .map(|s| hot(s, now, elapsed_secs))
            .collect()
    }
}

/// Busiest first: purchases in the last interval, then since activation,
/// then by id so the order is stable.
fn rank(seen: &mut Vec<Seen>) {
    let key = |s: &Seen| {
        (
            std::cmp::Reverse(s.recent),
            std::cmp::Reverse(s.total),
            s.sku,
        )
    };
    if seen.len() > SHOWN {
        seen.select_nth_unstable_by_key(SHOWN, key);
        seen.truncate(SHOWN);
    }
    seen.sort_unstable_by_key(key);
}

fn hot(s: Seen, now: Timestamp, elapsed_secs: f64) -> HotSku {
    let r = s.reading;
    let open = SaleRules {
        opens_at: r.opens_at,
        closes_at: r.closes_at,
        per_user_limit: None,
    }
    .is_open(now);
    let rate = |n: u64| {
        if elapsed_secs > 0.0 {
            (n as f64 / elapsed_secs * 10.0).round() / 10.0
        } else {
            0.0
        }
    };
    let [
        reserved,
        out_of_stock,
        limit,
        not_on_sale,
        overloaded,
        other,
    ] = r.purchases;
    let d = s.delta;
    HotSku {
        sku_id: s.sku,
        on_hand: r.on_hand,
        available: r.on_hand - r.reserved - r.sold,
        reserved: r.reserved,
        sold: r.sold,
        on_sale: open,
        opens_at: r.opens_at,
        closes_at: r.closes_at,
        opens_in_ms: r
            .opens_at
            .map(|t| t.millis() - now.millis())
            .filter(|ms| *ms > 0),
        mailbox_depth: s.depth,
        purchases: PurchaseTally {
            reserved,
            out_of_stock,
            limit,
            not_on_sale,
            overloaded,
            other,
        },
        per_second: PurchaseRates {
            reserved: rate(d[0]),
            out_of_stock: rate(d[1]),
            limit: rate(d[2]),
            not_on_sale: rate(d[3]),
            overloaded: rate(d[4]),
            other: rate(d[5]),
        },
    }
}
