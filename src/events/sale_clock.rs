//! The sale clock: a sale window opening or closing is not a change anyone
//! writes, it is time passing. Once a period the clock looks for windows
//! whose edge passed since its last look and appends `sale_opened` /
//! `sale_closed`. Their ids derive from SKU and instant, so a look that
//! overlaps an earlier one (a restart looks back [`LOOK_BACK`], a node
//! that comes to lead a cluster looks back to its last look) appends
//! nothing twice.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::domain::events::{DomainEvent, EventKind, sale_window};
use crate::domain::time::Timestamp;
use crate::persistence::Store;

/// How far back the first look reaches: edges passed while the process
/// was down are still announced, late.
pub const LOOK_BACK: Duration = Duration::from_secs(3600);

pub async fn run(store: Store, every: Duration, stop: CancellationToken) {
    let mut seen_until = Timestamp::now().minus(LOOK_BACK);
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = stop.cancelled() => return,
        }
        // On a cluster one node announces, the one that leads. The others
        // keep where they last looked: if they come to lead, their first
        // look covers what passed meanwhile (at most LOOK_BACK of it).
        if !store.leads() {
            continue;
        }
        let now = Timestamp::now();
        seen_until = seen_until.max(now.minus(LOOK_BACK));
        match announce(&store, seen_until, now).await {
            Ok(()) => seen_until = now,
            // The same window is looked at again next period.
            Err(e) => tracing::warn!(error = %e, "sale clock could not look; trying again"),
        }
    }
}

async fn announce(
    store: &Store,
    after: Timestamp,
    until: Timestamp,
) -> Result<(), crate::persistence::StoreError> {
    let crossed = store.sale_windows_crossed(after, until).await?;
    let in_window = |t: Option<Timestamp>| t.filter(|t| *t > after && *t <= until);
    let mut events: Vec<DomainEvent> = Vec::new();
    for (sku, rules) in crossed {
        if let Some(at) = in_window(rules.opens_at) {
            events.push(sale_window(EventKind::StockSaleOpened, sku, &rules, at));
        }
        if let Some(at) = in_window(rules.closes_at) {
            events.push(sale_window(EventKind::StockSaleClosed, sku, &rules, at));
        }
    }
    events.sort_by_key(|e| e.time);
    if !events.is_empty() {
        store.append_events_once(&events).await?;
    }
    Ok(())
}
