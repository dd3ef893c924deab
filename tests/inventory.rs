//! The inventory engine against real databases: concurrency, limits, sale
//! windows, expiry, idempotency, restarts, durability and supervision.

mod common;

use common::{TestDb, db_count, db_levels, id, qty, settings};
use stampede::actors::{Inventory, InventoryError};
use stampede::config::{AckMode, InventorySettings};
use stampede::domain::ids::{ReservationId, SkuId, UserId};
use stampede::domain::ledger::{LedgerError, Rejection, ReservationStatus};
use stampede::domain::rules::SaleRules;
use stampede::domain::time::Timestamp;
use stampede::persistence::Store;
use std::collections::HashMap;
use std::time::Duration;

async fn engine(db: &TestDb, s: InventorySettings) -> (Store, Inventory) {
    let store = db.store().await;
    let inv = Inventory::start(store.clone(), s).await.expect("start");
    (store, inv)
}

/// An engine with one fresh SKU of `stock` units.
async fn engine_with_sku(
    db: &TestDb,
    s: InventorySettings,
    stock: i64,
    rules: SaleRules,
) -> (Store, Inventory, SkuId) {
    let (store, inv) = engine(db, s).await;
    let sku = inv.create_sku(qty(stock), rules).await.expect("sku");
    (store, inv, sku)
}

/// Retries a reserve while the answer is "not known yet", as a client would.
async fn reserve_until_settled(
    inv: &Inventory,
    sku: SkuId,
    rid: &ReservationId,
    user: UserId,
) -> Result<(), InventoryError> {
    let mut answer = inv.reserve(sku, rid.clone(), user, qty(1)).await;
    for _ in 0..100 {
        if !matches!(
            answer,
            Err(InventoryError::Unavailable | InventoryError::Overloaded)
        ) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        answer = inv.reserve(sku, rid.clone(), user, qty(1)).await;
    }
    answer.map(|_| ())
}

/// Fires `buyers` concurrent single-unit reserves; returns the answers.
async fn stampede_on(
    inv: &Inventory,
    sku: SkuId,
    buyers: i64,
) -> Vec<(ReservationId, Result<(), InventoryError>)> {
    let tasks: Vec<_> = (0..buyers)
        .map(|n| {
            let inv = inv.clone();
            tokio::spawn(async move {
                let rid = id(format!("order-{n}"));
                let r = inv.reserve(sku, rid.clone(), UserId::new(n), qty(1)).await;
                (rid, r.map(|_| ()))
            })
        })
        .collect();
    let mut answers = Vec::with_capacity(tasks.len());
    for t in tasks {
        answers.push(t.await.expect("task"));
    }
    answers
}

async fn ten_thousand_buyers(db: TestDb, ack: AckMode) {
    let (store, inv, sku) = engine_with_sku(&db, settings(ack), 1_000, SaleRules::default()).await;
    let answers = stampede_on(&inv, sku, 10_000).await;
    let won = answers.iter().filter(|(_, r)| r.is_ok()).count();
    let sold_out = answers
        .iter()
        .filter(|(_, r)| {
            matches!(
                r,
                Err(InventoryError::Rejected(Rejection::OutOfStock { .. }))
            )
        })
        .count();
    assert_eq!(won, 1_000, "exactly the stock is reserved");
    assert_eq!(sold_out, 9_000, "everyone else hears OUT_OF_STOCK");
    if ack == AckMode::Memory {
        inv.sync().await.expect("flush");
    }
    // Durable: every acknowledged reservation is already committed.
    assert_eq!(db_levels(&store, sku).await, (1_000, 1_000, 0));
    assert_eq!(db_count(&store, sku, "reserved").await, 1_000);
    let snap = inv.snapshot(sku).await.expect("snapshot");
    assert_eq!((snap.available, snap.reserved), (0, 1_000));
    inv.shutdown().await.expect("shutdown");
}

async fn ten_thousand_buyers_durable(db: TestDb) {
    ten_thousand_buyers(db, AckMode::Durable).await
}

async fn ten_thousand_buyers_memory(db: TestDb) {
    ten_thousand_buyers(db, AckMode::Memory).await
}

