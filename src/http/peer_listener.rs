//! What a cluster node does with the other nodes' notes (`peers`): applies
//! each to its own state. A node that was cut off from NATS may have missed
//! some, so when its connection comes back it empties its catalog caches
//! and reloads recent revocations from the database (where `logout-all`
//! stores them first).

use std::time::Duration;

use actix_web::web;
use futures::StreamExt;

use super::peers::{Envelope, Note, Peers};
use super::state::AppState;
use crate::domain::counter::Target;
use crate::domain::ids::{CommentId, PostId, ProductId, UserId};
use crate::domain::time::Timestamp;

/// How often the listener looks at its NATS connection.
const WATCH_EVERY: Duration = Duration::from_millis(500);

/// Applies the other nodes' notes to `state` until the connection closes,
/// and catches up after every reconnect.
pub async fn listen(
    peers: Peers,
    state: web::Data<AppState>,
) -> Result<tokio::task::JoinHandle<()>, async_nats::SubscribeError> {
    let mut notes = peers.subscribe().await?;
    Ok(tokio::spawn(async move {
        let mut watch = tokio::time::interval(WATCH_EVERY);
        let mut was_connected = true;
        loop {
            tokio::select! {
                message = notes.next() => {
                    let Some(message) = message else { break };
                    match serde_json::from_slice::<Envelope>(&message.payload) {
                        Ok(e) if peers.is_mine(&e) => {}
                        Ok(e) => apply(&state, e.note),
                        Err(e) => tracing::warn!(error = %e, "a note from another node could not be read"),
                    }
                }
                _ = watch.tick() => {
                    let connected = peers.connected();
                    if connected && !was_connected {
                        catch_up(&state).await;
                    }
                    was_connected = connected;
                }
            }
        }
    }))
}

fn apply(state: &AppState, note: Note) {
    match note {
        Note::Product(id) => {
            state.catalog.forget(ProductId::new(id));
            state.store.forget_cached_catalog();
        }
        Note::Listings => {
            state.catalog.forget_listings();
            state.store.forget_cached_catalog();
        }
        Note::Everything => {
            state.catalog.forget_all();
            state.store.forget_cached_catalog();
        }
        Note::Revoked { user, at_ms } => state
            .tokens
            .revocations()
            .revoke(UserId::new(user), Timestamp::from_millis(at_ms)),
        Note::ForgetPost(id) => state.counters.forget_post(PostId::new(id)),
        Note::ForgetComment(id) => state.counters.forget(Target::Comment(CommentId::new(id))),
        Note::ForgetAccount(id) => state.counters.forget(Target::Account(UserId::new(id))),
    }
}

/// After a gap in the connection: what notes may have been missed.
async fn catch_up(state: &AppState) {
    tracing::info!("NATS is back: emptying catalog caches and reloading revocations");
    state.catalog.forget_all();
    state.store.forget_cached_catalog();
    let recent = Timestamp::now().minus(state.tokens.ttl());
    match state.store.access_revocations_since(recent).await {
        Ok(revoked) => {
            for (user, at) in revoked {
                state.tokens.revocations().revoke(user, at);
            }
        }
        Err(e) => tracing::warn!(error = %e, "could not reload access revocations"),
    }
}
