//! Builds the whole service once, for `main` and for the tests: store and
//! migrations, admin bootstrap, actor system, HTTP server. The shutdown path
//! lives here too: stop accepting requests, then flush every batch.

use actix_web::dev::Server;
use actix_web::{App, HttpServer, middleware, web};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::task::TaskTracker;
use tracing_actix_web::TracingLogger;

use crate::actors::orders::homes::SagaHomes;
use crate::actors::orders::saga::SagaDeps;
use crate::actors::orders::writer::OrderWriter;
use crate::actors::{CommentWriter, Counters, Inventory, Orders, StockPort};
use crate::admin_bootstrap::{AdminBootstrapError, bootstrap_admin};
use crate::cluster::{self, node::ClusterNode};
use crate::config::{AckMode, Settings};
use crate::domain::shard::{NodeId, ShardCount};
use crate::events::Events;
use crate::http::account_budget::AccountBudget;
use crate::http::auth::TokenKeys;
use crate::http::catalog_cache::CatalogCache;
use crate::http::live::{self, Live};
use crate::http::metrics_token::MetricsToken;
use crate::http::passwords::Passwords;
use crate::http::peers::Peers;
use crate::http::rate_limit::RateLimits;
use crate::http::sessions::Sessions;
use crate::http::shared_budget::SharedBudgets;
use crate::http::verification::Verifier;
use crate::http::{self, AppState};
use crate::mail::Mail;
use crate::media::Media;
use crate::persistence::owner::{Claimant, Process};
use crate::persistence::shard_fence::HeldShards;
use crate::persistence::{Backend, RevocationCache, Store, StoreError};
use crate::providers::{SimulatedPayments, SimulatedShipments};
use crate::secrets::{DEVELOPMENT_MODE_WARNING, SecretError, TokenSecrets};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Store(#[from] crate::persistence::StoreError),
    #[error(transparent)]
    Actors(#[from] crate::actors::stock::inventory::StartError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Counters(#[from] crate::actors::counters::handle::StartError),
    #[error(transparent)]
    Orders(#[from] crate::actors::orders::handle::OrdersStartError),
    #[error("could not give back orphaned holds: {0}")]
    Orphans(#[from] crate::actors::OrderError),
    #[error(transparent)]
    CommentWriter(#[from] crate::actors::comment_writer::StartError),
    #[error(transparent)]
    OrderWriter(#[from] crate::actors::orders::writer::StartError),
    #[error(transparent)]
    Redis(#[from] crate::persistence::revocations::RedisUnavailable),
    #[error(transparent)]
    Metrics(#[from] crate::prometheus::RecorderError),
    #[error(transparent)]
    Owner(#[from] crate::persistence::owner::OwnerError),
    #[error(transparent)]
    Admin(#[from] AdminBootstrapError),
    #[error(transparent)]
    Secrets(#[from] SecretError),
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Media(#[from] crate::media::MediaError),
    #[error(transparent)]
    Mail(#[from] crate::mail::TransportError),
    #[error(transparent)]
    Cluster(#[from] crate::cluster::node::ClusterError),
}

pub struct Application {
    port: u16,
    server: Server,
    orders: Orders,
    writer: OrderWriter,
    inventory: Inventory,
    /// The community's hot counters; drained after the inventory.
    counters: Counters,
    /// Comments' group commit; drained with the other writers.
    comments: CommentWriter,
    /// In cluster mode: hands the shards over before the inventory stops.
    cluster: Option<ClusterNode>,
    store: Store,
    passwords: Passwords,
    pruner: tokio::task::JoinHandle<()>,
    table_pruner: tokio::task::JoinHandle<()>,
    /// Applies the other nodes' notes (cluster mode).
    notes: Option<tokio::task::JoinHandle<()>>,
    /// The outbox relay and sale clock; stopped after the last drain.
    events: Events,
    /// The mail notifier and sender; stopped after the events.
    mail: Mail,
    /// Renews this process's lease on the store until shutdown ends.
    lease_keeper: tokio::task::JoinHandle<()>,
    /// The control room's feed; closed first at shutdown so that open
    /// streams never hold the server up.
    live: Live,
    /// Closes the feed when a stop signal arrives.
    signals: tokio::task::JoinHandle<()>,
}

/// Stops the application: ends the control room's streams, then stops the
/// HTTP server (which then drains as [`Application::run_until_stopped`]
/// describes). Use it instead of the bare server handle.
#[derive(Clone)]
pub struct StopHandle {
    server: actix_web::dev::ServerHandle,
    live: Live,
}

impl StopHandle {
    pub async fn stop(&self, graceful: bool) {
        self.live.close();
        self.server.stop(graceful).await;
    }
}

impl Application {
    /// Connects, migrates, bootstraps the admin, starts the actors and binds
    /// the listener. Must run inside the main tokio runtime: the actors are
    /// spawned here, never from a request handler.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        Self::build_with_stock(settings, None).await
    }

    /// Like [`Application::build`], with the stock decisions of orders and
    /// availability reads taken by `stock` instead of the SKU actors. Only the
    /// flash-sale load tool uses this, to measure the classic designs through
    /// the same HTTP stack.
    pub async fn build_with_stock(
        settings: Settings,
        stock: Option<Arc<dyn StockPort>>,
    ) -> Result<Self, StartupError> {
        let metrics = crate::prometheus::install()?;
        let checked = check_settings(&settings)?;
        let clustered = checked.node.is_some();
        // A paused node's open batch must not hold its locks past a lease.
        let idle_limit = clustered.then(|| settings.cluster.lease());
        let store = Store::connect_limited(
            &settings.database_url,
            settings.database_max_connections,
            idle_limit,
        )
        .await?;
        if clustered && store.backend() != Backend::MySql {
            return Err(StartupError::Config(
                "cluster mode (STAMPEDE_NODE_ID) needs a MySQL/MariaDB DATABASE_URL: \
                 the nodes share one database, and SQLite is one process's file"
                    .into(),
            ));
        }
        store.migrate().await?;
        if clustered {
            // No claim on the whole store: each shard is fenced on its own.
            return Self::assemble(settings, checked, stock, store, metrics).await;
        }
        // Before anything is written: a second process must not even
        // bootstrap the admin while another one owns the store.
        let lease = store
            .claim(&Claimant {
                process: Process::current(),
                label: format!("listening on {}", settings.bind),
                lease: settings.owner.lease(),
                force: settings.owner.takeover,
            })
            .await?;
        let store = store.with_lease(lease);
        let built = Self::assemble(settings, checked, stock, store.clone(), metrics).await;
        if built.is_err() {
            store.release_lease().await;
        }
        built
    }

    /// Everything after the claim on the store.
    async fn assemble(
        settings: Settings,
        checked: Checked,
        stock: Option<Arc<dyn StockPort>>,
        store: Store,
        metrics: metrics_exporter_prometheus::PrometheusHandle,
    ) -> Result<Self, StartupError> {
        let Checked {
            node,
            secrets,
            metrics_token,
        } = checked;
        let revocations = match &settings.redis_url {
            Some(url) => RevocationCache::connect(url).await?,
            None => RevocationCache::disabled(),
        };
        let sessions = Sessions::new(
            &secrets.refresh,
            Duration::from_secs(settings.refresh_token_ttl_secs),
            store.clone(),
            revocations,
        );
        let passwords = Passwords::new(
            settings.rate_limit.hash_concurrency,
            Duration::from_millis(settings.rate_limit.hash_wait_ms),
        );
        bootstrap_admin(&store, &sessions, &passwords, &settings).await?;
        // On MySQL the inventory engine gets connections of its own: its
        // group commits must never queue behind catalog, account or order
        // traffic. SQLite has one writer anyway, and its busy-wait is not
        // fair, so there the shared pool's FIFO queue serves the engine best.
        let held = node
            .as_ref()
            .map(|_| Arc::new(HeldShards::new(cluster_shards(&settings))));
        // The relay and the mail sender run where shard 0 is (Store::leads).
        let store = match &held {
            Some(held) => store.with_shards(Arc::clone(held)),
            None => store,
        };
        let inventory_store = match store.backend() {
            Backend::MySql => {
                store
                    .with_own_pool(&settings.database_url, settings.inventory.connections)
                    .await?
            }
            Backend::Sqlite => store.clone(),
        };
        let inventory = Inventory::start(inventory_store, settings.inventory.clone()).await?;
        // The counters' batches and loads likewise get connections of their
        // own on MySQL: a like storm must not starve checkout, nor the
        // other way round. In a cluster they are fenced like stock.
        let counters_store = match store.backend() {
            Backend::MySql => {
                store
                    .with_own_pool(&settings.database_url, settings.counters.connections)
                    .await?
            }
            Backend::Sqlite => store.clone(),
        };
        let counters = Counters::start(counters_store, settings.counters.clone()).await?;
        let cluster = match node.zip(held) {
            Some((me, held)) => Some(
                ClusterNode::start(cluster::node::Parts {
                    me,
                    settings: &settings.cluster,
                    nats_url: settings.nats.url.as_deref().unwrap_or_default(),
                    subject_prefix: &settings.nats.subject_prefix,
                    connect_timeout: settings.nats.timeout(),
                    store: store.clone(),
                    inventory: inventory.clone(),
                    held,
                    counters: counters.clone(),
                })
                .await?,
            ),
            None => None,
        };
        let comments = CommentWriter::start(store.clone()).await?;
        let tokens = TokenKeys::new(
            &secrets.access,
            Duration::from_secs(settings.access_token_ttl_secs),
        );
        // Tokens issued before a recent logout everywhere may still be alive.
        let recent = crate::domain::time::Timestamp::now().minus(tokens.ttl());
        for (user, at) in store.access_revocations_since(recent).await? {
            tokens.revocations().revoke(user, at);
        }
        let verifier = Verifier::new(&secrets.access, &settings.verification, &settings.bind);
        let stock = match (stock, &cluster) {
            (Some(stock), _) => stock,
            (None, Some(node)) => Arc::clone(node.stock()) as Arc<dyn StockPort>,
            (None, None) => Arc::new(inventory.clone()),
        };
        let behind = TaskTracker::new();
        let writer = OrderWriter::start(store.clone(), &settings.orders).await?;
        let orders = Orders::start(SagaDeps {
            store: store.clone(),
            inventory: Arc::clone(&stock),
            payments: Arc::new(SimulatedPayments::new(
                settings.payments.clone(),
                store.clone(),
                behind.clone(),
            )),
            shipments: Arc::new(SimulatedShipments::new(
                settings.shipments.clone(),
                store.clone(),
            )),
            settings: settings.orders.clone(),
            writer: writer.clone(),
            reservation_ttl: settings.inventory.reservation_ttl(),
            behind,
            gauges: Default::default(),
            incidents: Default::default(),
            homes: cluster
                .as_ref()
                .map(|node| Arc::clone(node.sagas()) as Arc<dyn SagaHomes>),
        })
        .await?;
        if let Some(node) = &cluster {
            node.attach(orders.clone());
        }
        // Before the listener exists: no purchase of ours is in flight. In
        // a cluster other nodes' purchases are, so orphans lapse with the
        // reservation TTL instead.
        if cluster.is_none() {
            orders.release_orphaned_holds().await?;
        }
        let mail = Mail::start(store.clone(), &settings.mail)?;
        let events = Events::start(store.clone(), &settings.nats, &settings.outbox);
        let live = Live::start(live::Sources {
            inventory: inventory.clone(),
            orders: orders.clone(),
            outbox: Some(Arc::new(events.clone())),
        });
        let media = Media::new(&settings.media)?;
        tracing::info!(store = %media.store.describe(), "media store");
        // A cluster with Redis shares its request budgets (DESIGN).
        let shared_budgets = match (&cluster, &settings.redis_url) {
            (Some(_), Some(url)) => {
                Some(SharedBudgets::connect(url, &settings.cluster.bucket).await?)
            }
            _ => None,
        };
        let peers = cluster.as_ref().map(|node| {
            Peers::new(
                node.nats().clone(),
                &settings.nats.subject_prefix,
                node.me().as_str(),
            )
        });
        let state = web::Data::new(AppState {
            inventory: inventory.clone(),
            stock,
            orders: orders.clone(),
            counters: counters.clone(),
            comments: comments.clone(),
            cluster: cluster.clone(),
            store: store.clone(),
            tokens,
            sessions,
            limits: RateLimits::new(&settings.rate_limit, shared_budgets.as_ref()),
            passwords: passwords.clone(),
            accounts: AccountBudget::new(&settings.rate_limit, shared_budgets.as_ref()),
            catalog: CatalogCache::with_peers(peers.clone()),
            peers: peers.clone(),
            metrics,
            metrics_token,
            events: events.clone(),
            live: live.clone(),
            media,
            require_verified_email: settings.require_verified_email,
            verifier,
            mail: mail.clone(),
        });
        let notes = match &peers {
            Some(peers) => Some(
                http::peer_listener::listen(peers.clone(), state.clone())
                    .await
                    .map_err(crate::cluster::node::ClusterError::from)?,
            ),
            None => None,
        };
        let pruner = tokio::spawn(prune_rate_limits(state.clone()));
        let table_pruner = tokio::spawn(prune_tables(store.clone(), settings.clone()));
        let lease_keeper = tokio::spawn(keep_lease(store.clone()));
        let listener = TcpListener::bind(&settings.bind).map_err(|source| StartupError::Bind {
            addr: settings.bind.clone(),
            source,
        })?;
        let port = listener
            .local_addr()
            .map_err(|source| StartupError::Bind {
                addr: settings.bind.clone(),
                source,
            })?
            .port();
        let mut server = HttpServer::new(move || {
            App::new()
                .wrap(middleware::from_fn(http::metrics::record))
                .wrap(TracingLogger::<http::stamp::RootSpan>::new())
                .wrap(middleware::from_fn(http::stamp::stamp))
                .app_data(state.clone())
                .configure(http::configure)
        })
        .shutdown_timeout(10)
        // A drop queues thousands of requests at once; the default 5 s to
        // read a request would answer some of them a bare 408.
        .client_request_timeout(Duration::from_secs(30));
        if let Some(workers) = settings.http_workers {
            server = server.workers(workers);
        }
        let server = server
            .listen(listener)
            .map_err(|source| StartupError::Bind {
                addr: settings.bind.clone(),
                source,
            })?
            .run();
        // actix-web stops on SIGTERM, SIGINT and SIGQUIT by itself; this
        // only ends the control room's streams when one arrives.
        let signals = tokio::spawn(close_on_signal(live.clone()));
        tracing::info!(port, backend = ?store.backend(), ack = ?settings.inventory.ack, "stampede listening");
        Ok(Self {
            port,
            server,
            orders,
            writer,
            inventory,
            counters,
            comments,
            cluster,
            store,
            passwords,
            pruner,
            table_pruner,
            notes,
            events,
            mail,
            lease_keeper,
            live,
            signals,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn inventory(&self) -> &Inventory {
        &self.inventory
    }

    pub fn orders(&self) -> &Orders {
        &self.orders
    }

    /// The bounded password hasher (its peak concurrency, for tests).
    pub fn passwords(&self) -> &Passwords {
        &self.passwords
    }

    /// Stops the server (and the control room's streams first).
    pub fn server_handle(&self) -> StopHandle {
        StopHandle {
            server: self.server.handle(),
            live: self.live.clone(),
        }
    }

    /// Serves until SIGTERM/SIGINT (or a stop through the server handle),
    /// then drains: in-flight requests finish, pending batches commit.
    pub async fn run_until_stopped(self) -> Result<(), std::io::Error> {
        let served = self.server.await;
        self.live.close();
        self.signals.abort();
        self.pruner.abort();
        self.table_pruner.abort();
        if let Some(notes) = &self.notes {
            notes.abort();
        }
        // Sagas stop between steps; each resumes from its recorded step.
        self.orders.shutdown().await;
        // Every order write handed over so far is committed or answered.
        if let Err(e) = self.writer.shutdown().await {
            tracing::error!(error = %e, "order writer shutdown flush incomplete");
        }
        tracing::info!("HTTP server stopped; flushing pending decisions");
        // Shards handed over (drained, flushed, released) before the
        // inventory stops, so their next owners need not wait for a lease.
        if let Some(cluster) = &self.cluster {
            cluster.shutdown().await;
        }
        if let Err(e) = self.inventory.shutdown().await {
            tracing::error!(error = %e, "shutdown flush incomplete");
        }
        if let Err(e) = self.counters.shutdown().await {
            tracing::error!(error = %e, "counters shutdown flush incomplete");
        }
        if let Err(e) = self.comments.shutdown().await {
            tracing::error!(error = %e, "comment writer shutdown flush incomplete");
        }
        // After every drain: what they appended goes out now if it can.
        self.events.shutdown().await;
        // Then the mails of what they appended are queued, and what is due sent.
        self.mail.shutdown().await;
        // Held through the drains above; the next process need not wait.
        self.lease_keeper.abort();
        self.store.release_lease().await;
        self.store.close().await;
        tracing::info!("stampede stopped");
        served
    }
}

/// Refuses order settings that would break the saga's promises.
fn check_order_settings(settings: &Settings) -> Result<(), StartupError> {
    if settings.orders.payment_window_ms >= settings.inventory.reservation_ttl_ms {
        return Err(StartupError::Config(
            "orders.payment_window_ms must be shorter than inventory.reservation_ttl_ms, \
             or reservations would expire under orders still waiting for payment"
                .into(),
        ));
    }
    if settings.retention.keep() < settings.inventory.idempotency_window() {
        return Err(StartupError::Config(
            "retention.keep_hours must cover inventory.idempotency_window_secs, \
             or a retry inside the window could be judged afresh"
                .into(),
        ));
    }
    if settings.orders.writer_batch_max == 0 {
        return Err(StartupError::Config(
            "orders.writer_batch_max must be at least 1".into(),
        ));
    }
    if settings.orders.resume_concurrency == 0 {
        return Err(StartupError::Config(
            "orders.resume_concurrency must be at least 1".into(),
        ));
    }
    if settings.orders.writer_queue_max < settings.orders.writer_batch_max {
        return Err(StartupError::Config(
            "orders.writer_queue_max must be at least orders.writer_batch_max".into(),
        ));
    }
    let rates = [
        ("payments.decline_rate", settings.payments.decline_rate),
        ("payments.timeout_rate", settings.payments.timeout_rate),
        (
            "payments.late_callback_rate",
            settings.payments.late_callback_rate,
        ),
        ("shipments.failure_rate", settings.shipments.failure_rate),
        ("shipments.timeout_rate", settings.shipments.timeout_rate),
    ];
    for (key, rate) in rates {
        if !(0.0..=1.0).contains(&rate) {
            return Err(StartupError::Config(format!(
                "{key} must be between 0 and 1"
            )));
        }
    }
    Ok(())
}

/// This node's id when `STAMPEDE_NODE_ID` asks for cluster mode, with
/// what cluster mode requires checked (the database's kind is checked once
/// connected).
fn check_cluster_settings(settings: &Settings) -> Result<Option<NodeId>, StartupError> {
    let Some(raw) = &settings.node_id else {
        return Ok(None);
    };
    let me =
        NodeId::parse(raw).map_err(|e| StartupError::Config(format!("STAMPEDE_NODE_ID: {e}")))?;
    if settings.nats.url.is_none() {
        return Err(StartupError::Config(
            "cluster mode (STAMPEDE_NODE_ID) needs STAMPEDE_NATS_URL: shard leases \
             and forwarded calls go through NATS"
                .into(),
        ));
    }
    if settings.inventory.ack == AckMode::Memory {
        return Err(StartupError::Config(
            "cluster mode refuses inventory.ack = memory: a node that lost its shard \
             while paused would already have acknowledged what the fence then refuses"
                .into(),
        ));
    }
    ShardCount::new(settings.cluster.shards)
        .map_err(|e| StartupError::Config(format!("cluster.shards: {e}")))?;
    if settings.cluster.lease_ms < 500 {
        return Err(StartupError::Config(
            "cluster.lease_ms must be at least 500".into(),
        ));
    }
    Ok(Some(me))
}

/// The shard count, checked by [`check_cluster_settings`] already.
fn cluster_shards(settings: &Settings) -> ShardCount {
    ShardCount::new(settings.cluster.shards).unwrap_or_default()
}

fn check_owner_settings(settings: &Settings) -> Result<(), StartupError> {
    if settings.owner.lease_ms < 1_000 {
        return Err(StartupError::Config(
            "owner.lease_ms must be at least 1000".into(),
        ));
    }
    Ok(())
}

/// What start-up takes from the settings alone, checked before anything
/// is touched: a process that will not start must not migrate, nor claim
/// (or take over) the store.
struct Checked {
    node: Option<NodeId>,
    secrets: TokenSecrets,
    metrics_token: Option<MetricsToken>,
}

/// Every check that needs nothing but the settings.
fn check_settings(settings: &Settings) -> Result<Checked, StartupError> {
    check_order_settings(settings)?;
    let node = check_cluster_settings(settings)?;
    if node.is_none() {
        check_owner_settings(settings)?;
    }
    check_rate_limit_settings(settings)?;
    let development = settings.development_mode();
    if development {
        tracing::warn!("{DEVELOPMENT_MODE_WARNING}");
    }
    let secrets = TokenSecrets::from_settings(settings, development)?;
    let metrics_token = settings
        .metrics_token
        .as_deref()
        .map(MetricsToken::new)
        .transpose()
        .map_err(StartupError::Config)?;
    Ok(Checked {
        node,
        secrets,
        metrics_token,
    })
}

/// Refuses a forwarded-for set-up that could never name a client.
fn check_rate_limit_settings(settings: &Settings) -> Result<(), StartupError> {
    let limits = &settings.rate_limit;
    if limits.trust_forwarded_for && limits.trusted_proxies.is_empty() {
        return Err(StartupError::Config(
            "rate_limit.trust_forwarded_for needs rate_limit.trusted_proxies: \
             the addresses of the proxies whose X-Forwarded-For is believed"
                .into(),
        ));
    }
    Ok(())
}

/// Renews this process's lease on the store for as long as it runs. A
/// renewal that fails on the database is tried again at the next tick (the
/// lease outlasts two missed renewals); once another process has taken the
/// store over there is nothing left to renew.
async fn keep_lease(store: Store) {
    let Some(lease) = store.lease() else {
        return;
    };
    let mut every = tokio::time::interval(lease.renew_every());
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    every.tick().await;
    loop {
        every.tick().await;
        match store.renew_lease().await {
            Ok(()) => {}
            Err(StoreError::Fenced(_)) => return,
            Err(e) => tracing::warn!(error = %e, "could not renew the lease on the store"),
        }
    }
}

/// Closes the control room's feed at the first stop signal, so open
/// streams end while actix-web drains its connections.
async fn close_on_signal(live: Live) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let kinds = [
            SignalKind::terminate(),
            SignalKind::interrupt(),
            SignalKind::quit(),
        ];
        let mut streams = Vec::new();
        for kind in kinds {
            match signal(kind) {
                Ok(s) => streams.push(s),
                Err(e) => tracing::warn!(error = %e, "cannot listen for a stop signal"),
            }
        }
        if streams.is_empty() {
            return;
        }
        let waits = streams.iter_mut().map(|s| Box::pin(s.recv()));
        futures::future::select_all(waits).await;
    }
    #[cfg(not(unix))]
    {
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
    }
    live.close();
}

/// Prunes idle rate-limit buckets every minute (governor keeps every key
/// it has seen until told otherwise).
async fn prune_rate_limits(state: web::Data<AppState>) {
    let mut every = tokio::time::interval(Duration::from_secs(60));
    loop {
        every.tick().await;
        state.limits.prune();
        state.accounts.prune();
        state.verifier.prune();
        state.tokens.revocations().prune(state.tokens.ttl());
    }
}

/// Deletes finished rows older than the retention, and published events
/// older than the outbox's (without a broker, every event that old), on a
/// timer (the first pass one period after start, so start-up stays quick).
async fn prune_tables(store: Store, settings: Settings) {
    let retention = settings.retention;
    let mut every = tokio::time::interval(retention.every());
    every.tick().await;
    loop {
        every.tick().await;
        // On a cluster the leading node prunes for all.
        if !store.leads() {
            continue;
        }
        let now = crate::domain::time::Timestamp::now();
        match store.prune(now.minus(retention.keep())).await {
            Ok(pruned) => tracing::info!(?pruned, "pruned finished rows"),
            Err(e) => tracing::warn!(error = %e, "pruning failed; trying again next period"),
        }
        let unpublished_too = settings.nats.url.is_none();
        match store
            .prune_outbox(now.minus(settings.outbox.keep()), unpublished_too)
            .await
        {
            Ok(events) => tracing::info!(events, "pruned old outbox events"),
            Err(e) => tracing::warn!(error = %e, "outbox pruning failed; trying again next period"),
        }
    }
}
