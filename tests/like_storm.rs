//! Hot counters under a storm, over HTTP, on both stores.
//!
//! - 10,000 distinct users like one post at once: every answer is 200, the
//!   counter reaches exactly 10,000 in memory (the answers, then a no-op
//!   read through the post's actor) and in the database (`like_count` and
//!   the rows), with one activity per liker.
//! - 1,000 users toggle one post 10 times each (random like/unlike, each
//!   user's toggles in order, all users at once): the final count is the
//!   set of users whose last acknowledged toggle was a like, in memory and
//!   in the database.
//! - The same for one account's followers, and every follower's
//!   `following_count` is right.
//!
//! All tasks are spawned at once; at most `CONNECTIONS` requests are on the
//! wire together, because this process holds both ends of every
//! connection under a 20,000 file descriptor limit. The actor still sees
//! thousands of toggles queued at once.

mod common;

use common::community::{Member, members, post, scalar};
use common::{TestApp, TestDb, app_settings, spawn_app_with};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use serde_json::Value;
use std::collections::HashSet;
use std::sync::Arc;
use tokio::sync::Semaphore;

const CONNECTIONS: usize = 2_000;

async fn storm_app(db: TestDb) -> TestApp {
    let mut s = app_settings(&db);
    // Thousands wait on one actor and one writer: the answer may take
    // seconds on two shared cores, and a 503 here would only be retried.
    s.counters.call_timeout_ms = 60_000;
    spawn_app_with(db, s).await
}

/// Sends `method path` until it is answered other than 503 (a toggle is
/// idempotent, so a retry is safe); answers the 200 body.
async fn toggle(app: &TestApp, gate: &Semaphore, method: Method, path: &str, token: &str) -> Value {
    loop {
        let res = {
            let _permit = gate.acquire().await.expect("gate");
            app.send(method.clone(), path, Some(token), None).await
        };
        match res.status().as_u16() {
            200 => return res.json().await.expect("json"),
            503 => tokio::task::yield_now().await,
            other => panic!("{method} {path}: {other} {:?}", res.text().await),
        }
    }
}

/// Runs `work(i, member)` for every member at once.
async fn all_at_once<F, Fut, T>(app: &Arc<TestApp>, crowd: &[Member], work: F) -> Vec<T>
where
    F: Fn(Arc<TestApp>, Arc<Semaphore>, usize, Member) -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let gate = Arc::new(Semaphore::new(CONNECTIONS));
    let tasks: Vec<_> = crowd
        .iter()
        .enumerate()
        .map(|(i, m)| tokio::spawn(work(Arc::clone(app), Arc::clone(&gate), i, m.clone())))
        .collect();
    let mut out = Vec::with_capacity(tasks.len());
    for t in tasks {
        out.push(t.await.expect("task"));
    }
    out
}

async fn ten_thousand_likes_count_once_each(db: TestDb) {
    let app = Arc::new(storm_app(db).await);
    let s = &app.store;
    let crowd = members(s, 10_001).await;
    let (author, fans) = (crowd[0].clone(), &crowd[1..]);
    let p = post(s, author.id).await;
    let path = format!("/api/v1/posts/{p}/like");
    let counts: Vec<i64> = all_at_once(&app, fans, |app, gate, _, fan| {
        let path = path.clone();
        async move {
            let v = toggle(&app, &gate, Method::PUT, &path, &fan.token).await;
            assert_eq!(v["liked"], true);
            v["like_count"].as_i64().expect("count")
        }
    })
    .await;
    // Each like was counted once: the answers are 1..=10,000, each once.
    let distinct: HashSet<i64> = counts.iter().copied().collect();
    assert_eq!(distinct.len(), 10_000);
    assert_eq!(counts.iter().max(), Some(&10_000));
    // The actor's count now: a no-op unlike by the author reads it.
    let gate = Semaphore::new(1);
    let now = toggle(&app, &gate, Method::DELETE, &path, &author.token).await;
    assert_eq!(now["like_count"], 10_000);
    assert_eq!(
        scalar(s, "SELECT like_count FROM posts WHERE id = ?", &[p]).await,
        10_000
    );
    assert_eq!(
        scalar(s, "SELECT COUNT(*) FROM post_likes WHERE post_id = ?", &[p]).await,
        10_000
    );
    assert_eq!(
        scalar(
            s,
            "SELECT COUNT(*) FROM activities WHERE recipient_id = ? AND kind = 'liked_post'",
            &[author.id]
        )
        .await,
        10_000
    );
    let app = Arc::into_inner(app).expect("sole owner");
    app.stop().await;
}

