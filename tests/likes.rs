//! Likes on posts and comments over HTTP, on both stores: idempotent like
//! and unlike, counts as committed, activities once per liker, 404 for
//! what is not live, sign-in required.
//!
//! Most posts and comments are inserted as rows (`common::community`), so
//! that their states can be set directly; one test goes through the posts
//! and comments routes.

mod common;

use common::community::{comment, mark, members, post, scalar};
use common::{TestApp, TestDb, assert_problem, spawn_app};
use reqwest::Method;
use serde_json::{Value, json};

async fn like(app: &TestApp, method: Method, path: &str, token: &str) -> Value {
    let res = app.send(method.clone(), path, Some(token), None).await;
    assert_eq!(res.status(), 200, "{method} {path}");
    res.json().await.expect("json")
}

async fn post_likes_are_idempotent_and_counted(db: TestDb) {
    let app = spawn_app(db).await;
    let s = &app.store;
    let people = members(s, 3).await;
    let (author, a, b) = (&people[0], &people[1], &people[2]);
    let p = post(s, author.id).await;
    let path = format!("/api/v1/posts/{p}/like");

    let put = Method::PUT;
    let del = Method::DELETE;
    assert_eq!(
        like(&app, put.clone(), &path, &a.token).await,
        json!({"liked": true, "like_count": 1})
    );
    assert_eq!(
        like(&app, put.clone(), &path, &a.token).await,
        json!({"liked": true, "like_count": 1}),
        "a second like is no second count"
    );
    assert_eq!(
        like(&app, put.clone(), &path, &b.token).await["like_count"],
        2
    );
    assert_eq!(
        like(&app, del.clone(), &path, &a.token).await,
        json!({"liked": false, "like_count": 1})
    );
    assert_eq!(
        like(&app, del.clone(), &path, &a.token).await,
        json!({"liked": false, "like_count": 1}),
        "unliking what one does not like is fine"
    );
    // Acknowledged means committed: the row and the counter agree.
    let count = "SELECT like_count FROM posts WHERE id = ?";
    let rows = "SELECT COUNT(*) FROM post_likes WHERE post_id = ?";
    assert_eq!(scalar(s, count, &[p]).await, 1);
    assert_eq!(scalar(s, rows, &[p]).await, 1);
    // Like, unlike, like again: the author hears about `a` once.
    like(&app, put.clone(), &path, &a.token).await;
    like(&app, put.clone(), &path, &author.token).await;
    let heard = "SELECT COUNT(*) FROM activities WHERE recipient_id = ? AND actor_id = ? \
                 AND kind = 'liked_post' AND post_id = ? AND comment_id = 0";
    assert_eq!(scalar(s, heard, &[author.id, a.id, p]).await, 1);
    assert_eq!(scalar(s, heard, &[author.id, b.id, p]).await, 1);
    assert_eq!(
        scalar(s, heard, &[author.id, author.id, p]).await,
        0,
        "liking one's own post notifies nobody"
    );
    assert_eq!(scalar(s, count, &[p]).await, 3);
    assert_eq!(scalar(s, rows, &[p]).await, 3);
    // Operators see the counter actors and their writer; nobody else does.
    let view = "/api/v1/admin/actors/counters";
    assert_problem(app.get(view, Some(&a.token)).await, 403, "FORBIDDEN").await;
    let admin = app.admin_token().await;
    let overview = app.get_json(view, Some(&admin)).await;
    assert_eq!(overview["active_counter_actors"], 1, "{overview}");
    assert!(
        overview["writer"]["changes_committed"].as_u64() >= Some(5),
        "{overview}"
    );
    assert_eq!(overview["writer"]["queued"], 0);
    app.stop().await;
}

