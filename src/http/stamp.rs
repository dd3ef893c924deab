//! Headers every answer carries, and the request id the log shares.
//!
//! `X-Content-Type-Options: nosniff` keeps browsers from reading a JSON or
//! problem answer as anything else. `X-Request-Id` ties a client's report
//! to our log: the caller's own id when it sent a usable one (a gateway's),
//! else a fresh UUID; the request's root span records it as `x_request_id`.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage};
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RootSpanBuilder};

pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// Longest caller-chosen id kept; a longer one is replaced.
const MAX_ID_LEN: usize = 128;

/// The id of the request being served.
#[derive(Debug, Clone)]
pub struct RequestId(HeaderValue);

impl RequestId {
    fn of(req: &ServiceRequest) -> Self {
        let usable = |v: &&HeaderValue| {
            let b = v.as_bytes();
            !b.is_empty() && b.len() <= MAX_ID_LEN && b.iter().all(u8::is_ascii_graphic)
        };
        match req.headers().get(X_REQUEST_ID).filter(usable) {
            Some(v) => Self(v.clone()),
            None => Self(fresh()),
        }
    }

    fn as_str(&self) -> &str {
        // Only visible ASCII gets in.
        self.0.to_str().unwrap_or_default()
    }
}

/// A new id: a UUID, whose hex digits and hyphens always make a valid
/// header value (the fallback is unreachable, and still an id).
fn fresh() -> HeaderValue {
    let id = uuid::Uuid::new_v4().to_string();
    HeaderValue::from_str(&id).unwrap_or_else(|_| HeaderValue::from_static("unnamed"))
}

/// Middleware, outermost: names the request, then stamps its answer. Our
/// inner layers answer refusals as responses, never as `Err`, so every
/// answer passes here.
pub async fn stamp(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let id = RequestId::of(&req);
    req.extensions_mut().insert(id.clone());
    let mut res = next.call(req).await?;
    let headers = res.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(X_REQUEST_ID, id.0);
    Ok(res)
}

/// The request's root span, with the id [`stamp`] chose.
pub struct RootSpan;

impl RootSpanBuilder for RootSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let id = request.extensions().get::<RequestId>().cloned();
        let id = id.as_ref().map_or("", RequestId::as_str);
        tracing_actix_web::root_span!(request, x_request_id = %id)
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}
