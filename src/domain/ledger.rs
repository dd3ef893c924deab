//! The stock ledger of one SKU: every rule of reserving, committing,
//! releasing, restocking and expiring, applied in memory.
//!
//! The SKU actor owns exactly one `Ledger` and is the only writer of it, so
//! these methods need no locks. Every method that changes state returns the
//! [`Change`] the actor must write behind; the ledger keeps
//! `0 <= reserved + sold <= on_hand` after every call.

use foldhash::HashMap;
use serde::Serialize;
use std::collections::BTreeSet;
use std::time::Duration;
use utoipa::ToSchema;

use super::ids::{ReservationId, SkuId, UserId};
use super::quantity::Quantity;
use super::rules::SaleRules;
use super::time::Timestamp;

/// Rejected reservation ids remembered for idempotent replies (per SKU);
/// past this the memory is cleared, so a very old rejected id is re-judged.
const REJECTED_MEMORY: usize = 100_000;

/// Most units one SKU can have on hand; far above any real stock, far below
/// where sums of quantities could overflow.
const MAX_ON_HAND: i64 = 1 << 42;

/// The three counters of a SKU. `available = on_hand - reserved - sold`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct Levels {
    pub on_hand: i64,
    pub reserved: i64,
    pub sold: i64,
}

impl Levels {
    pub fn available(&self) -> i64 {
        self.on_hand - self.reserved - self.sold
    }

    pub fn is_consistent(&self) -> bool {
        self.reserved >= 0 && self.sold >= 0 && self.reserved + self.sold <= self.on_hand
    }
}

/// Where a reservation stands. Only `Reserved` and `Committed` hold units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReservationStatus {
    /// Holding units until it is committed, released or expires.
    Reserved,
    /// Paid for: the units are sold.
    Committed,
    /// Given back before it was committed.
    Released,
    /// Not committed before `expires_at`; its units went back on sale.
    Expired,
    /// Committed, then given back (refund): the units went back on sale.
    Returned,
}

impl ReservationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reserved => "reserved",
            Self::Committed => "committed",
            Self::Released => "released",
            Self::Expired => "expired",
            Self::Returned => "returned",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "reserved" => Self::Reserved,
            "committed" => Self::Committed,
            "released" => Self::Released,
            "expired" => Self::Expired,
            "returned" => Self::Returned,
            _ => return None,
        })
    }

    fn holds_units(self) -> bool {
        matches!(self, Self::Reserved | Self::Committed)
    }
}

/// One buyer's hold on units of this SKU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Reservation {
    pub id: ReservationId,
    pub user: UserId,
    pub quantity: u32,
    pub status: ReservationStatus,
    pub expires_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Everything persisted about a SKU's stock, written whole with each change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SkuHeader {
    pub sku: SkuId,
    pub levels: Levels,
    pub rules: SaleRules,
}

/// One state change to write behind: the SKU's header after the change and
/// the reservation it touched, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub header: SkuHeader,
    pub reservation: Option<Reservation>,
}

/// What a buyer asks for. The TTL comes from configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReserveRequest {
    pub id: ReservationId,
    pub user: UserId,
    pub quantity: Quantity,
    pub ttl: Duration,
}

/// Why a reservation was refused. These are answers, not failures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("out of stock: {available} available")]
    OutOfStock { available: i64 },
    #[error("not on sale at this time")]
    NotOnSale {
        opens_at: Option<Timestamp>,
        closes_at: Option<Timestamp>,
    },
    #[error("purchase limit of {limit} per buyer exceeded ({held} already held)")]
    LimitExceeded { limit: u32, held: u32 },
    #[error("reservation id was already used with a different buyer or quantity")]
    IdReused,
}

/// A request about an existing reservation that cannot be carried out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    #[error("no reservation {0} on this SKU")]
    UnknownReservation(ReservationId),
    #[error("reservation {id} is {status:?} and cannot be committed")]
    NotCommittable {
        id: ReservationId,
        status: ReservationStatus,
    },
    #[error("restocking by {0} would exceed the stock limit")]
    StockOverflow(u32),
}

/// The result of an operation plus the change to persist; `change` is `None`
/// when the call was an idempotent replay that changed nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome<T> {
    pub value: T,
    pub change: Option<Change>,
}

impl<T> Outcome<T> {
    fn changed(value: T, change: Change) -> Self {
        Self {
            value,
            change: Some(change),
        }
    }

    fn replay(value: T) -> Self {
        Self {
            value,
            change: None,
        }
    }
}

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
}

