//! Shard leases against a real NATS with JetStream (`STAMPEDE_TEST_NATS_URL`):
//! one owner per shard however many nodes race for it, renewals keep it,
//! a lapsed lease is taken over with a higher epoch and its old holder
//! learns it lost the shard, a released shard is free at once.

mod common;

use std::time::Duration;

use async_nats::jetstream;
use stampede::cluster::lease::{Claim, Held, LeaseError, ShardLeases};

const LEASE: Duration = Duration::from_millis(600);

async fn js() -> jetstream::Context {
    let client = async_nats::connect(common::nats::shared_url())
        .await
        .expect("NATS is running (scripts/test.sh starts it)");
    jetstream::new(client)
}

fn bucket() -> String {
    format!(
        "T_LEASES_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

async fn node(js: &jetstream::Context, bucket: &str, name: &str) -> ShardLeases {
    ShardLeases::open(js, bucket, name, LEASE).await.unwrap()
}

/// Two nodes on a fresh bucket, the first holding `shard`.
async fn a_holds(shard: u32) -> (jetstream::Context, String, ShardLeases, ShardLeases, Held) {
    let js = js().await;
    let bucket = bucket();
    let (mut a, b) = (node(&js, &bucket, "a").await, node(&js, &bucket, "b").await);
    let Claim::Taken(held) = a.claim(shard).await.unwrap() else {
        panic!("a free shard is taken");
    };
    (js, bucket, a, b, held)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_many_nodes_racing_for_a_shard_exactly_one_takes_it() {
    let js = js().await;
    let bucket = bucket();
    // Open the bucket once so the racers do not race to create it.
    node(&js, &bucket, "opener").await;
    let racers = (0..64).map(|i| {
        let (js, bucket) = (js.clone(), bucket.clone());
        tokio::spawn(async move {
            let mut leases = node(&js, &bucket, &format!("node-{i}")).await;
            leases.claim(7).await.unwrap()
        })
    });
    let claims = futures::future::join_all(racers).await;
    let taken: Vec<_> = claims
        .iter()
        .filter_map(|c| match c.as_ref().unwrap() {
            Claim::Taken(h) => Some(h.epoch),
            Claim::HeldBy { .. } | Claim::Raced => None,
        })
        .collect();
    assert_eq!(taken.len(), 1, "one owner, got {taken:?}");
    js.delete_key_value(&bucket).await.unwrap();
}

#[tokio::test]
async fn a_renewed_lease_is_never_taken_and_a_lapsed_one_is_with_a_higher_epoch() {
    let (js, bucket, a, mut b, mut held) = a_holds(1).await;
    // For three leases a renews every third of one; b keeps asking.
    let until = tokio::time::Instant::now() + LEASE * 3;
    let mut last_renewal = tokio::time::Instant::now();
    while tokio::time::Instant::now() < until {
        last_renewal = tokio::time::Instant::now();
        a.renew(&mut held).await.unwrap();
        match b.claim(1).await.unwrap() {
            Claim::HeldBy { node, .. } => assert_eq!(node, "a"),
            Claim::Raced | Claim::Taken(_) => {
                panic!("b took a shard whose lease was being renewed")
            }
        }
        tokio::time::sleep(LEASE / 3).await;
    }
    // a stops renewing (a pause, a partition): b takes over once a whole
    // lease went by without a write, as b's own clock counts from when it
    // saw a's last renewal (which was after that renewal began).
    let taken = loop {
        match b.claim(1).await.unwrap() {
            Claim::Taken(h) => break h,
            Claim::HeldBy { .. } | Claim::Raced => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
        }
    };
    assert!(
        last_renewal.elapsed() >= LEASE,
        "taken over before a lease went by"
    );
    assert!(taken.epoch > held.epoch, "{} > {}", taken.epoch, held.epoch);
    // a comes back: its renewal is refused, it has lost the shard.
    match a.renew(&mut held).await {
        Err(LeaseError::Lost { shard: 1, .. }) => {}
        other => panic!("the stale holder's renewal must fail as Lost: {other:?}"),
    }
    // And a's lease, counted from its last write, ended before b took over.
    assert!(held.valid_until(LEASE, Duration::ZERO) <= tokio::time::Instant::now());
    js.delete_key_value(&bucket).await.unwrap();
}

#[tokio::test]
async fn a_released_shard_is_free_at_once() {
    let (js, bucket, a, mut b, held) = a_holds(3).await;
    let first = held.epoch;
    assert!(matches!(b.claim(3).await.unwrap(), Claim::HeldBy { .. }));
    a.release(held).await.unwrap();
    let Claim::Taken(next) = b.claim(3).await.unwrap() else {
        panic!("a released shard is taken without waiting for a lease");
    };
    assert!(next.epoch > first);
    js.delete_key_value(&bucket).await.unwrap();
}
