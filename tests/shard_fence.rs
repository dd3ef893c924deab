//! The shard fence in the database (issue 16), on both stores: a batch
//! commits under the epoch recorded for its shard and rolls back under any
//! other; a lower epoch cannot be recorded over a higher one; and while a
//! stale owner keeps committing from many tasks at once, not one of its
//! batches that began after the new owner's record lands. A stale owner's
//! saga step is refused the same way, and a stale writer's refused batches
//! never make the owner's batches on the same SKU fail.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use common::{TestDb, spawn_app};
use stampede::domain::ids::{OrderId, ReservationId, SkuId, UserId};
use stampede::domain::ledger::{Levels, Reservation, ReservationStatus, SkuHeader};
use stampede::domain::order::{OrderStatus, Step};
use stampede::domain::rules::SaleRules;
use stampede::domain::shard::{NodeId, ShardCount};
use stampede::domain::time::Timestamp;
use stampede::persistence::owner::{Claimant, Process};
use stampede::persistence::shard_fence::{HeldShards, ShardEpoch};
use stampede::persistence::{OrderWrite, Store, StoreError, Transition, WriteSet};

fn node(name: &str) -> NodeId {
    NodeId::parse(name).unwrap()
}

fn held(shard: u32, epoch: i64) -> ShardEpoch {
    let shard = ShardCount::default().all().nth(shard as usize).unwrap();
    ShardEpoch { shard, epoch }
}

async fn marker_table(store: &Store) {
    sqlx::query("CREATE TABLE fence_probe (id INTEGER NOT NULL PRIMARY KEY, writer TEXT NOT NULL)")
        .execute(store.pool())
        .await
        .unwrap();
}

/// One batch: a row, then the fence, then the commit.
async fn batch(
    store: &Store,
    id: i64,
    writer: &str,
    fence: &[ShardEpoch],
) -> Result<(), StoreError> {
    let mut tx = store.begin_write().await?;
    sqlx::query("INSERT INTO fence_probe (id, writer) VALUES (?, ?)")
        .bind(id)
        .bind(writer.to_string())
        .execute(&mut *tx)
        .await?;
    store.check_shards(&mut tx, fence).await?;
    tx.commit().await?;
    Ok(())
}

async fn rows(store: &Store, writer: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM fence_probe WHERE writer = ?")
        .bind(writer.to_string())
        .fetch_one(store.pool())
        .await
        .unwrap()
}

async fn a_batch_lands_only_under_the_recorded_epoch(db: TestDb) {
    let store = db.store().await;
    marker_table(&store).await;
    // Never recorded: refused.
    assert!(matches!(
        batch(&store, 1, "a", &[held(5, 10)]).await,
        Err(StoreError::Fenced(_))
    ));
    store
        .record_shard_epoch(held(5, 10), &node("a"))
        .await
        .unwrap();
    batch(&store, 2, "a", &[held(5, 10)]).await.unwrap();
    // b takes the shard over: a's next batch rolls back, b's lands.
    store
        .record_shard_epoch(held(5, 12), &node("b"))
        .await
        .unwrap();
    assert!(matches!(
        batch(&store, 3, "a", &[held(5, 10)]).await,
        Err(StoreError::Fenced(_))
    ));
    batch(&store, 4, "b", &[held(5, 12)]).await.unwrap();
    // A batch over two shards needs both.
    store
        .record_shard_epoch(held(6, 3), &node("b"))
        .await
        .unwrap();
    batch(&store, 5, "b", &[held(5, 12), held(6, 3)])
        .await
        .unwrap();
    assert!(matches!(
        batch(&store, 6, "b", &[held(5, 12), held(6, 2)]).await,
        Err(StoreError::Fenced(_))
    ));
    assert_eq!(
        rows(&store, "a").await,
        1,
        "only a's batch under its own epoch"
    );
    assert_eq!(rows(&store, "b").await, 2);
}

async fn a_lower_epoch_is_never_recorded_over_a_higher_one(db: TestDb) {
    let store = db.store().await;
    store
        .record_shard_epoch(held(1, 20), &node("b"))
        .await
        .unwrap();
    let late = store.record_shard_epoch(held(1, 19), &node("a")).await;
    assert!(matches!(late, Err(StoreError::Fenced(_))), "{late:?}");
    // The same epoch again (a retried record) is fine.
    store
        .record_shard_epoch(held(1, 20), &node("b"))
        .await
        .unwrap();
}

