//! The rows behind the community's hot counters: loading one target's
//! members for its actor, and writing a batch of membership changes (likes
//! of posts and comments, follows) in one transaction with their counters
//! and activities.

use sqlx::{Any, QueryBuilder, Row};
use std::collections::{BTreeSet, HashMap};

use super::{Backend, Store, StoreError};
use crate::domain::counter::Target;
use crate::domain::ids::{CommentId, PostId, UserId};
use crate::domain::time::Timestamp;

/// Rows per multi-row statement: 4 binds a row stays far below every
/// backend's limit on bound parameters.
const CHUNK: usize = 1_000;

/// What a counter's actor starts from.
#[derive(Debug, Clone)]
pub struct CounterRow {
    /// Who hears when someone joins: the post's or comment's author, or
    /// the followed account.
    pub recipient: UserId,
    /// The post a liked comment belongs to (its activities name it).
    pub post: Option<PostId>,
    pub members: Vec<UserId>,
}

/// One decided membership change, as the writer commits it.
#[derive(Debug, Clone)]
pub struct Membership {
    pub target: Target,
    pub user: UserId,
    /// Joined (liked, followed) or left.
    pub on: bool,
    /// The target's member count right after this change.
    pub count: i64,
    pub recipient: UserId,
    pub post: Option<PostId>,
    pub at: Timestamp,
}

/// Where a target's members live: table, target column, member column.
fn member_table(target: Target) -> (&'static str, &'static str, &'static str) {
    match target {
        Target::Post(_) => ("post_likes", "post_id", "user_id"),
        Target::Comment(_) => ("comment_likes", "comment_id", "user_id"),
        Target::Account(_) => ("follows", "followee_id", "follower_id"),
    }
}

/// The row holding a target's counter: table, counter column.
fn counter_column(target: Target) -> (&'static str, &'static str) {
    match target {
        Target::Post(_) => ("posts", "like_count"),
        Target::Comment(_) => ("comments", "like_count"),
        Target::Account(_) => ("users", "follower_count"),
    }
}

fn target_id(target: Target) -> i64 {
    match target {
        Target::Post(id) => id.get(),
        Target::Comment(id) => id.get(),
        Target::Account(id) => id.get(),
    }
}

