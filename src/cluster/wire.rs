//! What a stock call forwarded to a shard's owner looks like on NATS: a
//! batch of calls in one request, a batch of answers in its reply, in the
//! same order. Plain values only (ids as strings, times in milliseconds),
//! so the domain types keep their validating constructors: what arrives is
//! parsed again, and a malformed message is an error, never a guess.

use serde::{Deserialize, Serialize};

use crate::actors::stock::{Hold, InventoryError, SkuSnapshot};
use crate::domain::ids::{ReservationId, SkuId};
use crate::domain::ledger::{LedgerError, Levels, Rejection, ReservationStatus};
use crate::domain::rules::SaleRules;
use crate::domain::time::Timestamp;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Call {
    Reserve {
        sku: i64,
        id: String,
        user: i64,
        quantity: u32,
        again: bool,
    },
    Commit {
        sku: i64,
        id: String,
    },
    Release {
        sku: i64,
        id: String,
    },
    Snapshot {
        sku: i64,
    },
    Restock {
        sku: i64,
        quantity: u32,
    },
    SetRules {
        sku: i64,
        rules: SaleRules,
    },
}

impl Call {
    pub fn sku(&self) -> SkuId {
        SkuId::new(match self {
            Call::Reserve { sku, .. }
            | Call::Commit { sku, .. }
            | Call::Release { sku, .. }
            | Call::Snapshot { sku }
            | Call::Restock { sku, .. }
            | Call::SetRules { sku, .. } => *sku,
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Answer {
    Held {
        fresh: bool,
        expires_ms: i64,
    },
    Done,
    Snapshot {
        on_hand: i64,
        reserved: i64,
        sold: i64,
        available: i64,
        on_sale: bool,
        opens_ms: Option<i64>,
        closes_ms: Option<i64>,
        per_user_limit: Option<u32>,
        live_reservations: usize,
    },
    Levels {
        on_hand: i64,
        reserved: i64,
        sold: i64,
    },
    Rules(SaleRules),
}

/// Why a forwarded call did not succeed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Refusal {
    OutOfStock {
        available: i64,
    },
    NotOnSale {
        opens_ms: Option<i64>,
        closes_ms: Option<i64>,
    },
    LimitExceeded {
        limit: u32,
        held: u32,
    },
    IdReused,
    UnknownReservation(String),
    NotCommittable {
        id: String,
        status: String,
    },
    StockOverflow(u32),
    UnknownSku,
    Overloaded,
    /// Not known to be durable, or the receiving node does not own the
    /// shard (any more): retry with the same id.
    Unavailable,
}

pub type Reply = Result<Answer, Refusal>;

impl Answer {
    pub fn held(hold: Hold) -> Self {
        Answer::Held {
            fresh: hold.fresh,
            expires_ms: hold.expires_at.millis(),
        }
    }

    pub fn snapshot(s: &SkuSnapshot) -> Self {
        Answer::Snapshot {
            on_hand: s.on_hand,
            reserved: s.reserved,
            sold: s.sold,
            available: s.available,
            on_sale: s.on_sale,
            opens_ms: s.opens_at.map(Timestamp::millis),
            closes_ms: s.closes_at.map(Timestamp::millis),
            per_user_limit: s.per_user_limit,
            live_reservations: s.live_reservations,
        }
    }

    pub fn into_hold(self) -> Result<Hold, InventoryError> {
        match self {
            Answer::Held { fresh, expires_ms } => Ok(Hold {
                fresh,
                expires_at: Timestamp::from_millis(expires_ms),
            }),
            _ => Err(garbled("a hold")),
        }
    }

    pub fn into_done(self) -> Result<(), InventoryError> {
        match self {
            Answer::Done => Ok(()),
            _ => Err(garbled("an acknowledgement")),
        }
    }

    pub fn levels(l: Levels) -> Self {
        Answer::Levels {
            on_hand: l.on_hand,
            reserved: l.reserved,
            sold: l.sold,
        }
    }

    pub fn into_levels(self) -> Result<Levels, InventoryError> {
        match self {
            Answer::Levels {
                on_hand,
                reserved,
                sold,
            } => Ok(Levels {
                on_hand,
                reserved,
                sold,
            }),
            _ => Err(garbled("stock levels")),
        }
    }

    pub fn into_rules(self) -> Result<SaleRules, InventoryError> {
        match self {
            Answer::Rules(rules) => Ok(rules),
            _ => Err(garbled("sale rules")),
        }
    }

    pub fn into_snapshot(self, sku: SkuId) -> Result<SkuSnapshot, InventoryError> {
        match self {
            Answer::Snapshot {
                on_hand,
                reserved,
                sold,
                available,
                on_sale,
                opens_ms,
                closes_ms,
                per_user_limit,
                live_reservations,
            } => Ok(SkuSnapshot {
                sku_id: sku,
                on_hand,
                reserved,
                sold,
                available,
                on_sale,
                opens_at: opens_ms.map(Timestamp::from_millis),
                closes_at: closes_ms.map(Timestamp::from_millis),
                per_user_limit,
                live_reservations,
                remembered: 0,
            }),
            _ => Err(garbled("a snapshot")),
        }
    }
}

/// A reply that does not answer the call asked: a node of another version.
fn garbled(expected: &str) -> InventoryError {
    tracing::warn!(expected, "a shard's owner answered something else");
    InventoryError::Unavailable
}

impl From<&InventoryError> for Refusal {
    fn from(e: &InventoryError) -> Self {
        match e {
            InventoryError::Rejected(r) => match r {
                Rejection::OutOfStock { available } => Refusal::OutOfStock {
                    available: *available,
                },
                Rejection::NotOnSale {
                    opens_at,
                    closes_at,
                } => Refusal::NotOnSale {
                    opens_ms: opens_at.map(Timestamp::millis),
                    closes_ms: closes_at.map(Timestamp::millis),
                },
                Rejection::LimitExceeded { limit, held } => Refusal::LimitExceeded {
                    limit: *limit,
                    held: *held,
                },
                Rejection::IdReused => Refusal::IdReused,
            },
            InventoryError::Ledger(l) => match l {
                LedgerError::UnknownReservation(id) => {
                    Refusal::UnknownReservation(id.as_str().to_string())
                }
                LedgerError::NotCommittable { id, status } => Refusal::NotCommittable {
                    id: id.as_str().to_string(),
                    status: status.as_str().to_string(),
                },
                LedgerError::StockOverflow(n) => Refusal::StockOverflow(*n),
            },
            InventoryError::UnknownSku(_) => Refusal::UnknownSku,
            InventoryError::Overloaded => Refusal::Overloaded,
            InventoryError::Unavailable | InventoryError::Retired | InventoryError::Store(_) => {
                Refusal::Unavailable
            }
        }
    }
}

impl Refusal {
    pub fn into_error(self, sku: SkuId) -> InventoryError {
        let id = |raw: String| ReservationId::parse(raw).map_err(|_| garbled("a reservation id"));
        match self {
            Refusal::OutOfStock { available } => Rejection::OutOfStock { available }.into(),
            Refusal::NotOnSale {
                opens_ms,
                closes_ms,
            } => Rejection::NotOnSale {
                opens_at: opens_ms.map(Timestamp::from_millis),
                closes_at: closes_ms.map(Timestamp::from_millis),
            }
            .into(),
            Refusal::LimitExceeded { limit, held } => {
                Rejection::LimitExceeded { limit, held }.into()
            }
            Refusal::IdReused => Rejection::IdReused.into(),
            Refusal::UnknownReservation(raw) => match id(raw) {
                Ok(id) => LedgerError::UnknownReservation(id).into(),
                Err(e) => e,
            },
            Refusal::NotCommittable { id: raw, status } => {
                match (id(raw), ReservationStatus::parse(&status)) {
                    (Ok(id), Some(status)) => LedgerError::NotCommittable { id, status }.into(),
                    _ => garbled("a reservation status"),
                }
            }
            Refusal::StockOverflow(n) => LedgerError::StockOverflow(n).into(),
            Refusal::UnknownSku => InventoryError::UnknownSku(sku),
            Refusal::Overloaded => InventoryError::Overloaded,
            Refusal::Unavailable => InventoryError::Unavailable,
        }
    }
}
