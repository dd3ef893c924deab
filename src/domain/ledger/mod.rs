//! The stock ledger of one SKU: every rule of reserving, committing,
//! releasing, restocking and expiring, applied in memory.
//!
//! The SKU actor owns exactly one `Ledger` and is the only writer of it, so
//! these methods need no locks. Every method that changes state returns the
//! [`Change`] the actor must write behind; the ledger keeps
//! `0 <= reserved + sold <= on_hand` after every call.
//!
//! The values the ledger keeps, takes and answers are in `types.rs` (all
//! re-exported here); its unit tests are in `tests.rs`.

mod types;

pub use types::{
    Change, Inconsistent, LedgerError, Levels, Milestone, Outcome, Rejection, Reservation,
    ReservationStatus, ReserveRequest, SkuHeader,
};

use foldhash::HashMap;
use std::collections::{BTreeSet, VecDeque};

use super::ids::{ReservationId, SkuId, UserId};
use super::quantity::Quantity;
use super::rules::SaleRules;
use super::time::Timestamp;

/// Rejected reservation ids remembered for idempotent replies (per SKU);
/// past this the memory is cleared, so a very old rejected id is re-judged.
const REJECTED_MEMORY: usize = 100_000;

/// Given-back reservations a SKU remembers by default (the newest); older
/// ones are forgotten, and a retry of one is judged from its order's row.
pub const FINISHED_KEPT: usize = 10_000;

/// Most units one SKU can have on hand; far above any real stock, far below
/// where sums of quantities could overflow.
const MAX_ON_HAND: i64 = 1 << 42;

/// The ledger of one SKU.
#[derive(Debug, Clone)]
pub struct Ledger {
    sku: SkuId,
    levels: Levels,
    rules: SaleRules,
    /// Live reservations and finished ones inside the idempotency window.
    reservations: HashMap<ReservationId, Reservation>,
    /// Live reservations ordered by expiry, for cheap sweeping.
    expiries: BTreeSet<(Timestamp, ReservationId)>,
    /// Units held (reserved or committed) per buyer, for the purchase limit.
    held: HashMap<UserId, u32>,
    rejected: HashMap<ReservationId, (UserId, u32, Rejection)>,
    /// Given-back reservations in the order they finished, for forgetting
    /// the oldest first (entries of ids judged again since are stale).
    finished: VecDeque<(Timestamp, ReservationId)>,
    finished_kept: usize,
}

impl Ledger {
    /// Rebuilds a ledger from its persisted header and reservations, and
    /// checks that they agree.
    pub fn restore(
        header: SkuHeader,
        reservations: Vec<Reservation>,
    ) -> Result<Self, Inconsistent> {
        let mut ledger = Self {
            sku: header.sku,
            levels: header.levels,
            rules: header.rules,
            reservations: HashMap::with_capacity_and_hasher(reservations.len(), Default::default()),
            expiries: BTreeSet::new(),
            held: HashMap::default(),
            rejected: HashMap::default(),
            finished: VecDeque::new(),
            finished_kept: FINISHED_KEPT,
        };
        let mut finished: Vec<(Timestamp, ReservationId)> = reservations
            .iter()
            .filter(|r| !r.status.holds_units())
            .map(|r| (r.updated_at, r.id.clone()))
            .collect();
        finished.sort();
        ledger.finished = finished.into();
        let mut live_units = 0i64;
        for r in reservations {
            if r.status == ReservationStatus::Reserved {
                live_units += i64::from(r.quantity);
                ledger.expiries.insert((r.expires_at, r.id.clone()));
            }
            if r.status.holds_units() {
                *ledger.held.entry(r.user).or_default() += r.quantity;
            }
            ledger.reservations.insert(r.id.clone(), r);
        }
        let fail = |detail: String| Inconsistent {
            sku: header.sku,
            detail,
        };
        if !header.levels.is_consistent() {
            return Err(fail(format!(
                "levels {:?} break the invariant",
                header.levels
            )));
        }
        if live_units != header.levels.reserved {
            return Err(fail(format!(
                "reserved = {} but live reservations hold {live_units}",
                header.levels.reserved
            )));
        }
        Ok(ledger)
    }

    /// A SKU that has never sold anything.
    pub fn fresh(sku: SkuId, on_hand: i64, rules: SaleRules) -> Self {
        Self {
            sku,
            levels: Levels {
                on_hand,
                reserved: 0,
                sold: 0,
            },
            rules,
            reservations: HashMap::default(),
            expiries: BTreeSet::new(),
            held: HashMap::default(),
            rejected: HashMap::default(),
            finished: VecDeque::new(),
            finished_kept: FINISHED_KEPT,
        }
    }

    /// Remembers at most `n` given-back reservations (the newest).
    pub fn keep_finished(mut self, n: usize) -> Self {
        self.finished_kept = n;
        self.trim_finished();
        self
    }

    /// Reservations held in memory: live, committed and remembered ones.
    pub fn remembered(&self) -> usize {
        self.reservations.len()
    }

