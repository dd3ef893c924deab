//! `--kill-loop N`: N drops in a row against the real `stampede` binary on
//! MariaDB, each cut by a SIGKILL at a random moment of the burst (of the
//! binary, or of a private MariaDB under it), followed by a restart on the
//! same database. Every buyer is a persistent client: a purchase that got
//! no answer, a 5xx or a 429 is sent again with the same Idempotency-Key
//! until a final answer. After each drop the books are checked (see
//! `books.rs`) and one line is printed; the loop's summary goes to `--out`.

pub mod books;
mod mariadb;
pub mod process;
mod report;

use futures::{StreamExt, stream};
use rand::{Rng, SeedableRng};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::process::Child;
use tokio::time::Instant;

use crate::drop;
use crate::fire::{self, Persist, Shape};
use mariadb::PrivateMariaDb;
use process::Binary;
pub use report::{KillDrop, Summary};

/// What the loop kills mid-burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Victim {
    /// The `stampede` process, restarted on the same database.
    Stampede,
    /// A private MariaDB under stampede, restarted; stampede is left
    /// running and must recover by itself.
    Mariadb,
}

impl Victim {
    pub fn slug(self) -> &'static str {
        match self {
            Victim::Stampede => "stampede",
            Victim::Mariadb => "mariadb",
        }
    }
}

/// The loop as asked for on the command line.
pub struct Plan<'a> {
    pub kills: usize,
    pub victim: Victim,
    pub purchases: usize,
    pub stock: i64,
    pub buyers: usize,
    pub per_user_limit: i64,
    pub connections: usize,
    pub lead: Duration,
    /// How long the killed process stays down before its restart.
    pub down: Duration,
    pub seed: u64,
    /// The shared MariaDB server (for `Victim::Stampede`).
    pub mysql_url: &'a str,
    pub stampede_bin: Option<&'a Path>,
    pub out: &'a Path,
}

/// What is running: the binary, and the private database when it is the
/// one killed.
struct Running {
    binary: Binary,
    stampede: Child,
    mariadb: Option<PrivateMariaDb>,
}

pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

