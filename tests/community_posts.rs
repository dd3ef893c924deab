//! Community posts, comments and activity notifications over real HTTP on
//! both stores: who may write, edit and delete what, bad input, cursor
//! pages that stay put while comments arrive, `comment_count` under
//! concurrent comments, and the `commented` notification.

mod common;

use common::{TestApp, TestDb, assert_problem, spawn_app};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::HashSet;

async fn post(app: &TestApp, token: &str, body: &str) -> Value {
    let res = app
        .post_json("/api/v1/posts", Some(token), json!({ "body": body }))
        .await;
    assert_eq!(res.status(), 201, "create post");
    res.json().await.expect("post")
}

async fn comment(app: &TestApp, token: &str, post: i64, body: &str) -> Value {
    let res = app
        .post_json(
            &format!("/api/v1/posts/{post}/comments"),
            Some(token),
            json!({ "body": body }),
        )
        .await;
    assert_eq!(res.status(), 201, "comment");
    res.json().await.expect("comment")
}

fn ids(page: &Value) -> Vec<i64> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["id"].as_i64().expect("id"))
        .collect()
}

/// Reads every page of `path` (which has a query string), `limit` a page.
async fn all_pages(app: &TestApp, path: &str, token: Option<&str>) -> Vec<i64> {
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("{path}&cursor={c}"),
            None => path.to_string(),
        };
        let page = app.get_json(&url, token).await;
        seen.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return seen,
        }
    }
}

