//! Who may write the store: one process at a time holds it, under an epoch
//! that grows with every change of hands and a lease the holder renews
//! while it runs. This is the rule a starting process applies to the
//! holder on record; `persistence/owner` records the claims and makes every
//! write-behind batch check the epoch.

use std::time::Duration;

/// The holder as the store records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holding {
    /// 0 while nobody has ever held the store.
    pub epoch: i64,
    /// When the holder last renewed its lease (database clock, ms); 0 once
    /// it released the store at shutdown.
    pub renewed_at_ms: i64,
    /// How long the holder's lease lasts after a renewal.
    pub lease_ms: i64,
}

/// What a starting process may do about the holder on record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Take(Why),
    /// The holder may still be running; its lease lapses in this long.
    Refuse {
        lapses_in: Duration,
    },
}

/// Why the store may be taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// Nobody ever held it.
    Unowned,
    /// The holder's lease lapsed, or it released the store when it stopped.
    Lapsed,
    /// The holder ran on this machine and its process has ended (a crash):
    /// nobody is left to renew the lease, so there is no need to wait.
    HolderEnded,
    /// The operator asked for it; the holder's batches are refused from now on.
    Forced,
}

/// The rule: take a store nobody holds or whose holder is gone (lease
/// lapsed, or seen to have ended); otherwise take it only when forced.
pub fn judge(held: Holding, now_ms: i64, holder_ended: bool, force: bool) -> Verdict {
    if held.epoch == 0 {
        return Verdict::Take(Why::Unowned);
    }
    let lapses_at = held.renewed_at_ms.saturating_add(held.lease_ms);
    if now_ms >= lapses_at {
        Verdict::Take(Why::Lapsed)
    } else if holder_ended {
        Verdict::Take(Why::HolderEnded)
    } else if force {
        Verdict::Take(Why::Forced)
    } else {
        let left = u64::try_from(lapses_at - now_ms).unwrap_or(0);
        Verdict::Refuse {
            lapses_in: Duration::from_millis(left),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HELD: Holding = Holding {
        epoch: 3,
        renewed_at_ms: 10_000,
        lease_ms: 5_000,
    };

    #[test]
    fn a_store_nobody_held_is_taken() {
        let never = Holding { epoch: 0, ..HELD };
        assert_eq!(
            judge(never, 10_001, false, false),
            Verdict::Take(Why::Unowned)
        );
    }

    #[test]
    fn a_fresh_lease_refuses_and_says_how_long_it_lasts() {
        assert_eq!(
            judge(HELD, 11_500, false, false),
            Verdict::Refuse {
                lapses_in: Duration::from_millis(3_500)
            }
        );
    }

    #[test]
    fn a_lapsed_or_released_lease_is_taken() {
        assert_eq!(
            judge(HELD, 15_000, false, false),
            Verdict::Take(Why::Lapsed)
        );
        let released = Holding {
            renewed_at_ms: 0,
            ..HELD
        };
        assert_eq!(
            judge(released, 11_000, false, false),
            Verdict::Take(Why::Lapsed)
        );
    }

    #[test]
    fn an_ended_holder_is_taken_over_without_waiting() {
        assert_eq!(
            judge(HELD, 10_001, true, false),
            Verdict::Take(Why::HolderEnded)
        );
    }

    #[test]
    fn only_force_takes_a_live_holder() {
        assert_eq!(judge(HELD, 10_001, false, true), Verdict::Take(Why::Forced));
    }
}
