//! The newsfeed's choices and where a reader is in it.
//!
//! By date the feed is read by descending post id: a token holds the last
//! id shown, and new posts (higher ids) never land between pages.
//!
//! By likes, counts move while someone pages, so no keyset over
//! `(like_count, id)` can promise "never twice, never missed". The rule
//! instead: the first page fixes the set (posts up to the newest id at that
//! moment), and each page shows the most liked posts of that set *not shown
//! yet*, by the counts of the moment it is read. The token carries the
//! set's bound and the ids shown so far, so a post appears at most once and
//! every post of the set appears before the end. A token holds at most
//! [`LIKES_DEPTH`] ids: the likes order covers that many posts.

use serde::Deserialize;
use utoipa::ToSchema;

use super::ValidationError;
use super::cursor::{decode, encode};

/// Most posts one reading of the likes order shows.
pub const LIKES_DEPTH: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum FeedScope {
    /// Everyone's posts.
    #[default]
    All,
    /// Posts by the accounts the reader follows.
    Following,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum FeedSort {
    /// Newest first.
    #[default]
    Date,
    /// Most liked first (see the module comment for the paging rule).
    Likes,
}

/// Where the next page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedPosition {
    /// By date: posts older than `before` (all posts on the first page).
    ByDate { before: Option<i64> },
    /// By likes: posts with ids up to `bound` (fixed by the first page)
    /// that are not in `shown`.
    ByLikes { bound: Option<i64>, shown: Vec<i64> },
}

const BY_DATE: u8 = 2;
const BY_LIKES: u8 = 3;

impl FeedPosition {
    pub fn parse(sort: FeedSort, cursor: Option<&str>) -> Result<Self, ValidationError> {
        let bad = || ValidationError::new("cursor", "is not a cursor of this feed order");
        match (sort, cursor) {
            (FeedSort::Date, None) => Ok(Self::ByDate { before: None }),
            (FeedSort::Likes, None) => Ok(Self::ByLikes {
                bound: None,
                shown: Vec::new(),
            }),
            (FeedSort::Date, Some(raw)) => match decode(BY_DATE, raw)?.as_slice() {
                [id] => Ok(Self::ByDate { before: Some(*id) }),
                _ => Err(bad()),
            },
            (FeedSort::Likes, Some(raw)) => {
                let values = decode(BY_LIKES, raw)?;
                let (&bound, gaps) = values.split_first().ok_or_else(bad)?;
                if gaps.len() > LIKES_DEPTH {
                    return Err(bad());
                }
                // Stored as gaps between ascending ids (see `next`).
                let mut shown = Vec::with_capacity(gaps.len());
                let mut last = 0i64;
                for gap in gaps {
                    last = last.checked_add(*gap).ok_or_else(bad)?;
                    shown.push(last);
                }
                Ok(Self::ByLikes {
                    bound: Some(bound),
                    shown,
                })
            }
        }
    }

    /// The token of the page after one that showed `page` (ids in the
    /// order shown), `None` when nothing follows. `more` says whether the
    /// store found more; `bound` is the likes set's bound the page used.
    pub fn next(&self, page: &[i64], more: bool, bound: i64) -> Option<String> {
        if !more {
            return None;
        }
        match self {
            Self::ByDate { .. } => page.last().map(|id| encode(BY_DATE, &[*id])),
            Self::ByLikes { shown, .. } => {
                let mut shown = shown.clone();
                shown.extend_from_slice(page);
                if shown.len() >= LIKES_DEPTH {
                    return None;
                }
                shown.sort_unstable();
                let mut values = Vec::with_capacity(shown.len() + 1);
                values.push(bound);
                let mut last = 0i64;
                for id in shown {
                    values.push(id - last);
                    last = id;
                }
                Some(encode(BY_LIKES, &values))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn likes_tokens_carry_the_set_and_what_was_shown() {
        let start = FeedPosition::parse(FeedSort::Likes, None).expect("first page");
        let token = start.next(&[9, 3, 7], true, 10).expect("more");
        let next = FeedPosition::parse(FeedSort::Likes, Some(&token)).expect("parses");
        assert_eq!(
            next,
            FeedPosition::ByLikes {
                bound: Some(10),
                shown: vec![3, 7, 9]
            }
        );
        let token = next.next(&[1], true, 10).expect("more");
        assert_eq!(
            FeedPosition::parse(FeedSort::Likes, Some(&token)),
            Ok(FeedPosition::ByLikes {
                bound: Some(10),
                shown: vec![1, 3, 7, 9]
            })
        );
        assert_eq!(next.next(&[1], false, 10), None, "last page");
        assert!(
            FeedPosition::parse(FeedSort::Date, Some(&token)).is_err(),
            "a likes token is no date token"
        );
    }

    #[test]
    fn date_tokens_hold_the_last_id() {
        let first = FeedPosition::parse(FeedSort::Date, None).expect("first page");
        let token = first.next(&[30, 20], true, 0).expect("more");
        assert_eq!(
            FeedPosition::parse(FeedSort::Date, Some(&token)),
            Ok(FeedPosition::ByDate { before: Some(20) })
        );
        assert!(FeedPosition::parse(FeedSort::Likes, Some(&token)).is_err());
    }

    #[test]
    fn the_likes_order_stops_at_its_depth() {
        let shown: Vec<i64> = (1..LIKES_DEPTH as i64).collect();
        let at = FeedPosition::ByLikes {
            bound: Some(10_000),
            shown,
        };
        assert_eq!(at.next(&[20_000], true, 10_000), None);
    }
}
