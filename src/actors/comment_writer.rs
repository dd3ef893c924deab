//! Group commit for comments. Every comment moves its post's
//! `comment_count` in the same transaction, so comments on one post queue
//! on that row's lock (MariaDB) or on the single writer (SQLite), one fsync
//! each: a thousand at once on a popular post took longer than a request
//! may wait for a connection, and were answered 503. Here whatever queued
//! while one batch committed is written in the next, in one transaction
//! that moves each post's count once.
//!
//! The batching is [`group_commit`](super::group_commit)'s; a batch that
//! fails is written again one comment at a time, so a bad one fails alone.

use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::oneshot;

use super::group_commit::{
    Commit, Config, GroupCommit, NotDurable, OnFailure, Refused, Skipped, Trigger,
};
use crate::domain::ids::UserId;
use crate::domain::post::CommentBody;
use crate::domain::time::Timestamp;
use crate::persistence::{NewComment, Store, StoreError};

/// Comments written together at most.
const BATCH_MAX: usize = 256;
/// Comments handed over and not yet answered before callers wait for room.
const QUEUE_MAX: usize = 8_192;
/// How long shutdown waits for the last batch.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
#[error("could not start the comment writer: {0}")]
pub struct StartError(#[from] ractor::SpawnErr);

#[derive(Clone)]
pub struct CommentWriter {
    group: GroupCommit<CommentCommit>,
}

impl CommentWriter {
    /// Starts the writer on the current runtime. It runs until
    /// [`CommentWriter::shutdown`].
    pub async fn start(store: Store) -> Result<Self, StartError> {
        let config = Config {
            trigger: Trigger::WhenFree,
            batch_max: BATCH_MAX,
            queue_max: QUEUE_MAX,
        };
        Ok(Self {
            group: GroupCommit::start(CommentCommit { store }, config).await?,
        })
    }

    /// Writes `author`'s comment on `post` and answers its id once it is
    /// committed; `None` when no visible post has that id.
    pub async fn add(
        &self,
        post: i64,
        author: UserId,
        body: CommentBody,
    ) -> Result<Option<i64>, StoreError> {
        self.group.room().await;
        let written = Arc::new(OnceLock::new());
        let (done, committed) = oneshot::channel();
        self.group.write(
            CommentWrite {
                comment: NewComment {
                    post,
                    author,
                    body,
                    at: Timestamp::now(),
                },
                written: Arc::clone(&written),
            },
            Some(Box::new(move |result| {
                let _ = done.send(result);
            })),
        );
        committed
            .await
            .map_err(|_| CommentCommit::refusal(Refused::Unanswered))??;
        written.get().copied().ok_or_else(|| {
            StoreError::Unavailable("the comment writer did not say what it wrote".into())
        })
    }

    /// Commits or answers every comment handed over so far, then stops the
    /// writer; later comments get `Unavailable`.
    pub async fn shutdown(&self) -> Result<(), NotDurable> {
        let drained = self.group.drain(DRAIN_TIMEOUT).await;
        self.group.stop();
        drained
    }
}

/// One comment and where its outcome goes: its id, or `None` for a post
/// that is not visible. Set only after the transaction that wrote it
/// committed, so a batch written again one by one sets it once.
struct CommentWrite {
    comment: NewComment,
    written: Arc<OnceLock<Option<i64>>>,
}

struct CommentCommit {
    store: Store,
}

impl Commit for CommentCommit {
    type Write = CommentWrite;
    type Error = StoreError;
    const WRITER: &'static str = "comments";
    const ON_FAILURE: OnFailure = OnFailure::EachAlone;
    type Part = i64;

    fn part(write: &CommentWrite) -> i64 {
        write.comment.post
    }

    async fn commit(&self, writes: &[&CommentWrite]) -> Result<Skipped, StoreError> {
        let comments: Vec<&NewComment> = writes.iter().map(|w| &w.comment).collect();
        let ids = self.store.write_comments(&comments).await?;
        for (write, id) in writes.iter().zip(ids) {
            let _ = write.written.set(id);
        }
        Ok(Vec::new())
    }

    fn refusal(why: Refused) -> StoreError {
        match why {
            Refused::Rejected(e) => e,
            Refused::Retrying => {
                StoreError::Unavailable("the comment batch is being retried".into())
            }
            Refused::Unanswered => StoreError::Unavailable("the comment writer has stopped".into()),
        }
    }
}
