//! The store's one owner. Two processes selling from one database would
//! each write their own stock counters over the other's and oversell, so
//! the table `store_owner` names one holder: its epoch, its process and its
//! lease. A process claims the store at start-up ([`Store::claim`], by the
//! rule in [`crate::domain::owner`]), renews its lease while it runs and
//! releases it when it stops. Every write-behind batch (stock, orders and
//! counters) begins with [`Store::check_owner`] inside its own transaction:
//! after a take-over the old holder's batches are rolled back before they
//! touch a row (so they cannot deadlock the new holder's) and are never
//! acknowledged, and from then on it answers `503 UNAVAILABLE`.
//!
//! Times come from the database's clock, so two machines whose clocks
//! disagree still agree on whether a lease has lapsed.

mod process;

pub use process::Process;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use sqlx::Row;

use super::{Backend, Store, StoreError};
use crate::domain::owner::{self, Holding, Verdict, Why};

/// The claim this process holds on the store.
#[derive(Debug)]
pub struct Lease {
    epoch: i64,
    lease_ms: i64,
    /// The epoch found in the store once a batch or a renewal found
    /// another (0 until then): the store was taken over and this process
    /// must not decide anything any more.
    taken_by: AtomicI64,
}

impl Lease {
    pub fn epoch(&self) -> i64 {
        self.epoch
    }

    /// How often the lease is renewed: a third of its length, so two
    /// renewals may fail before it lapses.
    pub fn renew_every(&self) -> Duration {
        Duration::from_millis(u64::try_from(self.lease_ms / 3).unwrap_or(1).max(1))
    }

    pub fn is_fenced(&self) -> bool {
        self.taken_by.load(Ordering::Relaxed) != 0
    }

    /// The refusal of a process that was taken over, if it was.
    fn refusal(&self) -> Option<StoreError> {
        let current = self.taken_by.load(Ordering::Relaxed);
        (current != 0).then(|| fenced(self.epoch, current))
    }

    /// Records that another process holds the store now (logged once).
    fn fence(&self, current: i64) -> StoreError {
        if self.taken_by.swap(current, Ordering::Relaxed) == 0 {
            tracing::error!(
                epoch = self.epoch,
                current,
                "another process took the store over: this one no longer sells \
                 (its write-behind batches are refused); stop it"
            );
        }
        fenced(self.epoch, current)
    }
}

fn fenced(ours: i64, current: i64) -> StoreError {
    StoreError::Fenced(format!(
        "this process no longer owns the store: another process took it over \
         (epoch {current}, ours {ours})"
    ))
}

/// Who asks for the store, and for how long a lease.
#[derive(Debug, Clone)]
pub struct Claimant {
    pub process: Process,
    /// Shown to whoever is refused, e.g. the address it listens on.
    pub label: String,
    pub lease: Duration,
    /// Take the store even from a live holder.
    pub force: bool,
}

