//! Writes a community straight into MariaDB: users (one shared password
//! hash, so readers can sign in), posts spread over the users in time
//! order with random like counts, and a random follow graph with its
//! counters. Multi-row INSERTs of generated literals in large
//! transactions, foreign-key checks off: a fixture generator, not the API.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sqlx::{Connection, MySqlConnection};
use std::collections::HashSet;
use std::time::{Duration, Instant};

use stampede::http::passwords::Passwords;
use stampede::persistence::Store;

/// The password of every seeded user.
pub const PASSWORD: &str = "community-feed-password";

pub struct Shape {
    pub users: u32,
    pub posts: u32,
    pub follows_per_user: u32,
    pub seed: u64,
}

/// The email of seeded user `n` (1-based, also their id).
pub fn email(n: u32) -> String {
    format!("member{n}@community.test")
}

const ROWS_PER_INSERT: usize = 5_000;

pub async fn seed(url: &str, shape: &Shape) -> anyhow::Result<()> {
    anyhow::ensure!(
        shape.follows_per_user < shape.users,
        "a user can follow at most everyone else"
    );
    let started = Instant::now();
    recreate(url).await?;
    let store = Store::connect(url, 2).await?;
    store.migrate().await?;
    store.close().await;
    let mut conn = MySqlConnection::connect(url).await?;
    exec(
        &mut conn,
        "SET foreign_key_checks = 0, unique_checks = 0".into(),
    )
    .await?;
    let hash = Passwords::new(1, Duration::from_secs(30))
        .hash(PASSWORD.to_string())
        .await
        .map_err(|e| anyhow::anyhow!("hashing the seed password: {e}"))?;
    let mut rng = StdRng::seed_from_u64(shape.seed);
    let now = chrono::Utc::now().timestamp_millis();

    let users = (1..=shape.users).map(|n| {
        format!(
            "({n}, '{}', '{hash}', 'Member {n}', 'customer', {now}, {now})",
            email(n)
        )
    });
    insert(
        &mut conn,
        "INSERT INTO users (id, email, password_hash, name, role, created_at, email_verified_at) VALUES ",
        users,
    )
    .await?;
    println!("users: {} in {:.1?}", shape.users, started.elapsed());

    // Posts in time order (ids grow with time), a day back to now.
    let span = 86_400_000i64;
    let posts: Vec<String> = (0..shape.posts)
        .map(|i| {
            let author = rng.random_range(1..=shape.users);
            let at = now - span + span * i64::from(i) / i64::from(shape.posts.max(1));
            let likes = rng.random_range(0..1_000);
            format!(
                "({author}, 'Post {i} by member {author}: what I got in the drop today', {likes}, {at}, {at})"
            )
        })
        .collect();
    insert(
        &mut conn,
        "INSERT INTO posts (author_id, body, like_count, created_at, updated_at) VALUES ",
        posts.into_iter(),
    )
    .await?;
    println!("posts: {} in {:.1?}", shape.posts, started.elapsed());

    let mut follows = Vec::with_capacity((shape.users * shape.follows_per_user) as usize);
    for follower in 1..=shape.users {
        let mut chosen = HashSet::new();
        while chosen.len() < shape.follows_per_user as usize {
            let followee = rng.random_range(1..=shape.users);
            if followee != follower {
                chosen.insert(followee);
            }
        }
        follows.extend(
            chosen
                .into_iter()
                .map(|followee| format!("({follower}, {followee}, {now})")),
        );
    }
    let edges = follows.len();
    insert(
        &mut conn,
        "INSERT INTO follows (follower_id, followee_id, created_at) VALUES ",
        follows.into_iter(),
    )
    .await?;
    exec(
        &mut conn,
        format!(
            "UPDATE users SET following_count = {}",
            shape.follows_per_user
        ),
    )
    .await?;
    exec(
        &mut conn,
        "UPDATE users u JOIN (SELECT followee_id, COUNT(*) AS n FROM follows GROUP BY followee_id) f \
         ON f.followee_id = u.id SET u.follower_count = f.n"
            .into(),
    )
    .await?;
    exec(&mut conn, "ANALYZE TABLE posts, follows, users".into()).await?;
    println!("follows: {edges} in {:.1?}", started.elapsed());
    conn.close().await?;
    Ok(())
}

/// Drops and recreates the database `url` names.
async fn recreate(url: &str) -> anyhow::Result<()> {
    let (server, name) = url
        .rsplit_once('/')
        .filter(|(_, name)| {
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
        .ok_or_else(|| anyhow::anyhow!("the URL must name a database of letters, digits and _"))?;
    let mut conn = MySqlConnection::connect(server).await?;
    exec(&mut conn, format!("DROP DATABASE IF EXISTS {name}")).await?;
    exec(&mut conn, format!("CREATE DATABASE {name}")).await?;
    conn.close().await?;
    Ok(())
}

async fn exec(conn: &mut MySqlConnection, sql: String) -> anyhow::Result<()> {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(conn)
        .await?;
    Ok(())
}

/// Inserts `rows` (generated literals) `ROWS_PER_INSERT` to a statement,
/// twenty statements to a transaction.
async fn insert(
    conn: &mut MySqlConnection,
    head: &str,
    rows: impl Iterator<Item = String>,
) -> anyhow::Result<()> {
    let mut rows = rows.peekable();
    while rows.peek().is_some() {
        let mut tx = conn.begin().await?;
        for _ in 0..20 {
            let chunk: Vec<String> = rows.by_ref().take(ROWS_PER_INSERT).collect();
            if chunk.is_empty() {
                break;
            }
            let sql = format!("{head}{}", chunk.join(","));
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
    }
    Ok(())
}
