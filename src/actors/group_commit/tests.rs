//! The group-commit actor with a fake store: triggers, barriers, both
//! failure policies, the queue bound, drain and restart.

use super::*;
use std::collections::BTreeMap;
use std::sync::Mutex;
use tokio::sync::mpsc;

/// What the fake store saw, and how it behaves.
#[derive(Default)]
struct Log {
    /// Every commit attempt, in order, with its writes.
    batches: Mutex<Vec<Vec<u32>>>,
    /// Held by a test to keep a commit in flight.
    gate: tokio::sync::Mutex<()>,
    /// Every commit fails while set.
    down: AtomicBool,
    /// Commits begun (counted before the gate).
    begun: AtomicU64,
    /// Writes of 1000 and above are taken again once set.
    cured: AtomicBool,
}

impl Log {
    fn batches(&self) -> Vec<Vec<u32>> {
        self.batches.lock().expect("log").clone()
    }
}

/// A store in memory; a batch holding a write of 1000 and above is
/// refused for its rows (like a constraint). `EACH_ALONE` picks the failure
/// mode. A write's part is its tens (so 1000 to 1009 share part 100).
struct Fake<const EACH_ALONE: bool>(Arc<Log>);

impl<const EACH_ALONE: bool> Commit for Fake<EACH_ALONE> {
    type Write = u32;
    type Error = String;
    const WRITER: &'static str = "test";
    const ON_FAILURE: OnFailure = if EACH_ALONE {
        OnFailure::EachAlone
    } else {
        OnFailure::KeepAndRetry
    };
    type Part = u32;

    fn part(write: &u32) -> u32 {
        write / 10
    }

    /// Writes from 1000 fail their batch; writes from 500 to 999 are
    /// skipped (a taken key) while the rest commit.
    async fn commit(&self, writes: &[&u32]) -> Result<Skipped, StoreError> {
        self.0.begun.fetch_add(1, Ordering::Relaxed);
        let _open = self.0.gate.lock().await;
        let batch: Vec<u32> = writes.iter().map(|w| **w).collect();
        let down = self.0.down.load(Ordering::Relaxed);
        let refused = !self.0.cured.load(Ordering::Relaxed) && batch.iter().any(|w| *w >= 1000);
        let skipped = batch
            .iter()
            .enumerate()
            .filter(|(_, w)| (500..1000).contains(*w))
            .map(|(i, _)| (i, StoreError::Duplicate("key")))
            .collect();
        self.0.batches.lock().expect("log").push(batch);
        if down {
            Err(StoreError::Unavailable("the store is down".into()))
        } else if refused {
            Err(StoreError::Duplicate("write"))
        } else {
            Ok(skipped)
        }
    }

    fn refusal(why: Refused) -> String {
        match why {
            Refused::Retrying => "retrying".into(),
            Refused::Rejected(e) => e.to_string(),
            Refused::Unanswered => "unanswered".into(),
        }
    }
}

type Answers = mpsc::UnboundedReceiver<(u32, Result<(), String>)>;

async fn writer<const EACH_ALONE: bool>(
    trigger: Trigger,
    batch_max: usize,
    queue_max: usize,
) -> (GroupCommit<Fake<EACH_ALONE>>, Arc<Log>) {
    let log = Arc::new(Log::default());
    let config = Config {
        trigger,
        batch_max,
        queue_max,
    };
    let group = GroupCommit::start(Fake::<EACH_ALONE>(Arc::clone(&log)), config)
        .await
        .expect("spawn");
    (group, log)
}

fn send<C: Commit<Write = u32, Error = String>>(
    group: &GroupCommit<C>,
    tx: &mpsc::UnboundedSender<(u32, Result<(), String>)>,
    n: u32,
) -> bool {
    let tx = tx.clone();
    group.write(
        n,
        Some(Box::new(move |r| {
            let _ = tx.send((n, r));
        })),
    )
}

async fn answers(rx: &mut Answers, count: usize) -> BTreeMap<u32, Result<(), String>> {
    let mut out = BTreeMap::new();
    while out.len() < count {
        let (n, r) = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("answered in time")
            .expect("channel open");
        out.insert(n, r);
    }
    out
}

