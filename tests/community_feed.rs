//! The newsfeed, blocking and reporting over real HTTP on both stores:
//! feed pages by date and by likes that neither repeat nor skip a post
//! while new posts arrive (and, by likes, while counts move), blocked
//! authors and hidden or deleted posts left out, and the admins' report
//! queue with its role checks.

mod common;

use common::{TestApp, TestDb, assert_problem, spawn_app};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::HashSet;

async fn post(app: &TestApp, token: &str, body: &str) -> i64 {
    let res = app
        .post_json("/api/v1/posts", Some(token), json!({ "body": body }))
        .await;
    assert_eq!(res.status(), 201, "create post");
    let p: Value = res.json().await.expect("post");
    p["id"].as_i64().expect("id")
}

fn ids(page: &Value) -> Vec<i64> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["id"].as_i64().expect("id"))
        .collect()
}

/// `token`'s account follows `followee`, through the API (the counters'
/// batch commits it and drops the reader's cached followees).
async fn follow(app: &TestApp, token: &str, followee: i64) {
    let path = format!("/api/v1/users/{followee}/follow");
    let res = app.send(Method::PUT, &path, Some(token), None).await;
    assert_eq!(res.status(), 200, "PUT {path}");
}

/// Likes are counted by the counters' batches (helper B's branch); here
/// the count is set directly to move the likes order between pages.
async fn set_likes(app: &TestApp, post: i64, likes: i64) {
    sqlx::query("UPDATE posts SET like_count = ? WHERE id = ?")
        .bind(likes)
        .bind(post)
        .execute(app.store.pool())
        .await
        .expect("likes");
}

/// Pages through `query` with `limit`, calling `between` after each page;
/// answers the ids in the order shown.
async fn page_through<F, Fut>(
    app: &TestApp,
    query: &str,
    token: Option<&str>,
    mut between: F,
) -> Vec<i64>
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for n in 0.. {
        let url = match &cursor {
            Some(c) => format!("/api/v1/feed?{query}&cursor={c}"),
            None => format!("/api/v1/feed?{query}"),
        };
        let page = app.get_json(&url, token).await;
        seen.extend(ids(&page));
        between(n).await;
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    seen
}

fn assert_once_each(seen: &[i64], expected: &HashSet<i64>, what: &str) {
    let unique: HashSet<i64> = seen.iter().copied().collect();
    assert_eq!(
        unique.len(),
        seen.len(),
        "{what}: a post repeated: {seen:?}"
    );
    assert_eq!(&unique, expected, "{what}: posts missed or foreign");
}

