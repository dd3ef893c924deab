//! Request budgets with `governor` token buckets: per client IP on the auth
//! endpoints (stops password guessing and signup floods), per signed-in user
//! on purchase endpoints (stops one buyer's script hogging a drop). Refusals
//! are `429 RATE_LIMITED` with `Retry-After`. Limiters are in-process; their
//! idle keys are pruned by `RateLimits::prune`, which startup runs on a timer.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, web};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use super::auth::{AuthUser, authenticate};
use super::{ApiError, AppState};
use crate::config::RateLimitSettings;
use crate::domain::ids::UserId;

pub struct RateLimits {
    auth: Option<DefaultKeyedRateLimiter<IpAddr>>,
    purchase: Option<DefaultKeyedRateLimiter<UserId>>,
    trust_forwarded_for: bool,
}

impl RateLimits {
    pub fn new(settings: &RateLimitSettings) -> Self {
        let on = settings.enabled;
        Self {
            auth: keyed(on, settings.auth_per_second, settings.auth_burst),
            purchase: keyed(on, settings.purchase_per_second, settings.purchase_burst),
            trust_forwarded_for: settings.trust_forwarded_for,
        }
    }

    /// Forgets keys whose buckets are full again, so memory stays bounded.
    pub fn prune(&self) {
        if let Some(l) = &self.auth {
            l.retain_recent();
        }
        if let Some(l) = &self.purchase {
            l.retain_recent();
        }
    }

    fn client_ip(&self, req: &ServiceRequest) -> Option<IpAddr> {
        if self.trust_forwarded_for
            && let Some(ip) = req.connection_info().realip_remote_addr()
            && let Ok(ip) = ip.parse()
        {
            return Some(ip);
        }
        req.peer_addr().map(|a| a.ip())
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
    let spent = limits(&req).and_then(|state| match state.limits.client_ip(&req) {
        Some(ip) => check(&state.limits.auth, &ip),
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