async fn posts_are_written_edited_and_deleted_by_the_right_people(db: TestDb) {
    let app = spawn_app(db).await;
    let (alice_id, alice) = app.user("customer").await;
    let (_, bob) = app.user("seller").await;
    let admin = app.admin_token().await;

    let created = post(&app, &alice, "  First drop was wild \n ").await;
    let id = created["id"].as_i64().expect("id");
    assert_eq!(created["body"], "First drop was wild");
    assert_eq!(
        created["author"],
        json!({"id": alice_id, "name": "Test User"})
    );
    assert_eq!(
        (
            created["like_count"].as_i64(),
            created["comment_count"].as_i64()
        ),
        (Some(0), Some(0))
    );
    let read = app.get_json(&format!("/api/v1/posts/{id}"), None).await;
    assert_eq!(read["body"], "First drop was wild");
    assert_eq!(read["hidden"], false);

    for bad in [
        json!({"body": "   "}),
        json!({"body": "x".repeat(5001)}),
        json!({}),
        json!({"body": "a\u{0}b"}),
    ] {
        let res = app.post_json("/api/v1/posts", Some(&alice), bad).await;
        assert_problem(res, 400, "VALIDATION_FAILED").await;
    }
    let res = app
        .post_json(
            "/api/v1/posts",
            Some(&alice),
            json!({"body": "가".repeat(5000)}),
        )
        .await;
    assert_eq!(res.status(), 201, "5,000 characters (not bytes) fit");
    let res = app
        .post_json("/api/v1/posts", None, json!({"body": "hi"}))
        .await;
    assert_problem(res, 401, "UNAUTHORIZED").await;
    let res = app.get("/api/v1/posts/abc", None).await;
    assert_problem(res, 400, "VALIDATION_FAILED").await;
    let res = app.get("/api/v1/posts/999999", None).await;
    assert_problem(res, 404, "NOT_FOUND").await;
    let res = app
        .get(&format!("/api/v1/posts/{id}"), Some("not-a-token"))
        .await;
    assert_problem(res, 401, "UNAUTHORIZED").await;

    // Only the author edits; not even an admin.
    let path = format!("/api/v1/posts/{id}");
    for token in [&bob, &admin] {
        let res = app
            .send(
                Method::PATCH,
                &path,
                Some(token),
                Some(json!({"body": "mine now"})),
            )
            .await;
        assert_problem(res, 403, "FORBIDDEN").await;
    }
    let res = app
        .send(
            Method::PATCH,
            &path,
            Some(&alice),
            Some(json!({"body": ""})),
        )
        .await;
    assert_problem(res, 400, "VALIDATION_FAILED").await;
    let res = app
        .send(
            Method::PATCH,
            &path,
            Some(&alice),
            Some(json!({"body": "Edited"})),
        )
        .await;
    assert_eq!(res.status(), 200);
    let edited: Value = res.json().await.expect("post");
    assert_eq!(edited["body"], "Edited");
    assert_eq!(edited["created_at"], created["created_at"]);

    // The author or an admin deletes; nobody else.
    let res = app.send(Method::DELETE, &path, Some(&bob), None).await;
    assert_problem(res, 403, "FORBIDDEN").await;
    let res = app.send(Method::DELETE, &path, None, None).await;
    assert_problem(res, 401, "UNAUTHORIZED").await;
    let res = app.send(Method::DELETE, &path, Some(&alice), None).await;
    assert_eq!(res.status(), 204);
    assert_problem(app.get(&path, None).await, 404, "NOT_FOUND").await;
    assert_problem(
        app.send(Method::DELETE, &path, Some(&alice), None).await,
        404,
        "NOT_FOUND",
    )
    .await;
    let res = app
        .send(
            Method::PATCH,
            &path,
            Some(&alice),
            Some(json!({"body": "back"})),
        )
        .await;
    assert_problem(res, 404, "NOT_FOUND").await;
    let other = post(&app, &bob, "Bob's post").await["id"]
        .as_i64()
        .expect("id");
    let res = app
        .send(
            Method::DELETE,
            &format!("/api/v1/posts/{other}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(res.status(), 204, "an admin deletes anyone's post");
    app.stop().await;
}

async fn an_authors_posts_page_newest_first(db: TestDb) {
    let app = spawn_app(db).await;
    let (alice_id, alice) = app.user("customer").await;
    let (_, bob) = app.user("customer").await;
    let mut written = Vec::new();
    for n in 0..7 {
        written.push(
            post(&app, &alice, &format!("post {n}")).await["id"]
                .as_i64()
                .expect("id"),
        );
        post(&app, &bob, "noise").await;
    }
    let path = format!("/api/v1/users/{alice_id}/posts?limit=3");
    let first = app.get_json(&path, None).await;
    assert_eq!(
        ids(&first),
        written.iter().rev().take(3).copied().collect::<Vec<_>>()
    );
    let seen = all_pages(&app, &path, None).await;
    assert_eq!(seen, written.iter().rev().copied().collect::<Vec<_>>());
    let exact = app
        .get_json(&format!("/api/v1/users/{alice_id}/posts?limit=7"), None)
        .await;
    assert_eq!(exact["next_cursor"], Value::Null, "no empty last page");

    for bad in ["limit=0", "limit=101", "cursor=zz", "cursor=", "page=2"] {
        let res = app
            .get(&format!("/api/v1/users/{alice_id}/posts?{bad}"), None)
            .await;
        assert_problem(res, 400, "VALIDATION_FAILED").await;
    }
    let res = app.get("/api/v1/users/999999/posts", None).await;
    assert_problem(res, 404, "NOT_FOUND").await;
    app.stop().await;
}

async fn comments_count_notify_and_page_stably(db: TestDb) {
    let app = spawn_app(db).await;
    let (alice_id, alice) = app.user("customer").await;
    let (bob_id, bob) = app.user("customer").await;
    let (_, carol) = app.user("customer").await;
    let admin = app.admin_token().await;
    let p = post(&app, &alice, "What did you get?").await["id"]
        .as_i64()
        .expect("id");

    let mine = comment(&app, &alice, p, "I got the blue one").await;
    let bobs = comment(&app, &bob, p, "Red!").await;
    assert_eq!(bobs["author"], json!({"id": bob_id, "name": "Test User"}));
    assert_eq!(bobs["post_id"], p);
    let carols = comment(&app, &carol, p, "Nothing, sold out").await;
    let post_now = app.get_json(&format!("/api/v1/posts/{p}"), None).await;
    assert_eq!(post_now["comment_count"], 3);

    // Bad input and roles.
    let path = format!("/api/v1/posts/{p}/comments");
    for bad in [
        json!({"body": " "}),
        json!({"body": "c".repeat(2001)}),
        json!({"text": "x"}),
    ] {
        assert_problem(
            app.post_json(&path, Some(&bob), bad).await,
            400,
            "VALIDATION_FAILED",
        )
        .await;
    }
    assert_problem(
        app.post_json(&path, None, json!({"body": "x"})).await,
        401,
        "UNAUTHORIZED",
    )
    .await;
    let res = app
        .post_json(
            "/api/v1/posts/999999/comments",
            Some(&bob),
            json!({"body": "x"}),
        )
        .await;
    assert_problem(res, 404, "NOT_FOUND").await;
    assert_problem(
        app.get("/api/v1/posts/999999/comments", None).await,
        404,
        "NOT_FOUND",
    )
    .await;

    // Only a comment's author edits it.
    let bobs_id = bobs["id"].as_i64().expect("id");
    let cpath = format!("/api/v1/comments/{bobs_id}");
    for token in [&alice, &admin] {
        let res = app
            .send(
                Method::PATCH,
                &cpath,
                Some(token),
                Some(json!({"body": "edited"})),
            )
            .await;
        assert_problem(res, 403, "FORBIDDEN").await;
    }
    let res = app
        .send(
            Method::PATCH,
            &cpath,
            Some(&bob),
            Some(json!({"body": "Red, size M"})),
        )
        .await;
    assert_eq!(res.status(), 200);
    let edited: Value = res.json().await.expect("comment");
    assert_eq!(edited["body"], "Red, size M");

    // Alice was notified of Bob's and Carol's comments, not of her own.
    let acts = app
        .get_json("/api/v1/users/me/activities", Some(&alice))
        .await;
    let items = acts["items"].as_array().expect("items");
    assert_eq!(items.len(), 2, "{acts}");
    assert_eq!(items[0]["kind"], "commented");
    assert_eq!(items[0]["comment_id"], carols["id"]);
    assert_eq!(
        items[1]["actor"],
        json!({"id": bob_id, "name": "Test User"})
    );
    assert_eq!(items[1]["post_id"], p);
    assert_eq!(items[1]["read"], false);
    let none = app
        .get_json("/api/v1/users/me/activities", Some(&bob))
        .await;
    assert_eq!(none["items"], json!([]));

    // Deleting: the comment's author, the post's author, an admin; nobody else.
    let carols_id = carols["id"].as_i64().expect("id");
    let res = app.send(Method::DELETE, &cpath, Some(&carol), None).await;
    assert_problem(res, 403, "FORBIDDEN").await;
    let res = app.send(Method::DELETE, &cpath, Some(&alice), None).await;
    assert_eq!(
        res.status(),
        204,
        "the post's author removes a comment on it"
    );
    let res = app
        .send(
            Method::DELETE,
            &format!("/api/v1/comments/{carols_id}"),
            Some(&carol),
            None,
        )
        .await;
    assert_eq!(res.status(), 204);
    let mine_id = mine["id"].as_i64().expect("id");
    let res = app
        .send(
            Method::DELETE,
            &format!("/api/v1/comments/{mine_id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(res.status(), 204);
    assert_problem(
        app.send(Method::DELETE, &cpath, Some(&bob), None).await,
        404,
        "NOT_FOUND",
    )
    .await;
    let post_now = app.get_json(&format!("/api/v1/posts/{p}"), None).await;
    assert_eq!(post_now["comment_count"], 0, "each delete counted once");

    // Oldest first; comments written while paging land after the cursor
    // and are read exactly once.
    let mut written = Vec::new();
    for n in 0..9 {
        written.push(
            comment(&app, &bob, p, &format!("c{n}")).await["id"]
                .as_i64()
                .expect("id"),
        );
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("{path}?limit=4&cursor={c}"),
            None => format!("{path}?limit=4"),
        };
        let page = app.get_json(&url, None).await;
        seen.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
        // Before the reader reaches the end: read on a later page.
        written.push(
            comment(&app, &carol, p, "arrived while paging").await["id"]
                .as_i64()
                .expect("id"),
        );
    }
    assert_eq!(seen, written, "every comment once, in order");
    assert!(written.len() > 9, "comments arrived while paging");
    let post_now = app.get_json(&format!("/api/v1/posts/{p}"), None).await;
    assert_eq!(post_now["comment_count"], written.len());

    // Deleting the post takes its comments with it.
    app.send(
        Method::DELETE,
        &format!("/api/v1/posts/{p}"),
        Some(&alice),
        None,
    )
    .await;
    assert_problem(app.get(&path, None).await, 404, "NOT_FOUND").await;
    let res = app
        .send(
            Method::PATCH,
            &format!("/api/v1/comments/{}", written[0]),
            Some(&bob),
            Some(json!({"body": "x"})),
        )
        .await;
    assert_problem(res, 404, "NOT_FOUND").await;
    let _ = alice_id;
    app.stop().await;
}

async fn concurrent_comments_keep_the_count_exact(db: TestDb) {
    let app = spawn_app(db).await;
    let (_, alice) = app.user("customer").await;
    let mut writers = Vec::new();
    for _ in 0..4 {
        writers.push(app.user("customer").await.1);
    }
    let p = post(&app, &alice, "Count me").await["id"]
        .as_i64()
        .expect("id");
    let app = std::sync::Arc::new(app);
    let mut tasks = tokio::task::JoinSet::new();
    let n = 1_000;
    for i in 0..n {
        let app = app.clone();
        let token = writers[i % writers.len()].clone();
        tasks.spawn(async move {
            let res = app
                .post_json(
                    &format!("/api/v1/posts/{p}/comments"),
                    Some(&token),
                    json!({"body": format!("c{i}")}),
                )
                .await;
            assert_eq!(res.status(), 201);
            let c: Value = res.json().await.expect("comment");
            c["id"].as_i64().expect("id")
        });
    }
    let mut ids = HashSet::new();
    while let Some(id) = tasks.join_next().await {
        assert!(ids.insert(id.expect("task")));
    }
    // Delete a tenth of them, each twice at once: each counts once.
    let victims: Vec<i64> = ids.iter().copied().take(n / 10).collect();
    for id in &victims {
        for _ in 0..2 {
            let app = app.clone();
            let token = alice.clone();
            let id = *id;
            tasks.spawn(async move {
                let res = app
                    .send(
                        Method::DELETE,
                        &format!("/api/v1/comments/{id}"),
                        Some(&token),
                        None,
                    )
                    .await;
                assert!(
                    matches!(res.status().as_u16(), 204 | 404),
                    "{}",
                    res.status()
                );
                0
            });
        }
    }
    while let Some(r) = tasks.join_next().await {
        r.expect("task");
    }
    let expected = (n - n / 10) as i64;
    let shown = app.get_json(&format!("/api/v1/posts/{p}"), None).await;
    assert_eq!(shown["comment_count"], expected);
    let live: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM comments WHERE post_id = ? AND deleted_at IS NULL",
    )
    .bind(p)
    .fetch_one(app.store.pool())
    .await
    .expect("count");
    assert_eq!(live, expected);
    let acts: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM activities WHERE post_id = ? AND kind = 'commented'",
    )
    .bind(p)
    .fetch_one(app.store.pool())
    .await
    .expect("count");
    assert_eq!(acts, n as i64, "one notification per comment");
    let app = std::sync::Arc::into_inner(app).expect("sole owner");
    app.stop().await;
}

async fn unread(app: &TestApp, token: &str) -> i64 {
    app.get_json("/api/v1/users/me/activities/unread-count", Some(token))
        .await["unread"]
        .as_i64()
        .expect("unread")
}

async fn activities_count_and_mark_read(db: TestDb) {
    let app = spawn_app(db).await;
    let (alice_id, alice) = app.user("customer").await;
    let (bob_id, bob) = app.user("customer").await;
    let p = post(&app, &alice, "Notify me").await["id"]
        .as_i64()
        .expect("id");
    // Follows and likes are written by the counters' batches (helper B's
    // branch); until those merge, their rows are inserted here by SQL.
    sqlx::query(
        "INSERT INTO activities (recipient_id, actor_id, kind, post_id, comment_id, created_at) \
         VALUES (?, ?, 'followed', 0, 0, 1), (?, ?, 'liked_post', ?, 0, 2)",
    )
    .bind(alice_id)
    .bind(bob_id)
    .bind(alice_id)
    .bind(bob_id)
    .bind(p)
    .execute(app.store.pool())
    .await
    .expect("activities");

    let mut comments = Vec::new();
    for n in 0..5 {
        comments.push(
            comment(&app, &bob, p, &format!("n{n}")).await["id"]
                .as_i64()
                .expect("id"),
        );
    }
    assert_eq!(unread(&app, &alice).await, 7);
    let all = app
        .get_json("/api/v1/users/me/activities?limit=3", Some(&alice))
        .await;
    let first_page = ids(&all);
    assert_eq!(first_page.len(), 3);
    let every = all_pages(&app, "/api/v1/users/me/activities?limit=3", Some(&alice)).await;
    assert_eq!(every.len(), 7);
    assert!(every.windows(2).all(|w| w[0] > w[1]), "newest first");
    let kinds: HashSet<String> = {
        let page = app
            .get_json("/api/v1/users/me/activities?limit=100", Some(&alice))
            .await;
        page["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|i| i["kind"].as_str().expect("kind").to_string())
            .collect()
    };
    assert_eq!(
        kinds,
        HashSet::from([
            "followed".to_string(),
            "liked_post".into(),
            "commented".into()
        ])
    );
    let follow = every.last().copied().expect("oldest");

    // Up to what was seen: the oldest two (the SQL-inserted rows come first).
    let res = app
        .post_json(
            "/api/v1/users/me/activities/read",
            Some(&alice),
            json!({"up_to": every[every.len() - 2]}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let marked: Value = res.json().await.expect("marked");
    assert_eq!(
        (marked["marked"].as_i64(), marked["unread"].as_i64()),
        (Some(2), Some(5))
    );
    let page = app
        .get_json("/api/v1/users/me/activities?limit=100", Some(&alice))
        .await;
    let last = page["items"]
        .as_array()
        .expect("items")
        .last()
        .cloned()
        .expect("item");
    assert_eq!(
        (last["id"].as_i64(), last["read"].as_bool()),
        (Some(follow), Some(true))
    );
    assert_eq!(last["post_id"], Value::Null);
    // Bob's unread are his own business.
    let res = app
        .post_json(
            "/api/v1/users/me/activities/read",
            Some(&bob),
            json!({"all": true}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(unread(&app, &alice).await, 5);
    let res = app
        .post_json(
            "/api/v1/users/me/activities/read",
            Some(&alice),
            json!({"all": true}),
        )
        .await;
    let marked: Value = res.json().await.expect("marked");
    assert_eq!(
        (marked["marked"].as_i64(), marked["unread"].as_i64()),
        (Some(5), Some(0))
    );

    for bad in [
        json!({}),
        json!({"all": false}),
        json!({"up_to": 1, "all": true}),
        json!({"up_to": "x"}),
    ] {
        let res = app
            .post_json("/api/v1/users/me/activities/read", Some(&alice), bad)
            .await;
        assert_problem(res, 400, "VALIDATION_FAILED").await;
    }
    for path in [
        "/api/v1/users/me/activities",
        "/api/v1/users/me/activities/unread-count",
    ] {
        assert_problem(app.get(path, None).await, 401, "UNAUTHORIZED").await;
    }
    let res = app
        .post_json(
            "/api/v1/users/me/activities/read",
            None,
            json!({"all": true}),
        )
        .await;
    assert_problem(res, 401, "UNAUTHORIZED").await;
    let _ = comments;
    app.stop().await;
}

on_both_stores!(
    posts_are_written_edited_and_deleted_by_the_right_people,
    an_authors_posts_page_newest_first,
    comments_count_notify_and_page_stably,
    concurrent_comments_keep_the_count_exact,
    activities_count_and_mark_read,
);