impl Store {
    /// A live target and its members; `None` when it does not exist, is
    /// deleted or hidden (a comment also when its post is), or is a
    /// withdrawn account.
    pub async fn load_counter(&self, target: Target) -> Result<Option<CounterRow>, StoreError> {
        let head = match target {
            Target::Post(id) => sqlx::query(
                "SELECT author_id, id FROM posts \
                 WHERE id = ? AND deleted_at IS NULL AND hidden_at IS NULL",
            )
            .bind(id.get()),
            Target::Comment(id) => sqlx::query(
                "SELECT c.author_id, c.post_id FROM comments c JOIN posts p ON p.id = c.post_id \
                 WHERE c.id = ? AND c.deleted_at IS NULL \
                 AND p.deleted_at IS NULL AND p.hidden_at IS NULL",
            )
            .bind(id.get()),
            Target::Account(id) => {
                sqlx::query("SELECT id, 0 FROM users WHERE id = ? AND deleted_at IS NULL")
                    .bind(id.get())
            }
        };
        let Some(row) = head.fetch_optional(&self.pool).await? else {
            return Ok(None);
        };
        let recipient = UserId::new(row.try_get(0)?);
        let post = match target {
            Target::Account(_) => None,
            _ => Some(PostId::new(row.try_get(1)?)),
        };
        let (table, target_col, member_col) = member_table(target);
        let members: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT {member_col} FROM {table} WHERE {target_col} = ?"
        )))
        .bind(target_id(target))
        .fetch_all(&self.pool)
        .await?;
        Ok(Some(CounterRow {
            recipient,
            post,
            members: members.into_iter().map(UserId::new).collect(),
        }))
    }

    /// Writes a batch of membership changes (in the order they were
    /// decided) in one transaction: each (target, member) pair's last state
    /// as a row or its absence, each target's counter set once to its last
    /// count, the following counts of every follower involved recounted,
    /// and one activity per join (the unique key keeps a like, unlike and
    /// like again to one). Each target has one deciding actor, in the one
    /// process that owns the store (the batch is refused once another
    /// process took it over) or, in a cluster, on the node holding the
    /// target's shard (the batch is refused under a stale epoch), so
    /// absolute counts are safe.
    pub async fn write_memberships(&self, changes: &[&Membership]) -> Result<(), StoreError> {
        if changes.is_empty() {
            return Ok(());
        }
        let collapsed = Collapsed::of(changes);
        let mut tx = self.begin_write().await?;
        self.check_counter_writer(&mut tx, collapsed.counts.iter().map(|(t, _)| *t))
            .await?;
        // Counters first: a member row's foreign key takes a shared lock on
        // its target's row, and taking that before the counter update's
        // exclusive one deadlocks with any writer of the row waiting in
        // between (the post's author editing it, a comment being counted).
        for (target, count) in &collapsed.counts {
            let (table, column) = counter_column(*target);
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE {table} SET {column} = ? WHERE id = ?"
            )))
            .bind(*count)
            .bind(target_id(*target))
            .execute(&mut *tx)
            .await?;
        }
        // The followers' rows too, for the recount below: on SQLite the
        // transaction already holds the database's write lock.
        let followers: Vec<i64> = collapsed.followers.iter().copied().collect();
        if self.backend == Backend::MySql {
            for chunk in followers.chunks(CHUNK) {
                let mut q = QueryBuilder::<Any>::new("SELECT id FROM users WHERE id IN (");
                let mut ids = q.separated(", ");
                for user in chunk {
                    ids.push_bind(*user);
                }
                q.push(") FOR UPDATE");
                q.build().fetch_all(&mut *tx).await?;
            }
        }
        for ((table, target_col, member_col), rows) in &collapsed.joins {
            for chunk in rows.chunks(CHUNK) {
                let mut q = QueryBuilder::<Any>::new(format!(
                    "INSERT INTO {table} ({target_col}, {member_col}, created_at) "
                ));
                q.push_values(chunk, |mut row, &(target, user, at)| {
                    row.push_bind(target).push_bind(user).push_bind(at);
                });
                q.push(match self.backend {
                    Backend::Sqlite => " ON CONFLICT DO NOTHING",
                    // Not INSERT IGNORE: that would also swallow a broken
                    // foreign key, and the count would not match the rows.
                    Backend::MySql => " ON DUPLICATE KEY UPDATE created_at = created_at",
                });
                q.build().execute(&mut *tx).await?;
            }
        }
        for ((table, target_col, member_col), target, users) in &collapsed.leaves {
            for chunk in users.chunks(CHUNK) {
                let mut q =
                    QueryBuilder::<Any>::new(format!("DELETE FROM {table} WHERE {target_col} = "));
                q.push_bind(*target);
                q.push(format!(" AND {member_col} IN ("));
                let mut ids = q.separated(", ");
                for user in chunk {
                    ids.push_bind(*user);
                }
                q.push(")");
                q.build().execute(&mut *tx).await?;
            }
        }
        for chunk in followers.chunks(CHUNK) {
            // A recount, not `+ 1`: different followees' writes of one
            // follower may commit in any order (or apart, when a batch is
            // split), and a recount is right in every order.
            let mut q = QueryBuilder::<Any>::new(
                "UPDATE users SET following_count = \
                 (SELECT COUNT(*) FROM follows WHERE follows.follower_id = users.id) \
                 WHERE id IN (",
            );
            let mut ids = q.separated(", ");
            for user in chunk {
                ids.push_bind(*user);
            }
            q.push(")");
            q.build().execute(&mut *tx).await?;
        }
        for chunk in collapsed.activities.chunks(CHUNK) {
            let mut q = QueryBuilder::<Any>::new(
                "INSERT INTO activities \
                 (recipient_id, actor_id, kind, post_id, comment_id, created_at) ",
            );
            q.push_values(chunk, |mut row, a| {
                row.push_bind(a.recipient)
                    .push_bind(a.actor)
                    .push_bind(a.kind)
                    .push_bind(a.post)
                    .push_bind(a.comment)
                    .push_bind(a.at);
            });
            q.push(match self.backend {
                Backend::Sqlite => " ON CONFLICT DO NOTHING",
                Backend::MySql => " ON DUPLICATE KEY UPDATE id = id",
            });
            q.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        for follower in &collapsed.followers {
            self.feed_followees_changed(UserId::new(*follower));
        }
        Ok(())
    }
}