    pub fn sku(&self) -> SkuId {
        self.sku
    }

    pub fn levels(&self) -> Levels {
        self.levels
    }

    pub fn rules(&self) -> SaleRules {
        self.rules
    }

    pub fn header(&self) -> SkuHeader {
        SkuHeader {
            sku: self.sku,
            levels: self.levels,
            rules: self.rules,
        }
    }

    /// Reservations currently holding units without being paid for.
    pub fn live_reservations(&self) -> usize {
        self.expiries.len()
    }

    pub fn reservation(&self, id: &ReservationId) -> Option<&Reservation> {
        self.reservations.get(id)
    }

    pub fn next_expiry(&self) -> Option<Timestamp> {
        self.expiries.first().map(|(t, _)| *t)
    }

    /// Reserves units, or says why not. A retry with the same id answers as
    /// the first call did and changes nothing.
    pub fn reserve(
        &mut self,
        req: &ReserveRequest,
        now: Timestamp,
    ) -> Result<Outcome<Reservation>, Rejection> {
        let qty = req.quantity.get();
        if let Some(existing) = self.reservations.get(&req.id) {
            let given_back = matches!(
                existing.status,
                ReservationStatus::Released | ReservationStatus::Expired
            );
            if !given_back && (existing.user != req.user || existing.quantity != qty) {
                return Err(Rejection::IdReused);
            }
            // What became of it answers, whatever was asked, unless the
            // caller asks for a given-back id to be judged again.
            if !(req.again && given_back) {
                return Ok(Outcome::replay(existing.clone()));
            }
            // Judged again below; a refusal leaves the old record as it was.
            self.rejected.remove(&req.id);
        }
        if let Some((user, q, rejection)) = self.rejected.get(&req.id)
            && !req.again
        {
            if *user != req.user || *q != qty {
                return Err(Rejection::IdReused);
            }
            return Err(rejection.clone());
        }
        let verdict = self.judge(req.user, qty, now);
        if let Err(rejection) = verdict {
            if self.rejected.len() >= REJECTED_MEMORY {
                self.rejected.clear();
            }
            self.rejected
                .insert(req.id.clone(), (req.user, qty, rejection.clone()));
            return Err(rejection);
        }
        let reservation = Reservation {
            id: req.id.clone(),
            user: req.user,
            quantity: qty,
            status: ReservationStatus::Reserved,
            expires_at: now.plus(req.ttl),
            updated_at: now,
        };
        let before = self.levels;
        self.levels.reserved += i64::from(qty);
        *self.held.entry(req.user).or_default() += qty;
        self.expiries
            .insert((reservation.expires_at, reservation.id.clone()));
        self.reservations
            .insert(reservation.id.clone(), reservation.clone());
        let change = self.change_for(&reservation, before);
        Ok(Outcome::changed(reservation, change))
    }

    fn judge(&self, user: UserId, qty: u32, now: Timestamp) -> Result<(), Rejection> {
        if !self.rules.is_open(now) {
            return Err(Rejection::NotOnSale {
                opens_at: self.rules.opens_at,
                closes_at: self.rules.closes_at,
            });
        }
        if let Some(limit) = self.rules.per_user_limit {
            let held = self.held.get(&user).copied().unwrap_or(0);
            if u64::from(held) + u64::from(qty) > u64::from(limit) {
                return Err(Rejection::LimitExceeded { limit, held });
            }
        }
        let available = self.levels.available();
        if i64::from(qty) > available {
            return Err(Rejection::OutOfStock { available });
        }
        Ok(())
    }

    /// Turns a live reservation into a sale. Committing twice is a replay.
    /// A reservation past its expiry can no longer be committed.
    pub fn commit(
        &mut self,
        id: &ReservationId,
        now: Timestamp,
    ) -> Result<Outcome<Reservation>, LedgerError> {
        let r = self
            .reservations
            .get_mut(id)
            .ok_or_else(|| LedgerError::UnknownReservation(id.clone()))?;
        match r.status {
            ReservationStatus::Committed => return Ok(Outcome::replay(r.clone())),
            ReservationStatus::Reserved if r.expires_at > now => {}
            status => {
                return Err(LedgerError::NotCommittable {
                    id: id.clone(),
                    status: if status == ReservationStatus::Reserved {
                        ReservationStatus::Expired
                    } else {
                        status
                    },
                });
            }
        }
        r.status = ReservationStatus::Committed;
        r.updated_at = now;
        let qty = i64::from(r.quantity);
        let expires_at = r.expires_at;
        let snapshot = r.clone();
        self.expiries.remove(&(expires_at, id.clone()));
        let before = self.levels;
        self.levels.reserved -= qty;
        self.levels.sold += qty;
        let change = self.change_for(&snapshot, before);
        Ok(Outcome::changed(snapshot, change))
    }

