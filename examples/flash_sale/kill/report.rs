//! The kill loop's figures: one record and one printed line per kill, and
//! the summary written to `--out` as JSON and Markdown.

use serde::Serialize;
use std::fmt::Write as _;
use std::path::Path;

use super::books::Books;
use super::process::Binary;
use super::{Kill, Plan, Victim};
use crate::fire::Burst;

/// One drop of the loop.
#[derive(Debug, Serialize)]
pub struct KillDrop {
    pub drop: usize,
    pub victim: Victim,
    /// The kill waited for this many purchases to be answered (drawn at
    /// random from `0..purchases`).
    pub kill_after: usize,
    /// From the opening to the SIGKILL.
    pub killed_at_ms: f64,
    /// Purchases whose final answer came before the kill.
    pub answered_before_kill: usize,
    /// From the SIGKILL to stampede answering ready again.
    pub back_after_ms: f64,
    /// Purchases sent more than once before their final answer.
    pub retried: usize,
    /// Requests sent in all, retries included.
    pub requests: usize,
    /// From the opening to the last final answer.
    pub drained_ms: f64,
    pub books: Books,
}

impl KillDrop {
    pub fn new(
        drop: usize,
        victim: Victim,
        kill_after: usize,
        kill: &Kill,
        burst: &Burst,
        books: Books,
    ) -> Self {
        Self {
            drop,
            victim,
            kill_after,
            killed_at_ms: ms(kill.at),
            answered_before_kill: burst
                .answers
                .iter()
                .filter(|a| a.is_final() && a.since_open < kill.at)
                .count(),
            back_after_ms: ms(kill.back_after),
            retried: burst.answers.iter().filter(|a| a.attempts > 1).count(),
            requests: burst.answers.iter().map(|a| a.attempts as usize).sum(),
            drained_ms: ms(burst.drained),
            books,
        }
    }

    pub fn passed(&self) -> bool {
        self.books.failures.is_empty()
    }

    fn refused(&self) -> usize {
        self.books
            .finals
            .iter()
            .filter(|(k, _)| k.starts_with("409") || k.starts_with("422"))
            .map(|(_, n)| n)
            .sum()
    }

    pub fn line(&self, of: usize) -> String {
        let b = &self.books;
        format!(
            "kill {:>3}/{of} {}: at +{:.0} ms, {} answered before | back in {:.1} s | \
             retried {} | final 201: {}, 409: {} | lost {} | oversold {} | most per buyer {} | {}",
            self.drop,
            self.victim.slug(),
            self.killed_at_ms,
            self.answered_before_kill,
            self.back_after_ms / 1000.0,
            self.retried,
            b.created,
            self.refused(),
            b.lost,
            b.oversold,
            b.most_per_buyer,
            if self.passed() { "ok" } else { "FAIL" }
        )
    }
}

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The whole loop.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub victim: Victim,
    pub kills: usize,
    pub passed: usize,
    pub purchases_per_drop: usize,
    pub stock: i64,
    pub buyers: usize,
    pub per_user_limit: i64,
    pub seed: u64,
    pub binary: String,
    pub created: usize,
    pub refused: usize,
    pub retried: usize,
    pub lost: usize,
    pub oversold: i64,
    pub never_final: usize,
    pub back_after_p50_ms: f64,
    pub back_after_max_ms: f64,
    pub drops: Vec<KillDrop>,
}

impl Summary {
    pub fn new(plan: &Plan<'_>, binary: &Binary, drops: Vec<KillDrop>) -> Self {
        let mut back: Vec<f64> = drops.iter().map(|d| d.back_after_ms).collect();
        back.sort_by(f64::total_cmp);
        Self {
            victim: plan.victim,
            kills: drops.len(),
            passed: drops.iter().filter(|d| d.passed()).count(),
            purchases_per_drop: plan.purchases,
            stock: plan.stock,
            buyers: plan.buyers,
            per_user_limit: plan.per_user_limit,
            seed: plan.seed,
            binary: binary.path.display().to_string(),
            created: drops.iter().map(|d| d.books.created).sum(),
            refused: drops.iter().map(KillDrop::refused).sum(),
            retried: drops.iter().map(|d| d.retried).sum(),
            lost: drops.iter().map(|d| d.books.lost).sum(),
            oversold: drops.iter().map(|d| d.books.oversold).sum(),
            never_final: drops
                .iter()
                .flat_map(|d| &d.books.failures)
                .filter(|f| f.contains("never got a final answer"))
                .count(),
            back_after_p50_ms: back.get(back.len() / 2).copied().unwrap_or(0.0),
            back_after_max_ms: back.last().copied().unwrap_or(0.0),
            drops,
        }
    }

    pub fn failed(&self) -> usize {
        self.kills - self.passed
    }

    pub fn markdown(&self) -> String {
        let mut t = String::new();
        let _ = writeln!(
            t,
            "{} kills of {} ({} purchases per drop on stock {}, {} buyers, limit {} each, seed {})\n",
            self.kills,
            self.victim.slug(),
            self.purchases_per_drop,
            self.stock,
            self.buyers,
            self.per_user_limit,
            self.seed
        );
        t.push_str(
            "| kills | passed | 201s | 409s | retried | lost | oversold | never final | back after p50 / max |\n\
             |---:|---:|---:|---:|---:|---:|---:|---:|---|\n",
        );
        let _ = writeln!(
            t,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {:.1} s / {:.1} s |",
            self.kills,
            self.passed,
            self.created,
            self.refused,
            self.retried,
            self.lost,
            self.oversold,
            self.never_final,
            self.back_after_p50_ms / 1000.0,
            self.back_after_max_ms / 1000.0
        );
        t.push('\n');
        for d in &self.drops {
            let _ = writeln!(t, "    {}", d.line(self.kills));
            for f in &d.books.failures {
                let _ = writeln!(t, "        FAIL {f}");
            }
        }
        t
    }

    pub fn print(&self) {
        println!("\n{}", self.markdown());
    }

    pub fn write(&self, out: &Path) -> anyhow::Result<()> {
        let (json, md) = super::files(out, self.victim);
        std::fs::write(&json, serde_json::to_string_pretty(self)?)?;
        std::fs::write(&md, self.markdown())?;
        println!(
            "kill loop written to {} and {}",
            json.display(),
            md.display()
        );
        Ok(())
    }
}
