//! Parts held apart: when a batch keeps failing and the store blames the
//! rows, the batch is split by [`Commit::Part`] until the part it refuses
//! is found. That part's writes wait here, with every later write of the
//! same part (so they commit in order), and are retried alone on a slow
//! backoff, while every other part commits as usual.
//!
//! A part in quarantine answers at once: its writers hear
//! [`Refused::Retrying`], and a barrier on it (or on the whole writer) is
//! refused, since what came before it is not committed.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde::Serialize;
use utoipa::ToSchema;

use super::{Ack, Commit, Entry, Refused};
use crate::domain::time::Timestamp;
use crate::persistence::StoreError;

const BACKOFF_START: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// A part whose writes the store refuses, as operators see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Quarantined {
    /// Which part (for stock, the SKU id).
    pub part: String,
    /// The store's last answer to this part's writes, written alone.
    pub error: String,
    pub since: Timestamp,
    /// Writes held back, waiting for the store to take them.
    pub writes: usize,
    /// How often the part was written alone and refused.
    pub attempts: u32,
}

struct Held<C: Commit> {
    entries: Vec<Entry<C>>,
    error: String,
    since: Timestamp,
    attempts: u32,
    retry_at: Instant,
    backoff: Duration,
}

pub(super) struct Quarantine<C: Commit> {
    held: HashMap<C::Part, Held<C>>,
}

impl<C: Commit> Default for Quarantine<C> {
    fn default() -> Self {
        Self {
            held: HashMap::new(),
        }
    }
}

impl<C: Commit> Quarantine<C> {
    pub(super) fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// A barrier on `part` (or, with `None`, on everything) cannot be
    /// answered "committed" while this holds writes it waits for.
    pub(super) fn blocks(&self, part: Option<&C::Part>) -> bool {
        match part {
            Some(part) => self.held.contains_key(part),
            None => !self.held.is_empty(),
        }
    }

    /// Takes a new write of a held part and gives back its ack (its caller
    /// is to hear it is not committed, once the report shows the write);
    /// gives back any other write whole.
    pub(super) fn admit(&mut self, mut entry: Entry<C>) -> Result<Option<Ack<C::Error>>, Entry<C>> {
        let Some(held) = entry.part.as_ref().and_then(|p| self.held.get_mut(p)) else {
            return Err(entry);
        };
        let ack = entry.ack.take();
        held.entries.push(entry);
        Ok(ack)
    }

    /// Holds `part`'s writes apart after the store refused them alone.
    pub(super) fn hold(&mut self, part: C::Part, entries: Vec<Entry<C>>, error: &StoreError) {
        let mut entries = entries;
        for entry in &mut entries {
            if let Some(ack) = entry.ack.take() {
                ack(Err(C::refusal(Refused::Retrying)));
            }
        }
        // Barriers on the part were just answered; only writes wait.
        entries.retain(|e| e.write.is_some());
        tracing::error!(writer = C::WRITER, part = %part, error = %error, writes = entries.len(),
            "the store refuses this part's writes; holding them apart while the rest commit");
        self.held.insert(
            part,
            Held {
                entries,
                error: error.to_string(),
                since: Timestamp::now(),
                attempts: 1,
                retry_at: Instant::now() + BACKOFF_START,
                backoff: BACKOFF_START,
            },
        );
    }

    /// Parts whose retry is due (every part when `force`).
    pub(super) fn due(&self, now: Instant, force: bool) -> Vec<C::Part> {
        self.held
            .iter()
            .filter(|(_, h)| force || h.retry_at <= now)
            .map(|(p, _)| p.clone())
            .collect()
    }

    /// When the next retry is due.
    pub(super) fn next_due(&self) -> Option<Instant> {
        self.held.values().map(|h| h.retry_at).min()
    }

    pub(super) fn writes(&self, part: &C::Part) -> Vec<&C::Write> {
        self.held
            .get(part)
            .map(|h| h.entries.iter().filter_map(|e| e.write.as_ref()).collect())
            .unwrap_or_default()
    }

    /// The part's writes committed: lets it go.
    pub(super) fn release(&mut self, part: &C::Part) -> Vec<Entry<C>> {
        let Some(held) = self.held.remove(part) else {
            return Vec::new();
        };
        tracing::info!(writer = C::WRITER, part = %part, writes = held.entries.len(),
            attempts = held.attempts, "a held part's writes committed; it is no longer held");
        held.entries
    }

    /// The part was refused again: waits longer before the next try.
    pub(super) fn refused_again(&mut self, part: &C::Part, error: &StoreError) {
        if let Some(held) = self.held.get_mut(part) {
            held.attempts += 1;
            held.error = error.to_string();
            held.backoff = (held.backoff * 2).min(BACKOFF_MAX);
            held.retry_at = Instant::now() + held.backoff;
            tracing::warn!(writer = C::WRITER, part = %part, error = %error,
                attempts = held.attempts, retry_in = ?held.backoff, "a held part was refused again");
        }
    }

    pub(super) fn report(&self) -> Vec<Quarantined> {
        let mut out: Vec<Quarantined> = self
            .held
            .iter()
            .map(|(part, h)| Quarantined {
                part: part.to_string(),
                error: h.error.clone(),
                since: h.since,
                writes: h.entries.len(),
                attempts: h.attempts,
            })
            .collect();
        out.sort_by(|a, b| a.part.cmp(&b.part));
        out
    }
}
