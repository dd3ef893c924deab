//! Reproducible randomness for the simulated providers: the same seed, order
//! and operation always roll the same number, so a failing run can be
//! replayed exactly and a retried call sees the same fate.

use std::hash::{BuildHasher, Hasher};

/// A number in `[0, 1)` fixed by `(seed, order, operation)`.
pub fn roll(seed: u64, order: &str, operation: &str) -> f64 {
    let mut h = foldhash::fast::FixedState::with_seed(seed).build_hasher();
    h.write(order.as_bytes());
    h.write_u8(0xff);
    h.write(operation.as_bytes());
    // The top 53 bits make an evenly spread f64.
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rolls_are_reproducible_and_spread() {
        assert_eq!(roll(7, "o-1", "authorize"), roll(7, "o-1", "authorize"));
        assert_ne!(roll(7, "o-1", "authorize"), roll(8, "o-1", "authorize"));
        let n = 20_000;
        let under_tenth = (0..n)
            .filter(|i| roll(42, &format!("o-{i}"), "authorize") < 0.1)
            .count();
        // 10% of 20,000 = 2,000; the binomial spread is about 42.
        assert!((1_800..2_200).contains(&under_tenth), "{under_tenth}");
        assert!((0..n).all(|i| (0.0..1.0).contains(&roll(1, &i.to_string(), "x"))));
    }
}
