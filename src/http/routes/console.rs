//! The pages a person opens: `/` (where to go from here), `/admin` (the
//! control room, its script and style embedded in the binary), `/docs`
//! (Swagger UI for `/openapi.json`, its assets vendored in the binary by
//! `utoipa-swagger-ui`) and the control room's live feed,
//! `/api/v1/admin/live`. Nothing here is fetched from anywhere at run time.

use actix_web::http::header;
use actix_web::{HttpResponse, get, web};
use rust_embed::RustEmbed;
use std::sync::{Arc, LazyLock};
use utoipa_swagger_ui::Config;

use crate::http::auth::Admin;
use crate::http::live::{self, LiveSnapshot};
use crate::http::problem::Problem;
use crate::http::{ApiError, AppState};

/// The landing page and the control room (`assets/`).
#[derive(RustEmbed)]
#[folder = "assets/"]
struct Assets;

/// Our pages load scripts, styles and data from this origin only.
const PAGE_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

/// One embedded file, or a 404 problem.
fn asset(path: &str) -> Result<HttpResponse, ApiError> {
    let file = Assets::get(path).ok_or_else(|| ApiError::NotFound(format!("no file {path}")))?;
    let kind = match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    };
    Ok(HttpResponse::Ok()
        .content_type(kind)
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::CONTENT_SECURITY_POLICY, PAGE_POLICY))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(file.data.into_owned()))
}

/// Where to go from here: the API explorer, the control room, the
/// service's health and the OpenAPI document.
#[utoipa::path(tag = "pages", responses(
    (status = 200, description = "HTML landing page", content_type = "text/html", body = String),
))]
#[get("/")]
pub async fn landing() -> Result<HttpResponse, ApiError> {
    asset("index.html")
}

/// The control room: signs in as admin, then shows the live feed of
/// `/api/v1/admin/live`.
#[utoipa::path(tag = "pages", responses(
    (status = 200, description = "HTML page", content_type = "text/html", body = String),
))]
#[get("/admin")]
pub async fn control_room() -> Result<HttpResponse, ApiError> {
    asset("console/index.html")
}

/// The control room's script and style.
#[utoipa::path(
    tag = "pages",
    params(("file" = String, Path, description = "`console.js` or `console.css`")),
    responses(
        (status = 200, description = "The file", content(
            (String = "text/javascript"),
            (String = "text/css"),
        )),
        (status = 404, description = "`NOT_FOUND`", body = Problem),
    )
)]
#[get("/admin/assets/{file}")]
pub async fn control_room_asset(file: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let file = file.into_inner();
    if file.contains('/') || file.starts_with('.') || file == "index.html" {
        return Err(ApiError::NotFound(format!("no file {file}")));
    }
    asset(&format!("console/{file}"))
}

/// Swagger UI set up to read `/openapi.json`.
static EXPLORER: LazyLock<Arc<Config<'static>>> =
    LazyLock::new(|| Arc::new(Config::new(["/openapi.json"])));

/// The API explorer lives at `/docs/` (clients that follow the redirect
/// get its page).
#[utoipa::path(tag = "pages", responses(
    (status = 308, description = "Redirect to `/docs/`"),
    (status = 200, description = "HTML page, after the redirect", content_type = "text/html", body = String),
))]
#[get("/docs")]
pub async fn explorer_redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, "/docs/"))
        .finish()
}

/// The API explorer (Swagger UI) for `/openapi.json`.
#[utoipa::path(tag = "pages", responses(
    (status = 200, description = "HTML page", content_type = "text/html", body = String),
))]
#[get("/docs/")]
pub async fn explorer() -> Result<HttpResponse, ApiError> {
    explorer_file("")
}

/// The API explorer's files (Swagger UI's own scripts, styles and icons).
#[utoipa::path(
    tag = "pages",
    params(("file" = String, Path, description = "e.g. `swagger-ui-bundle.js`")),
    responses(
        (status = 200, description = "The file", content(
            (String = "text/html"),
            (String = "text/javascript"),
            (String = "application/javascript"),
            (String = "text/css"),
            (String = "image/png"),
        )),
        (status = 404, description = "`NOT_FOUND`", body = Problem),
    )
)]
#[get("/docs/{file}")]
pub async fn explorer_asset(file: web::Path<String>) -> Result<HttpResponse, ApiError> {
    explorer_file(&file.into_inner())
}

fn explorer_file(path: &str) -> Result<HttpResponse, ApiError> {
    let file = utoipa_swagger_ui::serve(path, Arc::clone(&EXPLORER))
        .map_err(|e| ApiError::Internal(format!("swagger ui: {e}")))?
        .ok_or_else(|| ApiError::NotFound(format!("no file {path}")))?;
    let mut res = HttpResponse::Ok();
    if file.gzpipped {
        res.insert_header(header::ContentEncoding::Gzip);
    }
    Ok(res
        .content_type(file.content_type)
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(file.bytes.into_owned()))
}

/// The control room's live feed: Server-Sent Events, one `snapshot` event
/// about every 500 ms, built from the actors' in-memory counters (never
/// the database). The stream ends after five minutes (`bye` event) and at
/// shutdown; clients reconnect with a current token.
#[utoipa::path(
    tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "`text/event-stream`: `event: snapshot` frames whose `data` is this JSON",
            content_type = "text/event-stream", body = LiveSnapshot),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 403, description = "`FORBIDDEN`", body = Problem),
        (status = 503, description = "`UNAVAILABLE`: the service is stopping", body = Problem),
    )
)]
#[get("/admin/live")]
pub async fn live_feed(
    _admin: Admin,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    if state.live.is_closed() {
        return Err(ApiError::Inventory(
            crate::actors::InventoryError::Unavailable,
        ));
    }
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(live::stream::events(&state.live)))
}
