//! Three nodes keeping 16 shards over a real NATS and a real MariaDB: every
//! shard is served by exactly one node, never two at once; a node that dies
//! (no hand-over) has its shards served elsewhere within a lease and one
//! second, under higher epochs recorded in the database; a node that stops
//! cleanly hands its shards over at once.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream;
use common::TestDb;
use stampede::cluster::keeper::{Keeper, ShardHost};
use stampede::cluster::lease::ShardLeases;
use stampede::cluster::membership::Membership;
use stampede::domain::shard::{NodeId, ShardCount, ShardId};
use stampede::persistence::Store;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Long beside the rounds (a tenth of it) and beside the 1 s the issue
/// allows on top of it: a keeper that only started counting a dead node's
/// leases at its death would take two leases and miss that bound.
const LEASE: Duration = Duration::from_secs(2);
const SHARDS: u32 = 16;

/// Who serves each shard, across the three nodes.
#[derive(Default)]
struct Served {
    by: Mutex<BTreeMap<ShardId, BTreeSet<String>>>,
    /// Times a shard was opened while another node served it.
    twice: AtomicUsize,
}

impl Served {
    fn owners(&self) -> BTreeMap<ShardId, BTreeSet<String>> {
        self.by.lock().unwrap().clone()
    }

    /// The node died: what it served is served no more.
    fn forget(&self, node: &str) {
        for nodes in self.by.lock().unwrap().values_mut() {
            nodes.remove(node);
        }
    }
}

struct Host {
    node: String,
    served: Arc<Served>,
}

impl ShardHost for Host {
    async fn open(&self, shard: ShardId, _epoch: i64) {
        let mut by = self.served.by.lock().unwrap();
        let nodes = by.entry(shard).or_default();
        if !nodes.is_empty() {
            self.served.twice.fetch_add(1, Ordering::SeqCst);
        }
        nodes.insert(self.node.clone());
    }

    async fn close(&self, shard: ShardId) {
        if let Some(nodes) = self.served.by.lock().unwrap().get_mut(&shard) {
            nodes.remove(&self.node);
        }
    }
}

struct Node {
    stop: CancellationToken,
    task: JoinHandle<Keeper<Host>>,
}

async fn start(name: &str, bucket: &str, store: &Store, served: &Arc<Served>) -> Node {
    let client = async_nats::connect(common::nats::shared_url())
        .await
        .unwrap();
    let js = jetstream::new(client);
    let me = NodeId::parse(name).unwrap();
    let leases = ShardLeases::open(&js, &format!("{bucket}_S"), name, LEASE)
        .await
        .unwrap();
    let members = Membership::open(&js, &format!("{bucket}_N"), me.clone(), LEASE)
        .await
        .unwrap();
    let host = Host {
        node: name.into(),
        served: served.clone(),
    };
    let count = ShardCount::new(SHARDS).unwrap();
    let mut keeper = Keeper::new(me, count, leases, members, store.clone(), host);
    keeper.join().await.unwrap();
    let stop = CancellationToken::new();
    let until = stop.clone();
    let task = tokio::spawn(async move {
        loop {
            if let Err(e) = keeper.round().await {
                tracing::warn!(error = %e, "round failed");
            }
            tokio::select! {
                () = tokio::time::sleep(keeper.every()) => {}
                () = until.cancelled() => return keeper,
            }
        }
    });
    Node { stop, task }
}

/// Waits (bounded) until every shard is served by one node of `nodes`.
async fn settled(served: &Served, nodes: &[&str], within: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let owners = served.owners();
        let done = owners.len() == SHARDS as usize
            && owners
                .values()
                .all(|n| n.len() == 1 && nodes.contains(&n.iter().next().unwrap().as_str()));
        if done {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "not settled on {nodes:?} within {within:?}: {owners:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn recorded(store: &Store) -> BTreeMap<i64, (i64, String)> {
    let rows: Vec<(i64, i64, String)> =
        sqlx::query_as("SELECT shard, epoch, node FROM shard_epochs")
            .fetch_all(store.pool())
            .await
            .unwrap();
    rows.into_iter().map(|(s, e, n)| (s, (e, n))).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shards_stay_served_by_one_node_through_a_death_and_a_clean_stop() {
    let db = TestDb::mysql("cluster_keeper").await;
    let store = db.store().await;
    let bucket = format!(
        "T_KEEP_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    );
    let served = Arc::new(Served::default());

    let n1 = start("n1", &bucket, &store, &served).await;
    let n2 = start("n2", &bucket, &store, &served).await;
    let n3 = start("n3", &bucket, &store, &served).await;
    settled(&served, &["n1", "n2", "n3"], Duration::from_secs(15)).await;
    // All three serve some: the shards are spread.
    let spread: BTreeSet<String> = served.owners().values().flatten().cloned().collect();
    assert_eq!(spread.len(), 3, "{:?}", served.owners());
    let before = recorded(&store).await;
    let n2_shards: Vec<i64> = before
        .iter()
        .filter(|(_, (_, n))| n == "n2")
        .map(|(s, _)| *s)
        .collect();
    assert!(!n2_shards.is_empty());

    // n2 dies: no hand-over, no release.
    n2.task.abort();
    served.forget("n2");
    let took = settled(&served, &["n1", "n3"], Duration::from_secs(15)).await;
    assert!(
        took <= LEASE + Duration::from_secs(1),
        "n2's shards moved in {took:?}"
    );
    let after = recorded(&store).await;
    for shard in &n2_shards {
        let (old, new) = (&before[shard], &after[shard]);
        assert!(
            new.0 > old.0,
            "shard {shard}: epoch {} then {}",
            old.0,
            new.0
        );
        assert_ne!(new.1, "n2");
    }

    // n3 stops cleanly: its shards move without waiting for a lease.
    n3.stop.cancel();
    let keeper = n3.task.await.unwrap();
    keeper.leave().await.unwrap();
    let took = settled(&served, &["n1"], Duration::from_secs(15)).await;
    assert!(took < LEASE, "a clean hand-over waited {took:?}");

    n1.stop.cancel();
    n1.task.await.unwrap().leave().await.unwrap();
    assert_eq!(
        served.twice.load(Ordering::SeqCst),
        0,
        "a shard was served twice at once"
    );
}
