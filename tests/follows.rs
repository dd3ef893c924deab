//! Follows over HTTP, on both stores: idempotent follow and unfollow, the
//! counts on both accounts, no self-follow, 404 for unknown and withdrawn
//! accounts, sign-in required, and cursor-paginated followers and
//! following lists that neither repeat nor skip.

mod common;

use common::community::{mark, members, scalar};
use common::{TestApp, TestDb, assert_problem, spawn_app};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::HashSet;

async fn follow(app: &TestApp, method: Method, who: i64, token: &str) -> Value {
    let path = format!("/api/v1/users/{who}/follow");
    let res = app.send(method.clone(), &path, Some(token), None).await;
    assert_eq!(res.status(), 200, "{method} {path}");
    res.json().await.expect("json")
}

async fn follows_are_idempotent_and_counted(db: TestDb) {
    let app = spawn_app(db).await;
    let s = &app.store;
    let people = members(s, 3).await;
    let (star, a, b) = (&people[0], &people[1], &people[2]);
    assert_eq!(
        follow(&app, Method::PUT, star.id, &a.token).await,
        json!({"following": true, "follower_count": 1})
    );
    assert_eq!(
        follow(&app, Method::PUT, star.id, &a.token).await,
        json!({"following": true, "follower_count": 1}),
        "a second follow is no second count"
    );
    assert_eq!(
        follow(&app, Method::PUT, star.id, &b.token).await["follower_count"],
        2
    );
    follow(&app, Method::PUT, b.id, &a.token).await;
    let social = app
        .get_json(
            &format!("/api/v1/users/{star}/social", star = star.id),
            None,
        )
        .await;
    assert_eq!(social["follower_count"], 2);
    assert_eq!(social["following_count"], 0);
    assert_eq!(social["user_id"], star.id);
    let social = app
        .get_json(&format!("/api/v1/users/{}/social", a.id), None)
        .await;
    assert_eq!(
        (
            social["follower_count"].as_i64(),
            social["following_count"].as_i64()
        ),
        (Some(0), Some(2))
    );
    assert_eq!(
        follow(&app, Method::DELETE, star.id, &a.token).await,
        json!({"following": false, "follower_count": 1})
    );
    assert_eq!(
        follow(&app, Method::DELETE, star.id, &a.token).await,
        json!({"following": false, "follower_count": 1}),
        "unfollowing whom one does not follow is fine"
    );
    let social = app
        .get_json(&format!("/api/v1/users/{}/social", a.id), None)
        .await;
    assert_eq!(social["following_count"], 1);
    // Follow, unfollow, follow again: the star hears about `a` once.
    follow(&app, Method::PUT, star.id, &a.token).await;
    let heard = "SELECT COUNT(*) FROM activities WHERE recipient_id = ? AND actor_id = ? \
                 AND kind = 'followed' AND post_id = 0 AND comment_id = 0";
    assert_eq!(scalar(s, heard, &[star.id, a.id]).await, 1);
    assert_eq!(scalar(s, heard, &[star.id, b.id]).await, 1);
    let rows = "SELECT COUNT(*) FROM follows WHERE followee_id = ?";
    assert_eq!(scalar(s, rows, &[star.id]).await, 2);
    let count = "SELECT follower_count FROM users WHERE id = ?";
    assert_eq!(scalar(s, count, &[star.id]).await, 2);
    app.stop().await;
}

