//! Request budgets with `governor` token buckets: per client IP on the auth
//! endpoints (stops password guessing and signup floods) and on public reads
//! (stops one client scraping the catalog or polling availability flat out),
//! per signed-in user on purchase endpoints (stops one buyer's script
//! hogging a drop). Which client an IP budget charges is decided in
//! [`client_ip`](super::client_ip). Refusals are `429 RATE_LIMITED` with
//! `Retry-After`. Limiters are in-process; their idle keys are pruned by
//! `RateLimits::prune`, which startup runs on a timer.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::future::{Ready, ready};
use std::hash::Hash;
use std::num::NonZeroU32;
use std::time::Duration;

use super::auth::{AuthUser, authenticate};
use super::client_ip::{ClientAddress, ClientKey};
use super::{ApiError, AppState};
use crate::config::RateLimitSettings;
use crate::domain::ids::UserId;

pub struct RateLimits {
    auth: Option<DefaultKeyedRateLimiter<ClientKey>>,
    public: Option<DefaultKeyedRateLimiter<ClientKey>>,
    purchase: Option<DefaultKeyedRateLimiter<UserId>>,
    clients: ClientAddress,
}

impl RateLimits {
    pub fn new(settings: &RateLimitSettings) -> Self {
        let on = settings.enabled;
        Self {
            auth: keyed(on, settings.auth_per_second, settings.auth_burst),
            public: keyed(on, settings.public_per_second, settings.public_burst),
            purchase: keyed(on, settings.purchase_per_second, settings.purchase_burst),
            clients: ClientAddress::new(
                settings.trust_forwarded_for,
                settings.trusted_proxies.clone(),
            ),
        }
    }

    /// Forgets keys whose buckets are full again, so memory stays bounded.
    pub fn prune(&self) {
        for l in [&self.auth, &self.public].into_iter().flatten() {
            l.retain_recent();
        }
        if let Some(l) = &self.purchase {
            l.retain_recent();
        }
    }

    /// The bucket key of the request's client; none without a peer
    /// address (only in-process test requests lack one).
    pub(crate) fn client(&self, req: &HttpRequest) -> Option<ClientKey> {
        let peer = req.peer_addr()?.ip();
        Some(ClientKey::of(self.clients.of(peer, req.headers())))
    }
}

/// A keyed limiter refilling `per_second` up to `burst`; none when disabled
/// (off, or a rate of 0).
fn keyed<K: Hash + Eq + Clone>(
    enabled: bool,
    per_second: u32,
    burst: u32,
) -> Option<DefaultKeyedRateLimiter<K>> {
    let rate = NonZeroU32::new(per_second).filter(|_| enabled)?;
    let burst = NonZeroU32::new(burst).unwrap_or(rate);
    Some(RateLimiter::keyed(
        Quota::per_second(rate).allow_burst(burst),
    ))
}

fn check<K: Hash + Eq + Clone>(
    limiter: &Option<DefaultKeyedRateLimiter<K>>,
    key: &K,
) -> Result<(), ApiError> {
    let Some(limiter) = limiter else {
        return Ok(());
    };
    limiter.check_key(key).map_err(|not_until| {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        ApiError::RateLimited(wait.max(Duration::from_secs(1)))
    })
}

fn limits(req: &ServiceRequest) -> Result<web::Data<AppState>, ApiError> {
    state_of(req.request())
}

fn state_of(req: &HttpRequest) -> Result<web::Data<AppState>, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::Internal("app state missing".into()))
}

/// Middleware for the auth scope: one bucket per client IP. A refusal is
/// answered here, as a response the outer layers still stamp.
pub async fn per_client_ip(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let spent = limits(&req).and_then(|state| match state.limits.client(req.request()) {
        Some(client) => check(&state.limits.auth, &client),
        None => Ok(()),
    });
    if let Err(refusal) = spent {
        return Ok(req.error_response(refusal).map_into_right_body());
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

/// Middleware for purchase routes: authenticates once (the handler's
/// extractor reuses the result) and spends from the caller's bucket.
/// Unauthenticated requests pass through to be refused by the extractor.
pub async fn per_user(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let spent = limits(&req).and_then(|state| match authenticate(req.request()) {
        Ok(user) => {
            check(&state.limits.purchase, &user.id)?;
            req.extensions_mut().insert::<AuthUser>(user);
            Ok(())
        }
        Err(_) => Ok(()),
    });
    if let Err(refusal) = spent {
        return Ok(req.error_response(refusal).map_into_right_body());
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

/// Spends one unit of the client IP's public-read budget; a handler that
/// takes it as an argument is refused `429` past the budget. Taken first,
/// so nothing else is done for a refused request.
pub struct PublicRead;

impl FromRequest for PublicRead {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        ready(state_of(req).and_then(|state| {
            match state.limits.client(req) {
                Some(client) => check(&state.limits.public, &client),
                None => Ok(()),
            }
            .map(|()| PublicRead)
        }))
    }
}