pub async fn run(client: &reqwest::Client, plan: &Plan<'_>) -> anyhow::Result<Summary> {
    anyhow::ensure!(
        i64::try_from(plan.purchases).is_ok_and(|p| p > plan.stock)
            && i64::try_from(plan.buyers).is_ok_and(|b| b * plan.per_user_limit > plan.stock),
        "the kill loop needs demand above the stock: more purchases than units, \
         and buyers x per-user limit above the stock"
    );
    let path = process::locate(plan.stampede_bin)?;
    std::fs::create_dir_all(plan.out)?;
    let log = plan
        .out
        .join(format!("kill-loop-{}.server.log", plan.victim.slug()));
    std::fs::write(&log, "")?;
    let mariadb = match plan.victim {
        Victim::Mariadb => Some(PrivateMariaDb::start().await?),
        Victim::Stampede => None,
    };
    let server = mariadb
        .as_ref()
        .map_or_else(|| plan.mysql_url.to_string(), PrivateMariaDb::server_url);
    // A database of this run's own, so loops on one server never meet;
    // dropped at the end when every drop passed, kept for reading if not.
    let slug = format!("kill_{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let database_url = crate::server::fresh_mysql_database(&server, &slug).await?;
    let binary = Binary::new(path, free_port()?, database_url.clone(), log)?;
    eprintln!(
        "kill loop: {} kills of {} | binary {} | database {}",
        plan.kills,
        plan.victim.slug(),
        binary.path.display(),
        database_url
    );
    let stampede = binary.start(client).await?;
    let mut running = Running {
        binary,
        stampede,
        mariadb,
    };
    let base = running.binary.base();
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let (seller, buyers) = drop::buyers(client, &base, &run_id[..8], plan.buyers).await?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(plan.seed);
    let mut drops = Vec::with_capacity(plan.kills);
    for n in 1..=plan.kills {
        let kill_after = rng.random_range(0..plan.purchases);
        let opens_at = chrono::Utc::now() + plan.lead;
        let open = Instant::now() + plan.lead + Duration::from_millis(5);
        let drop = drop::list_product(
            client,
            &base,
            &seller,
            buyers.clone(),
            plan.stock,
            Some(plan.per_user_limit),
            opens_at,
        )
        .await?;
        let shape = Shape {
            purchases: plan.purchases,
            connections: plan.connections,
            retrying_buyers: 0,
            copies: 1,
            persist: Some(Persist {
                give_up_after: Duration::from_secs(180),
                backoff: Duration::from_millis(50),
                attempt_timeout: Duration::from_secs(30),
            }),
            progress: Arc::new(AtomicUsize::new(0)),
        };
        let bases = [base.as_str()];
        let (burst, kill) = tokio::try_join!(
            fire::fire(&bases, &drop, &shape, open),
            kill_mid_burst(
                client,
                &mut running,
                plan,
                &shape.progress,
                kill_after,
                open
            ),
        )?;
        let books = books::check(client, &base, &database_url, &drop, &burst.answers).await?;
        let mut record = KillDrop::new(n, plan.victim, kill_after, &kill, &burst, books);
        if record.passed() {
            // The buyers walk away: the next restart resumes no saga of
            // this drop, so every drop starts from the same shop.
            for failure in walk_away(client, &base, &drop, &burst.answers).await {
                record.books.failures.push(failure);
            }
        }
        println!("{}", record.line(plan.kills));
        for failure in &record.books.failures {
            println!("      FAIL {failure}");
        }
        drops.push(record);
    }
    process::sigkill(&mut running.stampede).await?;
    let summary = Summary::new(plan, &running.binary, drops);
    summary.print();
    summary.write(plan.out)?;
    if summary.failed() == 0 {
        crate::server::drop_mysql_database(&server, &slug).await?;
    } else if running.mariadb.is_none() {
        println!("the books stay in {database_url}");
    }
    println!("the server's log is {}", running.binary.log.display());
    Ok(summary)
}

/// When and how the kill landed.
pub struct Kill {
    /// From the opening to the SIGKILL.
    pub at: Duration,
    /// From the SIGKILL to stampede answering ready again.
    pub back_after: Duration,
}

/// Waits for the opening and `kill_after` answered purchases, SIGKILLs the
/// victim, and brings it (and stampede) back.
async fn kill_mid_burst(
    client: &reqwest::Client,
    running: &mut Running,
    plan: &Plan<'_>,
    progress: &AtomicUsize,
    kill_after: usize,
    open: Instant,
) -> anyhow::Result<Kill> {
    tokio::time::sleep_until(open).await;
    while progress.load(Ordering::Relaxed) < kill_after {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let killed = Instant::now();
    match running.mariadb.as_mut() {
        Some(db) => {
            db.kill().await?;
            tokio::time::sleep(plan.down).await;
            db.restart().await?;
            until_ready(client, &running.binary).await?;
        }
        None => {
            process::sigkill(&mut running.stampede).await?;
            tokio::time::sleep(plan.down).await;
            running.stampede = running.binary.start(client).await?;
        }
    }
    Ok(Kill {
        at: killed.saturating_duration_since(open),
        back_after: killed.elapsed(),
    })
}

/// Waits for a stampede left running to answer ready (it reconnects to its
/// database by itself).
async fn until_ready(client: &reqwest::Client, binary: &Binary) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        let ready = client
            .get(format!("{}/health/ready", binary.base()))
            .timeout(Duration::from_secs(2))
            .send()
            .await;
        if ready.is_ok_and(|r| r.status() == 200) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!(
        "stampede did not answer ready within 120 s of its database's restart; see {}",
        binary.log.display()
    )
}

/// Every buyer cancels the order they were answered 201 for; answers what
/// did not work.
async fn walk_away(
    client: &reqwest::Client,
    base: &str,
    drop: &drop::Drop,
    answers: &[fire::Answer],
) -> Vec<String> {
    let cancels = answers
        .iter()
        .filter(|a| a.status == Some(201))
        .filter_map(|a| Some((a.order_id.as_deref()?, &drop.buyers.tokens[a.buyer])))
        .map(|(id, token)| async move {
            let res = client
                .post(format!("{base}/api/v1/orders/{id}/cancel"))
                .bearer_auth(token)
                .timeout(Duration::from_secs(30))
                .send()
                .await;
            match res {
                Ok(r) if r.status().is_success() => None,
                Ok(r) => {
                    let status = r.status();
                    let body = r.text().await.unwrap_or_default();
                    Some(format!("cancelling order {id} answered {status}: {body}"))
                }
                Err(e) => Some(format!("cancelling order {id}: {e}")),
            }
        });
    stream::iter(cancels)
        .buffer_unordered(16)
        .filter_map(|failure| async move { failure })
        .collect()
        .await
}

/// Where the loop's files go.
pub fn files(out: &Path, victim: Victim) -> (PathBuf, PathBuf) {
    (
        out.join(format!("kill-loop-{}.json", victim.slug())),
        out.join(format!("kill-loop-{}.md", victim.slug())),
    )
}
