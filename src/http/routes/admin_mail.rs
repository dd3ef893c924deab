//! Operator view of the mail queue: where mail goes, how many mails wait,
//! went out or were given up on, and the latest failures.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::time::Timestamp;
use crate::http::auth::Admin;
use crate::http::problem::Problem;
use crate::http::{ApiError, AppState};

/// Failures listed at most.
const FAILURES_SHOWN: u32 = 20;

#[derive(Serialize, ToSchema)]
pub struct MailView {
    /// The SMTP relay (password masked) or the directory of `.eml` files.
    pub transport: String,
    /// Waiting for their first attempt or for a retry.
    pub queued: u64,
    pub sent: u64,
    /// Given up on (attempts spent, or refused for good).
    pub failed: u64,
    /// The latest mails whose last attempt failed, newest first.
    pub last_errors: Vec<MailErrorView>,
}

#[derive(Serialize, ToSchema)]
pub struct MailErrorView {
    pub id: i64,
    /// `verification`, `welcome`, `order_paid`, …
    pub kind: String,
    pub recipient: String,
    /// `queued` (will be retried at `next_attempt_at`) or `failed` (given
    /// up on at `given_up_at`; never retried).
    pub status: String,
    pub attempts: i64,
    pub error: String,
    pub next_attempt_at: Option<Timestamp>,
    pub given_up_at: Option<Timestamp>,
}

/// The mail queue.
#[utoipa::path(
    tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, body = MailView),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 403, description = "`FORBIDDEN`", body = Problem),
        (status = 503, description = "`UNAVAILABLE`: the database did not answer", body = Problem),
    )
)]
#[get("/admin/mail")]
pub async fn mail(_admin: Admin, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let counts = state.store.mail_counts().await?;
    let failures = state.store.mail_failures(FAILURES_SHOWN).await?;
    Ok(HttpResponse::Ok().json(MailView {
        transport: state.mail.transport().to_owned(),
        queued: counts.queued,
        sent: counts.sent,
        failed: counts.failed,
        last_errors: failures
            .into_iter()
            .map(|f| {
                // A given-up mail's row keeps the time it was given up in
                // `next_attempt_at`; shown as such, never as a retry time.
                let given_up = f.status == "failed";
                MailErrorView {
                    next_attempt_at: (!given_up).then_some(f.next_attempt_at),
                    given_up_at: given_up.then_some(f.next_attempt_at),
                    id: f.id,
                    kind: f.kind,
                    recipient: f.recipient,
                    status: f.status,
                    attempts: f.attempts,
                    error: f.last_error,
                }
            })
            .collect(),
    }))
}
