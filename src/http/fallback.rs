//! The answer to requests no route took: 405 with `Allow` when the path is a
//! documented route and only the method is wrong, else 404. Which methods a
//! path has comes from the OpenAPI document, so this sits above both the
//! routes and `problem.rs`, which knows neither.

use actix_web::{HttpRequest, HttpResponse, ResponseError};

use super::ApiError;
use super::openapi::allowed_methods;

/// The router's default service.
pub async fn no_route(req: HttpRequest) -> HttpResponse {
    match allowed_methods(req.path()) {
        Some(allow) => ApiError::MethodNotAllowed(allow),
        None => ApiError::NotFound(format!("no route for {} {}", req.method(), req.path())),
    }
    .error_response()
}