async fn feed_pages_neither_repeat_nor_skip(db: TestDb) {
    let app = spawn_app(db).await;
    let (reader_id, reader) = app.user("customer").await;
    let mut authors = Vec::new();
    for _ in 0..3 {
        authors.push(app.user("customer").await);
    }
    follow(&app, &reader, authors[0].0).await;
    follow(&app, &reader, authors[1].0).await;
    for n in 0..24 {
        let id = post(&app, &authors[n % 3].1, &format!("post {n}")).await;
        set_likes(&app, id, (n as i64 * 7) % 5).await;
    }
    post(&app, &reader, "my own post is not in my following feed").await;
    let newcomer = authors[0].1.clone();
    let arrive = |label: &'static str| {
        let app = &app;
        let token = newcomer.clone();
        move |n: usize| {
            let token = token.clone();
            async move {
                post(app, &token, &format!("{label} {n}")).await;
            }
        }
    };

    // By date: newest first, and posts written while paging come after
    // the snapshot the first page saw (they are above the cursor).
    let everyone = posts_now(&app, None).await;
    let seen = page_through(&app, "scope=all&sort=date&limit=5", None, arrive("all")).await;
    assert_once_each(&seen, &everyone, "all by date");
    assert!(seen.windows(2).all(|w| w[0] > w[1]), "newest first");

    let followed = posts_now(&app, Some(reader_id)).await;
    assert!(followed.len() < everyone.len());
    let seen = page_through(
        &app,
        "scope=following&sort=date&limit=4",
        Some(&reader),
        arrive("following"),
    )
    .await;
    assert_once_each(&seen, &followed, "following by date");
    assert!(seen.windows(2).all(|w| w[0] > w[1]), "newest first");

    // By likes: most liked first; new posts arrive (liked at once) and
    // counts move between pages, yet every post of the first page's set
    // shows exactly once.
    let first = app
        .get_json("/api/v1/feed?sort=likes&limit=100", None)
        .await;
    let counts: Vec<i64> = first["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|p| p["like_count"].as_i64().expect("count"))
        .collect();
    assert!(
        counts.windows(2).all(|w| w[0] >= w[1]),
        "most liked first: {counts:?}"
    );
    for (query, token, scope) in [
        ("scope=all&sort=likes&limit=6", None, None),
        (
            "scope=following&sort=likes&limit=4",
            Some(reader.as_str()),
            Some(reader_id),
        ),
    ] {
        let expected = posts_now(&app, scope).await;
        let movers: Vec<i64> = expected.iter().copied().collect();
        let seen = page_through(&app, query, token, |n| {
            let app = &app;
            let token = newcomer.clone();
            let movers = movers.clone();
            async move {
                let fresh = post(app, &token, &format!("liked at once {n}")).await;
                set_likes(app, fresh, 1_000).await;
                // Reorder the set: bottom posts jump to the top, top ones fall.
                for (i, id) in movers.iter().enumerate() {
                    set_likes(app, *id, ((i + n * 5) % movers.len()) as i64 * 10).await;
                }
            }
        })
        .await;
        assert_once_each(&seen, &expected, query);
    }

    // Bad input.
    for bad in [
        "scope=friends",
        "sort=hot",
        "limit=0",
        "limit=101",
        "cursor=zz",
        "x=1",
    ] {
        let res = app.get(&format!("/api/v1/feed?{bad}"), None).await;
        assert_problem(res, 400, "VALIDATION_FAILED").await;
    }
    let by_date = app.get_json("/api/v1/feed?limit=1", None).await;
    let token = by_date["next_cursor"].as_str().expect("cursor");
    let res = app
        .get(&format!("/api/v1/feed?sort=likes&cursor={token}"), None)
        .await;
    assert_problem(res, 400, "VALIDATION_FAILED").await;
    let res = app.get("/api/v1/feed?scope=following", None).await;
    assert_problem(res, 401, "UNAUTHORIZED").await;
    app.stop().await;
}

/// The ids of every post now, or of those by accounts `reader` follows.
async fn posts_now(app: &TestApp, reader: Option<i64>) -> HashSet<i64> {
    let ids: Vec<i64> = match reader {
        None => sqlx::query_scalar("SELECT id FROM posts")
            .fetch_all(app.store.pool())
            .await
            .expect("posts"),
        Some(reader) => sqlx::query_scalar(
            "SELECT p.id FROM posts p JOIN follows f ON f.followee_id = p.author_id \
             WHERE f.follower_id = ?",
        )
        .bind(reader)
        .fetch_all(app.store.pool())
        .await
        .expect("followed posts"),
    };
    ids.into_iter().collect()
}

