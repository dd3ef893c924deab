//! The store: where stock, reservations, accounts and the catalog live
//! between restarts.
//!
//! One `Store` type serves both backends through sqlx's `Any` driver: our
//! columns are only BIGINT and VARCHAR, which `Any` carries losslessly, so the
//! two backends differ only in connection set-up, migrations and the upsert
//! clause (see [`Backend`]). SQLite is the zero-configuration default;
//! MySQL/MariaDB is the production store.
//!
//! Reads the store serves often are cached in memory behind a
//! [`guarded_cache`], which the HTTP catalog cache uses too, so that a read
//! racing a write never puts the old rows back.

mod activities;
mod addresses;
mod blocks;
mod cart;
mod catalog;
mod categories;
mod comments;
mod counters;
mod feed;
mod feed_index;
mod follows;
pub mod guarded_cache;
mod images;
mod inventory;
mod mail_queue;
mod missing_skus;
mod offer_cache;
mod orders;
mod outbox;
pub mod owner;
mod payment_methods;
mod posts;
mod pruning;
pub mod redacted_url;
mod reports;
mod reviews;
pub mod revocations;
mod sessions;
pub mod shard_fence;
mod simulated;
mod users;
mod verification;
mod wishlist;
mod write_set;

pub use activities::ActivityRecord;
pub use addresses::SavedAddress;
pub use blocks::BlockRecord;
pub use cart::{CartLine, CartSet};
pub use catalog::{PatchOutcome, ProductPage};
pub use categories::{CategoryDelete, CategoryWrite};
pub use comments::{CommentChange, CommentRecord, NewComment};
pub use counters::{CounterRow, Membership};
pub use feed::FeedPage;
pub use follows::{FollowEntry, FollowSide, SocialCounts};
pub use images::ImageAdd;
pub use inventory::StoredSku;
pub use mail_queue::{MailCounts, MailFailure, NewMail, QueuedMail};
pub use orders::{
    NewOrder, OrderEventRecord, OrderLine, OrderRecord, OrderWrite, Outcome, SellerLine,
    SellerOrder, SkuOffer, Transition,
};
pub use outbox::{Backlog, OutboxRow};
pub use payment_methods::SavedCard;
pub use posts::{PostChange, PostRecord};
pub use pruning::Pruned;
pub use reports::{ReportAdd, ReportRecord, ReportResolve};
pub use reviews::{ReviewAdd, ReviewRecord};
pub use revocations::RevocationCache;
pub use sessions::{RevokeReason, Rotation};
pub use simulated::{SimLedger, SimRecord};
pub use users::UserRecord;
pub use verification::{CodeCheck, NewCode};
pub use wishlist::{WishlistAdd, WishlistEntry};
pub use write_set::WriteSet;

use crate::domain::ids::SkuId;
use missing_skus::MissingSkus;
use offer_cache::OfferCache;
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::migrate::MigrateDatabase;
use sqlx::{Any, AnyPool, Executor};
use std::sync::Arc;
use std::time::Duration;

/// Which database a URL points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    MySql,
}

