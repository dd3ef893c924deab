//! The last few things that went wrong, kept in memory for the control
//! room: a bounded ring of recent WARN/ERROR-worthy events (a saga step
//! failing, a saga restarted, a batch refused). Not a log: the log keeps
//! everything, this keeps the newest [`KEPT`] so an operator sees them live.

use serde::Serialize;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use utoipa::ToSchema;

use crate::domain::time::Timestamp;

/// Incidents kept; older ones fall off.
pub const KEPT: usize = 20;

/// How bad an incident is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warn,
    Error,
}

/// One thing that went wrong.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Incident {
    pub at: Timestamp,
    pub severity: Severity,
    /// What raised it, e.g. `saga`, `persister`, `order_writer`.
    pub source: &'static str,
    /// Our own phrase (never a raw driver error).
    pub message: String,
}

/// The ring, shared by whoever reports and the control room that reads it.
/// Reporting takes a short lock: incidents are rare next to requests, and
/// the hot path never reports one.
#[derive(Clone, Default)]
pub struct Incidents {
    ring: Arc<Mutex<VecDeque<Incident>>>,
}

impl Incidents {
    pub fn warn(&self, source: &'static str, message: impl Into<String>) {
        self.push(Severity::Warn, source, message.into());
    }

    pub fn error(&self, source: &'static str, message: impl Into<String>) {
        self.push(Severity::Error, source, message.into());
    }

    fn push(&self, severity: Severity, source: &'static str, message: String) {
        let incident = Incident {
            at: Timestamp::now(),
            severity,
            source,
            message,
        };
        // A poisoned lock only means a reporter panicked mid-push: the ring
        // is still a valid ring.
        let mut ring = self.ring.lock().unwrap_or_else(|p| p.into_inner());
        if ring.len() == KEPT {
            ring.pop_front();
        }
        ring.push_back(incident);
    }

    /// The kept incidents, newest first.
    pub fn newest_first(&self) -> Vec<Incident> {
        let ring = self.ring.lock().unwrap_or_else(|p| p.into_inner());
        ring.iter().rev().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_the_newest() {
        let incidents = Incidents::default();
        for i in 0..KEPT + 5 {
            incidents.warn("test", format!("incident {i}"));
        }
        let kept = incidents.newest_first();
        assert_eq!(kept.len(), KEPT);
        assert_eq!(kept[0].message, format!("incident {}", KEPT + 4));
        assert_eq!(kept[KEPT - 1].message, "incident 5");
    }
}
