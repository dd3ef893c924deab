//! The community's hot counters: who likes a post, who likes a comment, who
//! follows an account. Each target's members are one set, owned by one
//! actor; a like (or follow) is set membership, so doing it twice changes
//! nothing, and the count is the set's size.

use std::collections::HashSet;
use std::fmt;

use super::ids::{CommentId, PostId, UserId};

/// What a counter counts the members of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    /// The users who like a post.
    Post(PostId),
    /// The users who like a comment.
    Comment(CommentId),
    /// The users who follow an account.
    Account(UserId),
}

impl Target {
    /// The `activities.kind` its recipient hears when someone joins.
    pub fn activity_kind(self) -> &'static str {
        match self {
            Target::Post(_) => "liked_post",
            Target::Comment(_) => "liked_comment",
            Target::Account(_) => "followed",
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Post(id) => write!(f, "post:{id}"),
            Target::Comment(id) => write!(f, "comment:{id}"),
            Target::Account(id) => write!(f, "account:{id}"),
        }
    }
}

/// Asks for `user` to be a member (`on`) of a target or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Toggle {
    pub user: UserId,
    pub on: bool,
}

/// A request the rules refuse before any actor is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("an account cannot follow itself")]
    SelfFollow,
}

impl Toggle {
    /// `user` asks to join or leave `target`; following oneself is refused.
    pub fn parse(target: Target, user: UserId, on: bool) -> Result<Self, Refusal> {
        if target == Target::Account(user) {
            return Err(Refusal::SelfFollow);
        }
        Ok(Self { user, on })
    }
}

/// One member's state and the count, right after a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    /// Whether the asking user is a member now.
    pub on: bool,
    pub count: i64,
}

/// The members of one target.
#[derive(Debug, Default)]
pub struct Members {
    set: HashSet<UserId>,
}

impl Members {
    pub fn new(members: impl IntoIterator<Item = UserId>) -> Self {
        Self {
            set: members.into_iter().collect(),
        }
    }

    pub fn count(&self) -> i64 {
        i64::try_from(self.set.len()).unwrap_or(i64::MAX)
    }

    pub fn contains(&self, user: UserId) -> bool {
        self.set.contains(&user)
    }

    /// Applies `toggle`; answers the tally and whether anything changed
    /// (false: it was already so, nothing is to be written).
    pub fn apply(&mut self, toggle: Toggle) -> (Tally, bool) {
        let changed = if toggle.on {
            self.set.insert(toggle.user)
        } else {
            self.set.remove(&toggle.user)
        };
        let tally = Tally {
            on: toggle.on,
            count: self.count(),
        };
        (tally, changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toggle(user: i64, on: bool) -> Toggle {
        Toggle {
            user: UserId::new(user),
            on,
        }
    }

    #[test]
    fn membership_is_idempotent() {
        let mut m = Members::new([UserId::new(1)]);
        assert_eq!(
            m.apply(toggle(1, true)),
            (Tally { on: true, count: 1 }, false)
        );
        assert_eq!(
            m.apply(toggle(2, true)),
            (Tally { on: true, count: 2 }, true)
        );
        assert_eq!(
            m.apply(toggle(2, true)),
            (Tally { on: true, count: 2 }, false)
        );
        assert_eq!(
            m.apply(toggle(1, false)),
            (
                Tally {
                    on: false,
                    count: 1
                },
                true
            )
        );
        assert_eq!(
            m.apply(toggle(1, false)),
            (
                Tally {
                    on: false,
                    count: 1
                },
                false
            )
        );
        assert!(m.contains(UserId::new(2)));
        assert!(!m.contains(UserId::new(1)));
    }

    #[test]
    fn nobody_follows_themselves() {
        let me = UserId::new(7);
        assert_eq!(
            Toggle::parse(Target::Account(me), me, true),
            Err(Refusal::SelfFollow)
        );
        assert!(Toggle::parse(Target::Account(me), UserId::new(8), true).is_ok());
        // Liking one's own post is allowed (it just notifies nobody).
        assert!(Toggle::parse(Target::Post(PostId::new(7)), me, true).is_ok());
    }

    #[test]
    fn targets_name_their_activity() {
        assert_eq!(Target::Post(PostId::new(1)).activity_kind(), "liked_post");
        assert_eq!(
            Target::Comment(CommentId::new(1)).activity_kind(),
            "liked_comment"
        );
        assert_eq!(Target::Account(UserId::new(1)).activity_kind(), "followed");
        assert_eq!(Target::Comment(CommentId::new(4)).to_string(), "comment:4");
    }
}
