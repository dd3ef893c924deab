//! The reserve intake: purchases waiting for one SKU actor, handed to it
//! all at once.
//!
//! One ractor call per purchase costs a boxed message, a mailbox wake-up
//! and a turn of the actor for every buyer. In a drop thousands wait at
//! the same instant, so callers queue here instead, and only the caller
//! who finds the queue empty sends the actor a wake-up
//! ([`SkuMsg::Intake`](super::sku::SkuMsg::Intake)). The actor takes
//! everything queued in one turn, decides it in arrival order, hands the
//! changes to the persister in one message and answers each caller on its
//! own oneshot.
//!
//! Invariant: while the queue holds a request, a wake-up is on its way or
//! being handled (the actor empties the queue on every wake-up, and the
//! next push after that sends one). When the actor ends, its state's drop
//! [`Intake::close`]s the queue: what it holds was never decided and is
//! answered `Retired`, which the `Inventory` handle retries on a fresh
//! actor.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::oneshot;

use super::error::InventoryError;
use super::registry::SkuStats;
use super::sku::Held;
use crate::domain::ledger::ReserveRequest;

/// A reserve request and where its answer goes.
pub struct Waiting {
    pub request: ReserveRequest,
    pub reply: oneshot::Sender<Result<Held, InventoryError>>,
}

impl Waiting {
    pub fn answer(self, result: Result<Held, InventoryError>) {
        // A caller that gave up (timed out) is not an error here.
        let _ = self.reply.send(result);
    }
}

/// What [`Intake::push`] did with a request.
pub enum Queued {
    /// Queued into an empty queue: the caller must wake the actor.
    Wake,
    /// Queued behind others: a wake-up is already on its way.
    Joined,
    /// The actor has ended; the request is handed back undecided.
    Closed(Waiting),
}

#[derive(Default)]
struct Queue {
    waiting: Vec<Waiting>,
    closed: bool,
}

/// One SKU actor's queue of reserve requests.
pub struct Intake {
    queue: Mutex<Queue>,
    /// Each queued request counts in the SKU's mailbox depth.
    stats: Arc<SkuStats>,
}

impl Intake {
    pub fn new(stats: Arc<SkuStats>) -> Self {
        Self {
            queue: Mutex::default(),
            stats,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        // Nothing panics while holding the lock; a poisoned one is intact.
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn push(&self, waiting: Waiting) -> Queued {
        let mut queue = self.lock();
        if queue.closed {
            return Queued::Closed(waiting);
        }
        queue.waiting.push(waiting);
        if queue.waiting.len() == 1 {
            Queued::Wake
        } else {
            Queued::Joined
        }
    }

    /// True once the actor has ended.
    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Everything queued, in arrival order, now the actor's to decide.
    pub fn take(&self) -> Vec<Waiting> {
        let batch = std::mem::take(&mut self.lock().waiting);
        self.stats
            .in_flight
            .fetch_sub(batch.len() as i64, Ordering::Relaxed);
        batch
    }

    /// Refuses every later push and answers what is queued `Retired`: it
    /// was never decided, so the caller may send it to a fresh actor.
    pub fn close(&self) {
        let undecided = {
            let mut queue = self.lock();
            queue.closed = true;
            std::mem::take(&mut queue.waiting)
        };
        self.stats
            .in_flight
            .fetch_sub(undecided.len() as i64, Ordering::Relaxed);
        for waiting in undecided {
            waiting.answer(Err(InventoryError::Retired));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::{ReservationId, UserId};
    use crate::domain::quantity::Quantity;
    use std::time::Duration;

    fn waiting(n: i64) -> (Waiting, oneshot::Receiver<Result<Held, InventoryError>>) {
        let (reply, answer) = oneshot::channel();
        let request = ReserveRequest {
            id: ReservationId::parse(format!("r{n}")).expect("id"),
            user: UserId::new(n),
            quantity: Quantity::new(1).expect("quantity"),
            ttl: Duration::from_secs(60),
            again: false,
        };
        (Waiting { request, reply }, answer)
    }

    /// The in-flight count is raised by the caller before it pushes.
    fn push(intake: &Intake, w: Waiting) -> Queued {
        intake.stats.in_flight.fetch_add(1, Ordering::Relaxed);
        intake.push(w)
    }

    #[test]
    fn only_the_first_of_a_batch_wakes_the_actor() {
        let intake = Intake::new(Arc::default());
        assert!(matches!(push(&intake, waiting(1).0), Queued::Wake));
        assert!(matches!(push(&intake, waiting(2).0), Queued::Joined));
        assert!(matches!(push(&intake, waiting(3).0), Queued::Joined));
        let batch = intake.take();
        let users: Vec<i64> = batch.iter().map(|w| w.request.user.get()).collect();
        assert_eq!(users, [1, 2, 3], "arrival order");
        assert_eq!(intake.stats.in_flight.load(Ordering::Relaxed), 0);
        // Taken: the next push must wake the actor again.
        assert!(matches!(push(&intake, waiting(4).0), Queued::Wake));
    }

    #[test]
    fn closing_answers_the_undecided_retired_and_refuses_later_pushes() {
        let intake = Intake::new(Arc::default());
        let (first, mut answer) = waiting(1);
        push(&intake, first);
        intake.close();
        assert!(matches!(
            answer.try_recv(),
            Ok(Err(InventoryError::Retired))
        ));
        assert!(intake.is_closed());
        assert!(matches!(push(&intake, waiting(2).0), Queued::Closed(_)));
        assert_eq!(intake.stats.in_flight.load(Ordering::Relaxed), 1);
    }
}
