//! `GET /metrics`: Prometheus text. Counters and histograms are recorded
//! where things happen; the gauges and the SKU activation counts are
//! sampled here from the actor system's own counters, so the hot path pays
//! nothing for them.

use actix_web::{HttpRequest, HttpResponse, get, web};

use crate::http::problem::Problem;
use crate::http::{ApiError, AppState};
use crate::prometheus::{ACTORS, MAILBOX_DEPTH, SKU_ACTIVATIONS};

/// Prometheus text exposition format. Open unless `metrics_token` is
/// configured; then only a request bearing that token is answered.
#[utoipa::path(
    tag = "ops",
    security((), ("metrics_token" = [])),
    responses(
        (status = 200, description = "Prometheus text exposition format 0.0.4", body = String, content_type = "text/plain"),
        (status = 401, description = "`UNAUTHORIZED`: a metrics token is configured and none was sent", body = Problem),
        (status = 403, description = "`FORBIDDEN`: not the configured metrics token", body = Problem),
    )
)]
#[get("/metrics")]
pub async fn scrape(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    if let Some(token) = &state.metrics_token {
        token.admit(&req)?;
    }
    sample_gauges(&state);
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render()))
}

/// Gauges are global while tests may run several apps in one process:
/// each scrape shows the app it was asked of.
fn sample_gauges(state: &AppState) {
    let inventory = state.inventory.overview();
    let depth = |kind: &'static str, n: f64| metrics::gauge!(MAILBOX_DEPTH, "kind" => kind).set(n);
    depth("sku", inventory.mailbox_depth as f64);
    depth("persister", inventory.persister.queued as f64);
    depth("order_writer", state.orders.writes_queued() as f64);
    let actors =
        |kind: &'static str, n: usize| metrics::gauge!(ACTORS, "kind" => kind).set(n as f64);
    actors("sku", inventory.active_sku_actors);
    actors("saga", state.orders.live_saga_count());
    let activations = &inventory.sku_activations;
    for (outcome, n) in [
        ("loaded", activations.loaded),
        ("unknown", activations.unknown),
        ("failed", activations.failed),
    ] {
        metrics::counter!(SKU_ACTIVATIONS, "outcome" => outcome).absolute(n);
    }
}
