//! Password hashing with argon2id, bounded. Each hash or check is CPU-heavy
//! (tens of ms) and takes ~19 MiB, so it runs on the blocking pool, never on
//! an async worker, and only a few at once: a semaphore with one permit per
//! core (by default). A request that cannot get a permit within the
//! configured wait is answered `503 OVERLOADED` (with `Retry-After`)
//! instead of queueing threads and memory without bound. Unknown accounts
//! are checked against a dummy hash so timing does not reveal which emails
//! exist.

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::{OnceCell, OwnedSemaphorePermit, Semaphore};

use super::ApiError;
use crate::prometheus::PASSWORD_HASHES_IN_FLIGHT;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// Every hashing slot stayed taken for the whole wait.
    #[error("too many password checks at once; retry shortly")]
    Busy,
    #[error("password hashing failed: {0}")]
    Failed(String),
}

impl From<PasswordError> for ApiError {
    fn from(e: PasswordError) -> Self {
        match e {
            PasswordError::Busy => ApiError::Busy,
            PasswordError::Failed(why) => ApiError::Internal(why),
        }
    }
}

/// The bounded hasher; cheap to clone, one per process.
#[derive(Clone)]
pub struct Passwords {
    inner: Arc<Inner>,
}

struct Inner {
    permits: Arc<Semaphore>,
    wait: Duration,
    in_flight: AtomicUsize,
    peak: AtomicUsize,
    dummy: OnceCell<String>,
}

impl Passwords {
    /// At most `concurrency` hashes at once (0: one per core); a caller
    /// waits at most `wait` for its turn.
    pub fn new(concurrency: usize, wait: Duration) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let permits = if concurrency == 0 { cores } else { concurrency };
        Self {
            inner: Arc::new(Inner {
                permits: Arc::new(Semaphore::new(permits)),
                wait,
                in_flight: AtomicUsize::new(0),
                peak: AtomicUsize::new(0),
                dummy: OnceCell::new(),
            }),
        }
    }

    /// Hashes a password (argon2id, random salt).
    pub async fn hash(&self, password: String) -> Result<String, PasswordError> {
        self.run(move || {
            Argon2::default()
                .hash_password(password.as_bytes())
                .map(|h| h.to_string())
                .map_err(|e| PasswordError::Failed(format!("hashing password: {e}")))
        })
        .await?
    }

    /// Checks `password` against `hash`; against a dummy hash when there is
    /// no account, which takes as long and always fails.
    pub async fn verify(
        &self,
        password: String,
        hash: Option<String>,
    ) -> Result<bool, PasswordError> {
        let (hash, real) = match hash {
            Some(h) => (h, true),
            None => (self.dummy().await?, false),
        };
        let matches = self
            .run(move || {
                Argon2::default()
                    .verify_password(password.as_bytes(), hash.as_str())
                    .is_ok()
            })
            .await?;
        Ok(real && matches)
    }

    /// The most hashes that ran at once since start (for tests and tuning).
    pub fn peak_in_flight(&self) -> usize {
        self.inner.peak.load(Ordering::Acquire)
    }

    async fn dummy(&self) -> Result<String, PasswordError> {
        self.inner
            .dummy
            .get_or_try_init(|| self.hash(uuid::Uuid::new_v4().to_string()))
            .await
            .cloned()
    }

    /// Runs `work` on the blocking pool once a permit is ours. The permit
    /// moves into the blocking task: a caller that goes away does not free
    /// its slot before the hash it started is done.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, PasswordError> {
        let permit = self.permit().await?;
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let _counted = InFlight::enter(&inner);
            work()
        })
        .await
        .map_err(|e| PasswordError::Failed(format!("hash task: {e}")))
    }

    async fn permit(&self) -> Result<OwnedSemaphorePermit, PasswordError> {
        let acquire = Arc::clone(&self.inner.permits).acquire_owned();
        // `timeout` polls the acquisition first, so a zero wait still takes
        // a free permit.
        match tokio::time::timeout(self.inner.wait, acquire).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(closed)) => Err(PasswordError::Failed(closed.to_string())),
            Err(_) => Err(PasswordError::Busy),
        }
    }
}

/// Counts one running hash, in the peak and the gauge, while it lives.
struct InFlight<'a>(&'a Inner);

impl<'a> InFlight<'a> {
    fn enter(inner: &'a Inner) -> Self {
        let now = inner.in_flight.fetch_add(1, Ordering::AcqRel) + 1;
        inner.peak.fetch_max(now, Ordering::AcqRel);
        metrics::gauge!(PASSWORD_HASHES_IN_FLIGHT).increment(1.0);
        Self(inner)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
        metrics::gauge!(PASSWORD_HASHES_IN_FLIGHT).decrement(1.0);
    }
}