async fn follows_refuse_what_cannot_be(db: TestDb) {
    let app = spawn_app(db).await;
    let s = &app.store;
    let people = members(s, 3).await;
    let (me, gone, other) = (&people[0], &people[1], &people[2]);
    mark(s, "users", "deleted_at", gone.id).await;
    for method in [Method::PUT, Method::DELETE] {
        let path = format!("/api/v1/users/{}/follow", me.id);
        let res = app.send(method.clone(), &path, Some(&me.token), None).await;
        assert_problem(res, 422, "SELF_FOLLOW").await;
        for who in [gone.id, 999_999] {
            let path = format!("/api/v1/users/{who}/follow");
            let res = app.send(method.clone(), &path, Some(&me.token), None).await;
            assert_problem(res, 404, "NOT_FOUND").await;
        }
        let path = format!("/api/v1/users/{}/follow", other.id);
        let res = app.send(method, &path, None, None).await;
        assert_problem(res, 401, "UNAUTHORIZED").await;
    }
    for path in [
        format!("/api/v1/users/{}/social", gone.id),
        "/api/v1/users/999999/followers".to_string(),
        format!("/api/v1/users/{}/following", gone.id),
    ] {
        assert_problem(app.get(&path, None).await, 404, "NOT_FOUND").await;
    }
    let base = format!("/api/v1/users/{}/followers", other.id);
    for query in [
        "?limit=0",
        "?limit=101",
        "?cursor=abc",
        "?cursor=-4",
        "?page=2",
    ] {
        let res = app.get(&format!("{base}{query}"), None).await;
        assert_problem(res, 400, "VALIDATION_FAILED").await;
    }
    assert_eq!(scalar(s, "SELECT COUNT(*) FROM follows", &[]).await, 0);
    app.stop().await;
}

/// Reads a whole list page by page; panics on a repeat.
async fn read_all(app: &TestApp, path: &str, limit: usize) -> Vec<i64> {
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("{path}?limit={limit}&cursor={c}"),
            None => format!("{path}?limit={limit}"),
        };
        let page = app.get_json(&url, None).await;
        let items = page["items"].as_array().expect("items");
        assert!(items.len() <= limit);
        seen.extend(items.iter().map(|i| i["user_id"].as_i64().expect("id")));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    let distinct: HashSet<&i64> = seen.iter().collect();
    assert_eq!(distinct.len(), seen.len(), "no account twice: {seen:?}");
    seen
}

async fn lists_page_by_cursor(db: TestDb) {
    let app = spawn_app(db).await;
    let s = &app.store;
    let people = members(s, 26).await;
    let (star, fans) = (&people[0], &people[1..]);
    for fan in fans {
        follow(&app, Method::PUT, star.id, &fan.token).await;
    }
    follow(&app, Method::PUT, fans[0].id, &star.token).await;
    follow(&app, Method::PUT, fans[1].id, &star.token).await;
    let path = format!("/api/v1/users/{}/followers", star.id);
    let first = app.get_json(&format!("{path}?limit=10"), None).await;
    assert_eq!(first["items"].as_array().map(Vec::len), Some(10));
    assert!(first["items"][0]["name"].is_string());
    assert!(first["items"][0]["since"].is_string());
    let all = read_all(&app, &path, 10).await;
    let mut expected: Vec<i64> = fans.iter().map(|f| f.id).collect();
    expected.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(all, expected, "every follower once, newest account first");
    // Unfollows between pages skip nobody still following.
    let page = app.get_json(&format!("{path}?limit=5"), None).await;
    let cursor = page["next_cursor"].as_str().expect("cursor").to_string();
    follow(&app, Method::DELETE, star.id, &fans[24].token).await;
    let rest = app
        .get_json(&format!("{path}?limit=100&cursor={cursor}"), None)
        .await;
    assert_eq!(rest["items"].as_array().map(Vec::len), Some(20));
    assert!(rest["next_cursor"].is_null());
    let following = read_all(&app, &format!("/api/v1/users/{}/following", star.id), 1).await;
    assert_eq!(following, vec![fans[1].id, fans[0].id]);
    // A withdrawn account leaves both lists (its rows stay, for the counts).
    mark(s, "users", "deleted_at", fans[0].id).await;
    let following = read_all(&app, &format!("/api/v1/users/{}/following", star.id), 1).await;
    assert_eq!(following, vec![fans[1].id]);
    let followers = read_all(&app, &path, 100).await;
    assert!(!followers.contains(&fans[0].id), "{followers:?}");
    assert_eq!(followers.len(), 23);
    app.stop().await;
}

on_both_stores!(
    follows_are_idempotent_and_counted,
    follows_refuse_what_cannot_be,
    lists_page_by_cursor,
);
