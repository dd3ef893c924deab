//! Request budgets with `governor` token buckets: per client IP on the auth
//! endpoints (stops password guessing and signup floods) and on public reads
//! (stops one client scraping the catalog or polling availability flat out),
//! per signed-in user on purchase endpoints (stops one buyer's script
//! hogging a drop). Which client an IP budget charges is decided in
//! [`client_ip`](super::client_ip). Refusals are `429 RATE_LIMITED` with
//! `Retry-After`. Budgets are in-process (idle keys pruned by
//! `RateLimits::prune`, which startup runs on a timer), or on a cluster
//! with Redis shared by every node (`shared_budget`).

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures::future::LocalBoxFuture;
use std::time::Duration;

use super::auth::{AuthUser, authenticate};
use super::budget::Budget;
use super::client_ip::{ClientAddress, ClientKey};
use super::shared_budget::SharedBudgets;
use super::{ApiError, AppState};
use crate::config::RateLimitSettings;
use crate::domain::ids::UserId;

const SECOND: Duration = Duration::from_secs(1);

pub struct RateLimits {
    auth: Option<Budget<ClientKey>>,
    public: Option<Budget<ClientKey>>,
    purchase: Option<Budget<UserId>>,
    clients: ClientAddress,
}

impl RateLimits {
    /// In-process budgets, or budgets every node of a cluster shares when
    /// `shared` (Redis).
    pub fn new(settings: &RateLimitSettings, shared: Option<&SharedBudgets>) -> Self {
        let on = settings.enabled;
        Self {
            auth: per_second(
                on,
                shared,
                "auth",
                settings.auth_per_second,
                settings.auth_burst,
            ),
            public: per_second(
                on,
                shared,
                "public",
                settings.public_per_second,
                settings.public_burst,
            ),
            purchase: per_second(
                on,
                shared,
                "purchase",
                settings.purchase_per_second,
                settings.purchase_burst,
            ),
            clients: ClientAddress::new(
                settings.trust_forwarded_for,
                settings.trusted_proxies.clone(),
            ),
        }
    }

    /// Forgets keys whose buckets are full again, so memory stays bounded.
    pub fn prune(&self) {
        for l in [&self.auth, &self.public].into_iter().flatten() {
            l.prune();
        }
        if let Some(l) = &self.purchase {
            l.prune();
        }
    }

    /// The bucket key of the request's client; none without a peer
    /// address (only in-process test requests lack one).
    pub(crate) fn client(&self, req: &HttpRequest) -> Option<ClientKey> {
        let peer = req.peer_addr()?.ip();
        Some(ClientKey::of(self.clients.of(peer, req.headers())))
    }
}

/// A budget of `rate` a second up to `burst`, shared when `shared`.
fn per_second<K: std::hash::Hash + Eq + Clone + std::fmt::Display>(
    on: bool,
    shared: Option<&SharedBudgets>,
    name: &'static str,
    rate: u32,
    burst: u32,
) -> Option<Budget<K>> {
    Budget::new(name, on, rate, SECOND, burst).map(|b| b.shared_by(shared, rate, SECOND, burst))
}

/// Spends one unit of `key` from `budget`, if there is one.
async fn check<K: std::hash::Hash + Eq + Clone + std::fmt::Display>(
    budget: &Option<Budget<K>>,
    key: &K,
) -> Result<(), ApiError> {
    match budget {
        Some(budget) => budget.spend(key).await,
        None => Ok(()),
    }
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
    let spent = match limits(&req) {
        Ok(state) => match state.limits.client(req.request()) {
            Some(client) => check(&state.limits.auth, &client).await,
            None => Ok(()),
        },
        Err(e) => Err(e),
    };
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
    let spent = match limits(&req) {
        Ok(state) => match authenticate(req.request()) {
            Ok(user) => {
                let spent = check(&state.limits.purchase, &user.id).await;
                if spent.is_ok() {
                    req.extensions_mut().insert::<AuthUser>(user);
                }
                spent
            }
            Err(_) => Ok(()),
        },
        Err(e) => Err(e),
    };
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
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let state = state_of(req);
        let client = state.as_ref().ok().and_then(|s| s.limits.client(req));
        Box::pin(async move {
            let state = state?;
            match client {
                Some(client) => check(&state.limits.public, &client).await,
                None => Ok(()),
            }
            .map(|()| PublicRead)
        })
    }
}
