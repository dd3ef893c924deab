//! The cluster as this node sees it: which node owns each shard, under
//! which epoch, how long since its lease was last renewed, and how many
//! stock calls this node forwarded to owners and served for others.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::cluster::node::ClusterNode;
use crate::http::AppState;
use crate::http::auth::Admin;
use crate::http::problem::Problem;

#[derive(Debug, Serialize, ToSchema)]
pub struct ClusterView {
    /// `single` (one process owns the store) or `cluster`.
    pub mode: &'static str,
    /// This node's id (`STAMPEDE_NODE_ID`); `null` for a single process.
    pub node: Option<String>,
    pub shard_count: u32,
    pub lease_ms: u64,
    /// Every node that owns a shard, as last read here.
    pub nodes: Vec<NodeShards>,
    pub shards: Vec<ShardView>,
    pub forwarding: ForwardingView,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NodeShards {
    pub node: String,
    pub shards: Vec<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ShardView {
    pub shard: u32,
    /// `null` while no node holds it (between a release and a take).
    pub owner: Option<String>,
    /// For a shard held here, the fencing epoch recorded in the database;
    /// for another node's, the revision its lease key was last read at.
    pub revision: Option<u64>,
    /// How long since the lease key last moved, as seen from here.
    pub lease_age_ms: Option<u64>,
    pub held_here: bool,
    /// Held here and being handed over.
    pub closing: bool,
}

#[derive(Debug, Default, Serialize, ToSchema)]
pub struct ForwardingView {
    /// Stock calls sent to other nodes, and the requests that carried them.
    pub calls_sent: u64,
    pub batches_sent: u64,
    /// Requests that got no answer (their calls were answered 503).
    pub failed_batches: u64,
    /// Stock calls answered for other nodes, and their requests.
    pub calls_served: u64,
    pub batches_served: u64,
}

impl ClusterView {
    fn single() -> Self {
        Self {
            mode: "single",
            node: None,
            shard_count: 0,
            lease_ms: 0,
            nodes: Vec::new(),
            shards: Vec::new(),
            forwarding: ForwardingView::default(),
        }
    }

    fn of(node: &ClusterNode) -> Self {
        let held: BTreeMap<u32, (i64, bool)> = node
            .held()
            .held()
            .into_iter()
            .map(|(h, closing)| (h.shard.get(), (h.epoch, closing)))
            .collect();
        let mut nodes: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        let shards = node
            .directory()
            .all()
            .into_iter()
            .map(|(shard, seen)| {
                let here = held.get(&shard.get());
                if let Some(seen) = &seen {
                    nodes
                        .entry(seen.node.clone())
                        .or_default()
                        .push(shard.get());
                }
                ShardView {
                    shard: shard.get(),
                    owner: seen.as_ref().map(|s| s.node.clone()),
                    revision: here
                        .and_then(|(epoch, _)| u64::try_from(*epoch).ok())
                        .or(seen.as_ref().map(|s| s.revision)),
                    lease_age_ms: seen
                        .as_ref()
                        .map(|s| u64::try_from(s.age().as_millis()).unwrap_or(u64::MAX)),
                    held_here: here.is_some(),
                    closing: here.is_some_and(|(_, closing)| *closing),
                }
            })
            .collect();
        let stats = node.stats();
        Self {
            mode: "cluster",
            node: Some(node.me().to_string()),
            shard_count: node.held().count().get(),
            lease_ms: node.settings().lease_ms,
            nodes: nodes
                .into_iter()
                .map(|(node, shards)| NodeShards { node, shards })
                .collect(),
            shards,
            forwarding: ForwardingView {
                calls_sent: stats.calls.load(Ordering::Relaxed),
                batches_sent: stats.batches.load(Ordering::Relaxed),
                failed_batches: stats.failed_batches.load(Ordering::Relaxed),
                calls_served: stats.served_calls.load(Ordering::Relaxed),
                batches_served: stats.served_batches.load(Ordering::Relaxed),
            },
        }
    }
}

/// The cluster as this node sees it (`mode: single` outside cluster mode).
#[utoipa::path(
    tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, body = ClusterView),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 403, description = "`FORBIDDEN`", body = Problem),
    )
)]
#[get("/admin/cluster")]
pub async fn cluster(_admin: Admin, state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(match &state.cluster {
        Some(node) => ClusterView::of(node),
        None => ClusterView::single(),
    })
}
