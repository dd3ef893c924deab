//! The retry row (issue 11, item 9): the same drop fired with and without a
//! share of buyers who send every purchase several times (same key, same
//! body), on one server, in alternating order over `--rounds` rounds. The
//! comparison is on medians: HTTP requests answered per second (the bar:
//! with retries within 15% of without, i.e. a duplicate costs no more than
//! a purchase), and purchases answered per second beside it.

use std::fmt::Write as _;

use crate::paired;
use crate::report::Outcome;
use crate::{Args, prepare, run};

const SUFFIX: &str = "+retries";

pub fn retrying_buyers(args: &Args) -> usize {
    (args.retry_share * args.buyers as f64).round() as usize
}

pub fn slug(variant: &str) -> String {
    format!("{variant}{SUFFIX}")
}

pub fn label(variant: &str, args: &Args) -> String {
    format!(
        "{variant}, {:.0}% of buyers send each purchase {} times",
        args.retry_share * 100.0,
        1 + args.retries
    )
}

/// Fires `--rounds` pairs of drops on the running server of `variant`
/// (slug and label).
pub async fn compare(
    client: &reqwest::Client,
    base: &str,
    variant: (&str, &str),
    args: &Args,
) -> anyhow::Result<Vec<Outcome>> {
    let prepared = prepare(client, base, args).await?;
    let (plain, retried) = (
        (variant.0.to_string(), variant.1.to_string()),
        (slug(variant.0), label(variant.1, args)),
    );
    let mut outcomes = Vec::new();
    for round in 0..args.rounds.max(1) {
        for retries in paired::order(round) {
            let (slug, label) = if retries { &retried } else { &plain };
            let o = run(client, &[base], (slug, label), &prepared, args, retries).await?;
            outcomes.push(o);
        }
    }
    Ok(outcomes)
}

/// Per variant: medians with and without retries, and their ratio.
pub fn table(outcomes: &[Outcome]) -> String {
    let mut t = String::from(
        "| stock decision | rounds | req/s without | req/s with retries | with / without | within 15% | \
         purchases/s without | purchases/s with | retried purchases answered alike |\n\
         |---|---:|---:|---:|---:|---|---:|---:|---|\n",
    );
    let mut variants: Vec<&str> = Vec::new();
    for o in outcomes.iter().filter(|o| !o.variant.ends_with(SUFFIX)) {
        if !variants.contains(&o.variant.as_str()) {
            variants.push(&o.variant);
        }
    }
    for v in variants {
        let retried = slug(v);
        let pick = |name: &str, f: fn(&Outcome) -> f64| {
            paired::median(
                outcomes
                    .iter()
                    .filter(|o| o.variant == name)
                    .map(f)
                    .collect(),
            )
        };
        let with: Vec<&Outcome> = outcomes.iter().filter(|o| o.variant == retried).collect();
        let (rps, rps_r) = (
            pick(v, |o| o.requests_per_sec),
            pick(&retried, |o| o.requests_per_sec),
        );
        let ratio = rps_r / rps.max(1e-9);
        let label = outcomes
            .iter()
            .find(|o| o.variant == v)
            .map_or(v, |o| o.label.as_str());
        let _ = writeln!(
            t,
            "| {label} | {} | {rps:.0} | {rps_r:.0} | {ratio:.2} | {} | {:.0} | {:.0} | {}/{} |",
            with.len(),
            if ratio >= 0.85 { "yes" } else { "no" },
            pick(v, |o| o.purchases_per_sec),
            pick(&retried, |o| o.purchases_per_sec),
            with.iter()
                .map(|o| o.retried - o.disagreeing)
                .sum::<usize>(),
            with.iter().map(|o| o.retried).sum::<usize>(),
        );
    }
    t
}