async fn comment_likes_are_counted(db: TestDb) {
    let app = spawn_app(db).await;
    let s = &app.store;
    let people = members(s, 3).await;
    let (poster, commenter, fan) = (&people[0], &people[1], &people[2]);
    let p = post(s, poster.id).await;
    let c = comment(s, p, commenter.id).await;
    let path = format!("/api/v1/comments/{c}/like");
    assert_eq!(
        like(&app, Method::PUT, &path, &fan.token).await,
        json!({"liked": true, "like_count": 1})
    );
    assert_eq!(
        like(&app, Method::PUT, &path, &poster.token).await["like_count"],
        2
    );
    assert_eq!(
        like(&app, Method::DELETE, &path, &fan.token).await,
        json!({"liked": false, "like_count": 1})
    );
    let count = "SELECT like_count FROM comments WHERE id = ?";
    let rows = "SELECT COUNT(*) FROM comment_likes WHERE comment_id = ?";
    assert_eq!(scalar(s, count, &[c]).await, 1);
    assert_eq!(scalar(s, rows, &[c]).await, 1);
    // The comment's author hears, naming the comment and its post.
    let heard = "SELECT COUNT(*) FROM activities WHERE recipient_id = ? AND actor_id = ? \
                 AND kind = 'liked_comment' AND post_id = ? AND comment_id = ?";
    assert_eq!(scalar(s, heard, &[commenter.id, fan.id, p, c]).await, 1);
    assert_eq!(scalar(s, heard, &[commenter.id, poster.id, p, c]).await, 1);
    // The post's own count is another counter.
    assert_eq!(
        scalar(s, "SELECT like_count FROM posts WHERE id = ?", &[p]).await,
        0
    );
    app.stop().await;
}

async fn what_is_not_live_cannot_be_liked(db: TestDb) {
    let app = spawn_app(db).await;
    let s = &app.store;
    let people = members(s, 2).await;
    let (author, fan) = (&people[0], &people[1]);
    let hidden = post(s, author.id).await;
    let deleted = post(s, author.id).await;
    let live = post(s, author.id).await;
    let on_hidden = comment(s, hidden, author.id).await;
    let gone = comment(s, live, author.id).await;
    mark(s, "posts", "hidden_at", hidden).await;
    mark(s, "posts", "deleted_at", deleted).await;
    mark(s, "comments", "deleted_at", gone).await;
    for path in [
        "/api/v1/posts/999999/like".to_string(),
        format!("/api/v1/posts/{hidden}/like"),
        format!("/api/v1/posts/{deleted}/like"),
        "/api/v1/comments/999999/like".to_string(),
        format!("/api/v1/comments/{on_hidden}/like"),
        format!("/api/v1/comments/{gone}/like"),
    ] {
        for method in [Method::PUT, Method::DELETE] {
            let res = app.send(method, &path, Some(&fan.token), None).await;
            assert_problem(res, 404, "NOT_FOUND").await;
        }
    }
    // A post created after its id was asked about is found.
    let res = app
        .send(
            Method::PUT,
            "/api/v1/posts/999999/like",
            Some(&fan.token),
            None,
        )
        .await;
    assert_problem(res, 404, "NOT_FOUND").await;
    let path = format!("/api/v1/posts/{live}/like");
    // Sign-in required; a forged token is refused.
    let res = app.send(Method::PUT, &path, None, None).await;
    assert_problem(res, 401, "UNAUTHORIZED").await;
    let res = app
        .send(Method::DELETE, &path, Some("not.a.token"), None)
        .await;
    assert_problem(res, 401, "UNAUTHORIZED").await;
    let res = app
        .send(
            Method::PUT,
            "/api/v1/posts/abc/like",
            Some(&fan.token),
            None,
        )
        .await;
    assert_problem(res, 400, "VALIDATION_FAILED").await;
    assert_eq!(scalar(s, "SELECT COUNT(*) FROM post_likes", &[]).await, 0);
    assert_eq!(
        scalar(s, "SELECT COUNT(*) FROM comment_likes", &[]).await,
        0
    );
    assert_eq!(
        like(&app, Method::PUT, &path, &fan.token).await["like_count"],
        1
    );
    app.stop().await;
}