/// Each member's toggles in order (true = like), seeded per member.
fn plan(i: usize, n: usize) -> Vec<bool> {
    let mut rng = StdRng::seed_from_u64(i as u64);
    (0..n).map(|_| rng.random_bool(0.5)).collect()
}

/// 1,000 members toggle `path` 10 times each; answers the members whose
/// last acknowledged toggle was "on".
async fn toggle_storm(
    app: &Arc<TestApp>,
    crowd: &[Member],
    path: &str,
    on_key: &str,
) -> HashSet<i64> {
    let last: Vec<(i64, bool)> = all_at_once(app, crowd, |app, gate, i, m| {
        let (path, on_key) = (path.to_string(), on_key.to_string());
        async move {
            let mut last = false;
            for on in plan(i, 10) {
                let method = if on { Method::PUT } else { Method::DELETE };
                let v = toggle(&app, &gate, method, &path, &m.token).await;
                assert_eq!(v[&on_key], on, "the answer is the caller's new state");
                last = on;
            }
            (m.id, last)
        }
    })
    .await;
    last.into_iter()
        .filter(|(_, on)| *on)
        .map(|(id, _)| id)
        .collect()
}

async fn toggles_end_as_the_last_acknowledged(db: TestDb) {
    let app = Arc::new(storm_app(db).await);
    let s = &app.store;
    let crowd = members(s, 1_001).await;
    let (author, fans) = (crowd[0].clone(), &crowd[1..]);
    let p = post(s, author.id).await;
    let path = format!("/api/v1/posts/{p}/like");
    let liking = toggle_storm(&app, fans, &path, "liked").await;
    let expected = liking.len() as i64;
    assert!(expected > 300 && expected < 700, "a fair mix: {expected}");
    let now = toggle(
        &app,
        &Semaphore::new(1),
        Method::DELETE,
        &path,
        &author.token,
    )
    .await;
    assert_eq!(now["like_count"], expected, "in memory");
    assert_eq!(
        scalar(s, "SELECT like_count FROM posts WHERE id = ?", &[p]).await,
        expected
    );
    let rows: Vec<i64> = sqlx::query_scalar("SELECT user_id FROM post_likes WHERE post_id = ?")
        .bind(p)
        .fetch_all(s.pool())
        .await
        .expect("rows");
    assert_eq!(
        rows.into_iter().collect::<HashSet<i64>>(),
        liking,
        "exactly those rows"
    );
    let app = Arc::into_inner(app).expect("sole owner");
    app.stop().await;
}

async fn followers_storm_counts_both_sides(db: TestDb) {
    let app = Arc::new(storm_app(db).await);
    let s = &app.store;
    let crowd = members(s, 1_001).await;
    let (star, fans) = (crowd[0].clone(), &crowd[1..]);
    let path = format!("/api/v1/users/{}/follow", star.id);
    let following = toggle_storm(&app, fans, &path, "following").await;
    let expected = following.len() as i64;
    let now = toggle(
        &app,
        &Semaphore::new(1),
        Method::DELETE,
        &path,
        &fans[0].token,
    )
    .await;
    let expected_now = expected - i64::from(following.contains(&fans[0].id));
    assert_eq!(now["follower_count"], expected_now, "in memory");
    assert_eq!(
        scalar(
            s,
            "SELECT follower_count FROM users WHERE id = ?",
            &[star.id]
        )
        .await,
        expected_now
    );
    assert_eq!(
        scalar(
            s,
            "SELECT COUNT(*) FROM follows WHERE followee_id = ?",
            &[star.id]
        )
        .await,
        expected_now
    );
    // Every fan's following count is 1 exactly when it still follows.
    let wrong = scalar(
        s,
        "SELECT COUNT(*) FROM users u WHERE u.id <> ? AND u.following_count <> \
         (SELECT COUNT(*) FROM follows f WHERE f.follower_id = u.id)",
        &[star.id],
    )
    .await;
    assert_eq!(wrong, 0);
    assert_eq!(
        scalar(
            s,
            "SELECT COUNT(*) FROM users WHERE following_count = 1",
            &[]
        )
        .await,
        expected_now
    );
    let app = Arc::into_inner(app).expect("sole owner");
    app.stop().await;
}

on_both_stores!(
    ten_thousand_likes_count_once_each,
    toggles_end_as_the_last_acknowledged,
    followers_storm_counts_both_sides,
);
