//! The outbox relay's reading for the control room: its in-memory status
//! (backlog, lag, broker state), never a database read per frame.

use super::pulse::OutboxGauge;
use super::snapshot::OutboxLive;
use crate::events::{BrokerState, Events};

impl OutboxGauge for Events {
    fn read(&self) -> OutboxLive {
        let view = self.view();
        OutboxLive {
            unpublished: view.pending,
            lag_ms: u64::try_from(view.lag_ms).ok().filter(|_| view.pending > 0),
            connected: view.broker == BrokerState::Up,
            broker: view.broker,
        }
    }
}
