//! What the paired comparisons (`--retry-share`, `--watchers`) share: each
//! round fires the drop once plain and once treated, alternating which goes
//! first, and each side is summed up by its median.

/// Whether the treated drop goes second (`[false, true]`) or first in
/// `round`: alternating, so neither always meets a warmer server.
pub fn order(round: usize) -> [bool; 2] {
    if round.is_multiple_of(2) {
        [false, true]
    } else {
        [true, false]
    }
}

pub fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    match xs.len() {
        0 => 0.0,
        n if n % 2 == 1 => xs[n / 2],
        n => (xs[n / 2 - 1] + xs[n / 2]) / 2.0,
    }
}