async fn no_stale_batch_begun_after_the_take_over_lands(db: TestDb) {
    let store = db.store().await;
    marker_table(&store).await;
    store
        .record_shard_epoch(held(9, 1), &node("old"))
        .await
        .unwrap();
    let taken = Arc::new(AtomicBool::new(false));
    let after = Arc::new(AtomicUsize::new(0));
    let ids = Arc::new(AtomicUsize::new(0));
    let writers: Vec<_> = (0..32)
        .map(|_| {
            let (store, taken, after, ids) =
                (store.clone(), taken.clone(), after.clone(), ids.clone());
            tokio::spawn(async move {
                for _ in 0..40 {
                    let began_after = taken.load(Ordering::SeqCst);
                    let id = ids.fetch_add(1, Ordering::SeqCst) as i64;
                    let landed = batch(&store, id, "old", &[held(9, 1)]).await.is_ok();
                    if landed && began_after {
                        after.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    // Let the old owner land some batches first.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while rows(&store, "old").await < 10 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    store
        .record_shard_epoch(held(9, 2), &node("new"))
        .await
        .unwrap();
    taken.store(true, Ordering::SeqCst);
    for w in writers {
        w.await.unwrap();
    }
    assert_eq!(
        after.load(Ordering::SeqCst),
        0,
        "a stale batch begun after the take-over landed"
    );
    assert!(
        rows(&store, "old").await > 0,
        "the old owner did commit before the take-over"
    );
}

/// A stock batch of `sku` as its writer `who` would send it in `round`:
/// the SKU's levels and a few new reservations.
fn stock_batch(sku: SkuId, who: &str, round: i64) -> WriteSet {
    let now = Timestamp::now();
    let reservations = (0..4)
        .map(|n| {
            let id = ReservationId::parse(format!("{who}-{round}-{n}")).unwrap();
            let held = Reservation {
                id,
                user: UserId::new(1),
                quantity: 1,
                status: ReservationStatus::Reserved,
                expires_at: now,
                updated_at: now,
            };
            (sku, held)
        })
        .collect();
    WriteSet {
        headers: vec![SkuHeader {
            sku,
            levels: Levels {
                on_hand: 1_000_000,
                reserved: 4 * (round + 1),
                sold: 0,
            },
            rules: SaleRules::default(),
        }],
        reservations,
        events: Vec::new(),
    }
}

/// The process that lost the store keeps retrying its last batch (its
/// persister does, with backoff) while the owner writes the same SKU. The
/// stale batch is refused, and it must cost the owner nothing. Before the
/// fix the fence came last: each batch first took a shared lock on the
/// SKU's row (the reservations' foreign key), then the exclusive one of its
/// header update, MariaDB broke the two batches' deadlock by failing either
/// one, and when that was the owner's, its buyers got 503 (156 of 300
/// batches here; the flake of `tests/ownership.rs`).
async fn a_stale_writer_never_fails_the_owners_batches(db: TestDb) {
    const ROUNDS: i64 = 300;
    let store = db.store().await;
    let sku = store
        .create_sku(1_000_000, SaleRules::default())
        .await
        .unwrap();
    let claimant = |force| Claimant {
        process: Process::current(),
        label: "fence test".into(),
        lease: std::time::Duration::from_secs(60),
        force,
    };
    let stale_lease = store.claim(&claimant(false)).await.unwrap();
    let stale = store.clone().with_lease(stale_lease);
    let owner_lease = store.claim(&claimant(true)).await.unwrap();
    let owner = store.clone().with_lease(owner_lease);

    let done = Arc::new(AtomicBool::new(false));
    let retrying = {
        let done = Arc::clone(&done);
        tokio::spawn(async move {
            let mut refused = 0;
            let mut round = 0;
            while !done.load(Ordering::SeqCst) {
                match stale.write_batch(&stock_batch(sku, "stale", round)).await {
                    Ok(()) => panic!("a stale batch landed"),
                    Err(StoreError::Fenced(_)) => refused += 1,
                    // Its own failures are its own (and retried).
                    Err(_) => {}
                }
                round += 1;
            }
            refused
        })
    };
    let mut failed = Vec::new();
    for round in 0..ROUNDS {
        if let Err(e) = owner.write_batch(&stock_batch(sku, "owner", round)).await {
            failed.push(e.to_string());
        }
    }
    done.store(true, Ordering::SeqCst);
    let refused = retrying.await.unwrap();
    assert!(refused > 0, "the stale writer did contend");
    assert!(
        failed.is_empty(),
        "{} of the owner's {ROUNDS} batches failed, first: {:?}",
        failed.len(),
        failed.first()
    );
    let (_, reserved, _) = common::db_levels(&owner, sku).await;
    assert_eq!(reserved, 4 * ROUNDS, "the owner's last batch is the SKU's");
}

on_both_stores!(
    a_batch_lands_only_under_the_recorded_epoch,
    a_lower_epoch_is_never_recorded_over_a_higher_one,
    no_stale_batch_begun_after_the_take_over_lands,
    a_stale_writer_never_fails_the_owners_batches,
);

/// A stale owner paused in the middle of a batch (its transaction open,
/// past the fence's shared lock) must not hold the next owner back: with
/// the idle limit cluster mode sets, MariaDB ends the paused transaction
/// and the new epoch is recorded within about that limit, not after
/// `innodb_lock_wait_timeout` (50 s). The paused batch never lands.
#[tokio::test]
async fn a_paused_batch_does_not_hold_the_next_owner_back() {
    let db = TestDb::mysql("fence_paused").await;
    let idle = std::time::Duration::from_secs(2);
    let stale = Store::connect_limited(&db.url, 4, Some(idle))
        .await
        .unwrap();
    stale.migrate().await.unwrap();
    marker_table(&stale).await;
    let next = Store::connect_limited(&db.url, 4, Some(idle))
        .await
        .unwrap();
    stale
        .record_shard_epoch(held(5, 1), &node("old"))
        .await
        .unwrap();
    let mut paused = stale.begin_write().await.unwrap();
    sqlx::query("INSERT INTO fence_probe (id, writer) VALUES (1, 'old')")
        .execute(&mut *paused)
        .await
        .unwrap();
    stale
        .check_shards(&mut paused, &[held(5, 1)])
        .await
        .unwrap();
    // Paused here: the transaction stays open and idle.
    let started = std::time::Instant::now();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        next.record_shard_epoch(held(5, 2), &node("new")),
    )
    .await
    .expect("the new epoch was recorded before the paused batch ended")
    .unwrap();
    let waited = started.elapsed();
    assert!(
        waited < idle + std::time::Duration::from_secs(2),
        "recording waited {waited:?} on a paused batch"
    );
    assert!(paused.commit().await.is_err(), "the paused batch landed");
    assert_eq!(rows(&next, "old").await, 0);
}

/// A saga step is written only by the node holding its order's shard under
/// the epoch recorded: once another node recorded a later epoch (it took
/// the shard while this one was paused), the stale node's step rolls back,
/// the order keeps what the new owner's saga sees, and the shard is dropped
/// here so the writer's one-by-one retry does not try it again. Before the
/// fence covered saga steps, the stale step landed.
#[tokio::test]
async fn a_stale_owners_saga_step_is_refused() {
    let db = TestDb::mysql("fence_saga").await;
    let app = spawn_app(db).await;
    let (_, seller) = app.user("seller").await;
    let (_, buyer) = app.user("customer").await;
    let sku = app.product(&seller, &[(500, 5)], None).await[0];
    let res = app.buy_one(&buyer, "fenced-step", sku).await;
    assert_eq!(res.status(), 201);
    let placed: serde_json::Value = res.json().await.unwrap();
    let id = OrderId::parse(placed["order_id"].as_str().unwrap()).unwrap();
    let db = app.stop().await;

    let count = ShardCount::default();
    let shard = count.of_order(id);
    let held = Arc::new(HeldShards::new(count));
    let store = db.store().await.with_shards(Arc::clone(&held));
    let mine = ShardEpoch { shard, epoch: 1 };
    store.record_shard_epoch(mine, &node("a")).await.unwrap();
    held.open(shard, 1);
    let step = |seq: i64, attempts: u32| OrderWrite::Transition {
        order_id: id,
        step: Transition {
            seq,
            status: OrderStatus::AwaitingPayment,
            step: Step::AwaitPayment,
            reason: None,
            tracking: None,
            attempts,
            kind: "payment_retry",
            detail: None,
            answer: None,
            event: None,
        },
    };
    let order = store.order(id).await.unwrap().unwrap();
    let next = order.last_seq + 1;
    store.write_orders(&[&step(next, 1)]).await.unwrap();
    // Node b takes the shard over.
    store
        .record_shard_epoch(ShardEpoch { shard, epoch: 2 }, &node("b"))
        .await
        .unwrap();
    let stale = store.write_orders(&[&step(next + 1, 2)]).await;
    assert!(matches!(stale, Err(StoreError::Fenced(_))), "{stale:?}");
    let order = store.order(id).await.unwrap().unwrap();
    assert_eq!(
        (order.last_seq, order.attempts),
        (next, 1),
        "the stale step did not land"
    );
    assert!(held.held().is_empty(), "the lost shard is dropped here");
}
