//! The counter actors themselves, on both stores: a panicking actor is
//! restarted by its supervisor with its members reloaded, and nothing
//! acknowledged is lost or counted twice; a panicking writer takes every
//! counter actor down and they reload; a forgotten (deleted) post's actor
//! leaves and the post is then not found.

mod common;

use common::TestDb;
use common::community::{members, post, scalar};
use stampede::actors::{CounterError, Counters};
use stampede::config::CounterSettings;
use stampede::domain::counter::{Target, Toggle};
use stampede::domain::ids::{PostId, UserId};
use stampede::domain::post::PostBody;
use stampede::domain::time::Timestamp;
use stampede::persistence::{Membership, Store, StoreError};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

async fn engine(db: &TestDb) -> (Store, Counters) {
    let store = db.store().await;
    let settings = CounterSettings {
        housekeeping_ms: 50,
        call_timeout_ms: 30_000,
        ..CounterSettings::default()
    };
    let counters = Counters::start(store.clone(), settings)
        .await
        .expect("start counters");
    (store, counters)
}

/// Likes `target` as `user` until an answer is known (retrying the
/// answers that say nothing is known; a like is idempotent).
async fn like_until_settled(counters: &Counters, target: Target, user: i64) -> i64 {
    let toggle = Toggle {
        user: UserId::new(user),
        on: true,
    };
    for _ in 0..100 {
        match counters.toggle(target, toggle).await {
            Ok(tally) => {
                assert!(tally.on);
                return tally.count;
            }
            Err(CounterError::Unavailable | CounterError::Overloaded) => {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(other) => panic!("like by {user}: {other:?}"),
        }
    }
    panic!("like by {user} never settled")
}

/// The count as the target's actor holds it: a no-op unlike by `reader`.
async fn count_in_memory(counters: &Counters, target: Target, reader: i64) -> i64 {
    let off = Toggle {
        user: UserId::new(reader),
        on: false,
    };
    counters.toggle(target, off).await.expect("read").count
}

/// 3,000 concurrent likes; the post's actor panics in the middle.
async fn a_panicking_counter_loses_and_doubles_nothing(db: TestDb) {
    let (store, counters) = engine(&db).await;
    let crowd = members(&store, 3_001).await;
    let p = post(&store, crowd[0].id).await;
    let target = Target::Post(PostId::new(p));
    like_until_settled(&counters, target, crowd[1].id).await;
    let tasks: Vec<_> = crowd[2..]
        .iter()
        .map(|m| {
            let (counters, user) = (counters.clone(), m.id);
            let toggle = Toggle {
                user: UserId::new(user),
                on: true,
            };
            tokio::spawn(async move { (user, counters.toggle(target, toggle).await) })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(5)).await;
    counters.inject_panic(target).await.expect("inject");
    let mut unknown = Vec::new();
    for t in tasks {
        match t.await.expect("task") {
            (_, Ok(tally)) => assert!(tally.on),
            (user, Err(CounterError::Unavailable)) => unknown.push(user),
            (user, Err(other)) => panic!("{user}: {other:?}"),
        }
    }
    eprintln!("{} callers heard nothing and retry", unknown.len());
    for user in unknown {
        like_until_settled(&counters, target, user).await;
    }
    // The replacement may come from the supervisor's restart or from a
    // retry's activation that got there first; either way the supervisor
    // counts the failure (on the successor too) once its event arrives,
    // and the replacement loads the committed members: nothing may be lost
    // or counted twice.
    wait_for_restarts(&counters, target, 1).await;
    assert_eq!(count_in_memory(&counters, target, crowd[0].id).await, 3_000);
    assert_eq!(
        scalar(&store, "SELECT like_count FROM posts WHERE id = ?", &[p]).await,
        3_000
    );
    assert_eq!(
        scalar(
            &store,
            "SELECT COUNT(*) FROM post_likes WHERE post_id = ?",
            &[p]
        )
        .await,
        3_000
    );
    counters.shutdown().await.expect("shutdown");
}

/// Waits (a bounded time) until the supervisor has counted `n` restarts
/// of `target`'s actor. The failure reaches the supervisor as an event
/// after the dead actor's callers already heard, so it is not immediate.
async fn wait_for_restarts(counters: &Counters, target: Target, n: u64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while counters.restarts(target) < n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{target}: {} restarts, expected {n}",
            counters.restarts(target)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(counters.restarts(target), n);
}

/// No request after the panic: only the supervisor can bring the actor
/// back, and it comes back with the committed members.
async fn a_panicking_idle_counter_is_restarted_with_its_members(db: TestDb) {
    let (store, counters) = engine(&db).await;
    let crowd = members(&store, 4).await;
    let p = post(&store, crowd[0].id).await;
    let target = Target::Post(PostId::new(p));
    for m in &crowd[1..] {
        like_until_settled(&counters, target, m.id).await;
    }
    assert_eq!(counters.restarts(target), 0);
    counters.inject_panic(target).await.expect("inject");
    wait_for_restarts(&counters, target, 1).await;
    assert_eq!(counters.overview().active_counter_actors, 1);
    assert_eq!(count_in_memory(&counters, target, crowd[0].id).await, 3);
    // A second like by a member is still not a second count.
    assert_eq!(like_until_settled(&counters, target, crowd[1].id).await, 3);
    assert_eq!(counters.restarts(target), 1);
    counters.shutdown().await.expect("shutdown");
}

/// 2,000 concurrent follows; the writer panics in the middle.
async fn a_panicking_writer_loses_nothing_acknowledged(db: TestDb) {
    let (store, counters) = engine(&db).await;
    let crowd = members(&store, 2_001).await;
    let star = crowd[0].id;
    let target = Target::Account(UserId::new(star));
    let tasks: Vec<_> = crowd[1..]
        .iter()
        .map(|m| {
            let (counters, user) = (counters.clone(), m.id);
            let toggle = Toggle {
                user: UserId::new(user),
                on: true,
            };
            tokio::spawn(async move { (user, counters.toggle(target, toggle).await) })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(5)).await;
    counters.inject_writer_panic();
    let mut unknown = Vec::new();
    for t in tasks {
        match t.await.expect("task") {
            (_, Ok(_)) => {}
            (user, Err(CounterError::Unavailable)) => unknown.push(user),
            (user, Err(other)) => panic!("{user}: {other:?}"),
        }
    }
    for user in unknown {
        like_until_settled(&counters, target, user).await;
    }
    // Every toggle may be answered before the panic is, and the supervisor
    // hears of it after the callers: wait, with a bound, for the restart.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while counters.overview().writer.restarts == 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(counters.overview().writer.restarts, 1);
    // Reloaded from the store: what was acknowledged and nothing twice.
    assert_eq!(count_in_memory(&counters, target, crowd[1].id).await, 1_999);
    like_until_settled(&counters, target, crowd[1].id).await;
    let q = "SELECT follower_count FROM users WHERE id = ?";
    assert_eq!(scalar(&store, q, &[star]).await, 2_000);
    let rows = "SELECT COUNT(*) FROM follows WHERE followee_id = ?";
    assert_eq!(scalar(&store, rows, &[star]).await, 2_000);
    counters.shutdown().await.expect("shutdown");
}

async fn a_forgotten_post_is_not_found(db: TestDb) {
    let (store, counters) = engine(&db).await;
    let crowd = members(&store, 2).await;
    let p = post(&store, crowd[0].id).await;
    let target = Target::Post(PostId::new(p));
    assert_eq!(like_until_settled(&counters, target, crowd[1].id).await, 1);
    assert_eq!(counters.overview().active_counter_actors, 1);
    sqlx::query("UPDATE posts SET deleted_at = 1 WHERE id = ?")
        .bind(p)
        .execute(store.pool())
        .await
        .expect("delete");
    // Still in memory: the deletion is not known until it is said.
    assert_eq!(count_in_memory(&counters, target, crowd[0].id).await, 1);
    counters.forget(target);
    let like = Toggle {
        user: UserId::new(crowd[0].id),
        on: true,
    };
    assert!(matches!(
        counters.toggle(target, like).await,
        Err(CounterError::NotFound(t)) if t == target
    ));
    // A deleted post's likes stay as they were.
    assert_eq!(
        scalar(&store, "SELECT like_count FROM posts WHERE id = ?", &[p]).await,
        1
    );
    counters.shutdown().await.expect("shutdown");
}

/// Writes each membership change in a batch of its own while two editors
/// write `edit` in a loop beside them; answers every failure of either side.
async fn beside_two_editors<E, F>(store: &Store, edit: E, changes: Vec<Membership>) -> Vec<String>
where
    E: Fn(Store, String) -> F + Clone + Send + 'static,
    F: Future<Output = Result<(), StoreError>> + Send,
{
    let done = Arc::new(AtomicBool::new(false));
    let editors: Vec<_> = (0..2)
        .map(|n| {
            let (store, done, edit) = (store.clone(), Arc::clone(&done), edit.clone());
            tokio::spawn(async move {
                let mut failed = Vec::new();
                let mut edits = 0;
                while !done.load(Ordering::SeqCst) {
                    if let Err(e) = edit(store.clone(), format!("edit {n}-{edits}")).await {
                        failed.push(e.to_string());
                    }
                    edits += 1;
                }
                (edits, failed)
            })
        })
        .collect();
    let mut failed = Vec::new();
    for change in &changes {
        if let Err(e) = store.write_memberships(&[change]).await {
            failed.push(e.to_string());
        }
    }
    done.store(true, Ordering::SeqCst);
    for editor in editors {
        let (edits, edit_failures) = editor.await.unwrap();
        assert!(edits > 0, "the editors did edit meanwhile");
        failed.extend(edit_failures);
    }
    failed
}

/// The counters' writer and a plain writer of the same post row (its
/// author editing it, twice at a time) on one post: neither ever fails.
/// Before the fix, a like batch inserted its `post_likes` rows first, whose
/// foreign key takes a shared lock on the post's row, then updated the
/// post's count, which needs the exclusive lock: with an edit waiting for
/// that lock in between, MariaDB found a deadlock and failed one of them
/// (86 writes here).
async fn likes_and_edits_of_one_post_never_deadlock(db: TestDb) {
    const LIKES: usize = 300;
    let store = db.store().await;
    let people = members(&store, LIKES + 1).await;
    let author = UserId::new(people[0].id);
    let p = post(&store, author.get()).await;
    let likes = people[1..]
        .iter()
        .enumerate()
        .map(|(i, fan)| Membership {
            target: Target::Post(PostId::new(p)),
            user: UserId::new(fan.id),
            on: true,
            count: i as i64 + 1,
            recipient: author,
            post: Some(PostId::new(p)),
            at: Timestamp::now(),
        })
        .collect();
    let edit = move |store: Store, text: String| async move {
        let body = PostBody::parse(&text).expect("body");
        store.edit_post(p, author, &body).await.map(|_| ())
    };
    let failed = beside_two_editors(&store, edit, likes).await;
    let first = failed.first();
    assert!(
        failed.is_empty(),
        "{} writes failed, first: {first:?}",
        failed.len()
    );
    let q = "SELECT like_count FROM posts WHERE id = ?";
    assert_eq!(scalar(&store, q, &[p]).await, LIKES as i64);
}

/// The same for follows: one account follows 300 others, one batch each,
/// while it edits its own profile twice at a time. Before the fix, each
/// `follows` row's foreign key took a shared lock on the follower's row
/// before the batch recounted the follower's `following_count` (the
/// exclusive lock), and MariaDB failed one side of the deadlock (183
/// writes here).
async fn follows_and_edits_of_the_follower_never_deadlock(db: TestDb) {
    const FOLLOWS: usize = 300;
    let store = db.store().await;
    let people = members(&store, FOLLOWS + 1).await;
    let fan = UserId::new(people[0].id);
    let follows = people[1..]
        .iter()
        .map(|star| Membership {
            target: Target::Account(UserId::new(star.id)),
            user: fan,
            on: true,
            count: 1,
            recipient: UserId::new(star.id),
            post: None,
            at: Timestamp::now(),
        })
        .collect();
    let edit = move |store: Store, name: String| async move {
        store.update_user(fan, Some(&name), None).await.map(|_| ())
    };
    let failed = beside_two_editors(&store, edit, follows).await;
    let first = failed.first();
    assert!(
        failed.is_empty(),
        "{} writes failed, first: {first:?}",
        failed.len()
    );
    let q = "SELECT following_count FROM users WHERE id = ?";
    assert_eq!(scalar(&store, q, &[fan.get()]).await, FOLLOWS as i64);
}

on_both_stores!(
    likes_and_edits_of_one_post_never_deadlock,
    follows_and_edits_of_the_follower_never_deadlock,
    a_panicking_counter_loses_and_doubles_nothing,
    a_panicking_idle_counter_is_restarted_with_its_members,
    a_panicking_writer_loses_nothing_acknowledged,
    a_forgotten_post_is_not_found,
);