async fn until(what: &str, cond: impl Fn() -> bool) {
    for _ in 0..500 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    panic!("timed out waiting until {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_free_batches_what_queued_during_a_commit() {
    let (group, log) = writer::<true>(Trigger::WhenFree, 512, 1_000).await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let held = log.gate.lock().await;
    send(&group, &tx, 0);
    until("the first commit began", || {
        log.begun.load(Ordering::Relaxed) == 1
    })
    .await;
    for n in 1..=10 {
        send(&group, &tx, n);
    }
    assert_eq!(group.gauge().queued.load(Ordering::Relaxed), 11);
    drop(held);
    let got = answers(&mut rx, 11).await;
    assert!(got.values().all(Result::is_ok), "{got:?}");
    assert_eq!(log.batches(), vec![vec![0], (1..=10).collect::<Vec<_>>()]);
    let g = group.gauge();
    assert_eq!(g.queued.load(Ordering::Relaxed), 0);
    assert_eq!(g.batches.load(Ordering::Relaxed), 2);
    assert_eq!(g.changes.load(Ordering::Relaxed), 11);
    group.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skipped_writes_do_not_fail_their_batch() {
    let (group, log) = writer::<true>(Trigger::WhenFree, 512, 1_000).await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let held = log.gate.lock().await;
    send(&group, &tx, 0);
    until("the first commit began", || {
        log.begun.load(Ordering::Relaxed) == 1
    })
    .await;
    for n in [1, 501, 2, 502, 3] {
        send(&group, &tx, n);
    }
    drop(held);
    let got = answers(&mut rx, 6).await;
    for (n, r) in &got {
        match n {
            501 | 502 => assert!(r.as_ref().is_err_and(|e| e.contains("key")), "{n}: {r:?}"),
            _ => assert_eq!(r, &Ok(()), "{n}"),
        }
    }
    // One transaction for the lot: nothing was written again alone.
    assert_eq!(log.batches(), vec![vec![0], vec![1, 501, 2, 502, 3]]);
    let g = group.gauge();
    assert_eq!(g.failures.load(Ordering::Relaxed), 0);
    assert_eq!(g.changes.load(Ordering::Relaxed), 4);
    assert_eq!(g.queued.load(Ordering::Relaxed), 0);
    group.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_alone_fails_only_the_bad_write() {
    let (group, log) = writer::<true>(Trigger::WhenFree, 512, 1_000).await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let held = log.gate.lock().await;
    send(&group, &tx, 0);
    until("the first commit began", || {
        log.begun.load(Ordering::Relaxed) == 1
    })
    .await;
    for n in [1, 1000, 2] {
        send(&group, &tx, n);
    }
    drop(held);
    let got = answers(&mut rx, 4).await;
    assert_eq!(got[&0], Ok(()));
    assert_eq!(got[&1], Ok(()));
    assert_eq!(got[&1000], Err("write is already taken".to_string()));
    assert_eq!(got[&2], Ok(()));
    assert_eq!(
        log.batches(),
        vec![vec![0], vec![1, 1000, 2], vec![1], vec![1000], vec![2]]
    );
    let g = group.gauge();
    assert_eq!(g.queued.load(Ordering::Relaxed), 0);
    assert_eq!(g.changes.load(Ordering::Relaxed), 3);
    assert_eq!(g.failures.load(Ordering::Relaxed), 1);
    group.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_batch_is_kept_refused_at_once_and_retried() {
    let (group, log) = writer::<false>(Trigger::Every(Duration::from_millis(1)), 512, 1_000).await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    log.down.store(true, Ordering::Relaxed);
    send(&group, &tx, 7);
    let got = answers(&mut rx, 1).await;
    assert_eq!(
        got[&7],
        Err("retrying".to_string()),
        "refused at once, not acknowledged"
    );
    assert!(group.gauge().failing.load(Ordering::Relaxed));
    assert_eq!(group.gauge().queued.load(Ordering::Relaxed), 1, "kept");
    // A barrier behind a kept batch is refused while it fails...
    assert_eq!(
        group.sync(None, Duration::from_secs(5)).await,
        Err("retrying".to_string())
    );
    // ...and answered once the kept batch commits on a retry.
    log.down.store(false, Ordering::Relaxed);
    assert_eq!(group.sync(None, Duration::from_secs(5)).await, Ok(()));
    let g = group.gauge();
    assert_eq!(g.queued.load(Ordering::Relaxed), 0);
    assert!(!g.failing.load(Ordering::Relaxed));
    assert_eq!(g.changes.load(Ordering::Relaxed), 1);
    assert!(
        group.quarantined().is_empty(),
        "an outage holds nothing apart"
    );
    let batches = log.batches();
    assert!(
        batches.len() >= 2 && batches.iter().all(|b| b == &[7]),
        "{batches:?}"
    );
    group.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_max_flushes_without_waiting_for_the_timer() {
    let (group, log) = writer::<false>(Trigger::Every(Duration::from_secs(3600)), 3, 1_000).await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    for n in 0..3 {
        send(&group, &tx, n);
    }
    let got = answers(&mut rx, 3).await;
    assert!(got.values().all(Result::is_ok), "{got:?}");
    assert_eq!(log.batches(), vec![vec![0, 1, 2]]);
    group.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_commits_everything_queued() {
    let (group, log) = writer::<false>(Trigger::Every(Duration::from_secs(3600)), 512, 1_000).await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    for n in 0..5 {
        send(&group, &tx, n);
    }
    assert_eq!(group.drain(Duration::from_secs(5)).await, Ok(()));
    let got = answers(&mut rx, 5).await;
    assert!(got.values().all(Result::is_ok), "{got:?}");
    assert_eq!(log.batches(), vec![vec![0, 1, 2, 3, 4]]);
    group.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_waits_for_room() {
    let (group, log) = writer::<true>(Trigger::WhenFree, 512, 2).await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let held = log.gate.lock().await;
    send(&group, &tx, 0);
    send(&group, &tx, 1);
    assert!(!group.has_room());
    let waiting = tokio::time::timeout(Duration::from_millis(100), group.room()).await;
    assert!(waiting.is_err(), "no room while two writes wait");
    drop(held);
    tokio::time::timeout(Duration::from_secs(5), group.room())
        .await
        .expect("room once the batch committed");
    answers(&mut rx, 2).await;
    group.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_writer_answers_at_once() {
    let (group, _log) = writer::<true>(Trigger::WhenFree, 512, 0).await;
    group.stop();
    until("the writer stopped", || {
        group.current().get_status() == ractor::ActorStatus::Stopped
    })
    .await;
    tokio::time::timeout(Duration::from_secs(1), group.room())
        .await
        .expect("no wait for a stopped writer");
    let (tx, mut rx) = mpsc::unbounded_channel();
    assert!(!send(&group, &tx, 1));
    assert_eq!(answers(&mut rx, 1).await[&1], Err("unanswered".to_string()));
    assert_eq!(group.gauge().queued.load(Ordering::Relaxed), 0);
}

/// Issue 11, item 13: a batch the store keeps refusing for one part's rows
/// is split; that part is held apart (later writes of it join it) while
/// every other part commits, and it is let go once the store takes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poisoned_part_is_held_apart_while_the_rest_commit() {
    let (group, log) = writer::<false>(Trigger::Every(Duration::from_millis(1)), 512, 1_000).await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let held = log.gate.lock().await;
    for n in [1, 11, 1000, 21, 1001] {
        send(&group, &tx, n);
    }
    drop(held);
    // The first failure answers every write at once: not committed yet.
    let first = answers(&mut rx, 5).await;
    assert!(first.values().all(|r| r.is_err()), "{first:?}");
    until("the good parts committed", || {
        group.gauge().changes.load(Ordering::Relaxed) == 3
    })
    .await;
    let report = group.quarantined();
    assert_eq!(report.len(), 1, "{report:?}");
    assert_eq!(report[0].part, "100");
    assert_eq!(report[0].writes, 2);
    assert!(!group.gauge().failing.load(Ordering::Relaxed));

    // Other parts commit as usual; the held part refuses at once.
    send(&group, &tx, 31);
    send(&group, &tx, 1002);
    let later = answers(&mut rx, 2).await;
    assert_eq!(later[&31], Ok(()));
    assert_eq!(later[&1002], Err("retrying".to_string()));
    assert_eq!(group.quarantined()[0].writes, 3);
    let wait = Duration::from_secs(5);
    assert_eq!(group.sync(Some(3), wait).await, Ok(()));
    assert_eq!(
        group.sync(Some(100), wait).await,
        Err("retrying".to_string())
    );
    assert_eq!(group.sync(None, wait).await, Err("retrying".to_string()));

    // Cured: the held writes commit, in order, and the part is let go.
    log.cured.store(true, Ordering::Relaxed);
    until("the held part committed", || group.quarantined().is_empty()).await;
    assert_eq!(group.gauge().changes.load(Ordering::Relaxed), 7);
    assert_eq!(group.gauge().queued.load(Ordering::Relaxed), 0);
    assert!(log.batches().contains(&vec![1000, 1001, 1002]));
    assert_eq!(group.sync(None, wait).await, Ok(()));
    group.stop();
}

/// A batch whose every part fails alone (a missing table) holds nothing
/// apart: it is kept and retried whole, until another part commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_held_apart_while_no_part_commits() {
    let (group, log) = writer::<false>(Trigger::Every(Duration::from_millis(1)), 512, 1_000).await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    send(&group, &tx, 1000);
    answers(&mut rx, 1).await;
    until("it was split and retried", || log.batches().len() >= 5).await;
    assert!(group.quarantined().is_empty());
    assert!(group.gauge().failing.load(Ordering::Relaxed));
    send(&group, &tx, 1);
    until("the other part committed", || {
        group.gauge().changes.load(Ordering::Relaxed) == 1
    })
    .await;
    assert_eq!(group.quarantined().len(), 1);
    group.stop();
}