impl Backend {
    pub fn from_url(url: &str) -> Result<Self, StoreError> {
        let scheme = url.split(':').next().unwrap_or_default();
        match scheme {
            "sqlite" => Ok(Self::Sqlite),
            "mysql" | "mariadb" => Ok(Self::MySql),
            other => Err(StoreError::UnsupportedUrl(other.to_string())),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported DATABASE_URL scheme `{0}` (use sqlite:// or mysql://)")]
    UnsupportedUrl(String),
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    /// A part of ours that writes to the store has stopped.
    #[error("{0}")]
    Unavailable(String),
    /// A unique key refused the row: `what` names the taken value.
    #[error("{0} is already taken")]
    Duplicate(&'static str),
    /// Another process took the store over: this one's batches are refused.
    #[error("{0}")]
    Fenced(String),
}

/// How long a start waits for another process's migrations.
const MIGRATION_LOCK_WAIT_SECS: i64 = 120;

impl StoreError {
    /// True when the store answered and refused the rows themselves (a
    /// constraint, a trigger, a bad value): writing them again fails again.
    /// False when it could not be reached, was busy or shutting down, or
    /// belongs to another process: nothing is wrong with the rows.
    pub fn blames_the_data(&self) -> bool {
        match self {
            StoreError::Database(sqlx::Error::Database(e)) => !passes(e.as_ref()),
            StoreError::Database(e) => {
                matches!(e, sqlx::Error::Encode(_) | sqlx::Error::TypeNotFound { .. })
            }
            StoreError::Corrupt(_) | StoreError::Duplicate(_) => true,
            StoreError::Migrate(_)
            | StoreError::UnsupportedUrl(_)
            | StoreError::Unavailable(_)
            | StoreError::Fenced(_) => false,
        }
    }

    /// Maps a unique-key violation to `Duplicate(what)`; other errors pass.
    pub(crate) fn unique(e: sqlx::Error, what: &'static str) -> Self {
        match e.as_database_error() {
            Some(db) if db.is_unique_violation() => StoreError::Duplicate(what),
            _ => StoreError::Database(e),
        }
    }
}

/// Answers a server gives whatever the rows are: too many connections,
/// shutting down, lock wait timeout, deadlock, gone away, lost connection
/// (MySQL and MariaDB numbers); busy and locked (SQLite primary codes).
fn passes(e: &dyn sqlx::error::DatabaseError) -> bool {
    if let Some(my) = e.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        return matches!(my.number(), 1040 | 1053 | 1205 | 1213 | 2006 | 2013);
    }
    e.code()
        .and_then(|code| code.parse::<i32>().ok())
        .is_some_and(|code| matches!(code & 0xff, 5 | 6))
}

/// A handle to the database; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    offers: Arc<OfferCache>,
    /// This process's claim on the store, checked by every write-behind
    /// batch; `None` for a store that never claimed it (tests, tools).
    lease: Option<Arc<owner::Lease>>,
    /// In cluster mode, the shards this node writes stock for: every stock
    /// batch is fenced by their epochs.
    shards: Option<Arc<shard_fence::HeldShards>>,
    /// How long MariaDB lets a transaction of this store stand idle.
    idle_transactions: Option<Duration>,
    missing_skus: Arc<MissingSkus>,
    /// Rung after a commit that appended events: wakes the outbox relay.
    outbox_signal: Arc<tokio::sync::Notify>,
    feed_index: Arc<feed_index::FeedIndex>,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static MYSQL_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/mysql");

impl Store {
    /// Connects to `url`. A SQLite file is created when missing; it runs in
    /// WAL mode with full fsync, so a committed batch survives SIGKILL and
    /// power loss alike.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        Self::connect_limited(url, max_connections, None).await
    }

    /// Like [`Store::connect`]; on MariaDB, with `idle_transactions` set,
    /// the server ends any of these connections whose transaction stood
    /// idle that long (`idle_transaction_timeout`). A cluster node paused
    /// in the middle of a batch (SIGSTOP, a long GC-like stall) would
    /// otherwise keep that batch's locks, the shard fence's among them, and
    /// the shard's next owner could neither record its epoch nor write
    /// until the pause ended. Servers without the variable (Oracle MySQL)
    /// refuse the connection: start-up fails with the server's error.
    pub async fn connect_limited(
        url: &str,
        max_connections: u32,
        idle_transactions: Option<Duration>,
    ) -> Result<Self, StoreError> {
        install_default_drivers();
        let backend = Backend::from_url(url)?;
        let mut url = url.replacen("mariadb://", "mysql://", 1);
        if backend == Backend::Sqlite && !url.contains("mode=") {
            url.push_str(if url.contains('?') {
                "&mode=rwc"
            } else {
                "?mode=rwc"
            });
        }
        let options = AnyPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(5));
        let options = match backend {
            Backend::Sqlite => options.after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute(
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                         PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;",
                    )
                    .await?;
                    Ok(())
                })
            }),
            Backend::MySql => match idle_transactions {
                Some(idle) => {
                    // Whole seconds, rounded up: never shorter than asked.
                    let secs = idle.as_millis().div_ceil(1000).max(1);
                    options.after_connect(move |conn, _| {
                        Box::pin(async move {
                            conn.execute(sqlx::AssertSqlSafe(format!(
                                "SET SESSION idle_transaction_timeout = {secs}"
                            )))
                            .await?;
                            Ok(())
                        })
                    })
                }
                None => options,
            },
        };
        if backend == Backend::MySql && !Any::database_exists(&url).await? {
            // A fresh server only needs the URL: the database is ours to create.
            Any::create_database(&url).await?;
        }
        let pool = options.connect(&url).await?;
        Ok(Self {
            pool,
            backend,
            offers: Arc::default(),
            lease: None,
            shards: None,
            idle_transactions,
            missing_skus: Arc::default(),
            outbox_signal: Arc::default(),
            feed_index: Arc::default(),
        })
    }

    /// This store on its own pool of `max_connections` to the same
    /// database, sharing this one's caches (what one invalidates, the other
    /// no longer answers) and its fences (the whole-store lease, the shards
    /// held): its batches are refused when this one's would be.
    pub async fn with_own_pool(&self, url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let own = Self::connect_limited(url, max_connections, self.idle_transactions).await?;
        Ok(Self {
            lease: self.lease.clone(),
            shards: self.shards.clone(),
            offers: Arc::clone(&self.offers),
            missing_skus: Arc::clone(&self.missing_skus),
            outbox_signal: Arc::clone(&self.outbox_signal),
            feed_index: Arc::clone(&self.feed_index),
            ..own
        })
    }

    /// True when the store recently found no SKU `sku` and none has been
    /// created since: asking again would find none either.
    pub fn is_missing_sku(&self, sku: SkuId) -> bool {
        self.missing_skus.contains(sku)
    }

    /// Forgets the offers and missing SKUs remembered: another node wrote
    /// the catalog.
    pub fn forget_cached_catalog(&self) {
        self.offers.invalidate();
        self.missing_skus.forget_all();
    }

    /// Brings the schema up to date; safe to run on every start.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&self.pool).await?,
            Backend::MySql => {
                // sqlx's own migration lock does not hold through the Any
                // driver: nodes of a cluster started together each applied
                // the first migration, and all but one failed their start.
                // A named lock of the session running them serialises them.
                let mut conn = self.pool.acquire().await?;
                let locked: Option<i64> =
                    sqlx::query_scalar("SELECT GET_LOCK('stampede_migrations', ?)")
                        .bind(MIGRATION_LOCK_WAIT_SECS)
                        .fetch_one(&mut *conn)
                        .await?;
                if locked != Some(1) {
                    return Err(StoreError::Unavailable(format!(
                        "another process held the migration lock for {MIGRATION_LOCK_WAIT_SECS} s"
                    )));
                }
                let migrated = MYSQL_MIGRATIONS.run(&mut *conn).await;
                let _ = sqlx::query("SELECT RELEASE_LOCK('stampede_migrations')")
                    .execute(&mut *conn)
                    .await;
                migrated?;
            }
        }
        Ok(())
    }

    /// Answers when the database does (readiness probe).
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Begins a transaction that reads, then writes. On SQLite it takes the
    /// write lock up front (`BEGIN IMMEDIATE`): a deferred transaction whose
    /// read snapshot is overtaken by another writer (the mail queue, the
    /// persister) fails with `SQLITE_BUSY_SNAPSHOT` instead of waiting.
    pub async fn begin_write(&self) -> Result<sqlx::Transaction<'static, Any>, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::MySql => self.pool.begin().await,
        }
    }

    /// The pool itself, for tests and benchmarks that inspect rows directly.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Runs an INSERT and returns the id the database assigned. `Any` does
    /// not surface SQLite's rowid, so the id is read back on the same
    /// connection.
    pub(crate) async fn insert_returning_id<'q>(
        &self,
        insert: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    ) -> Result<i64, StoreError> {
        let mut conn = self.pool.acquire().await?;
        self.insert_on(&mut conn, insert).await
    }

    /// `insert_returning_id` on a given connection, e.g. inside a transaction.
    pub(crate) async fn insert_on<'q>(
        &self,
        conn: &mut sqlx::AnyConnection,
        insert: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    ) -> Result<i64, StoreError> {
        insert.execute(&mut *conn).await?;
        let read_back = match self.backend {
            Backend::Sqlite => "SELECT last_insert_rowid()",
            Backend::MySql => "SELECT LAST_INSERT_ID()",
        };
        let id: i64 = sqlx::query_scalar(read_back).fetch_one(&mut *conn).await?;
        Ok(id)
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}
