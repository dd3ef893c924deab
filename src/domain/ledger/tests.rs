//! Unit tests of the ledger's rules.

use super::*;
use std::time::Duration;

const TTL: Duration = Duration::from_secs(60);

fn t(ms: i64) -> Timestamp {
    Timestamp::from_millis(ms)
}

fn req(id: &str, user: i64, qty: i64) -> ReserveRequest {
    ReserveRequest {
        id: ReservationId::parse(id).expect("id"),
        user: UserId::new(user),
        quantity: Quantity::new(qty).expect("qty"),
        ttl: TTL,
        again: false,
    }
}

fn again(id: &str, user: i64, qty: i64) -> ReserveRequest {
    ReserveRequest {
        again: true,
        ..req(id, user, qty)
    }
}

fn rid(id: &str) -> ReservationId {
    ReservationId::parse(id).expect("id")
}

fn ledger(on_hand: i64) -> Ledger {
    Ledger::fresh(SkuId::new(1), on_hand, SaleRules::default())
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
    let mut l = Ledger::fresh(SkuId::new(1), 100, rules);
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

#[test]
fn a_given_back_reservation_is_judged_again_only_when_asked() {
    let mut l = ledger(2);
    assert!(l.reserve(&req("a", 1, 1), t(0)).is_ok());
    assert!(l.release(&rid("a"), t(1)).is_ok());
    // Asked plainly, the id answers what became of it.
    let replay = l.reserve(&req("a", 1, 1), t(2)).map(|o| o.value.status);
    assert_eq!(replay, Ok(ReservationStatus::Released));
    // Asked again, it is a new decision, with its own quantity and expiry.
    let fresh = l.reserve(&again("a", 1, 2), t(3)).expect("reserved again");
    assert!(fresh.change.is_some());
    assert_eq!(fresh.value.status, ReservationStatus::Reserved);
    assert_eq!(fresh.value.quantity, 2);
    assert_eq!(fresh.value.expires_at, t(3).plus(TTL));
    assert_eq!(l.levels().reserved, 2);
    // A live reservation is never judged again: asking again replays it.
    let held = l.reserve(&again("a", 1, 2), t(4)).expect("replayed");
    assert!(held.change.is_none());
    assert_eq!(l.levels().reserved, 2);
    // An expired one is judged again too, and may now be refused.
    let expired = l.expire_due(t(3).plus(TTL));
    assert_eq!(expired.len(), 1);
    assert!(l.reserve(&req("b", 2, 2), t(3).plus(TTL)).is_ok());
    assert_eq!(
        l.reserve(&again("a", 1, 1), t(3).plus(TTL))
            .map(|o| o.value),
        Err(Rejection::OutOfStock { available: 0 })
    );
    assert!(l.levels().is_consistent());
}

#[test]
fn a_place_and_cancel_loop_does_not_grow_memory() {
    let mut l = ledger(10).keep_finished(5);
    for n in 0..100 {
        let id = format!("r{n}");
        assert!(l.reserve(&req(&id, n, 1), t(n)).is_ok());
        assert!(l.release(&rid(&id), t(n)).is_ok());
    }
    assert!(l.reserve(&req("live", 1, 1), t(200)).is_ok());
    assert_eq!(
        l.remembered(),
        5 + 1,
        "the five newest given back, and the live one"
    );
    // The newest given-back one still answers as given back.
    let replay = l.reserve(&req("r99", 99, 1), t(201)).expect("replay");
    assert_eq!(replay.value.status, ReservationStatus::Released);
    // A forgotten one is judged afresh.
    let again = l.reserve(&req("r0", 0, 1), t(202)).expect("judged");
    assert_eq!(again.value.status, ReservationStatus::Reserved);
    assert!(l.levels().is_consistent());
}

#[test]
fn changes_say_which_milestones_they_crossed() {
    let milestones = |o: Option<Change>| o.expect("a change").milestones;
    let mut l = ledger(2);
    let first = l.reserve(&req("a", 1, 1), t(0)).expect("reserved");
    assert!(milestones(first.change).is_empty());
    let last = l.reserve(&req("b", 2, 1), t(0)).expect("reserved");
    assert_eq!(milestones(last.change), vec![Milestone::SoldOut]);
    // Selling a held unit moves no unit in or out of what is available.
    let sold = l.commit(&rid("a"), t(1)).expect("committed");
    assert!(milestones(sold.change).is_empty());
    let back = l.release(&rid("b"), t(2)).expect("released");
    assert_eq!(milestones(back.change), vec![Milestone::BackInStock]);
    l.reserve(&req("c", 3, 1), t(3)).expect("reserved");
    let restocked = l
        .restock(Quantity::new(5).expect("qty"))
        .expect("restocked");
    assert_eq!(
        milestones(restocked.change),
        vec![Milestone::Restocked { added: 5 }, Milestone::BackInStock]
    );
    // Expiring a lot crosses once, on the last change of the lot.
    let mut l = ledger(2);
    l.reserve(&req("x", 1, 1), t(0)).expect("reserved");
    l.reserve(&req("y", 2, 1), t(0)).expect("reserved");
    let expired = l.expire_due(t(0).plus(TTL));
    assert_eq!(expired.len(), 2);
    assert!(expired[0].milestones.is_empty());
    assert_eq!(expired[1].milestones, vec![Milestone::BackInStock]);
}
