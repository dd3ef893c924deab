//! First answers of keys placed moments ago, kept in memory so that retries
//! in a burst are answered before the order writer. Without it every retry
//! hands its order to the writer only to be skipped as a duplicate, and on
//! SQLite (one writer) the buyers who did not retry wait behind those.
//!
//! The first request with a key claims it and publishes its answer once it
//! is final (a refusal at once, an acceptance once its row is committed);
//! requests with the same key and body meanwhile wait for that answer.
//! Anything else (another body, a first try that ended without an answer,
//! a key claimed long ago) takes the full path, which reads the row.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::watch;

use super::placing::Placement;
use super::writer::Lost;
use crate::domain::ids::OrderId;

/// How long an answer is kept: a burst's retries come within seconds; a
/// later retry reads the order row instead.
const KEEP_FOR: Duration = Duration::from_secs(30);
/// Most keys kept; past it the oldest half-minute is dropped (and, if the
/// burst is larger still, everything: the row answers those).
const KEEP_MAX: usize = 50_000;

type Answer = Option<Placement>;

struct Entry {
    fingerprint: String,
    at: Instant,
    answer: watch::Receiver<Answer>,
}

/// The keys claimed lately, shared by every placement of the process.
#[derive(Clone, Default)]
pub struct Answered {
    entries: Arc<Mutex<HashMap<OrderId, Entry>>>,
}

/// What a placement learns about its key.
pub enum Claim {
    /// This request is the first: it publishes the key's answer.
    First(Publisher),
    /// An earlier request with the same body has the answer, or will.
    Earlier(watch::Receiver<Answer>),
    /// Claimed with another body: the full path decides (and answers that
    /// the key was reused).
    Elsewhere,
}

/// The first request's side of a claim. Dropped without publishing (an
/// error, a 503, a cancelled request), it lets the waiters take the full path.
pub struct Publisher {
    id: OrderId,
    sender: watch::Sender<Answer>,
    answered: Answered,
}

impl Answered {
    /// Claims `id` for a request whose body hashes to `fingerprint`.
    pub fn claim(&self, id: OrderId, fingerprint: &str) -> Claim {
        let mut entries = self.lock();
        let now = Instant::now();
        if let Some(e) = entries.get(&id)
            && now.duration_since(e.at) < KEEP_FOR
        {
            if e.fingerprint != fingerprint {
                return Claim::Elsewhere;
            }
            // A first try that ended without an answer closed its channel:
            // this request claims the key afresh.
            if e.answer.borrow().is_some() || e.answer.has_changed().is_ok() {
                return Claim::Earlier(e.answer.clone());
            }
        }
        if entries.len() >= KEEP_MAX {
            entries.retain(|_, e| now.duration_since(e.at) < KEEP_FOR);
            if entries.len() >= KEEP_MAX {
                entries.clear();
            }
        }
        let (sender, answer) = watch::channel(None);
        entries.insert(
            id,
            Entry {
                fingerprint: fingerprint.to_string(),
                at: now,
                answer,
            },
        );
        Claim::First(Publisher {
            id,
            sender,
            answered: self.clone(),
        })
    }

    /// Forgets `id`: its refusal could not be recorded, so a retry must
    /// take the full path and record it.
    pub fn forget(&self, id: OrderId) {
        self.lock().remove(&id);
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<OrderId, Entry>> {
        // The map holds no invariant a panicking holder could break.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Publisher {
    /// Publishes the key's final answer to every waiting and later retry.
    pub fn publish(self, answer: &Placement) {
        self.sender.send_replace(Some(answer.clone()));
    }

    /// A handle that forgets the key, for a write that lands later.
    pub fn forgetter(&self) -> Lost {
        let (answered, id) = (self.answered.clone(), self.id);
        Box::new(move || answered.forget(id))
    }
}

/// Waits up to `timeout` for the answer of an earlier request with the key;
/// `None` when it ended without one.
pub async fn earlier(mut answer: watch::Receiver<Answer>, timeout: Duration) -> Option<Placement> {
    let got = tokio::time::timeout(timeout, answer.wait_for(Option::is_some)).await;
    match got {
        Ok(Ok(a)) => a.clone(),
        _ => None,
    }
}
