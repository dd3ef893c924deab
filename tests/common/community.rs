//! Community fixtures for the counter tests: many accounts at once, and
//! posts and comments.
//!
//! Accounts are written as rows with access tokens signed by the test
//! secret: ten thousand signups through argon2 would take minutes, and
//! signup is tested elsewhere. Posts and comments are rows too, until the
//! posts routes (another branch) are merged; then these helpers switch to
//! `POST /posts` and `POST /posts/{id}/comments`.

use sqlx::QueryBuilder;
use stampede::domain::ids::UserId;
use stampede::domain::role::Role;
use stampede::persistence::Store;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// An account made for a test: its id and an access token.
#[derive(Debug, Clone)]
pub struct Member {
    pub id: i64,
    pub token: String,
}

/// `n` customer accounts written in a few multi-row inserts, each with a
/// fresh access token.
pub async fn members(store: &Store, n: usize) -> Vec<Member> {
    static BATCH: AtomicU64 = AtomicU64::new(0);
    let batch = BATCH.fetch_add(1, Ordering::Relaxed);
    let tag = format!("{}-{batch}", std::process::id());
    let keys = stampede::http::auth::TokenKeys::new(
        super::JWT_SECRET.as_bytes(),
        Duration::from_secs(3_600),
    );
    for chunk in (0..n).collect::<Vec<_>>().chunks(1_000) {
        let mut q = QueryBuilder::<sqlx::Any>::new(
            "INSERT INTO users (email, password_hash, name, role, created_at) ",
        );
        q.push_values(chunk, |mut row, i| {
            row.push_bind(format!("fan{i}-{tag}@community.test"))
                .push_bind("$argon2id$v=19$not-a-real-hash")
                .push_bind(format!("Fan {i}"))
                .push_bind(Role::Customer.as_str())
                .push_bind(0_i64);
        });
        q.build().execute(store.pool()).await.expect("insert users");
    }
    let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM users WHERE email LIKE ? ORDER BY id")
        .bind(format!("fan%-{tag}@community.test"))
        .fetch_all(store.pool())
        .await
        .expect("user ids");
    assert_eq!(ids.len(), n, "every account written");
    ids.into_iter()
        .map(|id| Member {
            id,
            token: keys
                .issue(UserId::new(id), Role::Customer, true)
                .expect("token"),
        })
        .collect()
}

/// A live post by `author`; answers its id.
pub async fn post(store: &Store, author: i64) -> i64 {
    sqlx::query(
        "INSERT INTO posts (author_id, body, created_at, updated_at) VALUES (?, 'hello', 1, 1)",
    )
    .bind(author)
    .execute(store.pool())
    .await
    .expect("insert post");
    sqlx::query_scalar("SELECT MAX(id) FROM posts WHERE author_id = ?")
        .bind(author)
        .fetch_one(store.pool())
        .await
        .expect("post id")
}

/// A live comment by `author` on `post`; answers its id.
pub async fn comment(store: &Store, post: i64, author: i64) -> i64 {
    sqlx::query(
        "INSERT INTO comments (post_id, author_id, body, created_at, updated_at) \
         VALUES (?, ?, 'nice', 1, 1)",
    )
    .bind(post)
    .bind(author)
    .execute(store.pool())
    .await
    .expect("insert comment");
    sqlx::query_scalar("SELECT MAX(id) FROM comments WHERE author_id = ?")
        .bind(author)
        .fetch_one(store.pool())
        .await
        .expect("comment id")
}

/// Runs `UPDATE {table} SET {column} = 1 WHERE id = ?` (a post hidden or
/// deleted, a comment deleted, an account withdrawn).
pub async fn mark(store: &Store, table: &str, column: &str, id: i64) {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE {table} SET {column} = 1 WHERE id = ?"
    )))
    .bind(id)
    .execute(store.pool())
    .await
    .expect("mark row");
}

/// One integer a query answers.
pub async fn scalar(store: &Store, sql: &'static str, binds: &[i64]) -> i64 {
    let mut q = sqlx::query_scalar::<_, i64>(sql);
    for b in binds {
        q = q.bind(*b);
    }
    q.fetch_one(store.pool()).await.expect(sql)
}