async fn limit_and_window_hold_under_concurrency(db: TestDb) {
    // The window starts once the store is migrated and the engine runs:
    // set-up time on a loaded machine must not eat into it.
    let (store, inv) = engine(&db, settings(AckMode::Durable)).await;
    let opens = Timestamp::now().plus(Duration::from_millis(700));
    let rules = SaleRules::new(Some(opens), None, Some(2)).expect("rules");
    let sku = inv.create_sku(qty(10_000), rules).await.expect("sku");

    let early = stampede_on(&inv, sku, 500).await;
    assert!(
        early.iter().all(|(_, r)| matches!(
            r,
            Err(InventoryError::Rejected(Rejection::NotOnSale { .. }))
        )),
        "nothing sells before the opening"
    );
    while Timestamp::now() < opens {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // 100 buyers, each trying 10 times at once, limit 2 each.
    let tasks: Vec<_> = (0..1_000i64)
        .map(|n| {
            let inv = inv.clone();
            tokio::spawn(async move {
                let user = UserId::new(n % 100);
                let r = inv.reserve(sku, id(format!("try-{n}")), user, qty(1)).await;
                (user, r)
            })
        })
        .collect();
    let mut per_user: HashMap<UserId, usize> = HashMap::new();
    for t in tasks {
        let (user, r) = t.await.expect("task");
        match r {
            Ok(_) => *per_user.entry(user).or_default() += 1,
            Err(InventoryError::Rejected(Rejection::LimitExceeded { limit: 2, .. })) => {}
            other => panic!("unexpected answer {other:?}"),
        }
    }
    assert_eq!(per_user.len(), 100);
    assert!(per_user.values().all(|&n| n == 2), "{per_user:?}");
    assert_eq!(db_levels(&store, sku).await, (10_000, 200, 0));
    inv.shutdown().await.expect("shutdown");
}

async fn expiry_releases_stock(db: TestDb) {
    let s = InventorySettings {
        reservation_ttl_ms: 300,
        ..settings(AckMode::Durable)
    };
    let (store, inv, sku) = engine_with_sku(&db, s, 5, SaleRules::default()).await;
    inv.reserve(sku, id("a"), UserId::new(1), qty(5))
        .await
        .expect("reserve");
    assert!(matches!(
        inv.reserve(sku, id("b"), UserId::new(2), qty(1)).await,
        Err(InventoryError::Rejected(Rejection::OutOfStock {
            available: 0
        }))
    ));
    tokio::time::sleep(Duration::from_millis(800)).await;
    let snap = inv.snapshot(sku).await.expect("snapshot");
    assert_eq!(
        (snap.available, snap.reserved, snap.live_reservations),
        (5, 0, 0)
    );
    assert!(matches!(
        inv.commit(sku, id("a")).await,
        Err(InventoryError::Ledger(LedgerError::NotCommittable {
            status: ReservationStatus::Expired,
            ..
        }))
    ));
    inv.sync().await.expect("flush");
    assert_eq!(db_levels(&store, sku).await, (5, 0, 0));
    assert_eq!(db_count(&store, sku, "expired").await, 1);
    inv.reserve(sku, id("c"), UserId::new(3), qty(5))
        .await
        .expect("stock is back");
    inv.shutdown().await.expect("shutdown");
}

async fn retries_return_the_first_answer(db: TestDb) {
    let (store, inv, sku) =
        engine_with_sku(&db, settings(AckMode::Durable), 3, SaleRules::default()).await;
    let first = inv
        .reserve(sku, id("x"), UserId::new(7), qty(2))
        .await
        .expect("first");
    let retries: Vec<_> = (0..200)
        .map(|_| {
            let inv = inv.clone();
            tokio::spawn(async move { inv.reserve(sku, id("x"), UserId::new(7), qty(2)).await })
        })
        .collect();
    for r in retries {
        assert_eq!(r.await.expect("task").expect("replay"), first);
    }
    assert!(matches!(
        inv.reserve(sku, id("x"), UserId::new(8), qty(2)).await,
        Err(InventoryError::Rejected(Rejection::IdReused))
    ));
    // A refusal is replayed too, even after stock changes.
    let refused = inv.reserve(sku, id("y"), UserId::new(9), qty(2)).await;
    assert!(matches!(
        refused,
        Err(InventoryError::Rejected(Rejection::OutOfStock {
            available: 1
        }))
    ));
    inv.restock(sku, qty(10)).await.expect("restock");
    assert!(matches!(
        inv.reserve(sku, id("y"), UserId::new(9), qty(2)).await,
        Err(InventoryError::Rejected(Rejection::OutOfStock {
            available: 1
        }))
    ));
    assert_eq!(db_levels(&store, sku).await, (13, 2, 0));
    assert_eq!(db_count(&store, sku, "reserved").await, 1);
    inv.shutdown().await.expect("shutdown");
}

async fn restart_restores_identical_state(db: TestDb) {
    let rules = SaleRules::new(None, None, Some(3)).expect("rules");
    let (store, inv, sku) = engine_with_sku(&db, settings(AckMode::Durable), 20, rules).await;
    for n in 0..6 {
        inv.reserve(sku, id(n), UserId::new(n % 2), qty(1))
            .await
            .expect("reserve");
    }
    inv.commit(sku, id(0)).await.expect("commit");
    inv.commit(sku, id(1)).await.expect("commit");
    inv.release(sku, id(2)).await.expect("release");
    inv.release(sku, id(1)).await.expect("return");
    inv.restock(sku, qty(5)).await.expect("restock");
    let before = inv.snapshot(sku).await.expect("snapshot");
    inv.shutdown().await.expect("shutdown");
    drop(inv);

    let inv = Inventory::start(store.clone(), settings(AckMode::Durable))
        .await
        .expect("restart");
    let after = inv.snapshot(sku).await.expect("snapshot");
    assert_eq!(after, before);
    assert_eq!((after.on_hand, after.reserved, after.sold), (25, 3, 1));
    // Buyer 0 made ids 0 (sold), 2 (released) and 4 (reserved), so holds 2
    // of its limit of 3: limits survive the restart.
    let held_0 = 2;
    let r = inv.reserve(sku, id("more-0"), UserId::new(0), qty(2)).await;
    assert!(
        matches!(r, Err(InventoryError::Rejected(Rejection::LimitExceeded { held, .. })) if held == held_0),
        "{r:?}"
    );
    // Replays survive too.
    assert_eq!(
        inv.reserve(sku, id(3), UserId::new(1), qty(1))
            .await
            .expect("replay")
            .status,
        ReservationStatus::Reserved
    );
    inv.shutdown().await.expect("shutdown");
}

async fn rename_reservations(store: &Store, from: &str, to: &str) {
    let sql = format!("ALTER TABLE {from} RENAME TO {to}");
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(store.pool())
        .await
        .expect("rename");
}

async fn failed_batch_is_never_acknowledged(db: TestDb) {
    let s = InventorySettings {
        queue_max: 3,
        ..settings(AckMode::Durable)
    };
    let (store, inv, sku) = engine_with_sku(&db, s, 10, SaleRules::default()).await;
    inv.reserve(sku, id("before"), UserId::new(1), qty(1))
        .await
        .expect("healthy");

    rename_reservations(&store, "reservations", "reservations_gone").await;
    for n in 0..3 {
        let r = inv.reserve(sku, id(n), UserId::new(2), qty(1)).await;
        assert!(matches!(r, Err(InventoryError::Unavailable)), "{r:?}");
    }
    assert!(inv.overview().persister.failing);
    assert!(matches!(
        inv.reserve(sku, id("over"), UserId::new(3), qty(1)).await,
        Err(InventoryError::Overloaded)
    ));
    let replay = inv.reserve(sku, id(0), UserId::new(2), qty(1)).await;
    assert!(
        matches!(
            replay,
            Err(InventoryError::Unavailable | InventoryError::Overloaded)
        ),
        "a replay of an undurable decision is not acknowledged either: {replay:?}"
    );
    assert_eq!(db_levels(&store, sku).await, (10, 1, 0));
    rename_reservations(&store, "reservations_gone", "reservations").await;

    // The kept batch commits on retry; retries now get the first answer.
    for n in 0..3 {
        reserve_until_settled(&inv, sku, &id(n), UserId::new(2))
            .await
            .expect("acknowledged once durable");
    }
    assert_eq!(db_levels(&store, sku).await, (10, 4, 0));
    assert_eq!(db_count(&store, sku, "reserved").await, 4);
    assert!(!inv.overview().persister.failing);
    inv.shutdown().await.expect("shutdown");
}

async fn panic_restart_loses_and_doubles_nothing(db: TestDb) {
    let (store, inv, sku) =
        engine_with_sku(&db, settings(AckMode::Durable), 1_500, SaleRules::default()).await;
    inv.snapshot(sku).await.expect("activate");
    let crowd = {
        let inv = inv.clone();
        tokio::spawn(async move { stampede_on(&inv, sku, 3_000).await })
    };
    tokio::time::sleep(Duration::from_millis(2)).await;
    inv.inject_panic(sku).await.expect("inject");
    let answers = crowd.await.expect("crowd");

    let mut won: Vec<ReservationId> = Vec::new();
    let mut unknown: Vec<(ReservationId, i64)> = Vec::new();
    for (n, (rid, r)) in answers.into_iter().enumerate() {
        match r {
            Ok(()) => won.push(rid),
            Err(InventoryError::Unavailable) => unknown.push((rid, n as i64)),
            Err(InventoryError::Rejected(Rejection::OutOfStock { .. })) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    // Callers that heard nothing retry with the same id.
    for (rid, user) in unknown {
        match reserve_until_settled(&inv, sku, &rid, UserId::new(user)).await {
            Ok(()) => won.push(rid),
            Err(InventoryError::Rejected(Rejection::OutOfStock { .. })) => {}
            other => panic!("retry answered {other:?}"),
        }
    }
    let view = inv.sku_view(sku).await.expect("view");
    assert_eq!(view.restarts, 1, "the supervisor restarted the actor once");
    assert_eq!(won.len(), 1_500, "all stock sold, none twice");
    assert_eq!(view.stock.reserved, 1_500);
    assert_eq!(db_levels(&store, sku).await, (1_500, 1_500, 0));
    assert_eq!(db_count(&store, sku, "reserved").await, 1_500);
    inv.shutdown().await.expect("shutdown");
}

async fn persister_panic_loses_nothing_acknowledged(db: TestDb) {
    let (store, inv, sku) =
        engine_with_sku(&db, settings(AckMode::Durable), 2_000, SaleRules::default()).await;
    let first = stampede_on(&inv, sku, 500).await;
    assert!(first.iter().all(|(_, r)| r.is_ok()));
    let crowd = {
        let inv = inv.clone();
        tokio::spawn(async move {
            let tasks: Vec<_> = (500..1_500i64)
                .map(|n| {
                    let inv = inv.clone();
                    tokio::spawn(async move {
                        let rid = id(format!("order-{n}"));
                        let r = inv.reserve(sku, rid.clone(), UserId::new(n), qty(1)).await;
                        (rid, n, r.map(|_| ()))
                    })
                })
                .collect();
            let mut out = Vec::new();
            for t in tasks {
                out.push(t.await.expect("task"));
            }
            out
        })
    };
    tokio::time::sleep(Duration::from_millis(2)).await;
    inv.inject_persister_panic();
    let mut won = 500;
    for (rid, n, r) in crowd.await.expect("crowd") {
        let settled = match r {
            Err(InventoryError::Unavailable) => {
                reserve_until_settled(&inv, sku, &rid, UserId::new(n)).await
            }
            other => other,
        };
        settled.unwrap_or_else(|e| panic!("{rid}: {e:?}"));
        won += 1;
    }
    assert_eq!(inv.overview().persister.restarts, 1);
    assert_eq!(won, 1_500);
    let snap = inv.snapshot(sku).await.expect("snapshot");
    assert_eq!(snap.reserved, 1_500);
    assert_eq!(db_levels(&store, sku).await, (2_000, 1_500, 0));
    assert_eq!(db_count(&store, sku, "reserved").await, 1_500);
    inv.shutdown().await.expect("shutdown");
}

/// The last line of defence: the database itself refuses an oversold row.
async fn database_refuses_an_oversold_row(db: TestDb) {
    let (store, inv, sku) =
        engine_with_sku(&db, settings(AckMode::Durable), 5, SaleRules::default()).await;
    for (reserved, sold) in [(4, 2), (-1, 0), (0, -1)] {
        let oversell = sqlx::query("UPDATE sku_stock SET reserved = ?, sold = ? WHERE sku_id = ?")
            .bind(reserved)
            .bind(sold)
            .bind(sku.get())
            .execute(store.pool())
            .await;
        assert!(oversell.is_err(), "({reserved}, {sold}) was accepted");
    }
    assert_eq!(db_levels(&store, sku).await, (5, 0, 0));
    inv.shutdown().await.expect("shutdown");
}

async fn idle_actors_passivate_and_come_back(db: TestDb) {
    let s = InventorySettings {
        idle_passivate_ms: 100,
        reservation_ttl_ms: 60_000,
        ..settings(AckMode::Durable)
    };
    let (_store, inv, sku) = engine_with_sku(&db, s, 4, SaleRules::default()).await;
    inv.reserve(sku, id("a"), UserId::new(1), qty(1))
        .await
        .expect("reserve");
    inv.commit(sku, id("a")).await.expect("commit");
    assert_eq!(inv.overview().active_sku_actors, 1);
    let mut passivated = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if inv.overview().active_sku_actors == 0 {
            passivated = true;
            break;
        }
    }
    assert!(passivated, "an idle SKU actor leaves memory");
    let snap = inv.snapshot(sku).await.expect("reactivated");
    assert_eq!((snap.sold, snap.available), (1, 3));
    assert!(matches!(
        inv.snapshot(SkuId::new(987_654)).await,
        Err(InventoryError::UnknownSku(unknown)) if unknown == SkuId::new(987_654)
    ));
    inv.shutdown().await.expect("shutdown");
}

/// Many hot SKUs whose changes share batches: the counters are set for all
/// of them in a few statements (more SKUs than one statement carries), and
/// each SKU's row must get its own levels and rules, none another's.
async fn hot_skus_share_batches_and_keep_their_own_rows(db: TestDb) {
    let (store, inv) = engine(&db, settings(AckMode::Durable)).await;
    let opens = Timestamp::now().minus(Duration::from_secs(60));
    let closes = Timestamp::now().plus(Duration::from_secs(3_600));
    let mut skus = Vec::new();
    for n in 0..250i64 {
        // Every third SKU has a window and a limit, the rest none (NULLs).
        let rules = if n % 3 == 0 {
            SaleRules::new(Some(opens), Some(closes), Some(40)).expect("rules")
        } else {
            SaleRules::default()
        };
        skus.push(inv.create_sku(qty(50 + n), rules).await.expect("sku"));
    }
    // SKU k gets k % 7 + 1 buyers, all at once across SKUs.
    let tasks: Vec<_> = skus
        .iter()
        .enumerate()
        .flat_map(|(k, &sku)| (0..(k as i64 % 7 + 1)).map(move |b| (k, sku, b)))
        .map(|(k, sku, b)| {
            let inv = inv.clone();
            tokio::spawn(async move {
                inv.reserve(sku, id(format!("s{k}-b{b}")), UserId::new(b), qty(1))
                    .await
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("task").expect("reserve");
    }
    inv.sync().await.expect("sync");
    for (k, &sku) in skus.iter().enumerate() {
        let snap = inv.snapshot(sku).await.expect("snapshot");
        let wanted = (50 + k as i64, k as i64 % 7 + 1, 0);
        assert_eq!((snap.on_hand, snap.reserved, snap.sold), wanted, "SKU {k}");
        assert_eq!(db_levels(&store, sku).await, wanted, "SKU {k} in the store");
    }
    inv.shutdown().await.expect("shutdown");
    let inv = Inventory::start(store.clone(), settings(AckMode::Durable))
        .await
        .expect("restart");
    for (k, &sku) in skus.iter().enumerate() {
        let snap = inv.snapshot(sku).await.expect("snapshot");
        let limited = k % 3 == 0;
        assert_eq!(snap.per_user_limit, limited.then_some(40), "SKU {k}");
        assert_eq!(snap.opens_at.is_some(), limited, "SKU {k}");
        assert_eq!(snap.closes_at.is_some(), limited, "SKU {k}");
        assert_eq!(snap.reserved, k as i64 % 7 + 1, "SKU {k}");
    }
    inv.shutdown().await.expect("shutdown");
}

on_both_stores!(
    ten_thousand_buyers_durable,
    ten_thousand_buyers_memory,
    limit_and_window_hold_under_concurrency,
    expiry_releases_stock,
    retries_return_the_first_answer,
    restart_restores_identical_state,
    failed_batch_is_never_acknowledged,
    panic_restart_loses_and_doubles_nothing,
    persister_panic_loses_nothing_acknowledged,
    idle_actors_passivate_and_come_back,
    database_refuses_an_oversold_row,
    hot_skus_share_batches_and_keep_their_own_rows,
);