/// Through the posts, comments and reports routes: a live like actor stops
/// with its post or comment (deleted, or hidden by an admin), so a like
/// after that is 404, not counted.
async fn removed_through_the_api_stops_taking_likes(db: TestDb) {
    let app = spawn_app(db).await;
    let people = members(&app.store, 2).await;
    let (author, fan) = (&people[0], &people[1]);
    let res = app
        .post_json(
            "/api/v1/posts",
            Some(&author.token),
            json!({"body": "Drop at noon"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let post: Value = res.json().await.expect("post");
    let post = post["id"].as_i64().expect("post id");
    let res = app
        .post_json(
            &format!("/api/v1/posts/{post}/comments"),
            Some(&author.token),
            json!({"body": "Doors open at 11"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let comment: Value = res.json().await.expect("comment");
    let comment = comment["id"].as_i64().expect("comment id");
    // A comment left standing: the post's delete takes it down too.
    let kept_like = format!(
        "/api/v1/comments/{}/like",
        comment_on(&app, &author.token, post).await
    );
    assert_eq!(
        like(&app, Method::PUT, &kept_like, &fan.token).await["like_count"],
        1
    );
    let post_like = format!("/api/v1/posts/{post}/like");
    let comment_like = format!("/api/v1/comments/{comment}/like");
    assert_eq!(
        like(&app, Method::PUT, &post_like, &fan.token).await["like_count"],
        1
    );
    assert_eq!(
        like(&app, Method::PUT, &comment_like, &fan.token).await["like_count"],
        1
    );

    let res = app
        .send(
            Method::DELETE,
            &format!("/api/v1/comments/{comment}"),
            Some(&author.token),
            None,
        )
        .await;
    assert_eq!(res.status(), 204);
    let res = app
        .send(Method::PUT, &comment_like, Some(&author.token), None)
        .await;
    assert_problem(res, 404, "NOT_FOUND").await;
    let res = app
        .send(
            Method::DELETE,
            &format!("/api/v1/posts/{post}"),
            Some(&author.token),
            None,
        )
        .await;
    assert_eq!(res.status(), 204);
    let res = app
        .send(Method::PUT, &post_like, Some(&author.token), None)
        .await;
    assert_problem(res, 404, "NOT_FOUND").await;
    let res = app
        .send(Method::PUT, &kept_like, Some(&author.token), None)
        .await;
    assert_problem(res, 404, "NOT_FOUND").await;
    assert_eq!(
        scalar(
            &app.store,
            "SELECT COUNT(*) FROM post_likes WHERE post_id = ?",
            &[post]
        )
        .await,
        1,
        "only the like from before the delete"
    );

    // Hidden by an admin after a report: the same.
    let res = app
        .post_json(
            "/api/v1/posts",
            Some(&author.token),
            json!({"body": "Resale, cheap"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let reported: Value = res.json().await.expect("post");
    let reported = reported["id"].as_i64().expect("post id");
    let reported_like = format!("/api/v1/posts/{reported}/like");
    assert_eq!(
        like(&app, Method::PUT, &reported_like, &fan.token).await["like_count"],
        1
    );
    let under_reported = format!(
        "/api/v1/comments/{}/like",
        comment_on(&app, &author.token, reported).await
    );
    assert_eq!(
        like(&app, Method::PUT, &under_reported, &fan.token).await["like_count"],
        1
    );
    let res = app
        .post_json(
            &format!("/api/v1/posts/{reported}/reports"),
            Some(&fan.token),
            json!({"reason": "ticket touting"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let report: Value = res.json().await.expect("report");
    let admin = app.admin_token().await;
    let res = app
        .post_json(
            &format!("/api/v1/admin/reports/{}/resolve", report["id"]),
            Some(&admin),
            json!({"action": "hide"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let res = app
        .send(Method::DELETE, &reported_like, Some(&fan.token), None)
        .await;
    assert_problem(res, 404, "NOT_FOUND").await;
    let res = app
        .send(Method::DELETE, &under_reported, Some(&fan.token), None)
        .await;
    assert_problem(res, 404, "NOT_FOUND").await;
    app.stop().await;
}

/// A new comment by `token` on `post`; its id.
async fn comment_on(app: &TestApp, token: &str, post: i64) -> i64 {
    let res = app
        .post_json(
            &format!("/api/v1/posts/{post}/comments"),
            Some(token),
            json!({"body": "See you there"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let comment: Value = res.json().await.expect("comment");
    comment["id"].as_i64().expect("comment id")
}

on_both_stores!(
    post_likes_are_idempotent_and_counted,
    comment_likes_are_counted,
    what_is_not_live_cannot_be_liked,
    removed_through_the_api_stops_taking_likes,
);