type Table = (&'static str, &'static str, &'static str);

/// A member row to insert: target id, member id, `created_at`.
type Row3 = (i64, i64, i64);

struct Activity {
    recipient: i64,
    actor: i64,
    kind: &'static str,
    post: i64,
    comment: i64,
    at: i64,
}

/// A batch reduced to what must be written.
#[derive(Default)]
struct Collapsed {
    /// Rows to insert per table: (target id, member id, created_at).
    joins: Vec<(Table, Vec<Row3>)>,
    /// Rows to delete: per table and target, the members.
    leaves: Vec<(Table, i64, Vec<i64>)>,
    /// Each target's last count.
    counts: Vec<(Target, i64)>,
    /// Followers whose following count changed.
    followers: BTreeSet<i64>,
    activities: Vec<Activity>,
}

impl Collapsed {
    fn of(changes: &[&Membership]) -> Self {
        let mut last: HashMap<(Target, UserId), &Membership> = HashMap::new();
        let mut order: Vec<(Target, UserId)> = Vec::new();
        let mut count_at: HashMap<Target, usize> = HashMap::new();
        let mut out = Collapsed::default();
        for &m in changes {
            let key = (m.target, m.user);
            if last.insert(key, m).is_none() {
                order.push(key);
            }
            match count_at.get(&m.target) {
                Some(&i) => out.counts[i].1 = m.count,
                None => {
                    count_at.insert(m.target, out.counts.len());
                    out.counts.push((m.target, m.count));
                }
            }
            if let Target::Account(_) = m.target {
                out.followers.insert(m.user.get());
            }
            // Every join notifies (once, by the unique key), even one left
            // again within the same batch; nobody hears about themselves.
            if m.on && m.user != m.recipient {
                out.activities.push(Activity {
                    recipient: m.recipient.get(),
                    actor: m.user.get(),
                    kind: m.target.activity_kind(),
                    post: m.post.map_or(0, PostId::get),
                    comment: match m.target {
                        Target::Comment(id) => CommentId::get(id),
                        _ => 0,
                    },
                    at: m.at.millis(),
                });
            }
        }
        let mut join_at: HashMap<Table, usize> = HashMap::new();
        let mut leave_at: HashMap<(Table, i64), usize> = HashMap::new();
        for key in order {
            let m = last[&key];
            let table = member_table(m.target);
            let target = target_id(m.target);
            if m.on {
                let i = *join_at.entry(table).or_insert_with(|| {
                    out.joins.push((table, Vec::new()));
                    out.joins.len() - 1
                });
                out.joins[i].1.push((target, m.user.get(), m.at.millis()));
            } else {
                let i = *leave_at.entry((table, target)).or_insert_with(|| {
                    out.leaves.push((table, target, Vec::new()));
                    out.leaves.len() - 1
                });
                out.leaves[i].2.push(m.user.get());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(target: Target, user: i64, on: bool, count: i64) -> Membership {
        Membership {
            target,
            user: UserId::new(user),
            on,
            count,
            recipient: UserId::new(1),
            post: None,
            at: Timestamp::from_millis(5),
        }
    }

    #[test]
    fn keeps_the_last_state_and_count_of_everything() {
        let post = Target::Post(PostId::new(9));
        let account = Target::Account(UserId::new(1));
        let changes = [
            change(post, 2, true, 1),
            change(post, 3, true, 2),
            change(account, 2, true, 1),
            change(post, 2, false, 1),
            change(post, 1, true, 2),
        ];
        let refs: Vec<&Membership> = changes.iter().collect();
        let c = Collapsed::of(&refs);
        assert_eq!(c.counts, vec![(post, 2), (account, 1)]);
        let joined: Vec<(i64, i64)> = c
            .joins
            .iter()
            .flat_map(|(_, rows)| rows.iter().map(|(t, u, _)| (*t, *u)))
            .collect();
        // Grouped by table, in the order each member first changed.
        assert_eq!(joined, vec![(9, 3), (9, 1), (1, 2)]);
        assert_eq!(c.leaves.len(), 1);
        assert_eq!((c.leaves[0].1, c.leaves[0].2.clone()), (9, vec![2]));
        assert_eq!(c.followers.iter().copied().collect::<Vec<_>>(), vec![2]);
        // User 1 is the recipient: liking one's own post notifies nobody.
        let notified: Vec<(i64, &str)> = c.activities.iter().map(|a| (a.actor, a.kind)).collect();
        assert_eq!(
            notified,
            vec![(2, "liked_post"), (3, "liked_post"), (2, "followed")]
        );
    }
}