/// Why a start-up could not claim the store.
#[derive(Debug, thiserror::Error)]
pub enum OwnerError {
    #[error(
        "another stampede process holds this database: {holder} (epoch {epoch}); its lease \
         lapses in {lapses_in:.1?}. Two processes on one database would oversell. Stop that \
         process, wait until its lease lapses, or set STAMPEDE_OWNER_TAKEOVER=true to take the \
         store over now (that process's write-behind batches are then refused)"
    )]
    Held {
        holder: String,
        epoch: i64,
        lapses_in: Duration,
    },
    #[error("another process claimed the store at the same moment (epoch {0}); start again")]
    Raced(i64),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Store {
    /// Claims the store for `me`, or explains who holds it.
    pub async fn claim(&self, me: &Claimant) -> Result<Arc<Lease>, OwnerError> {
        let row = sqlx::query(match self.backend {
            Backend::MySql => {
                "SELECT epoch, host, pid, started, label, renewed_at, lease_ms, \
                 CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED) AS now_ms \
                 FROM store_owner WHERE id = 1"
            }
            Backend::Sqlite => {
                "SELECT epoch, host, pid, started, label, renewed_at, lease_ms, \
                 CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) AS now_ms \
                 FROM store_owner WHERE id = 1"
            }
        })
        .fetch_one(&self.pool)
        .await
        .map_err(StoreError::from)?;
        let held = Holding {
            epoch: row.try_get("epoch").map_err(StoreError::from)?,
            renewed_at_ms: row.try_get("renewed_at").map_err(StoreError::from)?,
            lease_ms: row.try_get("lease_ms").map_err(StoreError::from)?,
        };
        let holder = Process {
            host: row.try_get("host").map_err(StoreError::from)?,
            pid: row.try_get("pid").map_err(StoreError::from)?,
            started: row.try_get("started").map_err(StoreError::from)?,
        };
        let label: String = row.try_get("label").map_err(StoreError::from)?;
        let now_ms: i64 = row.try_get("now_ms").map_err(StoreError::from)?;
        let named = format!("pid {} on {} ({label})", holder.pid, holder.host);
        let why = match owner::judge(held, now_ms, me.process.sees_ended(&holder), me.force) {
            Verdict::Take(why) => why,
            Verdict::Refuse { lapses_in } => {
                return Err(OwnerError::Held {
                    holder: named,
                    epoch: held.epoch,
                    lapses_in,
                });
            }
        };
        let epoch = held.epoch + 1;
        let lease_ms = i64::try_from(me.lease.as_millis()).unwrap_or(i64::MAX);
        let taken = sqlx::query(match self.backend {
            Backend::MySql => {
                "UPDATE store_owner SET epoch = ?, host = ?, pid = ?, started = ?, label = ?, \
                 lease_ms = ?, claimed_at = CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED), \
                 renewed_at = CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED) \
                 WHERE id = 1 AND epoch = ?"
            }
            Backend::Sqlite => {
                "UPDATE store_owner SET epoch = ?, host = ?, pid = ?, started = ?, label = ?, \
                 lease_ms = ?, \
                 claimed_at = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER), \
                 renewed_at = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) \
                 WHERE id = 1 AND epoch = ?"
            }
        })
        .bind(epoch)
        .bind(me.process.host.clone())
        .bind(me.process.pid)
        .bind(me.process.started)
        .bind(me.label.clone())
        .bind(lease_ms)
        .bind(held.epoch)
        .execute(&self.pool)
        .await
        .map_err(StoreError::from)?;
        if taken.rows_affected() != 1 {
            return Err(OwnerError::Raced(held.epoch));
        }
        match why {
            Why::Unowned => tracing::info!(epoch, "claimed the store"),
            Why::Lapsed => {
                tracing::info!(epoch, previous = %named, "claimed the store; the previous holder's lease had lapsed")
            }
            Why::HolderEnded => {
                tracing::info!(epoch, previous = %named, "claimed the store; the previous holder has ended")
            }
            Why::Forced => tracing::warn!(epoch, previous = %named,
                "took the store over from a live holder (STAMPEDE_OWNER_TAKEOVER): its write-behind batches are refused from now on"),
        }
        Ok(Arc::new(Lease {
            epoch,
            lease_ms,
            taken_by: AtomicI64::new(0),
        }))
    }

    /// This store handle, its write-behind batches checked against `lease`.
    pub fn with_lease(mut self, lease: Arc<Lease>) -> Self {
        self.lease = Some(lease);
        self
    }

    /// The claim this store handle's batches are checked against.
    pub fn lease(&self) -> Option<Arc<Lease>> {
        self.lease.clone()
    }

    /// Set when this process was taken over: it must not decide anything.
    pub fn fenced(&self) -> Option<StoreError> {
        self.lease.as_ref()?.refusal()
    }

    /// Extends this process's lease; `Fenced` once another process holds
    /// the store.
    pub async fn renew_lease(&self) -> Result<(), StoreError> {
        let Some(lease) = &self.lease else {
            return Ok(());
        };
        let renewed = sqlx::query(match self.backend {
            Backend::MySql => {
                "UPDATE store_owner SET renewed_at = CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED) \
                 WHERE id = 1 AND epoch = ?"
            }
            Backend::Sqlite => {
                "UPDATE store_owner \
                 SET renewed_at = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) \
                 WHERE id = 1 AND epoch = ?"
            }
        })
        .bind(lease.epoch)
        .execute(&self.pool)
        .await?;
        if renewed.rows_affected() == 1 {
            return Ok(());
        }
        let current: i64 = sqlx::query_scalar("SELECT epoch FROM store_owner WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        Err(lease.fence(current))
    }

    /// Gives the store up at shutdown, so the next process need not wait
    /// for the lease to lapse. Nothing to do once taken over.
    pub async fn release_lease(&self) {
        let Some(lease) = &self.lease else {
            return;
        };
        let released =
            sqlx::query("UPDATE store_owner SET renewed_at = 0 WHERE id = 1 AND epoch = ?")
                .bind(lease.epoch)
                .execute(&self.pool)
                .await;
        if let Err(e) = released {
            tracing::warn!(error = %e, "could not release the store; the next process waits for the lease to lapse");
        }
    }

    /// The fence: run first inside every write-behind batch's transaction
    /// (begun with [`Store::begin_write`]). Fails (so the batch rolls back
    /// before it wrote anything) unless this process still holds the store.
    /// On MariaDB the shared lock on the owner row, held to the commit,
    /// makes a take-over wait for batches that already passed, and batches
    /// that come later see the new epoch; on SQLite the batch holds the
    /// write lock from its start, so it reads the latest epoch. A store
    /// without a lease (tests, tools) is not fenced.
    pub(crate) async fn check_owner(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    ) -> Result<(), StoreError> {
        let Some(lease) = &self.lease else {
            return Ok(());
        };
        if let Some(refused) = lease.refusal() {
            return Err(refused);
        }
        let current: i64 = sqlx::query_scalar(match self.backend {
            Backend::MySql => "SELECT epoch FROM store_owner WHERE id = 1 LOCK IN SHARE MODE",
            Backend::Sqlite => "SELECT epoch FROM store_owner WHERE id = 1",
        })
        .fetch_one(&mut **tx)
        .await?;
        if current == lease.epoch {
            Ok(())
        } else {
            Err(lease.fence(current))
        }
    }
}
