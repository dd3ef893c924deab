//! Request metrics: every request counts once, with its latency, labelled by
//! method, matched route pattern and status. The route is the pattern
//! (`/api/v1/skus/{id}/availability`), never the raw path, so ids cannot
//! multiply the series; paths no route matches share `unmatched`. Each
//! request also lands in the control room's per-second window
//! (`http/live/window.rs`).

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::web;
use dashmap::DashSet;
use std::sync::LazyLock;
use std::time::Instant;

use crate::http::AppState;
use crate::prometheus::{HTTP_DURATION, HTTP_REQUESTS};

/// Middleware for the whole app; wrap it inside the request logger.
pub async fn record(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = method_label(req.method());
    // Resolved before the call: middleware refusals (rate limits) come back
    // as errors without their request, and still belong to their route.
    let route = req.match_pattern();
    // The control room's chart; an `Arc` clone and a few atomic adds.
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let res = next.call(req).await;
    let status = match &res {
        Ok(res) => res.status(),
        Err(e) => e.as_response_error().status_code(),
    };
    let labels = [
        ("method", method),
        ("route", route.map_or("unmatched", |r| intern(&r))),
        ("status", status_label(status.as_u16())),
    ];
    let elapsed = started.elapsed();
    metrics::histogram!(HTTP_DURATION, &labels).record(elapsed.as_secs_f64());
    if let Some(state) = &state {
        state
            .live
            .requests()
            .record(elapsed, status.is_server_error());
    }
    metrics::counter!(HTTP_REQUESTS, &labels).increment(1);
    res
}

/// Route patterns as `&'static str`, so labels never copy them. Bounded:
/// patterns come from the router's own table, never from request paths.
static ROUTES: LazyLock<DashSet<&'static str>> = LazyLock::new(DashSet::new);

fn intern(route: &str) -> &'static str {
    if let Some(known) = ROUTES.get(route) {
        return *known;
    }
    let leaked: &'static str = Box::leak(route.into());
    // A racing first request may leak a second copy once; harmless.
    ROUTES.insert(leaked);
    leaked
}

/// Standard methods by name; anything else is one `OTHER` series.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// `"100"` to `"999"`, formatted once instead of on every request.
static STATUS_LABELS: LazyLock<Vec<String>> =
    LazyLock::new(|| (100..1000).map(|code: u16| code.to_string()).collect());

fn status_label(code: u16) -> &'static str {
    // StatusCode guarantees 100..=999.
    STATUS_LABELS
        .get(usize::from(code.saturating_sub(100)))
        .map_or("unknown", String::as_str)
}
