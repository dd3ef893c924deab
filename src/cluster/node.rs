//! One node of a cluster, assembled: the NATS connection, the keeper that
//! holds this node's shards (its rounds on a timer of their own), the
//! servers answering other nodes' forwarded stock calls and saga requests,
//! the stock port that routes each SKU to its owner, and the sagas' homes
//! that route each order's requests to its shard's node. The shutdown path hands every shard
//! over (drained, flushed, released) before the inventory stops, so the
//! next owners take them at once instead of after a lease.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::counters::{self, ClusterCounters};
use super::directory::ShardDirectory;
use super::forward::{ClusterStock, ForwardStats};
use super::host::NodeHost;
use super::keeper::Keeper;
use super::lease::{LeaseError, ShardLeases};
use super::membership::Membership;
use super::owners::Owners;
use super::sagas::{self, ClusterSagas, OrdersSlot};
use super::serve::Server;
use crate::actors::Inventory;
use crate::actors::counters::Counters;
use crate::actors::orders::Orders;
use crate::config::ClusterSettings;
use crate::domain::shard::NodeId;
use crate::persistence::Store;
use crate::persistence::shard_fence::HeldShards;

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("cannot reach NATS at {url}: {why}")]
    Connect { url: String, why: String },
    #[error(transparent)]
    Lease(#[from] LeaseError),
    #[error(transparent)]
    Keeper(#[from] super::keeper::KeeperError),
    #[error("cannot serve forwarded calls: {0}")]
    Subscribe(#[from] async_nats::SubscribeError),
}

/// What the rest of the process sees of the cluster.
#[derive(Clone)]
pub struct ClusterNode {
    inner: Arc<Inner>,
}

struct Inner {
    me: NodeId,
    settings: ClusterSettings,
    held: Arc<HeldShards>,
    directory: Arc<ShardDirectory>,
    stats: Arc<ForwardStats>,
    nats: async_nats::Client,
    stop: watch::Sender<bool>,
    keeper: tokio::sync::Mutex<Option<JoinHandle<()>>>,
    server: JoinHandle<()>,
    saga_server: JoinHandle<()>,
    counter_server: JoinHandle<()>,
    stock: Arc<ClusterStock>,
    sagas: Arc<ClusterSagas>,
    orders: OrdersSlot,
    counters: Arc<ClusterCounters>,
}

/// Everything [`ClusterNode::start`] needs.
pub struct Parts<'a> {
    pub me: NodeId,
    pub settings: &'a ClusterSettings,
    pub nats_url: &'a str,
    pub subject_prefix: &'a str,
    pub connect_timeout: Duration,
    /// Records the shards' epochs.
    pub store: Store,
    /// This node's SKU actors, on a store fenced by `held`.
    pub inventory: Inventory,
    pub held: Arc<HeldShards>,
    /// This node's counter actors, on a store fenced by `held`.
    pub counters: Counters,
}

impl ClusterNode {
    /// Connects, joins the roster and starts the keeper's rounds and the
    /// servers. [`ClusterNode::stock`] is the stock port orders should use
    /// and [`ClusterNode::sagas`] their sagas' homes; the orders started on
    /// them are then given back with [`ClusterNode::attach`].
    pub async fn start(parts: Parts<'_>) -> Result<Self, ClusterError> {
        let connect_error = |why: String| ClusterError::Connect {
            url: parts.nats_url.to_string(),
            why,
        };
        let nats = tokio::time::timeout(
            parts.connect_timeout,
            async_nats::ConnectOptions::new()
                .name(format!("stampede {}", parts.me))
                .retry_on_initial_connect()
                .connect(parts.nats_url),
        )
        .await
        .map_err(|_| connect_error("timed out".into()))?
        .map_err(|e| connect_error(e.to_string()))?;
        let js = async_nats::jetstream::new(nats.clone());
        let lease = parts.settings.lease();
        let bucket = &parts.settings.bucket;
        let orders = OrdersSlot::default();
        let leases = ShardLeases::open(&js, bucket, parts.me.as_str(), lease).await?;
        let members = Membership::open(&js, bucket, parts.me.clone(), lease).await?;
        let mut keeper = Keeper::new(
            parts.me.clone(),
            parts.held.count(),
            leases,
            members,
            parts.store,
            NodeHost {
                inventory: parts.inventory.clone(),
                orders: Arc::clone(&orders),
                counters: parts.counters.clone(),
                held: Arc::clone(&parts.held),
            },
        );
        keeper.join().await?;
        let directory = keeper.directory();
        let stats = Arc::new(ForwardStats::default());
        let owners = Arc::new(Owners {
            held: Arc::clone(&parts.held),
            directory: Arc::clone(&directory),
            me: parts.me.clone(),
            nats: nats.clone(),
            prefix: parts.subject_prefix.to_string(),
            timeout: parts.settings.forward_timeout(),
        });
        let server = Server {
            inventory: parts.inventory.clone(),
            held: Arc::clone(&parts.held),
            stats: Arc::clone(&stats),
        }
        .run(&owners)
        .await?;
        let saga_server = sagas::serve(&owners, Arc::clone(&orders)).await?;
        let counter_server = counters::serve(&owners, parts.counters.clone()).await?;
        let (stop, stopped) = watch::channel(false);
        let keeper = tokio::spawn(keep(keeper, stopped));
        let stock = Arc::new(ClusterStock {
            local: parts.inventory,
            owners: Arc::clone(&owners),
            links: Default::default(),
            stats: Arc::clone(&stats),
        });
        let sagas = Arc::new(ClusterSagas {
            owners: Arc::clone(&owners),
            lease,
        });
        let counters = Arc::new(ClusterCounters {
            local: parts.counters,
            owners,
        });
        tracing::info!(node = %parts.me, shards = parts.held.count().get(), "joined the cluster");
        let node = Self {
            inner: Arc::new(Inner {
                me: parts.me,
                settings: parts.settings.clone(),
                held: parts.held,
                directory,
                stats,
                nats,
                stop,
                keeper: tokio::sync::Mutex::new(Some(keeper)),
                server,
                saga_server,
                counter_server,
                stock,
                sagas,
                orders,
                counters,
            }),
        };
        Ok(node)
    }

    pub fn me(&self) -> &NodeId {
        &self.inner.me
    }

    pub fn settings(&self) -> &ClusterSettings {
        &self.inner.settings
    }

    pub fn held(&self) -> &HeldShards {
        &self.inner.held
    }

    pub fn directory(&self) -> &ShardDirectory {
        &self.inner.directory
    }

    /// The stock routed to each SKU's owner (restock and sale rules too).
    pub fn stock(&self) -> &Arc<ClusterStock> {
        &self.inner.stock
    }

    /// Where each order's saga runs, for the orders' `SagaDeps`.
    pub fn sagas(&self) -> &Arc<ClusterSagas> {
        &self.inner.sagas
    }

    /// Likes and follows routed to the node deciding each target.
    pub fn counters(&self) -> &Arc<ClusterCounters> {
        &self.inner.counters
    }

    /// Gives the node the orders started on it: from now on it answers
    /// other nodes' saga requests and stops a shard's sagas when the shard
    /// is handed over.
    pub fn attach(&self, orders: Orders) {
        if self.inner.orders.set(orders).is_err() {
            tracing::warn!("the cluster node was given its orders twice; kept the first");
        }
    }

    pub fn stats(&self) -> &ForwardStats {
        &self.inner.stats
    }

    /// The connection to NATS, for what else talks to the other nodes.
    pub fn nats(&self) -> &async_nats::Client {
        &self.inner.nats
    }

    /// True while the NATS connection is up.
    pub fn reaches_nats(&self) -> bool {
        self.inner.nats.connection_state() == async_nats::connection::State::Connected
    }

    /// Hands every shard over and leaves the roster; then stops serving.
    pub async fn shutdown(&self) {
        let _ = self.inner.stop.send(true);
        if let Some(keeper) = self.inner.keeper.lock().await.take()
            && let Err(e) = keeper.await
        {
            tracing::error!(error = %e, "the shard keeper ended abnormally");
        }
        self.inner.server.abort();
        self.inner.saga_server.abort();
        self.inner.counter_server.abort();
        if let Err(e) = self.inner.nats.flush().await {
            tracing::warn!(error = %e, "could not flush the NATS connection");
        }
    }
}

/// The keeper's rounds until told to stop, then a clean leave.
async fn keep(mut keeper: Keeper<NodeHost>, mut stopped: watch::Receiver<bool>) {
    let mut every = tokio::time::interval(keeper.every());
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = every.tick() => {
                if let Err(e) = keeper.round().await {
                    tracing::warn!(error = %e, "a shard keeper round failed");
                }
            }
            _ = stopped.changed() => break,
        }
    }
    if let Err(e) = keeper.leave().await {
        tracing::warn!(error = %e, "could not leave the cluster cleanly; shards move when leases lapse");
    }
}