/// A ledger could not be rebuilt because the stored rows contradict each other.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stored stock of SKU {sku} is inconsistent: {detail}")]
pub struct Inconsistent {
    pub sku: SkuId,
    pub detail: String,
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
        };
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
        }
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
            if existing.user != req.user || existing.quantity != qty {
                return Err(Rejection::IdReused);
            }
            return Ok(Outcome::replay(existing.clone()));
        }
        if let Some((user, q, rejection)) = self.rejected.get(&req.id) {
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
        self.levels.reserved += i64::from(qty);
        *self.held.entry(req.user).or_default() += qty;
        self.expiries
            .insert((reservation.expires_at, reservation.id.clone()));
        self.reservations
            .insert(reservation.id.clone(), reservation.clone());
        let change = self.change_for(&reservation);
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
        self.levels.reserved -= qty;
        self.levels.sold += qty;
        let change = self.change_for(&snapshot);
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
        let change = self.change_for(&snapshot);
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
        self.levels.on_hand = on_hand;
        let change = Change {
            header: self.header(),
            reservation: None,
        };
        Ok(Outcome::changed(self.levels, change))
    }

    /// Replaces the sale rules. Units already held are not affected.
    pub fn set_rules(&mut self, rules: SaleRules) -> Outcome<SaleRules> {
        self.rules = rules;
        let change = Change {
            header: self.header(),
            reservation: None,
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
        for r in &expired {
            self.levels.reserved -= i64::from(r.quantity);
            self.unhold(r.user, r.quantity);
        }
        let header = self.header();
        expired
            .into_iter()
            .map(|r| Change {
                header,
                reservation: Some(r),
            })
            .collect()
    }

    /// Forgets given-back reservations last touched before `cutoff`; a retry
    /// older than the idempotency window is judged afresh. Reservations that
    /// hold units stay: they count toward purchase limits and can be returned.
    pub fn forget_finished_before(&mut self, cutoff: Timestamp) {
        self.reservations
            .retain(|_, r| r.status.holds_units() || r.updated_at >= cutoff);
    }

    fn unhold(&mut self, user: UserId, qty: u32) {
        if let Some(h) = self.held.get_mut(&user) {
            *h = h.saturating_sub(qty);
            if *h == 0 {
                self.held.remove(&user);
            }
        }
    }

    fn change_for(&self, r: &Reservation) -> Change {
        debug_assert!(self.levels.is_consistent(), "{:?}", self.levels);
        Change {
            header: self.header(),
            reservation: Some(r.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: Duration = Duration::from_secs(60);

    fn t(ms: i64) -> Timestamp {
        Timestamp::from_millis(ms)
    }

    fn req(id: &str, user: i64, qty: i64) -> ReserveRequest {
        ReserveRequest {
            id: ReservationId::parse(id).expect("id"),
            user: UserId(user),
            quantity: Quantity::new(qty).expect("qty"),
            ttl: TTL,
        }
    }

    fn rid(id: &str) -> ReservationId {
        ReservationId::parse(id).expect("id")
    }

    fn ledger(on_hand: i64) -> Ledger {
        Ledger::fresh(SkuId(1), on_hand, SaleRules::default())
    }

    #[test]
    fn never_oversells() {
        let mut l = ledger(3);
        assert!(l.reserve(&req("a", 1, 2), t(0)).is_ok());
        assert_eq!(
            l.reserve(&req("b", 2, 2), t(0)).map(|o| o.value),
            Err(Rejection::OutOfStock { available: 1 })
        );
        assert!(l.reserve(&req("c", 3, 1), t(0)).is_ok());
        assert_eq!(l.levels().available(), 0);
        assert!(l.levels().is_consistent());
    }

    #[test]
    fn retry_returns_the_first_answer_without_a_change() {
        let mut l = ledger(1);
        let first = l.reserve(&req("a", 1, 1), t(0)).expect("reserved");
        assert!(first.change.is_some());
        let again = l.reserve(&req("a", 1, 1), t(5)).expect("replayed");
        assert_eq!(again.value, first.value);
        assert!(again.change.is_none());
        assert_eq!(l.levels().reserved, 1);

        let refused = l.reserve(&req("b", 2, 1), t(0));
        assert_eq!(
            refused.map(|o| o.value),
            Err(Rejection::OutOfStock { available: 0 })
        );
        l.restock(Quantity::new(5).expect("qty")).expect("restock");
        // The first answer stands even though stock came back.
        assert_eq!(
            l.reserve(&req("b", 2, 1), t(0)).map(|o| o.value),
            Err(Rejection::OutOfStock { available: 0 })
        );
        assert_eq!(
            l.reserve(&req("a", 9, 1), t(0)).map(|o| o.value),
            Err(Rejection::IdReused)
        );
    }

    #[test]
    fn enforces_window_and_limit() {
        let rules = SaleRules::new(Some(t(1_000)), Some(t(2_000)), Some(2)).expect("rules");
        let mut l = Ledger::fresh(SkuId(1), 100, rules);
        assert!(matches!(
            l.reserve(&req("early", 1, 1), t(999)),
            Err(Rejection::NotOnSale { .. })
        ));
        assert!(l.reserve(&req("a", 1, 2), t(1_000)).is_ok());
        assert_eq!(
            l.reserve(&req("b", 1, 1), t(1_001)).map(|o| o.value),
            Err(Rejection::LimitExceeded { limit: 2, held: 2 })
        );
        l.release(&rid("a"), t(1_002)).expect("release");
        assert!(l.reserve(&req("c", 1, 2), t(1_003)).is_ok());
        assert!(matches!(
            l.reserve(&req("late", 2, 1), t(2_000)),
            Err(Rejection::NotOnSale { .. })
        ));
    }

    #[test]
    fn commit_release_and_return_move_the_right_counters() {
        let mut l = ledger(10);
        l.reserve(&req("a", 1, 3), t(0)).expect("a");
        l.reserve(&req("b", 2, 2), t(0)).expect("b");
        l.commit(&rid("a"), t(1)).expect("commit");
        assert_eq!(
            l.levels(),
            Levels {
                on_hand: 10,
                reserved: 2,
                sold: 3
            }
        );
        assert!(l.commit(&rid("a"), t(2)).expect("replay").change.is_none());
        l.release(&rid("b"), t(3)).expect("release");
        assert!(matches!(
            l.commit(&rid("b"), t(4)),
            Err(LedgerError::NotCommittable { .. })
        ));
        let returned = l.release(&rid("a"), t(5)).expect("return");
        assert_eq!(returned.value.status, ReservationStatus::Returned);
        assert_eq!(l.levels().available(), 10);
        assert!(l.release(&rid("a"), t(6)).expect("replay").change.is_none());
        assert!(matches!(
            l.commit(&rid("zzz"), t(0)),
            Err(LedgerError::UnknownReservation(_))
        ));
    }

    #[test]
    fn expiry_releases_stock_and_blocks_late_commit() {
        let mut l = ledger(5);
        l.reserve(&req("a", 1, 2), t(0)).expect("a");
        l.reserve(&req("b", 1, 1), t(30_000)).expect("b");
        assert_eq!(l.next_expiry(), Some(t(60_000)));
        assert!(matches!(
            l.commit(&rid("a"), t(60_000)),
            Err(LedgerError::NotCommittable {
                status: ReservationStatus::Expired,
                ..
            })
        ));
        let changes = l.expire_due(t(60_000));
        assert_eq!(changes.len(), 1);
        assert_eq!(l.levels().reserved, 1);
        assert_eq!(
            l.reservation(&rid("a")).map(|r| r.status),
            Some(ReservationStatus::Expired)
        );
        assert!(l.expire_due(t(60_001)).is_empty());
        assert_eq!(l.expire_due(t(90_000)).len(), 1);
        assert_eq!(l.levels().available(), 5);
    }

    #[test]
    fn restore_checks_and_rebuilds() {
        let mut l = ledger(10);
        l.reserve(&req("a", 1, 3), t(0)).expect("a");
        l.reserve(&req("b", 1, 2), t(0)).expect("b");
        l.commit(&rid("b"), t(1)).expect("commit");
        let rows: Vec<Reservation> = l.reservations.values().cloned().collect();
        let mut back = Ledger::restore(l.header(), rows.clone()).expect("restore");
        assert_eq!(back.levels(), l.levels());
        assert_eq!(back.live_reservations(), 1);
        // Buyer 1 holds 5 units, so a limit of 5 refuses more.
        back.set_rules(SaleRules::new(None, None, Some(5)).expect("rules"));
        assert!(matches!(
            back.reserve(&req("c", 1, 1), t(2)),
            Err(Rejection::LimitExceeded { held: 5, .. })
        ));
        let mut bad = l.header();
        bad.levels.reserved = 7;
        assert!(Ledger::restore(bad, rows).is_err());
    }

    #[test]
    fn forgets_only_finished_reservations() {
        let mut l = ledger(10);
        l.reserve(&req("a", 1, 1), t(0)).expect("a");
        l.reserve(&req("b", 1, 1), t(0)).expect("b");
        l.release(&rid("b"), t(10)).expect("release");
        l.forget_finished_before(t(11));
        assert!(l.reservation(&rid("a")).is_some());
        assert!(l.reservation(&rid("b")).is_none());
    }
}
