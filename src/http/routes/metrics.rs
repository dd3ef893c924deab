//! `GET /metrics`: Prometheus text. Counters and histograms are recorded
//! where things happen; the gauges and the SKU activation counts are
//! sampled here from the actor system's own counters, so the hot path pays
//! nothing for them.

use actix_web::{HttpResponse, get, web};

use crate::http::AppState;
use crate::prometheus::{ACTORS, MAILBOX_DEPTH, SKU_ACTIVATIONS};

/// Prometheus text exposition format.
#[utoipa::path(tag = "ops", responses(
    (status = 200, description = "Prometheus text exposition format 0.0.4", body = String, content_type = "text/plain"),
))]
#[get("/metrics")]
pub async fn scrape(state: web::Data<AppState>) -> HttpResponse {
    sample_gauges(&state);
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render())
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