async fn blocked_members_vanish_from_what_the_blocker_reads(db: TestDb) {
    let app = spawn_app(db).await;
    let (reader_id, reader) = app.user("customer").await;
    let (pest_id, pest) = app.user("customer").await;
    let (friend_id, friend) = app.user("customer").await;
    follow(&app, &reader, pest_id).await;
    follow(&app, &reader, friend_id).await;
    let pests = post(&app, &pest, "buy my stuff").await;
    let friends = post(&app, &friend, "hello").await;
    let res = app
        .post_json(
            &format!("/api/v1/posts/{friends}/comments"),
            Some(&pest),
            json!({"body": "spam"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let res = app
        .post_json(
            &format!("/api/v1/posts/{friends}/comments"),
            Some(&friend),
            json!({"body": "thanks"}),
        )
        .await;
    assert_eq!(res.status(), 201);

    let block = format!("/api/v1/users/{pest_id}/block");
    for _ in 0..2 {
        let res = app.send(Method::PUT, &block, Some(&reader), None).await;
        assert_eq!(res.status(), 204, "blocking is idempotent");
    }
    let res = app
        .send(
            Method::PUT,
            &format!("/api/v1/users/{reader_id}/block"),
            Some(&reader),
            None,
        )
        .await;
    assert_problem(res, 422, "SELF_BLOCK").await;
    let res = app
        .send(
            Method::PUT,
            "/api/v1/users/999999/block",
            Some(&reader),
            None,
        )
        .await;
    assert_problem(res, 404, "NOT_FOUND").await;
    let res = app.send(Method::PUT, &block, None, None).await;
    assert_problem(res, 401, "UNAUTHORIZED").await;
    let blocks = app.get_json("/api/v1/users/me/blocks", Some(&reader)).await;
    assert_eq!(ids(&blocks), vec![pest_id]);
    assert_problem(
        app.get("/api/v1/users/me/blocks", None).await,
        401,
        "UNAUTHORIZED",
    )
    .await;

    for query in [
        "scope=all",
        "scope=following",
        "scope=all&sort=likes",
        "scope=following&sort=likes",
    ] {
        let feed = app
            .get_json(&format!("/api/v1/feed?{query}"), Some(&reader))
            .await;
        assert_eq!(ids(&feed), vec![friends], "{query}");
        let anonymous_or_other = app
            .get_json(&format!("/api/v1/feed?{query}"), Some(&friend))
            .await;
        assert!(
            query.contains("following") || ids(&anonymous_or_other).contains(&pests),
            "{query}"
        );
    }
    let theirs = app
        .get_json(&format!("/api/v1/users/{pest_id}/posts"), Some(&reader))
        .await;
    assert_eq!(theirs["items"], json!([]));
    let theirs = app
        .get_json(&format!("/api/v1/users/{pest_id}/posts"), None)
        .await;
    assert_eq!(ids(&theirs), vec![pests], "others still see them");
    let comments = app
        .get_json(&format!("/api/v1/posts/{friends}/comments"), Some(&reader))
        .await;
    assert_eq!(comments["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(comments["items"][0]["body"], "thanks");
    let comments = app
        .get_json(&format!("/api/v1/posts/{friends}/comments"), None)
        .await;
    assert_eq!(comments["items"].as_array().map(Vec::len), Some(2));

    for _ in 0..2 {
        let res = app.send(Method::DELETE, &block, Some(&reader), None).await;
        assert_eq!(res.status(), 204, "unblocking is idempotent");
    }
    let feed = app
        .get_json("/api/v1/feed?scope=following", Some(&reader))
        .await;
    assert_eq!(ids(&feed), vec![friends, pests]);
    let blocks = app.get_json("/api/v1/users/me/blocks", Some(&reader)).await;
    assert_eq!(blocks["items"], json!([]));
    app.stop().await;
}

async fn reports_reach_admins_who_hide_or_dismiss(db: TestDb) {
    let app = spawn_app(db).await;
    let (author_id, author) = app.user("customer").await;
    let (_, reporter) = app.user("customer").await;
    let (_, second) = app.user("seller").await;
    let admin = app.admin_token().await;
    let bad_post = post(&app, &author, "offensive").await;
    let fine_post = post(&app, &author, "fine").await;

    let report = |p: i64| format!("/api/v1/posts/{p}/reports");
    let res = app
        .post_json(
            &report(bad_post),
            Some(&reporter),
            json!({"reason": "abusive"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let first: Value = res.json().await.expect("report");
    let res = app
        .post_json(
            &report(bad_post),
            Some(&reporter),
            json!({"reason": "again"}),
        )
        .await;
    assert_problem(res, 409, "CONFLICT").await;
    let res = app
        .post_json(
            &report(bad_post),
            Some(&second),
            json!({"reason": "me too"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let res = app
        .post_json(
            &report(fine_post),
            Some(&reporter),
            json!({"reason": "meh"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let dismissable: Value = res.json().await.expect("report");
    for bad in [
        json!({"reason": " "}),
        json!({"reason": "r".repeat(501)}),
        json!({}),
    ] {
        let res = app.post_json(&report(fine_post), Some(&second), bad).await;
        assert_problem(res, 400, "VALIDATION_FAILED").await;
    }
    let res = app
        .post_json(&report(999_999), Some(&reporter), json!({"reason": "x"}))
        .await;
    assert_problem(res, 404, "NOT_FOUND").await;
    let res = app
        .post_json(&report(fine_post), None, json!({"reason": "x"}))
        .await;
    assert_problem(res, 401, "UNAUTHORIZED").await;

    // Admins only.
    assert_problem(
        app.get("/api/v1/admin/reports", None).await,
        401,
        "UNAUTHORIZED",
    )
    .await;
    for token in [&reporter, &second] {
        assert_problem(
            app.get("/api/v1/admin/reports", Some(token)).await,
            403,
            "FORBIDDEN",
        )
        .await;
        let res = app
            .post_json(
                &format!("/api/v1/admin/reports/{}/resolve", first["id"]),
                Some(token),
                json!({"action": "hide"}),
            )
            .await;
        assert_problem(res, 403, "FORBIDDEN").await;
    }
    let queue = app
        .get_json("/api/v1/admin/reports?limit=2", Some(&admin))
        .await;
    assert_eq!(queue["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(queue["items"][0]["reason"], "abusive");
    assert_eq!(queue["items"][0]["post_author_id"], author_id);
    let rest = app
        .get_json(
            &format!(
                "/api/v1/admin/reports?limit=2&cursor={}",
                queue["next_cursor"].as_str().expect("cursor")
            ),
            Some(&admin),
        )
        .await;
    assert_eq!(ids(&rest), vec![dismissable["id"].as_i64().expect("id")]);

    let resolve = |id: &Value| format!("/api/v1/admin/reports/{id}/resolve");
    let res = app
        .post_json(
            &resolve(&dismissable["id"]),
            Some(&admin),
            json!({"action": "ban"}),
        )
        .await;
    assert_problem(res, 400, "VALIDATION_FAILED").await;
    let res = app
        .post_json(
            "/api/v1/admin/reports/999999/resolve",
            Some(&admin),
            json!({"action": "dismiss"}),
        )
        .await;
    assert_problem(res, 404, "NOT_FOUND").await;
    let res = app
        .post_json(
            &resolve(&dismissable["id"]),
            Some(&admin),
            json!({"action": "dismiss"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let res = app
        .post_json(
            &resolve(&dismissable["id"]),
            Some(&admin),
            json!({"action": "hide"}),
        )
        .await;
    assert_problem(res, 409, "CONFLICT").await;
    assert_eq!(
        app.get_json(&format!("/api/v1/posts/{fine_post}"), None)
            .await["hidden"],
        false
    );

    // Hiding: gone for everyone but admins, everywhere; all its reports close.
    let res = app
        .post_json(
            &resolve(&first["id"]),
            Some(&admin),
            json!({"action": "hide"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    for token in [None, Some(author.as_str()), Some(reporter.as_str())] {
        assert_problem(
            app.get(&format!("/api/v1/posts/{bad_post}"), token).await,
            404,
            "NOT_FOUND",
        )
        .await;
        let feed = app.get_json("/api/v1/feed", token).await;
        assert_eq!(ids(&feed), vec![fine_post]);
        let theirs = app
            .get_json(&format!("/api/v1/users/{author_id}/posts"), token)
            .await;
        assert_eq!(ids(&theirs), vec![fine_post]);
    }
    let seen_by_admin = app
        .get_json(&format!("/api/v1/posts/{bad_post}"), Some(&admin))
        .await;
    assert_eq!(seen_by_admin["hidden"], true);
    assert_problem(
        app.get(&format!("/api/v1/posts/{bad_post}/comments"), None)
            .await,
        404,
        "NOT_FOUND",
    )
    .await;
    let res = app
        .send(
            Method::PATCH,
            &format!("/api/v1/posts/{bad_post}"),
            Some(&author),
            Some(json!({"body": "sorry"})),
        )
        .await;
    assert_problem(res, 404, "NOT_FOUND").await;
    let queue = app.get_json("/api/v1/admin/reports", Some(&admin)).await;
    assert_eq!(
        queue["items"],
        json!([]),
        "hiding closed both reports of the post"
    );
    app.stop().await;
}

const FOLLOWING: &str = "/api/v1/feed?scope=following&limit=50";

/// The `following` page ids come from memory once read (persistence/
/// feed_index.rs): every write that changes them must show on the next
/// read, the cache warm each time.
async fn following_feed_keeps_up_with_what_changes_it(db: TestDb) {
    let app = spawn_app(db).await;
    let admin = app.admin_token().await;
    let (_, reader) = app.user("customer").await;
    let (a_id, a) = app.user("customer").await;
    let (b_id, b) = app.user("customer").await;
    let (_, c) = app.user("customer").await;
    follow(&app, &reader, a_id).await;
    let a1 = post(&app, &a, "a1").await;
    let b1 = post(&app, &b, "b1").await;
    let read = || async { ids(&app.get_json(FOLLOWING, Some(&reader)).await) };
    assert_eq!(read().await, vec![a1]);
    let a2 = post(&app, &a, "a2").await;
    assert_eq!(read().await, vec![a2, a1], "a new post of a followee");
    follow(&app, &reader, b_id).await;
    assert_eq!(
        read().await,
        vec![a2, b1, a1],
        "a new followee's older posts"
    );
    // The same page read by someone else does not fill it for the reader.
    follow(&app, &c, a_id).await;
    assert_eq!(ids(&app.get_json(FOLLOWING, Some(&c)).await), vec![a2, a1]);
    let res = app
        .send(
            Method::DELETE,
            &format!("/api/v1/posts/{a2}"),
            Some(&a),
            None,
        )
        .await;
    assert_eq!(res.status(), 204);
    assert_eq!(read().await, vec![b1, a1], "a deleted post");
    let res = app
        .post_json(
            &format!("/api/v1/posts/{a1}/reports"),
            Some(&reader),
            json!({"reason": "spam"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let report: Value = res.json().await.expect("report");
    let res = app
        .post_json(
            &format!("/api/v1/admin/reports/{}/resolve", report["id"]),
            Some(&admin),
            json!({"action": "hide"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(read().await, vec![b1], "a hidden post");
    let a3 = post(&app, &a, "a3").await;
    assert_eq!(read().await, vec![a3, b1]);
    let res = app
        .send(
            Method::DELETE,
            &format!("/api/v1/users/{a_id}/follow"),
            Some(&reader),
            None,
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(read().await, vec![b1], "an unfollowed account");
    let res = app
        .send(
            Method::DELETE,
            "/api/v1/users/me",
            Some(&b),
            Some(json!({"current_password": common::USER_PASSWORD})),
        )
        .await;
    assert_eq!(res.status(), 204);
    assert_eq!(read().await, Vec::<i64>::new(), "a withdrawn account");
    app.stop().await;
}

/// A prolific followee: memory holds an author's newest 200 post ids, and
/// pages past them are read from SQL; neither repeats nor skips.
async fn a_prolific_followee_pages_past_what_memory_holds(db: TestDb) {
    let app = spawn_app(db).await;
    let (_, reader) = app.user("customer").await;
    let (author_id, _) = app.user("customer").await;
    let (quiet_id, quiet) = app.user("customer").await;
    follow(&app, &reader, author_id).await;
    follow(&app, &reader, quiet_id).await;
    let q1 = post(&app, &quiet, "the only post").await;
    // Written before any feed read, by SQL: 250 posts in one statement.
    let mut insert = sqlx::QueryBuilder::<sqlx::Any>::new(
        "INSERT INTO posts (author_id, body, created_at, updated_at) ",
    );
    insert.push_values(0..250, |mut row, n| {
        row.push_bind(author_id)
            .push_bind(format!("post {n}"))
            .push_bind(1_i64)
            .push_bind(1_i64);
    });
    insert
        .build()
        .execute(app.store.pool())
        .await
        .expect("posts");
    let mut expected: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM posts WHERE author_id = ? ORDER BY id DESC")
            .bind(author_id)
            .fetch_all(app.store.pool())
            .await
            .expect("ids");
    expected.push(q1);
    expected.sort_unstable_by(|x, y| y.cmp(x));
    let seen = page_through(&app, "scope=following&limit=60", Some(&reader), |_| async {
    })
    .await;
    assert_eq!(seen, expected);
    app.stop().await;
}

on_both_stores!(
    feed_pages_neither_repeat_nor_skip,
    blocked_members_vanish_from_what_the_blocker_reads,
    reports_reach_admins_who_hide_or_dismiss,
    following_feed_keeps_up_with_what_changes_it,
    a_prolific_followee_pages_past_what_memory_holds,
);
