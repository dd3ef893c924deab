//! One watcher's Server-Sent Events stream: the current snapshot at once,
//! then each new one as the pulse publishes it, a comment every
//! [`HEARTBEAT`] so proxies keep the connection, and an end after
//! [`LIFETIME`] (the page reconnects with a fresh token, so a session that
//! was revoked stops watching within that time) or at shutdown (so open
//! pages never hold the server up).

use actix_web::web::Bytes;
use futures::Stream;
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::Live;

/// Longest a stream stays open.
pub const LIFETIME: Duration = Duration::from_secs(300);
/// Silence after which a comment is sent.
const HEARTBEAT: Duration = Duration::from_secs(15);
/// Told to the browser: reconnect this soon after the stream ends.
const HELLO: &[u8] = b"retry: 1000\n\n";
/// Sent when the lifetime is over, so the page reconnects at once.
const BYE: &[u8] = b"event: bye\ndata: {}\n\n";

struct Watching {
    frames: watch::Receiver<Bytes>,
    closing: CancellationToken,
    ends: Instant,
    started: bool,
}

/// The stream of one watcher.
pub fn events(live: &Live) -> impl Stream<Item = Result<Bytes, Infallible>> + 'static {
    let watching = Watching {
        frames: live.subscribe(),
        closing: live.closing(),
        ends: Instant::now() + LIFETIME,
        started: false,
    };
    futures::stream::unfold(Some(watching), |state| async move {
        let mut w = state?;
        if w.closing.is_cancelled() {
            return None;
        }
        if !w.started {
            w.started = true;
            let current = w.frames.borrow_and_update().clone();
            let mut first = HELLO.to_vec();
            first.extend_from_slice(&current);
            return Some((Ok(Bytes::from(first)), Some(w)));
        }
        tokio::select! {
            () = w.closing.cancelled() => None,
            () = tokio::time::sleep_until(w.ends) => Some((Ok(Bytes::from_static(BYE)), None)),
            changed = w.frames.changed() => match changed {
                Ok(()) => {
                    let frame = w.frames.borrow_and_update().clone();
                    Some((Ok(frame), Some(w)))
                }
                // The pulse is gone: the application is stopping.
                Err(_) => None,
            },
            () = tokio::time::sleep(HEARTBEAT) => {
                Some((Ok(Bytes::from_static(b": keep-alive\n\n")), Some(w)))
            }
        }
    })
}