    /// Gives units back: a live reservation is released, a committed one is
    /// returned (refund). Releasing something already given back is a replay.
    pub fn release(
        &mut self,
        id: &ReservationId,
        now: Timestamp,
    ) -> Result<Outcome<Reservation>, LedgerError> {
        let r = self
            .reservations
            .get_mut(id)
            .ok_or_else(|| LedgerError::UnknownReservation(id.clone()))?;
        let qty = i64::from(r.quantity);
        let before = self.levels;
        match r.status {
            ReservationStatus::Reserved => {
                self.expiries.remove(&(r.expires_at, id.clone()));
                self.levels.reserved -= qty;
                r.status = ReservationStatus::Released;
            }
            ReservationStatus::Committed => {
                self.levels.sold -= qty;
                r.status = ReservationStatus::Returned;
            }
            _ => return Ok(Outcome::replay(r.clone())),
        }
        r.updated_at = now;
        let snapshot = r.clone();
        self.unhold(snapshot.user, snapshot.quantity);
        let change = self.change_for(&snapshot, before);
        self.finish(&snapshot);
        Ok(Outcome::changed(snapshot, change))
    }

    /// Adds units to the stock on hand.
    pub fn restock(&mut self, qty: Quantity) -> Result<Outcome<Levels>, LedgerError> {
        let on_hand = self
            .levels
            .on_hand
            .checked_add(qty.as_i64())
            .filter(|n| *n <= MAX_ON_HAND)
            .ok_or(LedgerError::StockOverflow(qty.get()))?;
        let before = self.levels;
        self.levels.on_hand = on_hand;
        let change = Change {
            header: self.header(),
            reservation: None,
            milestones: Milestone::crossed(before, self.levels),
        };
        Ok(Outcome::changed(self.levels, change))
    }

    /// Replaces the sale rules. Units already held are not affected.
    pub fn set_rules(&mut self, rules: SaleRules) -> Outcome<SaleRules> {
        self.rules = rules;
        let change = Change {
            header: self.header(),
            reservation: None,
            milestones: Vec::new(),
        };
        Outcome::changed(rules, change)
    }

    /// Expires every live reservation whose time is up, returning one change
    /// per expired reservation (each carrying the header after all of them).
    pub fn expire_due(&mut self, now: Timestamp) -> Vec<Change> {
        let mut expired = Vec::new();
        while let Some((at, _)) = self.expiries.first()
            && *at <= now
        {
            let Some((_, id)) = self.expiries.pop_first() else {
                break;
            };
            if let Some(r) = self.reservations.get_mut(&id) {
                r.status = ReservationStatus::Expired;
                r.updated_at = now;
                expired.push(r.clone());
            }
        }
        let before = self.levels;
        for r in &expired {
            self.levels.reserved -= i64::from(r.quantity);
            self.unhold(r.user, r.quantity);
            self.finish(r);
        }
        let header = self.header();
        let mut changes: Vec<Change> = expired
            .into_iter()
            .map(|r| Change {
                header,
                reservation: Some(r),
                milestones: Vec::new(),
            })
            .collect();
        // All of them carry the header after the lot: the last one says
        // what the lot crossed.
        if let Some(last) = changes.last_mut() {
            last.milestones = Milestone::crossed(before, self.levels);
        }
        changes
    }

    /// Forgets given-back reservations last touched before `cutoff`; a retry
    /// older than the idempotency window is judged afresh. Reservations that
    /// hold units stay: they count toward purchase limits and can be returned.
    pub fn forget_finished_before(&mut self, cutoff: Timestamp) {
        self.reservations
            .retain(|_, r| r.status.holds_units() || r.updated_at >= cutoff);
        while self.finished.front().is_some_and(|(at, _)| *at < cutoff) {
            self.finished.pop_front();
        }
    }

    /// Notes a reservation just given back, forgetting the oldest given-back
    /// one past [`Ledger::keep_finished`]: a place-and-cancel loop must not
    /// grow a SKU's memory.
    fn finish(&mut self, r: &Reservation) {
        self.finished.push_back((r.updated_at, r.id.clone()));
        self.trim_finished();
    }

    fn trim_finished(&mut self) {
        while self.finished.len() > self.finished_kept {
            let Some((at, id)) = self.finished.pop_front() else {
                break;
            };
            // Stale when the id was judged again (and maybe is live) since.
            if self
                .reservations
                .get(&id)
                .is_some_and(|r| !r.status.holds_units() && r.updated_at == at)
            {
                self.reservations.remove(&id);
            }
        }
    }

    fn unhold(&mut self, user: UserId, qty: u32) {
        if let Some(h) = self.held.get_mut(&user) {
            *h = h.saturating_sub(qty);
            if *h == 0 {
                self.held.remove(&user);
            }
        }
    }

    fn change_for(&self, r: &Reservation, before: Levels) -> Change {
        debug_assert!(self.levels.is_consistent(), "{:?}", self.levels);
        Change {
            header: self.header(),
            reservation: Some(r.clone()),
            milestones: Milestone::crossed(before, self.levels),
        }
    }
}

#[cfg(test)]
mod tests;
