//! Errors as RFC 9457 problem details: `{type, title, status, detail, code}`.
//! `code` is the stable, machine-readable part clients switch on.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError, error, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::actors::{CounterError, InventoryError};
use crate::domain::ValidationError;
use crate::domain::ledger::LedgerError;
use crate::domain::reason::{CancelReason, RejectReason};
use crate::persistence::StoreError;

/// The body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable code, e.g. `OUT_OF_STOCK`, `VALIDATION_FAILED`, `UNAUTHORIZED`.
    pub code: &'static str,
}

impl Problem {
    pub fn new(status: StatusCode, code: &'static str, detail: String) -> Self {
        Self {
            kind: format!("/problems/{}", code.to_lowercase().replace('_', "-")),
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            status: status.as_u16(),
            detail,
            code,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("{0}")]
    Forbidden(&'static str),
    /// Buying needs a verified email; the token says it is not (yet).
    #[error("verify your email address first (then refresh your access token)")]
    EmailNotVerified,
    /// A wrong verification code; the detail says how many tries remain.
    #[error("{0}")]
    InvalidCode(String),
    /// No live verification code: expired, used, burnt or never sent.
    #[error("this verification code is no longer valid: ask for a new one")]
    CodeExpired,
    #[error("{0}")]
    NotFound(String),
    /// The route exists with other methods; they are listed in `Allow`.
    #[error("this route answers only {0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    Conflict(String),
    #[error("this Idempotency-Key was used with a different request")]
    IdempotencyKeyReused,
    /// The work goes on; a retry (same Idempotency-Key) gets the answer.
    #[error("still processing; retry with the same Idempotency-Key or read the order")]
    StillProcessing,
    /// The payment failed and the order was cancelled; the code says how.
    #[error("the payment failed ({}); the order is cancelled and its stock released", .0.code())]
    PaymentFailed(CancelReason),
    /// An order refused at placement; the code says why.
    #[error("{}", .0.detail())]
    Refused(RejectReason),
    /// A per-buyer bound (cart lines, saved addresses or methods) is reached.
    #[error("{0}")]
    LimitReached(String),
    /// A field looks like a card number; only provider tokens are taken.
    #[error("{0}")]
    CardNumberRefused(String),
    #[error("{0}")]
    CardExpired(String),
    /// Only a buyer whose order line of the product was delivered may review it.
    #[error("{0}")]
    ReviewNotAllowed(String),
    /// A member tried to block themselves.
    #[error("you cannot block yourself")]
    SelfBlock,
    #[error("too many requests; retry in {} s", .0.as_secs())]
    RateLimited(std::time::Duration),
    /// Every password hashing slot is taken; nothing was checked or changed.
    #[error("too many password checks at once; retry shortly")]
    Busy,
    /// An upload over a size limit (bytes or pixels).
    #[error("{0}")]
    TooLarge(String),
    /// Some other bounded resource is full; retry shortly.
    #[error("{0}; retry shortly")]
    Overloaded(&'static str),
    /// A backing service other than the database is unreachable.
    #[error("{0}")]
    Unavailable(&'static str),
    #[error(transparent)]
    Inventory(#[from] InventoryError),
    #[error(transparent)]
    Counter(#[from] CounterError),
    #[error("the database is unavailable, retry shortly")]
    Store(#[from] StoreError),
    /// A failure of ours; details go to the log, not the client.
    #[error("internal error")]
    Internal(String),
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        ApiError::Validation(e.to_string())
    }
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        use InventoryError as I;
        match self {
            ApiError::Validation(_) => (StatusCode::BAD_REQUEST, "VALIDATION_FAILED"),
            ApiError::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "VALIDATION_FAILED")
            }
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "UNAUTHORIZED"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "FORBIDDEN"),
            ApiError::EmailNotVerified => (StatusCode::FORBIDDEN, "EMAIL_NOT_VERIFIED"),
            ApiError::InvalidCode(_) => (StatusCode::BAD_REQUEST, "INVALID_CODE"),
            ApiError::CodeExpired => (StatusCode::GONE, "CODE_EXPIRED"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "NOT_FOUND"),
            ApiError::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "CONFLICT"),
            ApiError::IdempotencyKeyReused => {
                (StatusCode::UNPROCESSABLE_ENTITY, "IDEMPOTENCY_KEY_REUSED")
            }
            ApiError::StillProcessing => (StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE"),
            ApiError::PaymentFailed(reason) => (StatusCode::PAYMENT_REQUIRED, reason.code()),
            ApiError::Refused(reason) => (StatusCode::CONFLICT, reason.code()),
            ApiError::LimitReached(_) => (StatusCode::CONFLICT, "LIMIT_REACHED"),
            ApiError::CardNumberRefused(_) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "CARD_NUMBER_REFUSED")
            }
            ApiError::CardExpired(_) => (StatusCode::UNPROCESSABLE_ENTITY, "CARD_EXPIRED"),
            ApiError::ReviewNotAllowed(_) => (StatusCode::FORBIDDEN, "REVIEW_NOT_ALLOWED"),
            ApiError::SelfBlock => (StatusCode::UNPROCESSABLE_ENTITY, "SELF_BLOCK"),
            ApiError::RateLimited(_) => (StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED"),
            ApiError::Busy | ApiError::Overloaded(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, "OVERLOADED")
            }
            ApiError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL"),
            ApiError::Store(StoreError::Duplicate(_)) => (StatusCode::CONFLICT, "CONFLICT"),
            ApiError::Store(_) => (StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE"),
            ApiError::Counter(e) => match e {
                CounterError::Refused(_) => (StatusCode::UNPROCESSABLE_ENTITY, "SELF_FOLLOW"),
                CounterError::NotFound(_) => (StatusCode::NOT_FOUND, "NOT_FOUND"),
                CounterError::Overloaded => (StatusCode::SERVICE_UNAVAILABLE, "OVERLOADED"),
                CounterError::Unavailable | CounterError::Retired | CounterError::Store(_) => {
                    (StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE")
                }
            },
            ApiError::Inventory(e) => match e {
                I::Rejected(r) => match RejectReason::from_rejection(r) {
                    Some(reason) => (StatusCode::CONFLICT, reason.code()),
                    None => (StatusCode::UNPROCESSABLE_ENTITY, "IDEMPOTENCY_KEY_REUSED"),
                },
                I::Ledger(LedgerError::UnknownReservation(_)) | I::UnknownSku(_) => {
                    (StatusCode::NOT_FOUND, "NOT_FOUND")
                }
                I::Ledger(LedgerError::NotCommittable { .. }) => (StatusCode::CONFLICT, "CONFLICT"),
                I::Ledger(LedgerError::StockOverflow(_)) => {
                    (StatusCode::BAD_REQUEST, "VALIDATION_FAILED")
                }
                I::Overloaded => (StatusCode::SERVICE_UNAVAILABLE, "OVERLOADED"),
                I::Unavailable | I::Retired | I::Store(_) => {
                    (StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE")
                }
            },
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status_and_code().0
    }

    fn error_response(&self) -> HttpResponse {
        let (status, code) = self.status_and_code();
        let detail = match self {
            ApiError::Internal(why) => {
                tracing::error!(error = %why, "internal error");
                "an internal error occurred".to_string()
            }
            ApiError::Store(e @ (StoreError::Duplicate(_) | StoreError::Fenced(_)))
            | ApiError::Inventory(InventoryError::Store(e @ StoreError::Fenced(_)))
            | ApiError::Counter(CounterError::Store(e @ StoreError::Fenced(_))) => e.to_string(),
            ApiError::Store(e)
            | ApiError::Inventory(InventoryError::Store(e))
            | ApiError::Counter(CounterError::Store(e)) => {
                tracing::error!(error = %e, "store error");
                "the database is unavailable, retry shortly".to_string()
            }
            other => other.to_string(),
        };
        let problem = Problem::new(status, code, detail);
        let mut res = HttpResponse::build(status);
        res.insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        ));
        if status == StatusCode::SERVICE_UNAVAILABLE {
            res.insert_header((header::RETRY_AFTER, HeaderValue::from_static("1")));
        }
        if let ApiError::RateLimited(wait) = self {
            // Whole seconds, rounded up: retrying earlier would be refused.
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            res.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        if let ApiError::MethodNotAllowed(allow) = self
            && let Ok(allow) = HeaderValue::from_str(allow)
        {
            res.insert_header((header::ALLOW, allow));
        }
        if status == StatusCode::UNAUTHORIZED {
            res.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
        }
        res.json(problem)
    }
}

pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(64 * 1024)
        .error_handler(|err, _| {
            let api = match &err {
                error::JsonPayloadError::ContentType => {
                    ApiError::UnsupportedMediaType("expected Content-Type: application/json".into())
                }
                other => ApiError::Validation(format!("invalid JSON body: {other}")),
            };
            error::InternalError::from_response(err, api.error_response()).into()
        })
}

pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|err, _| {
        let api = ApiError::Validation(format!("invalid path parameter: {err}"));
        error::InternalError::from_response(err, api.error_response()).into()
    })
}

pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _| {
        let api = ApiError::Validation(format!("invalid query string: {err}"));
        error::InternalError::from_response(err, api.error_response()).into()
    })
}
